/**
 * Golden key derivation: the IKE SA and first Child SA of fixtures/made/d_ikev2_rekey,
 * re-derived from the DH secret, the nonces and SPIs in strongSwan's own log (ike=4)
 * and compared with the SKEYSEED, SK_* keys, AUTH values it logged and the ESP keys
 * it installed (keys.json).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { fromHex, toHex, u32 } from "../../../../lib/core/bytes.ts";
import { decodeIkev2 } from "../../../../lib/ike/v2/message.ts";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { childKeymat, deriveIkeKeys, natdHash, prf, prfPlus, pskAuth, signedOctets } from "../../../../lib/ike/v2/sa/crypto.ts";
import { newKeyExchange } from "../../../../lib/ike/v2/sa/dh.ts";

const DIR = new URL("../../../../fixtures/made/d_ikev2_rekey/", import.meta.url).pathname;

/** Every hex dump in a charon log, in order: label → bytes. */
function dumps(log: string): { label: string; bytes: Uint8Array }[] {
  const out: { label: string; bytes: Uint8Array }[] = [];
  const lines = log.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/\] <[^>]*> (.*) => (\d+) bytes @/);
    if (!m) continue;
    const n = Number(m[2]);
    let hex = "";
    for (let j = i + 1; j < lines.length && hex.length < 2 * n; j++) {
      const d = lines[j].match(/\] <[^>]*>\s+\d+: ((?:[0-9A-F]{2} ?)+)/);
      if (!d) break;
      hex += d[1].replace(/ /g, "");
    }
    out.push({ label: m[1], bytes: fromHex(hex.slice(0, 2 * n))! });
  }
  return out;
}

const log1 = dumps(gunzipSync(readFileSync(DIR + "charon-vf1.log.gz")).toString());
const first = (label: string, skip = 0) => log1.filter((d) => d.label === label)[skip].bytes;

function nonceOf(msg: Uint8Array): Uint8Array {
  const an: Anomaly[] = [];
  const m = decodeIkev2(msg, 0, msg.length, an)!;
  const n = m.payloads.find((p) => p.kind === "nonce");
  if (!n || n.kind !== "nonce") throw new Error("no nonce");
  return n.nonce;
}

describe("IKEv2 key derivation against strongSwan (d_ikev2_rekey, ECP-256, AES-GCM-16-128, PRF-HMAC-SHA2-256)", () => {
  // initiator's AUTH octets: IKE_SA_INIT request | Nr | prf(SK_pi, IDi')
  const octI = first("octets = message + nonce + prf(Sk_px, IDx')", 0);
  const octR = first("octets = message + nonce + prf(Sk_px, IDx')", 1);
  const req = octI.subarray(0, u32(octI, 24));
  const resp = octR.subarray(0, u32(octR, 24));
  const ni = nonceOf(req), nr = nonceOf(resp);
  const spii = req.subarray(0, 8), spir = resp.subarray(8, 16);
  const shared = first("shared Diffie Hellman secret");
  const keys = deriveIkeKeys({ prf: 5, encrKeyLength: 20, integKeyLength: 0, ni, nr, shared, spii, spir });

  test("SKEYSEED and SK_d/ei/er/pi/pr", () => {
    expect(toHex(keys.skeyseed)).toBe(toHex(first("SKEYSEED")));
    expect(toHex(keys.skd)).toBe(toHex(first("Sk_d secret")));
    expect(toHex(keys.skei)).toBe(toHex(first("Sk_ei secret")));
    expect(toHex(keys.sker)).toBe(toHex(first("Sk_er secret")));
    expect(toHex(keys.skpi)).toBe(toHex(first("Sk_pi secret")));
    expect(toHex(keys.skpr)).toBe(toHex(first("Sk_pr secret")));
    expect(keys.skai.length + keys.skar.length).toBe(0);
    const kj = JSON.parse(readFileSync(DIR + "keys.json", "utf8")).ikev2[0];
    expect(toHex(keys.skd)).toBe(kj.sk_d);
  });

  test("PSK AUTH of both sides", () => {
    const psk = first("secret");
    const idi = first("IDx'", 0), idr = first("IDx'", 1);
    const oi = signedOctets(5, req, nr, keys.skpi, idi);
    expect(toHex(oi)).toBe(toHex(octI));
    expect(toHex(pskAuth(5, psk, oi))).toBe(toHex(first("AUTH = prf(prf(secret, keypad), octets)", 0)));
    const or = signedOctets(5, resp, ni, keys.skpr, idr);
    expect(toHex(or)).toBe(toHex(octR));
    expect(toHex(pskAuth(5, psk, or))).toBe(toHex(first("AUTH = prf(prf(secret, keypad), octets)", 1)));
    expect(toHex(prf(5, psk, new TextEncoder().encode("Key Pad for IKEv2")))).toBe(toHex(first("prf(secret, keypad)")));
  });

  test("first Child SA KEYMAT (no PFS) equals the installed ESP keys", () => {
    const km = childKeymat(5, keys.skd, ni, nr, 20, 0);
    const esp = JSON.parse(readFileSync(DIR + "keys.json", "utf8")).esp as { spi: string; ekey: string; src: string }[];
    expect(toHex(km.i2r)).toBe(esp.find((e) => e.spi === "d1889345")!.ekey);
    expect(toHex(km.r2i)).toBe(esp.find((e) => e.spi === "beedfff3")!.ekey);
  });

  test("NAT-D hashes", () => {
    const chunks = log1.filter((d) => d.label === "natd_chunk").slice(0, 2);
    const hashes = log1.filter((d) => d.label === "natd_hash").slice(0, 2);
    for (let i = 0; i < 2; i++) {
      const c = chunks[i].bytes;
      expect(toHex(natdHash(c.subarray(0, 8), c.subarray(8, 16), c.subarray(16, 20), (c[20] << 8) | c[21]))).toBe(toHex(hashes[i].bytes));
    }
  });
});

describe("prf+ (RFC 7296 §2.13)", () => {
  test("T1 = prf(K, S | 0x01), Tn chained, truncated", () => {
    const k = new Uint8Array(32).fill(7), s = new Uint8Array([1, 2, 3]);
    const t1 = prf(5, k, new Uint8Array([1, 2, 3, 1]));
    const t2 = prf(5, k, new Uint8Array([...t1, 1, 2, 3, 2]));
    expect(toHex(prfPlus(5, k, s, 50))).toBe(toHex(new Uint8Array([...t1, ...t2]).subarray(0, 50)));
    expect(prfPlus(7, k, s, 200).length).toBe(200);
  });
  // RFC 4231 test case 2 (HMAC-SHA-256/384/512, key "Jefe")
  test("HMAC-SHA2 PRFs (RFC 4231 case 2)", () => {
    const key = new TextEncoder().encode("Jefe"), data = new TextEncoder().encode("what do ya want for nothing?");
    expect(toHex(prf(5, key, data))).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(toHex(prf(6, key, data))).toBe("af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
    expect(toHex(prf(7, key, data))).toBe("164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
  });
});

describe("key exchange groups", () => {
  let ctr = 1;
  const rng = (n: number) => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (ctr * 131 + i * 17) & 0xff; ctr++; return b; };
  for (const g of [31, 19, 20, 14]) {
    test(`group ${g}: both sides agree; bad peer values rejected`, () => {
      const a = newKeyExchange(g, rng)!, b = newKeyExchange(g, rng)!;
      const s1 = a.compute(b.publicValue)!, s2 = b.compute(a.publicValue)!;
      expect(s1).not.toBeNull();
      expect(toHex(s1)).toBe(toHex(s2));
      expect(a.compute(new Uint8Array(a.publicValue.length))).toBeNull();
      expect(a.compute(a.publicValue.subarray(1))).toBeNull();
      if (g === 14) {
        const one = new Uint8Array(256); one[255] = 1;
        expect(a.compute(one)).toBeNull();
      }
      expect({ 31: 32, 19: 64, 20: 96, 14: 256 }[g]).toBe(a.publicValue.length);
    });
  }
});

test("group 31 (X25519, node:crypto with a noble fallback): RFC 7748 §6.1 vectors, against noble", async () => {
  const { x25519 } = await import("@noble/curves/ed25519.js");
  const h = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
  const skA = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const skB = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const a = newKeyExchange(31, () => skA.slice())!, b = newKeyExchange(31, () => skB.slice())!;
  expect(toHex(a.publicValue)).toBe("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  expect(toHex(b.publicValue)).toBe("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  expect(toHex(a.compute(b.publicValue)!)).toBe("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  expect(toHex(b.compute(a.publicValue)!)).toBe("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  // random keys: the same public values and secrets as noble's ladder
  for (let i = 0; i < 20; i++) {
    const sk = crypto.getRandomValues(new Uint8Array(32)), peer = x25519.getPublicKey(crypto.getRandomValues(new Uint8Array(32)));
    const k = newKeyExchange(31, () => sk.slice())!;
    expect(toHex(k.publicValue)).toBe(toHex(x25519.getPublicKey(sk)));
    expect(toHex(k.compute(peer)!)).toBe(toHex(x25519.getSharedSecret(sk, peer)));
  }
  // a small-order point (here: 1) gives an all-zero secret: refused
  const one = new Uint8Array(32); one[0] = 1;
  expect(a.compute(one)).toBeNull();
});

describe("IKE SA rekey derivation against strongSwan (d_ikev2_rekey, RFC 7296 §2.18)", () => {
  test("SKEYSEED = prf(SK_d old, g^ir | Ni | Nr); new SK_* from prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)", async () => {
    const { decryptGolden } = await import("../decrypt.ts");
    const { decodeIkev2Payloads } = await import("../../../../lib/ike/v2/message.ts");
    const kj = JSON.parse(readFileSync(DIR + "keys.json", "utf8")).ikev2 as Record<string, string>[];
    // the CREATE_CHILD_SA exchange whose SA payload proposes protocol IKE
    let req: { ni: Uint8Array; spii: Uint8Array } | null = null, resp: { nr: Uint8Array; spir: Uint8Array } | null = null;
    for (const d of decryptGolden("made_d_rekey", "fixtures/made/d_ikev2_rekey/d_ikev2_rekey")) {
      if (d.msg.exchange !== 36) continue;
      const pl = decodeIkev2Payloads(d.plain, 0, d.plain.length, d.firstType, [], "ikev2.sk");
      const sa = pl.find((p) => p.kind === "sa");
      const no = pl.find((p) => p.kind === "nonce");
      if (!sa || sa.kind !== "sa" || sa.proposals[0].protocol !== 1 || !no || no.kind !== "nonce") continue;
      if (d.msg.flags.response) resp = { nr: no.nonce, spir: sa.proposals[0].spi };
      else req = { ni: no.nonce, spii: sa.proposals[0].spi };
    }
    expect(req && resp).toBeTruthy();
    expect(toHex(req!.spii)).toBe(kj[1].ispi);
    expect(toHex(resp!.spir)).toBe(kj[1].rspi);
    const keys = deriveIkeKeys({
      prf: 5, encrKeyLength: 20, integKeyLength: 0, ni: req!.ni, nr: resp!.nr, shared: first("shared Diffie Hellman secret", 1),
      spii: req!.spii, spir: resp!.spir, rekey: { skd: fromHex(kj[0].sk_d)!, prf: 5 },
    });
    expect(toHex(keys.skeyseed)).toBe(toHex(first("SKEYSEED", 1)));
    expect([toHex(keys.skd), toHex(keys.skei), toHex(keys.sker), toHex(keys.skpi), toHex(keys.skpr)]).toEqual([kj[1].sk_d, kj[1].sk_ei, kj[1].sk_er, kj[1].sk_pi, kj[1].sk_pr]);
  });
});
