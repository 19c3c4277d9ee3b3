import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { fromHex, toHex } from "../../lib/core/bytes.ts";
import { decodeIkev2, decodeIkev2Payloads } from "../../lib/ike/v2/message.ts";
import { skOpen, skOverhead, skSeal, type SkEncr, type SkInteg, type SkParams } from "../../lib/ike/v2/sk-crypto.ts";
import { bytesOf, loadGolden, ROOT } from "../ike/v2/helpers.ts";

const CASES: [string, string][] = [
  ["strongswan_a_psk_gcm_natt", "fixtures/strongswan/a_ikev2_psk_gcm_natt"],
  ["strongswan_b_psk_cbc_sha256", "fixtures/strongswan/b_ikev2_psk_cbc_sha256"],
  ["strongswan_f1_auth_failed", "fixtures/strongswan/f1_ikev2_auth_failed"],
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag"],
];

// Independent minimal reading of the Wireshark table, so this test does not depend on lib/keys.
function table(dir: string): Map<string, { i: SkParams; r: SkParams }> {
  const m = new Map<string, { i: SkParams; r: SkParams }>();
  for (const line of readFileSync(`${ROOT}${dir}/ikev2_decryption_table`, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const f = line.split(",").map((x) => x.replace(/"/g, ""));
    const encr: SkEncr = f[4].startsWith("AES-GCM") ? "aes-gcm-16" : "aes-cbc";
    const integ: SkInteg = f[7].startsWith("HMAC_SHA2_256") ? "hmac-sha2-256-128" : f[7].startsWith("HMAC_SHA2_384") ? "hmac-sha2-384-192" : "none";
    m.set(f[0] + f[1], {
      i: { encr, encKey: fromHex(f[2])!, integ, integKey: fromHex(f[5]) ?? undefined },
      r: { encr, encKey: fromHex(f[3])!, integ, integKey: fromHex(f[6]) ?? undefined },
    });
  }
  return m;
}

describe("skOpen on real captures", () => {
  for (const [golden, dir] of CASES) {
    test(golden, () => {
      const keys = table(dir);
      let n = 0;
      for (const gm of loadGolden(golden).messages) {
        const b = bytesOf(gm);
        const an: Anomaly[] = [];
        const msg = decodeIkev2(b, 0, b.length, an)!;
        const p = msg.payloads[msg.payloads.length - 1];
        if (p.kind !== "sk" && p.kind !== "skf") continue;
        const k = keys.get(toHex(msg.ispi) + toHex(msg.rspi))!;
        const params = msg.flags.initiator ? k.i : k.r;
        const r = skOpen(params, b.subarray(0, msg.length), p.offset, p.offset + p.length, p.kind);
        expect(r.integrity, `frame ${gm.frame}`).toBe("good");
        expect(r.ok).toBe(true);
        if (p.kind === "sk") {
          const pan: Anomaly[] = [];
          const pls = decodeIkev2Payloads(r.plaintext!, 0, r.plaintext!.length, p.nextPayload, pan, "ikev2.decrypted");
          expect(pan).toEqual([]);
          expect(pls.length > 0).toBe(p.nextPayload !== 0);
        }
        // the other direction's keys must fail
        const wrong = skOpen(msg.flags.initiator ? k.r : k.i, b.subarray(0, msg.length), p.offset, p.offset + p.length, p.kind);
        expect(wrong.integrity).toBe("bad");
        expect(wrong.plaintext).toBeUndefined();
        n++;
      }
      expect(n).toBeGreaterThan(0);
    });
  }
});

const ALL: SkParams[] = [];
const rnd = (n: number) => { const b = new Uint8Array(n); crypto.getRandomValues(b); return b; };
for (const encr of ["aes-gcm-8", "aes-gcm-12", "aes-gcm-16"] as SkEncr[]) for (const kl of [20, 28, 36]) ALL.push({ encr, encKey: rnd(kl), integ: "none" });
ALL.push({ encr: "chacha20-poly1305", encKey: rnd(36), integ: "none" });
for (const integ of ["hmac-md5-96", "hmac-sha1-96", "hmac-sha2-256-128", "hmac-sha2-384-192", "hmac-sha2-512-256"] as SkInteg[]) {
  const kl = { "hmac-md5-96": 16, "hmac-sha1-96": 20, "hmac-sha2-256-128": 32, "hmac-sha2-384-192": 48, "hmac-sha2-512-256": 64 }[integ as "hmac-md5-96"];
  for (const k of [16, 24, 32]) ALL.push({ encr: "aes-cbc", encKey: rnd(k), integ, integKey: rnd(kl) });
  for (const k of [20, 36]) ALL.push({ encr: "aes-ctr", encKey: rnd(k), integ, integKey: rnd(kl) });
  ALL.push({ encr: "3des-cbc", encKey: rnd(24), integ, integKey: rnd(kl) });
}

function header(next: number): Uint8Array {
  const h = new Uint8Array(28);
  h.set(rnd(16));
  h[16] = next; h[17] = 0x20; h[18] = 35; h[19] = 0x08; h[23] = 1;
  return h;
}

describe("skSeal/skOpen round trip", () => {
  test("every transform, SK and SKF, sizes 0..40", () => {
    for (const params of ALL) {
      for (const len of [0, 1, 7, 15, 16, 17, 40]) {
        const pt = rnd(len);
        const frag = len % 2 === 1;
        const m = skSeal(params, header(frag ? 53 : 46), 41, pt, frag ? { fragment: { number: 1, total: 2 } } : {});
        const an: Anomaly[] = [];
        const msg = decodeIkev2(m, 0, m.length, an)!;
        expect(msg.length).toBe(m.length);
        const p = msg.payloads[msg.payloads.length - 1];
        expect(p.kind).toBe(frag ? "skf" : "sk");
        const r = skOpen(params, m, p.offset, p.offset + p.length, frag ? "skf" : "sk");
        expect(r.integrity, `${params.encr}/${params.integ}/${len}`).toBe("good");
        expect(toHex(r.plaintext!)).toBe(toHex(pt));
        const ov = skOverhead(params)!;
        expect(ov.ivLen + ov.icvLen).toBeLessThan(m.length);
        // Any flipped bit anywhere in the message makes integrity fail.
        const bad = m.slice();
        const pos = (len * 7919) % m.length;
        bad[pos] ^= 0x01;
        const rb = skOpen(params, bad, p.offset, p.offset + p.length, frag ? "skf" : "sk");
        expect(rb.integrity).toBe("bad");
        expect(rb.plaintext).toBeUndefined();
      }
    }
  });

  test("invalid parameters", () => {
    expect(skOpen({ encr: "aes-cbc", encKey: rnd(16), integ: "none" }, new Uint8Array(64), 28, 64).reason).toContain("integrity");
    expect(skOpen({ encr: "aes-gcm-16", encKey: rnd(16), integ: "none" }, new Uint8Array(64), 28, 64).reason).toContain("key must be");
    expect(() => skSeal({ encr: "aes-gcm-16", encKey: rnd(20), integ: "hmac-sha1-96", integKey: rnd(20) }, header(46), 41, rnd(3))).toThrow();
  });

  test("fuzz: mutated sealed messages never throw and never give plaintext", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: ALL.length - 1 }), fc.uint8Array({ maxLength: 64 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: -4, max: 70 }), (i, pt, muts, cut) => {
      const m = skSeal(ALL[i], header(46), 41, pt);
      for (const [pos, x] of muts) m[pos % m.length] ^= x;
      const end = Math.max(0, m.length - Math.max(0, cut % 8));
      const r = skOpen(ALL[i], m, 28 + (cut % 3), end);
      expect(r.ok === (r.plaintext !== undefined)).toBe(true);
      if (r.ok) expect(r.integrity).toBe("good");
    }), { numRuns: 400 });
  });
});
