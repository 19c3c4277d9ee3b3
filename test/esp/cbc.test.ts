/**
 * ESP with AES-CBC + HMAC (lib/esp/cbc.ts through InboundSa/OutboundSa): RFC 3602 AES-CBC
 * vectors, HMACs against node:crypto, real strongSwan packets (test/esp/golden), round trips
 * of all eight transforms cross-checked with the decoder's independent opener, ICV checked
 * before decryption and before the replay window moves, and fuzzing of open().
 * Every case runs on the @noble provider and on the libcrypto FFI one (the data plane's).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as nodeCrypto from "node:crypto";
import { toHex } from "../../lib/core/bytes.ts";
import { CBC_HDR, cbcSuite, ESP_CBC_CIPHERS, espKeyMaterialLength, nobleCbcHmac } from "../../lib/esp/cbc.ts";
import { openEspForDecode, type DecodeInteg } from "../../lib/esp/decrypt.ts";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import type { CbcHmacProvider, EspCbcName } from "../../lib/esp/types.ts";
import { libcryptoCbcHmac } from "../../lib/platform/bun/cbc-ffi.ts";
import { golden, hex, ipv4Packet } from "./util.ts";

const ffi = libcryptoCbcHmac();
const PROVIDERS: [string, CbcHmacProvider][] = [["noble", nobleCbcHmac]];
if (ffi !== null) PROVIDERS.push(["libcrypto-ffi", ffi]);

const DECODE_INTEG: Record<string, DecodeInteg> = { sha1: "hmac-sha1-96", sha256: "hmac-sha256-128", sha384: "hmac-sha384-192", sha512: "hmac-sha512-256" };

function keyFor(cipher: EspCbcName, seed: number): Uint8Array {
  return new Uint8Array(espKeyMaterialLength(cipher)).map((_, i) => (i * 29 + seed * 7 + 1) & 0xff);
}

function pair(cipher: EspCbcName, p: CbcHmacProvider, opts: { esn?: boolean; initialSeq?: bigint; replayWindow?: number } = {}) {
  const km = keyFor(cipher, 3);
  const out = new OutboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn: opts.esn, initialSeq: opts.initialSeq }, p);
  const inn = new InboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn: opts.esn, replayWindow: opts.replayWindow }, p);
  return { out, inn, km };
}

test("the libcrypto FFI provider loads and passes its self-test (CI has libcrypto.so.3)", () => {
  if (process.env.CI === "true") expect(ffi).not.toBeNull();
});

describe.each(PROVIDERS)("AES-CBC and HMAC primitives (%s)", (_name, p) => {
  // RFC 3602 §4, Cases 1 and 2 (raw AES-128-CBC)
  const cases = [
    { key: "06a9214036b8a15b512e03d534120006", iv: "3dafba429d9eb430b422da802c9fac41", pt: toHex(new TextEncoder().encode("Single block msg")), ct: "e353779c1079aeb82708942dbe77181a" },
    {
      key: "c286696d887c9aa0611bbb3e2025a45a", iv: "562e17996d093d28ddb3ba695a2e6f58",
      pt: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", ct: "d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1",
    },
  ];
  test.each(cases.map((c, i) => [i + 1, c] as const))("RFC 3602 case %d", (_n, c) => {
    const pt = hex(c.pt), out = new Uint8Array(pt.length), back = new Uint8Array(pt.length);
    p.encrypt(hex(c.key), hex(c.iv), pt, out);
    expect(toHex(out)).toBe(c.ct);
    expect(p.decrypt(hex(c.key), hex(c.iv), out, back)).toBe(true);
    expect(toHex(back)).toBe(c.pt);
    p.forget?.(hex(c.key));
  });
  test("HMACs agree with node:crypto, with and without the ESN tail", () => {
    const data = new Uint8Array(333).map((_, i) => (i * 13) & 0xff), tail = new Uint8Array([0, 0, 0, 7]), out = new Uint8Array(64);
    for (const h of ["sha1", "sha256", "sha384", "sha512"] as const) {
      const key = new Uint8Array(h === "sha1" ? 20 : h === "sha256" ? 32 : h === "sha384" ? 48 : 64).map((_, i) => i + 1);
      for (const t of [null, tail]) {
        const ref = nodeCrypto.createHmac(h, key).update(data).update(t ?? new Uint8Array(0)).digest();
        const n = p.mac(h, key, data, t, out);
        expect(toHex(out.subarray(0, n))).toBe(ref.toString("hex"));
      }
      p.forget?.(key);
    }
  });
});

describe.each(PROVIDERS)("real strongSwan ESP packets open (%s)", (_name, p) => {
  for (const file of ["k_esp_aes128_sha256.json", "b_cbc_sha256.json"]) {
    test(file, () => {
      const g = golden(file);
      let opened = 0;
      for (const k of g.keys) {
        const cipher = `aes${k.ekey.length * 4}-sha256` as EspCbcName;
        const inn = new InboundSa({ spi: parseInt(k.spi, 16), cipher, keyMaterial: hex(k.ekey + k.ikey) }, p);
        for (const e of g.esp.filter((e) => e.spi === k.spi)) {
          const r = inn.open(hex(e.hex));
          expect(r.ok).toBe(true);
          if (r.ok) {
            expect([4, 41]).toContain(r.nextHeader);
            expect(r.payload[0] >> 4).toBe(r.nextHeader === 4 ? 4 : 6);
            opened++;
          }
        }
        inn.destroy();
      }
      expect(opened).toBe(g.esp.length);
    });
  }
});

describe.each(PROVIDERS)("round trips of every transform (%s)", (_name, p) => {
  test.each([...ESP_CBC_CIPHERS])("%s: framing, random IVs, decoder agrees, opens", (cipher) => {
    const s = cbcSuite(cipher);
    const { out, inn, km } = pair(cipher, p);
    const ivs = new Set<string>();
    for (const n of [0, 1, 13, 14, 15, 16, 30, 100, 1400]) {
      const inner = ipv4Packet(n);
      const esp = out.seal(inner, 4)!;
      // SPI | seq | IV(16) | whole blocks | ICV
      expect(esp.length).toBe(CBC_HDR + Math.ceil((inner.length + 2) / 16) * 16 + s.icvLen);
      ivs.add(toHex(esp.subarray(8, 24)));
      // the decoder (lib/esp/decrypt.ts, its own code) checks the ICV and the padding
      const d = openEspForDecode({ encr: "aes-cbc", encKey: km.subarray(0, s.encKeyLen), integ: DECODE_INTEG[s.hash], authKey: km.subarray(s.encKeyLen) }, esp);
      expect(d.icv).toBe("good");
      expect(toHex(d.payload!)).toBe(toHex(inner));
      const r = inn.open(esp);
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(toHex(r.payload)).toBe(toHex(inner));
        expect(r.nextHeader).toBe(4);
      }
    }
    expect(ivs.size).toBe(9);
    out.destroy();
    inn.destroy();
    // zeroed and refusing
    expect(out.seal(ipv4Packet(4), 4)).toBeNull();
  });

  test("ESN: the high 32 bits are in the ICV (not on the wire); decoder agrees", () => {
    const { out, inn, km } = pair("aes256-sha256", p, { esn: true, initialSeq: (5n << 32n) + 0xfffffff0n });
    const s = cbcSuite("aes256-sha256");
    const inner = ipv4Packet(40);
    for (let i = 0; i < 20; i++) {
      const esp = out.seal(inner, 4)!;
      const seq = out.seq;
      const d = openEspForDecode({ encr: "aes-cbc", encKey: km.subarray(0, 32), integ: DECODE_INTEG[s.hash], authKey: km.subarray(32), esn: { high: Number(seq >> 32n) } }, esp);
      expect(d.icv).toBe("good");
      if (i === 0) {
        // the receiver starts without knowing the high bits: a fresh window infers 0 and the ICV fails
        expect(inn.open(esp).ok).toBe(false);
      }
    }
    const inn2 = new InboundSa({ spi: 0x1234, cipher: "aes256-sha256", keyMaterial: km, esn: true, initialSeq: (5n << 32n) + 0xfffffff0n }, p);
    const { out: out2 } = pair("aes256-sha256", p, { esn: true, initialSeq: (5n << 32n) + 0xfffffff0n });
    for (let i = 0; i < 20; i++) {
      const r = inn2.open(out2.seal(inner, 4)!);
      expect(r.ok).toBe(true);
      if (r.ok) expect(r.seq).toBe((5n << 32n) + 0xfffffff0n + BigInt(i + 1));
    }
    inn.destroy();
  });

  test("a tampered byte anywhere is an ICV failure, counted, and leaves the replay window alone", () => {
    for (const cipher of ["aes128-sha1", "aes256-sha512"] as const) {
      const km = keyFor(cipher, 9);
      const out = new OutboundSa({ spi: 0x4321, cipher, keyMaterial: km }, p);
      const db = new SaDatabase({ crypto: p });
      const inn = db.installInbound({ spi: 0x4321, cipher, keyMaterial: km });
      const pkts = Array.from({ length: 5 }, (_, i) => out.seal(ipv4Packet(50 + i), 4)!);
      // every byte after the SPI: sequence number, IV, ciphertext, ICV
      let bad = 0;
      for (let at = 4; at < pkts[4].length; at += 3) {
        const t = pkts[4].slice();
        t[at] ^= 0x40;
        const r = db.open(t);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.reason).toBe("icv");
        bad++;
      }
      expect(db.counters.icv).toBe(bad);
      // a forged packet with seq 5 moved nothing: the genuine one still opens, and so do 1..4
      expect(inn.replay.check(5)).toBeGreaterThanOrEqual(0);
      for (const i of [4, 0, 1, 2, 3]) expect(db.open(pkts[i]).ok).toBe(true);
      // now it is a replay
      const again = db.open(pkts[4]);
      expect(again.ok).toBe(false);
      if (!again.ok) expect(again.reason).toBe("replay");
      // a truncated or misaligned packet is malformed, not an ICV failure
      const cut = db.open(pkts[1].subarray(0, pkts[1].length - 1));
      expect(cut.ok || cut.reason).toBe("malformed");
    }
  });

  test("open() on random bytes never throws and never succeeds (fuzz)", () => {
    const cipher = "aes128-sha256";
    const inn = new InboundSa({ spi: 0x1234, cipher, keyMaterial: keyFor(cipher, 3), replayWindow: 0 }, p);
    const spi = new Uint8Array([0, 0, 0x12, 0x34]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (b, withSpi) => {
        const buf = withSpi && b.length >= 4 ? (b.set(spi, 0), b) : b;
        const r = inn.open(buf);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
    // a valid packet with a random block appended / removed / swapped
    const { out } = pair(cipher, p);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(400), fc.integer({ min: 1, max: 255 }), (payload, at, x) => {
        const esp = out.seal(payload, 4)!;
        const t = esp.slice();
        t[4 + (at % (t.length - 4))] ^= x;
        const r = inn.open(t);
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});

test("key material: encryption key then integrity key, lengths checked", () => {
  expect(ESP_CBC_CIPHERS.map((c) => [c, espKeyMaterialLength(c)])).toEqual([
    ["aes128-sha1", 36], ["aes128-sha256", 48], ["aes128-sha384", 64], ["aes128-sha512", 80],
    ["aes256-sha1", 52], ["aes256-sha256", 64], ["aes256-sha384", 80], ["aes256-sha512", 96],
  ]);
  expect(cbcSuite("aes256-sha384").strongswan).toBe("AES_CBC_256/HMAC_SHA2_384_192");
  expect(() => new OutboundSa({ spi: 0x1000, cipher: "aes128-sha256", keyMaterial: new Uint8Array(36) })).toThrow(/48 bytes/);
  // an AEAD provider cannot run a CBC SA, nor the other way round
  expect(() => new InboundSa({ spi: 0x1000, cipher: "aes128gcm16", keyMaterial: new Uint8Array(20) }, nobleCbcHmac)).toThrow(/does not support/);
});
