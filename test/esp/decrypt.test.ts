/**
 * openEspForDecode on synthetic packets built with an independent implementation
 * (node:crypto ciphers and HMACs), for transforms and options not in the captures:
 * every HMAC, AES-CBC key sizes, AES-CTR (RFC 3686), GCM 8/12-byte ICVs, ESN.
 */
import { describe, expect, test } from "bun:test";
import * as nc from "node:crypto";
import { putU32 } from "../../lib/core/bytes.ts";
import { gcmOpen, openEspForDecode } from "../../lib/esp/decrypt.ts";
import type { DecodeEncr, DecodeInteg, EspDecodeParams } from "../../lib/esp/decrypt.ts";
import { OutboundSa } from "../../lib/esp/mod.ts";
import { ipv4Packet, keyMaterial } from "./util.ts";

const HM: Record<Exclude<DecodeInteg, "none">, [string, number, number]> = {
  "hmac-md5-96": ["md5", 12, 16],
  "hmac-sha1-96": ["sha1", 12, 20],
  "hmac-sha256-128": ["sha256", 16, 32],
  "hmac-sha384-192": ["sha384", 24, 48],
  "hmac-sha512-256": ["sha512", 32, 64],
};

interface Build { encr: DecodeEncr; encKey: Uint8Array; integ: DecodeInteg; authKey?: Uint8Array; icvLen?: number; esnHigh?: number; padBytes?: (i: number) => number }

/** Independent ESP builder: node:crypto only. */
function build(b: Build, payload: Uint8Array, nh: number, seq = 7): Uint8Array {
  const blk = b.encr === "aes-cbc" ? 16 : b.encr === "3des-cbc" ? 8 : 4;
  const ivLen = b.encr === "aes-cbc" ? 16 : b.encr === "null" ? 0 : 8;
  const padLen = (blk - ((payload.length + 2) % blk)) % blk;
  const pt = new Uint8Array(payload.length + padLen + 2);
  pt.set(payload);
  for (let i = 1; i <= padLen; i++) pt[payload.length + i - 1] = b.padBytes ? b.padBytes(i) : i;
  pt[pt.length - 2] = padLen;
  pt[pt.length - 1] = nh;
  const hdr = new Uint8Array(8 + ivLen);
  putU32(hdr, 0, 0xabcdef01);
  putU32(hdr, 4, seq);
  for (let i = 0; i < ivLen; i++) hdr[8 + i] = (i * 13 + 5) & 0xff;
  const iv = hdr.subarray(8);
  let ct: Uint8Array;
  let icv = new Uint8Array(0);
  const ek = b.encKey;
  switch (b.encr) {
    case "aes-cbc":
    case "3des-cbc": {
      const c = nc.createCipheriv(b.encr === "aes-cbc" ? `aes-${ek.length * 8}-cbc` : "des-ede3-cbc", ek, iv);
      c.setAutoPadding(false);
      ct = Buffer.concat([c.update(pt), c.final()]);
      break;
    }
    case "aes-ctr": {
      const cb = new Uint8Array(16);
      cb.set(ek.subarray(ek.length - 4)); cb.set(iv, 4); cb[15] = 1;
      const c = nc.createCipheriv(`aes-${(ek.length - 4) * 8}-ctr`, ek.subarray(0, ek.length - 4), cb);
      ct = Buffer.concat([c.update(pt), c.final()]);
      break;
    }
    case "null":
      ct = pt;
      break;
    case "aes-gcm": {
      const nonce = new Uint8Array(12);
      nonce.set(ek.subarray(ek.length - 4)); nonce.set(iv, 4);
      const c = nc.createCipheriv(`aes-${(ek.length - 4) * 8}-gcm` as "aes-128-gcm", ek.subarray(0, ek.length - 4), nonce, { authTagLength: b.icvLen ?? 16 });
      const aad = new Uint8Array(b.esnHigh === undefined ? 8 : 12);
      aad.set(hdr.subarray(0, 4));
      if (b.esnHigh === undefined) aad.set(hdr.subarray(4, 8), 4);
      else { putU32(aad, 4, b.esnHigh); aad.set(hdr.subarray(4, 8), 8); }
      c.setAAD(aad);
      ct = Buffer.concat([c.update(pt), c.final()]);
      icv = c.getAuthTag();
      break;
    }
    default:
      throw new Error("unsupported in builder");
  }
  const body = Buffer.concat([hdr, ct]);
  if (b.integ !== "none") {
    const [alg, len] = HM[b.integ];
    const h = nc.createHmac(alg, b.authKey!);
    h.update(body);
    if (b.esnHigh !== undefined) { const hi = new Uint8Array(4); putU32(hi, 0, b.esnHigh); h.update(hi); }
    icv = h.digest().subarray(0, len);
  }
  return new Uint8Array(Buffer.concat([body, icv]));
}

const params = (b: Build): EspDecodeParams => ({
  encr: b.encr, encKey: b.encKey, integ: b.integ, authKey: b.authKey, icvLen: b.icvLen,
  esn: b.esnHigh === undefined ? undefined : { high: b.esnHigh },
});

function roundTrip(b: Build): void {
  for (const n of [0, 1, 13, 84, 100]) {
    const inner = ipv4Packet(n);
    const pkt = build(b, inner, 4);
    const r = openEspForDecode(params(b), pkt);
    expect(r.icv).toBe(b.integ === "none" && b.encr !== "aes-gcm" ? "none" : "good");
    expect(r.reason).toBeUndefined();
    expect(r.nextHeader).toBe(4);
    expect(r.payload).toEqual(inner);
    expect(r.spi).toBe(0xabcdef01);
    expect(r.seq).toBe(7);
    // any flipped bit (header, IV, ciphertext, ICV) → bad, no payload, when there is an ICV
    if (r.icv === "good") {
      for (const pos of [0, 5, 9, pkt.length - 20, pkt.length - 1]) {
        const bad = pkt.slice();
        bad[pos] ^= 0x04;
        const rb = openEspForDecode(params(b), bad);
        expect(rb.icv).toBe("bad");
        expect(rb.payload).toBeUndefined();
      }
    }
  }
}

describe("openEspForDecode: synthetic packets (node:crypto-built)", () => {
  for (const kl of [16, 24, 32]) {
    for (const integ of Object.keys(HM) as (keyof typeof HM)[]) {
      test(`aes-cbc-${kl * 8} + ${integ}`, () => roundTrip({ encr: "aes-cbc", encKey: keyMaterial(kl, 3), integ, authKey: keyMaterial(HM[integ][2], 9) }));
    }
  }
  for (const kl of [16, 24, 32]) {
    test(`aes-ctr-${kl * 8} (RFC 3686) + hmac-sha1-96`, () => roundTrip({ encr: "aes-ctr", encKey: keyMaterial(kl + 4, 4), integ: "hmac-sha1-96", authKey: keyMaterial(20, 1) }));
  }
  test("3des-cbc + hmac-md5-96", () => roundTrip({ encr: "3des-cbc", encKey: keyMaterial(24, 5), integ: "hmac-md5-96", authKey: keyMaterial(16, 2) }));
  test("null + hmac-sha512-256", () => roundTrip({ encr: "null", encKey: new Uint8Array(0), integ: "hmac-sha512-256", authKey: keyMaterial(64, 2) }));
  test("aes-cbc without integrity (icv none)", () => roundTrip({ encr: "aes-cbc", encKey: keyMaterial(16, 5), integ: "none" }));
  for (const icvLen of [8, 12, 16]) {
    for (const kl of [16, 24, 32]) {
      test(`aes-gcm-${kl * 8} ICV ${icvLen}`, () => roundTrip({ encr: "aes-gcm", encKey: keyMaterial(kl + 4, 6), integ: "none", icvLen }));
    }
  }

  test("GCM noble fallback (truncated tags via CTR + recomputed tag) agrees with node:crypto", () => {
    for (const icvLen of [8, 12, 16]) {
      const ek = keyMaterial(36, 8);
      const pkt = build({ encr: "aes-gcm", encKey: ek, integ: "none", icvLen }, ipv4Packet(50), 4);
      const nonce = new Uint8Array(12);
      nonce.set(ek.subarray(32)); nonce.set(pkt.subarray(8, 16), 4);
      const ct = pkt.subarray(16, pkt.length - icvLen), icv = pkt.subarray(pkt.length - icvLen);
      const a = gcmOpen(ek.subarray(0, 32), nonce, pkt.subarray(0, 8), ct, icv, true);
      const b = gcmOpen(ek.subarray(0, 32), nonce, pkt.subarray(0, 8), ct, icv, false);
      expect(a).not.toBeNull();
      expect(b).toEqual(a!);
      const badIcv = icv.slice(); badIcv[0] ^= 1;
      expect(gcmOpen(ek.subarray(0, 32), nonce, pkt.subarray(0, 8), ct, badIcv, false)).toBeNull();
    }
  });

  test("ESN: HMAC covers the implicit high bits; GCM AAD carries them (matches OutboundSa)", () => {
    const b: Build = { encr: "aes-cbc", encKey: keyMaterial(16), integ: "hmac-sha256-128", authKey: keyMaterial(32), esnHigh: 3 };
    const pkt = build(b, ipv4Packet(10), 4);
    expect(openEspForDecode(params(b), pkt).icv).toBe("good");
    expect(openEspForDecode({ ...params(b), esn: { high: 2 } }, pkt).icv).toBe("bad");
    expect(openEspForDecode({ ...params(b), esn: undefined }, pkt).icv).toBe("bad");
    const km = keyMaterial(36, 2);
    const sa = new OutboundSa({ spi: 0x4444, cipher: "aes256gcm16", keyMaterial: km, esn: true, initialSeq: (5n << 32n) + 9n });
    const esp = sa.seal(ipv4Packet(30), 4)!;
    const g = openEspForDecode({ encr: "aes-gcm", encKey: km, integ: "none", esn: { high: 5 } }, esp);
    expect(g).toMatchObject({ icv: "good", nextHeader: 4, payload: ipv4Packet(30) });
    expect(openEspForDecode({ encr: "aes-gcm", encKey: km, integ: "none", esn: { high: 4 } }, esp).icv).toBe("bad");
  });

  test("padding: authentic but non-monotonic pad → payload with a reason; without ICV → withheld", () => {
    const b: Build = { encr: "aes-cbc", encKey: keyMaterial(16), integ: "hmac-sha1-96", authKey: keyMaterial(20), padBytes: () => 0 };
    const r = openEspForDecode(params(b), build(b, ipv4Packet(1), 4));
    expect(r.icv).toBe("good");
    expect(r.reason).toMatch(/pad bytes/);
    const nb: Build = { ...b, integ: "none", authKey: undefined };
    const r2 = openEspForDecode(params(nb), build(nb, ipv4Packet(1), 4));
    expect(r2).toMatchObject({ icv: "none" });
    expect(r2.payload).toBeUndefined();
    expect(r2.reason).toMatch(/padding/);
  });

  test("dummy packets are flagged", () => {
    const b: Build = { encr: "null", encKey: new Uint8Array(0), integ: "hmac-sha1-96", authKey: keyMaterial(20) };
    expect(openEspForDecode(params(b), build(b, new Uint8Array(6), 59)).reason).toMatch(/dummy/);
  });

  test("bad parameters and truncated packets come back as reasons, never exceptions", () => {
    const good = build({ encr: "aes-cbc", encKey: keyMaterial(16), integ: "hmac-sha1-96", authKey: keyMaterial(20) }, ipv4Packet(20), 4);
    const cases: [EspDecodeParams, Uint8Array][] = [
      [{ encr: "aes-cbc", encKey: keyMaterial(15), integ: "hmac-sha1-96", authKey: keyMaterial(20) }, good],
      [{ encr: "aes-gcm", encKey: keyMaterial(36), integ: "hmac-sha1-96", authKey: keyMaterial(20) }, good],
      [{ encr: "aes-gcm", encKey: keyMaterial(36), integ: "none", icvLen: 10 }, good],
      [{ encr: "aes-cbc", encKey: keyMaterial(16), integ: "hmac-sha1-96" }, good],
      [{ encr: "3des-cbc", encKey: keyMaterial(16), integ: "none" }, good],
      [{ encr: "chacha20-poly1305", encKey: keyMaterial(32), integ: "none" }, good],
      [{ encr: "bogus" as DecodeEncr, encKey: keyMaterial(16), integ: "none" }, good],
      [{ encr: "aes-cbc", encKey: keyMaterial(16), integ: "bogus" as DecodeInteg, authKey: keyMaterial(20) }, good],
      [{ encr: "aes-cbc", encKey: keyMaterial(16), integ: "none" }, good.subarray(0, 30)],
      [{ encr: "aes-cbc", encKey: keyMaterial(16), integ: "hmac-sha1-96", authKey: keyMaterial(20) }, good.subarray(0, 7)],
      [{ encr: "aes-cbc", encKey: keyMaterial(16), integ: "none" }, good.subarray(0, good.length - 1)],
    ];
    for (const [p, pkt] of cases) {
      const r = openEspForDecode(p, pkt);
      expect(r.payload).toBeUndefined();
      expect(typeof r.reason).toBe("string");
    }
  });
});
