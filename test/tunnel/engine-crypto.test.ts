/**
 * The libcrypto (bun:ffi) AEAD provider of the Bun runtime (lib/platform/bun/aead-ffi.ts)
 * against lib/esp's reference providers: byte-identical ESP packets, cross-provider open,
 * tampering rejected, in-place sealing, keys forgotten on destroy.
 */
import { describe, expect, test } from "bun:test";
import { nobleChaCha, nobleGcm, selectAeadProvider } from "../../lib/esp/aead.ts";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import type { EspCipherName } from "../../lib/esp/types.ts";
import { libcryptoAead } from "../../lib/platform/bun/aead-ffi.ts";

const CIPHERS: EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"];
const available = process.platform === "linux" && libcryptoAead("aes256gcm16") !== null;
if (!available && process.env.CI === "true") throw new Error("libcrypto.so.3 not loadable (CI=true)");
const run = available ? describe : describe.skip;
if (!available) console.warn("[skip] test/tunnel/engine-crypto.test.ts: libcrypto not loadable");

function rnd(n: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return x & 0xff;
  });
}

run("libcrypto AEAD provider", () => {
  for (const cipher of CIPHERS) {
    test(`${cipher}: same ESP bytes as the reference provider, opens both ways, rejects tampering`, () => {
      const kl = cipher === "aes128gcm16" ? 20 : 36;
      const km = rnd(kl, 7);
      const ffi = libcryptoAead(cipher)!;
      expect(ffi.supports(cipher)).toBe(true);
      const ref = cipher === "chacha20poly1305" ? nobleChaCha : selectAeadProvider(cipher);
      for (const esn of [false, true]) {
        const a = new OutboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn }, ffi);
        const b = new OutboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn }, ref);
        const inF = new InboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn }, ffi);
        const inR = new InboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn }, ref);
        for (const len of [0, 1, 20, 63, 64, 65, 1400, 1438, 9000]) {
          const pt = rnd(len, len + 1);
          const x = a.seal(pt, 4)!;
          const y = b.seal(pt, 4)!;
          expect(x).toEqual(y);
          const r1 = inF.open(y);
          const r2 = inR.open(x.slice());
          expect(r1.ok && r1.payload).toEqual(pt);
          expect(r2.ok && r2.payload).toEqual(pt);
          const bad = x.slice();
          bad[bad.length - 1 - (len % 17)] ^= 0x40;
          const inF2 = new InboundSa({ spi: 0x1234, cipher, keyMaterial: km, esn }, ffi);
          expect(inF2.open(bad)).toEqual({ ok: false, reason: "icv" });
          inF2.destroy();
        }
        for (const sa of [a, b, inF, inR]) sa.destroy();
      }
    });
  }

  test("seal in place (out aliases plaintext) and without out", () => {
    const ffi = libcryptoAead("aes256gcm16")!;
    const key = rnd(32, 3), nonce = rnd(12, 4), aad = rnd(8, 5);
    const pt = rnd(777, 6);
    const want = nobleGcm.seal(key, nonce, aad, pt);
    const buf = new Uint8Array(777 + 16);
    buf.set(pt);
    const got = ffi.seal(key, nonce, aad, buf.subarray(0, 777), buf);
    expect(got).toEqual(want);
    expect(ffi.seal(key, nonce, aad, pt)).toEqual(want);
    expect(ffi.open(key, nonce, aad, want)).toEqual(pt);
    expect(ffi.open(key, nonce, aad, want.subarray(0, 15))).toBeNull();
    ffi.forget?.(key);
    ffi.forget?.(key); // idempotent
    // a forgotten key works again (fresh context)
    expect(ffi.open(key, nonce, aad, want)).toEqual(pt);
    ffi.forget?.(key);
  });

  test("the ChaCha provider refuses GCM names and wrong key sizes", () => {
    const ch = libcryptoAead("chacha20poly1305")!;
    expect(ch.supports("aes256gcm16")).toBe(false);
    expect(() => ch.seal(new Uint8Array(16), new Uint8Array(12), new Uint8Array(8), new Uint8Array(4))).toThrow();
    expect(ch.open(new Uint8Array(16), new Uint8Array(12), new Uint8Array(8), new Uint8Array(40))).toBeNull();
  });
});
