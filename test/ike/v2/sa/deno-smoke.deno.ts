/**
 * Deno smoke test of the IKEv2 core (not picked up by `bun test`): an in-memory
 * initiator ↔ responder negotiation with MODP-2048 and AES-CBC/HMAC-SHA2 plus
 * RFC 7427 Ed25519 signatures, under Deno's node: compatibility layer.
 * Run: deno test --allow-read --allow-env test/ike/v2/sa/deno-smoke.deno.ts
 */
import { generateKeyPairSync } from "node:crypto";
import { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import type { Action, IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

function negotiate(ic: IkeSaConfig, rc: IkeSaConfig): string[] {
  const { sa: i, actions } = IkeSa.initiator(ic, 0);
  const r = IkeSa.responder(rc, 0);
  const q: [string, Action][] = actions.map((a) => ["i", a]);
  const seen: string[] = [];
  for (let n = 0; n < 20 && q.length; n++) {
    const [from, a] = q.shift()!;
    seen.push(`${from}:${a.type}`);
    if (a.type !== "send") continue;
    const to = from === "i" ? r : i;
    for (const x of to.receive(a.data, from === "i" ? ic.local : rc.local, 1)) q.push([from === "i" ? "r" : "i", x]);
  }
  return seen.filter((s) => /established|install-child|failed/.test(s)).sort();
}

const ends = (side: "i" | "r"): IkeSaConfig => ({
  local: { address: side === "i" ? "192.0.2.1" : "192.0.2.2", port: 500 },
  remote: { address: side === "i" ? "192.0.2.2" : "192.0.2.1", port: 500 },
  localId: side === "i" ? "a@example.org" : "b@example.org",
  remoteId: side === "i" ? "b@example.org" : "a@example.org",
  localTs: [side === "i" ? "10.1.0.0/24" : "10.2.0.0/24"],
  remoteTs: [side === "i" ? "10.2.0.0/24" : "10.1.0.0/24"],
  ikeProposals: ["aes256-sha256-modp2048"],
});

const want = ["i:established", "i:install-child", "r:established", "r:install-child"];

Deno.test("IKEv2 core: PSK, MODP-2048, AES-CBC + HMAC-SHA2-256", () => {
  const got = negotiate({ ...ends("i"), psk: "deno-psk-0123456789" }, { ...ends("r"), psk: "deno-psk-0123456789" });
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(got.join(" "));
});

Deno.test("IKEv2 core: Ed25519 signatures with trusted public keys", () => {
  const pem = () => {
    const k = generateKeyPairSync("ed25519");
    return { priv: k.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), pub: k.publicKey.export({ type: "spki", format: "pem" }).toString() };
  };
  const a = pem(), b = pem();
  const got = negotiate({ ...ends("i"), privateKey: a.priv, peerPublicKey: b.pub }, { ...ends("r"), privateKey: b.priv, peerPublicKey: a.pub });
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(got.join(" "));
});
