/**
 * Deno smoke test of RFC 9370 ML-KEM-768 additional key exchanges (not picked up by `bun test`):
 * an in-memory initiator ↔ responder with ke1_mlkem768, IKE_INTERMEDIATE and the key update,
 * under Deno (@noble/post-quantum resolved from package.json).
 * Run: deno test --allow-read --allow-env test/ike/v2/sa/pq.deno.ts
 */
import { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import type { Action, IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

const ends = (side: "i" | "r"): IkeSaConfig => ({
  local: { address: side === "i" ? "192.0.2.1" : "192.0.2.2", port: 500 },
  remote: { address: side === "i" ? "192.0.2.2" : "192.0.2.1", port: 500 },
  localId: side === "i" ? "a@example.org" : "b@example.org",
  remoteId: side === "i" ? "b@example.org" : "a@example.org",
  localTs: [side === "i" ? "10.1.0.0/24" : "10.2.0.0/24"],
  remoteTs: [side === "i" ? "10.2.0.0/24" : "10.1.0.0/24"],
  psk: "deno-psk-0123456789",
  ikeProposals: ["aes256gcm16-prfsha384-ecp384-ke1_mlkem768"],
});

Deno.test("IKEv2 core: ke1_mlkem768 (IKE_INTERMEDIATE, RFC 9370 key update)", () => {
  const ic = ends("i"), rc = ends("r");
  const { sa: i, actions } = IkeSa.initiator(ic, 0);
  const r = IkeSa.responder(rc, 0);
  const q: [string, Action][] = actions.map((a) => ["i", a]);
  const seen: string[] = [];
  const exchanges: number[] = [];
  for (let n = 0; n < 40 && q.length; n++) {
    const [from, a] = q.shift()!;
    if (a.type === "established") seen.push(`${from}:${a.proposal}`);
    if (a.type !== "send") continue;
    exchanges.push(a.data[18]);
    const to = from === "i" ? r : i;
    for (const x of to.receive(a.data, from === "i" ? ic.local : rc.local, 1)) q.push([from === "i" ? "r" : "i", x]);
  }
  const want = ["i:IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768", "r:IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768"];
  if (JSON.stringify(seen.sort()) !== JSON.stringify(want)) throw new Error(seen.join(" "));
  if (JSON.stringify(exchanges) !== JSON.stringify([34, 34, 43, 43, 35, 35])) throw new Error(exchanges.join(" "));
});
