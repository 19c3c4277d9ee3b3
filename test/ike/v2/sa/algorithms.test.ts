/**
 * The IKE algorithms of issue 15 against their RFCs' test vectors: AES-XCBC-MAC
 * (RFC 3566 §4.6), PRF_AES128_XCBC (RFC 4434 §5), PRF_AES128_CMAC (RFC 4615 §4),
 * the MODP primes (RFC 2409 §6.2, RFC 3526 §3–§5: computed here from the RFCs'
 * formula with π; Bun's getDiffieHellman("modp16") takes ~30 s, so not compared with it), key agreement and peer-value
 * checks for MODP-1024/3072/4096 and ECP-521, PRF-HMAC-SHA1 (RFC 2202) and the
 * fixed-key-length SKEYSEED rule of RFC 7296 §2.14.
 */
import { describe, expect, test } from "bun:test";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { p521 } from "@noble/curves/nist.js";
import { deriveIkeKeys, prf, prfLength, skeyseed } from "../../../../lib/ike/v2/sa/crypto.ts";
import { newKeyExchange, SUPPORTED_GROUPS } from "../../../../lib/ike/v2/sa/dh.ts";
import { MODP_GROUPS } from "../../../../lib/ike/v2/sa/modp-groups.ts";
import { aesXcbcMac, prfAesCmac, prfAesXcbc } from "../../../../lib/ike/v2/sa/prf-aes.ts";

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));
const x = (b: Uint8Array) => Buffer.from(b).toString("hex");
const seq = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe("AES-XCBC (RFC 3566, RFC 4434)", () => {
  const k = h("000102030405060708090a0b0c0d0e0f");
  test("AES-XCBC-MAC test cases 1-7 (RFC 3566 §4.6, untruncated)", () => {
    expect(x(aesXcbcMac(k, new Uint8Array(0)))).toBe("75f0251d528ac01c4573dfd584d79f29");
    expect(x(aesXcbcMac(k, seq(3)))).toBe("5b376580ae2f19afe7219ceef172756f");
    expect(x(aesXcbcMac(k, seq(16)))).toBe("d2a246fa349b68a79998a4394ff7a263");
    expect(x(aesXcbcMac(k, seq(20)))).toBe("47f51b4564966215b8985c63055ed308");
    expect(x(aesXcbcMac(k, seq(32)))).toBe("f54f0ec8d2b9f3d36807734bd5283fd4");
    expect(x(aesXcbcMac(k, seq(34)))).toBe("becbb3bccdb518a30677d5481fb6b4d8");
    expect(x(aesXcbcMac(k, new Uint8Array(1000)))).toBe("f0dafee895db30253761103b5d84528f");
  });
  test("PRF_AES128_XCBC with 16-, 10- and 18-byte keys (RFC 4434 §5)", () => {
    const key = h("000102030405060708090a0b0c0d0e0fedcb");
    expect(x(prfAesXcbc(key.subarray(0, 16), seq(20)))).toBe("47f51b4564966215b8985c63055ed308");
    expect(x(prfAesXcbc(key.subarray(0, 10), seq(20)))).toBe("0fa087af7d866e7653434e602fdde835");
    expect(x(prfAesXcbc(key, seq(20)))).toBe("8cd3c93ae598a9803006ffb67c40e9e4");
    expect(x(prf(4, key, seq(20)))).toBe("8cd3c93ae598a9803006ffb67c40e9e4");
    expect(prfLength(4)).toBe(16);
  });
});

describe("AES-CMAC-PRF-128 (RFC 4615)", () => {
  test("18-, 16- and 10-byte keys (§4)", () => {
    const key = h("000102030405060708090a0b0c0d0e0fedcb");
    expect(x(prfAesCmac(key, seq(20)))).toBe("84a348a4a45d235babfffc0d2b4da09a");
    expect(x(prfAesCmac(key.subarray(0, 16), seq(20)))).toBe("980ae87b5f4c9c5214f5b6a8455e4c2d");
    expect(x(prfAesCmac(key.subarray(0, 10), seq(20)))).toBe("290d9e112edb09ee141fcf64c0b72f3d");
    expect(x(prf(8, key, seq(20)))).toBe("84a348a4a45d235babfffc0d2b4da09a");
    expect(prfLength(8)).toBe(16);
  });
});

describe("PRF_HMAC_SHA1", () => {
  test("RFC 2202 test case 2 and a 20-byte output", () => {
    expect(x(prf(2, new TextEncoder().encode("Jefe"), new TextEncoder().encode("what do ya want for nothing?")))).toBe("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    expect(prfLength(2)).toBe(20);
  });
});

describe("SKEYSEED with a fixed-key PRF (RFC 7296 §2.14)", () => {
  test("AES-XCBC/CMAC take the first 8 bytes of Ni and of Nr as the key; HMAC the whole Ni | Nr", () => {
    const ni = seq(32), nr = seq(32).map((v) => v ^ 0xaa), shared = seq(48);
    const base = { encrKeyLength: 16, integKeyLength: 0, ni, nr, shared, spii: seq(8), spir: seq(8) };
    for (const id of [4, 8]) {
      const want = prf(id, new Uint8Array([...ni.subarray(0, 8), ...nr.subarray(0, 8)]), shared);
      expect(x(skeyseed({ ...base, prf: id }))).toBe(x(want));
      const keys = deriveIkeKeys({ ...base, prf: id });
      expect(keys.skd.length).toBe(16); // SK_d, SK_pi, SK_pr: the PRF's key length
      expect(keys.skpi.length).toBe(16);
    }
    expect(x(skeyseed({ ...base, prf: 2 }))).toBe(x(hmac(sha1, new Uint8Array([...ni, ...nr]), shared)));
  });
});

/** ⌊2^bits · π⌋ by Machin's formula in fixed point (64 guard bits). */
function piShifted(bits: number): bigint {
  const one = 1n << BigInt(bits + 64);
  const atanInv = (n: bigint): bigint => {
    let sum = 0n, term = one / n, k = 1n, sign = 1n;
    const n2 = n * n;
    while (term !== 0n) {
      sum += (sign * term) / k;
      term /= n2;
      k += 2n;
      sign = -sign;
    }
    return sum;
  };
  return (16n * atanInv(5n) - 4n * atanInv(239n)) >> 64n;
}

describe("MODP groups (RFC 2409, RFC 3526)", () => {
  // p = 2^N − 2^(N−64) − 1 + 2^64 · (⌊2^(N−130) · π⌋ + k)
  const formula: [number, number, number][] = [[2, 1024, 129093], [14, 2048, 124476], [15, 3072, 1690314], [16, 4096, 240904]];
  for (const [g, n, k] of formula) {
    test(`group ${g}: the ${n}-bit prime equals the RFC's formula`, () => {
      const N = BigInt(n);
      const p = (1n << N) - (1n << (N - 64n)) - 1n + (1n << 64n) * (piShifted(n - 130) + BigInt(k));
      expect(MODP_GROUPS.get(g)!.p).toBe(p);
      expect(MODP_GROUPS.get(g)!.len).toBe(n / 8);
    });
  }
});

describe("key exchange: new groups", () => {
  let ctr = 1;
  const rng = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + ctr++ * 101) & 0xff);
  test("every supported group agrees and lists 2, 15, 16, 21", () => {
    for (const g of [2, 15, 16, 21]) expect(SUPPORTED_GROUPS).toContain(g);
    for (const g of [2, 15, 16, 21]) {
      const a = newKeyExchange(g, rng)!, b = newKeyExchange(g, rng)!;
      const len = g === 21 ? 132 : MODP_GROUPS.get(g)!.len;
      expect(a.publicValue.length).toBe(len);
      const s1 = a.compute(b.publicValue), s2 = b.compute(a.publicValue);
      expect(s1).not.toBeNull();
      expect(x(s1!)).toBe(x(s2!));
      expect(s1!.length).toBe(g === 21 ? 66 : len);
      a.destroy();
      b.destroy();
    }
  });
  test("ECP-521: shared secret is the x coordinate (RFC 5903 §7), as @noble/curves computes it", () => {
    const ska = p521.utils.randomSecretKey();
    const a = newKeyExchange(21, () => ska.slice())!;
    const b = newKeyExchange(21, rng)!;
    expect(x(a.publicValue)).toBe(x(p521.getPublicKey(ska, false).subarray(1)));
    const s = a.compute(b.publicValue)!;
    expect(x(s)).toBe(x(p521.getSharedSecret(ska, new Uint8Array([4, ...b.publicValue])).subarray(1)));
  });
  test("MODP public values and shared secrets equal a plain square-and-multiply (the windowed modpow and the shift-only 2^x)", () => {
    const naive = (b: bigint, e: bigint, m: bigint) => {
      let r = 1n;
      b %= m;
      for (; e > 0n; e >>= 1n) {
        if (e & 1n) r = (r * b) % m;
        b = (b * b) % m;
      }
      return r;
    };
    const big = (u: Uint8Array) => BigInt("0x" + (x(u) || "0"));
    for (const g of [2, 14, 15, 16]) {
      const { p, len, expBytes } = MODP_GROUPS.get(g)!;
      for (let t = 0; t < 3; t++) {
        const xb = rng(expBytes);
        if (t === 0) xb.fill(0, 0, expBytes - 1); // a one-byte exponent
        const k = newKeyExchange(g, () => xb.slice())!;
        const e = big(xb) | 1n;
        expect(big(k.publicValue)).toBe(naive(2n, e, p));
        const y = naive(3n, e + 12345n, p);
        const yb = h(y.toString(16).padStart(len * 2, "0"));
        expect(big(k.compute(yb)!)).toBe(naive(y, e, p));
      }
    }
  });
  test("bad peer values give null, never an exception", () => {
    for (const g of [2, 15, 16]) {
      const a = newKeyExchange(g, rng)!;
      const { p, len } = MODP_GROUPS.get(g)!;
      const be = (v: bigint) => Uint8Array.from(Buffer.from(v.toString(16).padStart(len * 2, "0"), "hex"));
      expect(a.compute(be(1n))).toBeNull();
      expect(a.compute(be(p - 1n))).toBeNull();
      expect(a.compute(be(p))).toBeNull();
      expect(a.compute(new Uint8Array(len - 1))).toBeNull();
    }
    const e = newKeyExchange(21, rng)!;
    expect(e.compute(new Uint8Array(132))).toBeNull(); // (0, 0) is not on the curve
    expect(e.compute(new Uint8Array(131))).toBeNull();
    const bad = e.publicValue.slice();
    bad[131] ^= 1;
    expect(e.compute(bad)).toBeNull();
  });
});
