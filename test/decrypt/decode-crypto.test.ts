/**
 * The decode crypto backend on libcrypto (lib/platform/bun/decode-crypto-ffi.ts) and the
 * chained AES-CBC decipher of lib/esp/decrypt.ts: equal to node:crypto on random input
 * (fast-check), and `vpnkit decode --keys` prints the same bytes with the backend as without,
 * in all three modes, on every fixture with keys, with wrong keys, and on the benchmark mixes.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createDecipheriv, createHmac } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { aesCbcDecryptCached } from "../../lib/esp/decrypt.ts";
import type { DecodeHash } from "../../lib/esp/decode-crypto.ts";
import { libcryptoDecodeCrypto } from "../../lib/platform/bun/decode-crypto-ffi.ts";
import { keyedCases, renderKeyed } from "./keyed-cases.ts";

const CI = process.env.CI === "true";
const haveLibcrypto = existsSync("/usr/lib/x86_64-linux-gnu/libcrypto.so.3") || existsSync("/usr/lib/aarch64-linux-gnu/libcrypto.so.3") || existsSync("/lib/x86_64-linux-gnu/libcrypto.so.3");
const backend = libcryptoDecodeCrypto();

function cbcRef(key: Uint8Array, iv: Uint8Array, ct: Uint8Array): Buffer {
  const d = createDecipheriv(`aes-${key.length * 8}-cbc`, key, iv);
  d.setAutoPadding(false);
  return Buffer.concat([d.update(ct), d.final()]);
}

test("libcrypto backend loads (libcrypto.so.3 is a Debian dependency of strongSwan and tshark)", () => {
  if (!haveLibcrypto && !CI) return;
  expect(backend).not.toBeNull();
  expect(backend!.name).toBe("libcrypto-ffi");
});

describe.skipIf(backend === null && !CI)("libcrypto backend == node:crypto", () => {
  test("HMAC: every hash, random keys and data, keys interleaved (context reuse)", () => {
    const b = backend!;
    const hashes: DecodeHash[] = ["md5", "sha1", "sha256", "sha384", "sha512"];
    const keys = [new Uint8Array(16).fill(7), new Uint8Array(20).map((_, i) => i), new Uint8Array(64).map((_, i) => 255 - i), new Uint8Array(130).fill(0x5c)];
    const out = new Uint8Array(64);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(4), fc.nat(3), fc.uint8Array({ maxLength: 2000 })), { minLength: 1, maxLength: 12 }), (ops) => {
        for (const [hi, ki, data] of ops) {
          const h = hashes[hi];
          const ref = createHmac(h, keys[ki]).update(data).digest();
          const n = b.hmac(h, keys[ki], data, out);
          expect(n).toBe(ref.length);
          expect(Buffer.from(out.subarray(0, n)).equals(ref)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    // a key array asked for with another hash gets a new context
    const k = new Uint8Array(32).fill(3), d = new Uint8Array(100).fill(1);
    expect(b.hmac("sha256", k, d, out)).toBe(32);
    expect(b.hmac("sha1", k, d, out)).toBe(20);
    expect(Buffer.from(out.subarray(0, 20)).equals(createHmac("sha1", k).update(d).digest())).toBe(true);
    expect(b.hmac("sha256", k, d, new Uint8Array(32))).toBe(-1); // output too small: declined
    b.close();
  });

  test("AES-CBC: 128/192/256, random IV and blocks, keys interleaved, into a reused buffer and fresh", () => {
    const b = backend!;
    const keys = [new Uint8Array(16).fill(1), new Uint8Array(24).map((_, i) => i * 9), new Uint8Array(32).map((_, i) => i * 13)];
    const scratch = new Uint8Array(4096);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(2), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 1, max: 100 }), fc.nat(255), fc.boolean()), { minLength: 1, maxLength: 12 }), (ops) => {
        for (const [ki, iv, blocks, fill, reuse] of ops) {
          const ivct = new Uint8Array(16 + blocks * 16).map((_, i) => (i * 31 + fill) & 255);
          ivct.set(iv);
          const ref = cbcRef(keys[ki], iv, ivct.subarray(16));
          const got = b.aesCbcDecrypt(keys[ki], ivct, reuse ? scratch : undefined);
          expect(got).not.toBeNull();
          expect(Buffer.from(got!).equals(ref)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
    // declined: partial blocks, no ciphertext, bad key length, output too small
    expect(b.aesCbcDecrypt(keys[0], new Uint8Array(40))).toBeNull();
    expect(b.aesCbcDecrypt(keys[0], new Uint8Array(16))).toBeNull();
    expect(b.aesCbcDecrypt(new Uint8Array(20), new Uint8Array(48))).toBeNull();
    expect(b.aesCbcDecrypt(keys[0], new Uint8Array(48), new Uint8Array(32))).toBeNull();
    b.close();
  });
});

test("chained AES-CBC decipher (IV right before the ciphertext) == a fresh CBC decipher, any offsets and keys", () => {
  const keys = [new Uint8Array(16).fill(4), new Uint8Array(24).fill(5), new Uint8Array(32).map((_, i) => i * 7)];
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(2), fc.nat(40), fc.integer({ min: 1, max: 60 }), fc.nat(255)), { minLength: 1, maxLength: 15 }), (ops) => {
      for (const [ki, at, blocks, fill] of ops) {
        const buf = new Uint8Array(at + 16 + blocks * 16 + 9).map((_, i) => (i * 17 + fill) & 255);
        const iv = buf.subarray(at, at + 16), ct = buf.subarray(at + 16, at + 16 + blocks * 16);
        const got = aesCbcDecryptCached(keys[ki], iv, ct);
        expect(got).not.toBeNull();
        expect(Buffer.from(got!).equals(cbcRef(keys[ki], iv, ct))).toBe(true);
      }
    }),
    { numRuns: 300 },
  );
});

describe.skipIf(backend === null && !CI)("decode --keys prints the same bytes with the libcrypto backend as with node:crypto", () => {
  for (const c of keyedCases()) {
    test.skipIf(!existsSync(c.pcap))(c.name, async () => {
      for (const mode of ["summary", "json", "verbose"] as const) {
        if (c.limit !== undefined && mode === "verbose") continue;
        const plain = await renderKeyed(c, mode, { crypto: false });
        const fast = await renderKeyed(c, mode, { crypto: true });
        expect(plain.length).toBeGreaterThan(0);
        if (fast !== plain) {
          const a = plain.split("\n"), b = fast.split("\n");
          const i = a.findIndex((l, j) => l !== b[j]);
          expect(`${mode} line ${i}: ${b[i]}`).toBe(`${mode} line ${i}: ${a[i]}`);
        }
      }
    });
  }
});

test("the key files of the cases exist (a renamed fixture must not silently drop out)", () => {
  const names = keyedCases().filter((c) => !c.name.startsWith("mix ")).map((c) => c.name);
  expect(names.length).toBeGreaterThan(25);
  for (const c of keyedCases()) if (!c.name.startsWith("mix ")) expect(existsSync(c.pcap)).toBe(true);
  expect(readFileSync).toBeDefined();
});
