/**
 * Deno smoke test of the issue-15 IKE algorithms (not picked up by `bun test`): the
 * RFC 4434 / RFC 4615 PRF vectors (AES blocks through Deno's node:crypto) and an
 * in-memory initiator ↔ responder negotiation for each new algorithm and for a
 * multi-algorithm proposal against either end.
 * Run: deno test --allow-read --allow-env test/ike/v2/sa/algorithms.deno.ts
 */
import { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { prfAesCmac, prfAesXcbc } from "../../../../lib/ike/v2/sa/prf-aes.ts";
import type { Action, IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";

const hex = (b: Uint8Array) => Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

Deno.test("PRF_AES128_XCBC and PRF_AES128_CMAC vectors (RFC 4434 §5, RFC 4615 §4)", () => {
  const key = Uint8Array.from([...seq(16), 0xed, 0xcb]);
  const got = [hex(prfAesXcbc(key.subarray(0, 16), seq(20))), hex(prfAesXcbc(key, seq(20))), hex(prfAesCmac(key, seq(20))), hex(prfAesCmac(key.subarray(0, 10), seq(20)))];
  const want = ["47f51b4564966215b8985c63055ed308", "8cd3c93ae598a9803006ffb67c40e9e4", "84a348a4a45d235babfffc0d2b4da09a", "290d9e112edb09ee141fcf64c0b72f3d"];
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(got.join(" "));
});

/** The negotiated IKE proposal names of both sides, or the failure. */
function negotiate(ic: IkeSaConfig, rc: IkeSaConfig): string[] {
  const { sa: i, actions } = IkeSa.initiator(ic, 0);
  let r = IkeSa.responder(rc, 0);
  const q: [string, Action][] = actions.map((a) => ["i", a]);
  const out: string[] = [];
  for (let n = 0; n < 20 && q.length; n++) {
    const [from, a] = q.shift()!;
    if (a.type === "established") out.push(`${from}:${a.proposal}`);
    if (a.type === "failed") out.push(`${from}:failed ${a.reason}`);
    if (a.type !== "send") continue;
    if (from === "i" && r.state === "dead") r = IkeSa.responder(rc, 0); // after INVALID_KE_PAYLOAD (as the manager does)
    const to = from === "i" ? r : i;
    for (const x of to.receive(a.data, from === "i" ? ic.local : rc.local, 1)) q.push([from === "i" ? "r" : "i", x]);
  }
  return out.sort();
}

const ends = (side: "i" | "r", ikeProposals: string[]): IkeSaConfig => ({
  local: { address: side === "i" ? "192.0.2.1" : "192.0.2.2", port: 500 },
  remote: { address: side === "i" ? "192.0.2.2" : "192.0.2.1", port: 500 },
  localId: side === "i" ? "a@example.org" : "b@example.org",
  remoteId: side === "i" ? "b@example.org" : "a@example.org",
  localTs: [side === "i" ? "10.1.0.0/24" : "10.2.0.0/24"],
  remoteTs: [side === "i" ? "10.2.0.0/24" : "10.1.0.0/24"],
  psk: "deno-psk-0123456789",
  ikeProposals,
});

const CASES: [string[], string[], string][] = [
  [["aes192-sha1-modp3072"], ["aes192-sha1-modp3072"], "IKE:AES_CBC_192/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_3072"],
  [["aes256gcm16-prfaesxcbc-ecp521"], ["aes256gcm16-prfaesxcbc-ecp521"], "IKE:AES_GCM_16_256/PRF_AES128_XCBC/ECP_521"],
  [["aes128-sha256-prfaescmac-modp4096"], ["aes128-sha256-prfaescmac-modp4096"], "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_AES128_CMAC/MODP_4096"],
  [["aes128-aes256-sha256-sha384-ecp256-ecp384"], ["aes256-sha384-ecp384"], "IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_384"],
  [["aes128-sha256-ecp256"], ["aes128-aes256-sha256-sha384-ecp256-ecp384"], "IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256"],
];
for (const [i, r, name] of CASES) {
  Deno.test(`IKEv2 core: ${i.join(",")} → ${r.join(",")} negotiates ${name}`, () => {
    const got = negotiate(ends("i", i), ends("r", r));
    if (JSON.stringify(got) !== JSON.stringify([`i:${name}`, `r:${name}`])) throw new Error(got.join(" | "));
  });
}
