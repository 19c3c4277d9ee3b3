/**
 * Deno smoke test of the IKE SA manager (not picked up by `bun test`): a responder
 * manager serves an in-memory initiator, and a request for an unknown SPI gets
 * INVALID_IKE_SPI, under Deno's node: compatibility layer.
 * Run: deno test --allow-read --allow-env test/ike/v2/sa/manager-smoke.deno.ts
 */
import { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { IkeSaManager } from "../../../../lib/ike/v2/sa/manager.ts";
import type { Action, IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

const ends = (side: "i" | "r"): IkeSaConfig => ({
  local: { address: side === "i" ? "192.0.2.1" : "192.0.2.2", port: 500 },
  remote: { address: side === "i" ? "192.0.2.2" : "192.0.2.1", port: 500 },
  localId: side === "i" ? "a@example.org" : "b@example.org",
  localTs: [side === "i" ? "10.1.0.0/24" : "10.2.0.0/24"],
  remoteTs: [side === "i" ? "10.2.0.0/24" : "10.1.0.0/24"],
  psk: "deno-psk-0123456789",
});

Deno.test("IKE SA manager: establishes a responder SA, answers an unknown SPI", () => {
  const toI: Uint8Array[] = [];
  const toR: Uint8Array[] = [];
  const m = new IkeSaManager({
    now: 0, responder: (from) => ({ ...ends("r"), remote: from }),
    onActions: (_e, acts: Action[]) => { for (const a of acts) if (a.type === "send") toI.push(a.data); },
  });
  const { sa: i, actions } = IkeSa.initiator(ends("i"), 0);
  for (const a of actions) if (a.type === "send") toR.push(a.data);
  for (let n = 0; n < 20 && (toI.length || toR.length); n++) {
    const d = toR.shift();
    if (d) m.receive(d, { address: "192.0.2.1", port: 500 }, "ike", 1);
    const e = toI.shift();
    if (e) for (const a of i.receive(e, { address: "192.0.2.2", port: 500 }, 1)) if (a.type === "send") toR.push(a.data);
  }
  if (i.state !== "established" || m.size !== 1) throw new Error(`initiator ${i.state}, manager ${m.size}`);
  const req = new Uint8Array(28);
  req.set([9, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8, 0, 0x20, 37, 0x08, 0, 0, 0, 5, 0, 0, 0, 28]);
  m.receive(req, { address: "192.0.2.9", port: 4500 }, "natt", 2);
  if (m.drops["unknown-spi"] !== 1 || toI.length !== 1 || toI[0][35] !== 4) throw new Error("no INVALID_IKE_SPI");
});
