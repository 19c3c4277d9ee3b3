/**
 * The IKE gate's HMAC-SHA256 on libcrypto through FFI (lib/platform/bun/hmac-ffi.ts): equal to
 * node:crypto's for any key and message up to 512 bytes (fast-check), also across key changes,
 * and the COOKIE answers made with it equal those made with node:crypto.
 */
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import fc from "fast-check";
import { CookieGate, GATE_COOKIE, nodeMac, SharedCookieJar } from "../../lib/ike/v2/sa/cookie-gate.ts";
import { libcryptoHmacSha256 } from "../../lib/platform/bun/hmac-ffi.ts";

describe("HMAC-SHA256 through libcrypto (IKE gate)", () => {
  test("equals node:crypto for any 32-byte key and message (keys change between calls)", () => {
    const mac = libcryptoHmacSha256();
    const out = new Uint8Array(32);
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 0, maxLength: 512 }), (k, d) => {
      const padded = new Uint8Array(d.length + 7);
      padded.set(d);
      mac(k, padded, d.length, out);
      return Buffer.from(out).equals(createHmac("sha256", k).update(d).digest());
    }), { numRuns: 1500 });
    mac.wipe();
    const k = new Uint8Array(32).fill(1), d = new Uint8Array(40).fill(2);
    mac(k, d, 40, out);
    expect(Buffer.from(out).equals(createHmac("sha256", k).update(d).digest())).toBe(true);
  });

  test("COOKIE answers made with it are those made with node:crypto", () => {
    const sab = SharedCookieJar.create(0);
    const a = new CookieGate(new SharedCookieJar(sab, 60_000, true, libcryptoHmacSha256()));
    const b = new CookieGate(new SharedCookieJar(sab, 60_000, false, nodeMac));
    // a minimal IKE_SA_INIT request: header + Nonce (32 bytes)
    const req = new Uint8Array(28 + 36);
    req.set([1, 2, 3, 4, 5, 6, 7, 8], 0);
    req[16] = 40;
    req[17] = 0x20;
    req[18] = 34;
    req[19] = 0x08;
    req[27] = req.length;
    req[31] = 36;
    req.fill(0xab, 32);
    const ip = new Uint8Array([198, 18, 7, 9]);
    expect(a.check(req, 0, req.length, ip, 0, 4, true, 1)).toBe(GATE_COOKIE);
    expect(b.check(req, 0, req.length, ip, 0, 4, true, 1)).toBe(GATE_COOKIE);
    expect(a.reply).toEqual(b.reply);
  });
});
