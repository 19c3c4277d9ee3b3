/**
 * Key exchange methods for IKEv2 KE payloads: Curve25519 (31, RFC 8031),
 * ECP-256/384/521 (19/20/21, RFC 5903: public value x ‖ y, shared secret x) and
 * MODP-1024/2048/3072/4096 (2/14/15/16, RFC 2409 / RFC 3526, bigint modpow with a 4-bit
 * window, 2^x by squarings and shifts: Bun's node:crypto DH checks the prime for seconds; peer value
 * checked 1 < y < p-1; group 2 is weak and only used when a proposal names it explicitly).
 * Peer values are validated; a bad one yields null, never an exception.
 * @module
 */
import { createECDH, createPrivateKey, createPublicKey, diffieHellman, type ECDH, type KeyObject } from "node:crypto";
import { x25519 } from "@noble/curves/ed25519.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { concat } from "../../../core/bytes.ts";
import { MODP_GROUPS } from "./modp-groups.ts";

/** KE groups implemented here. */
export const SUPPORTED_GROUPS: readonly number[] = [31, 19, 20, 21, 14, 15, 16, 2];

/** Random byte source (inject a deterministic one in tests). */
export type Rng = (n: number) => Uint8Array;

/** One ephemeral key exchange: our public value and the shared secret with a peer value. */
export interface KeyExchange {
  readonly group: number;
  /** Our KE payload data. */
  readonly publicValue: Uint8Array;
  /** Shared secret with the peer's KE data, or null when the peer value is invalid. */
  compute(peer: Uint8Array): Uint8Array | null;
  /** Zero the private value. */
  destroy(): void;
}

function toBig(b: Uint8Array): bigint {
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x;
}

function toBytes(x: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}

/** base^exp mod m, left to right with a 4-bit fixed window (4 squarings and at most one multiplication per window). */
function modpow(base: bigint, exp: bigint, mod: bigint): bigint {
  const b = base % mod;
  const table: bigint[] = [1n, b];
  for (let i = 2; i < 16; i++) table.push((table[i - 1] * b) % mod);
  let top = 0;
  while (exp >> BigInt(top + 4) > 0n) top += 4;
  let r = 1n;
  for (let sh = top; sh >= 0; sh -= 4) {
    if (r !== 1n) for (let k = 0; k < 4; k++) r = (r * r) % mod;
    const w = Number((exp >> BigInt(sh)) & 15n);
    if (w) r = (r * table[w]) % mod;
  }
  return r;
}

/** 2^exp mod m: squarings only; the multiplications by 2 are shifts. */
function modpow2(exp: bigint, mod: bigint): bigint {
  let r = 1n;
  for (let i = exp.toString(2).length - 1; i >= 0; i--) {
    r = (r * r) % mod;
    if ((exp >> BigInt(i)) & 1n) {
      r <<= 1n;
      if (r >= mod) r -= mod;
    }
  }
  return r;
}

function modp(group: number, rng: Rng): KeyExchange {
  const { p, len, expBytes } = MODP_GROUPS.get(group)!;
  const xb = rng(expBytes);
  let x = toBig(xb) | 1n;
  xb.fill(0);
  const pub = toBytes(modpow2(x, p), len);
  return {
    group,
    publicValue: pub,
    compute(peer) {
      if (peer.length !== len) return null;
      const y = toBig(peer);
      if (y <= 1n || y >= p - 1n) return null;
      return toBytes(modpow(y, x, p), len);
    },
    destroy() {
      x = 0n;
    },
  };
}

type Weier = typeof p256;

/** OpenSSL curve names of the ECP groups (node:crypto ECDH). */
const ECP_NODE: Record<number, string> = { 19: "prime256v1", 20: "secp384r1", 21: "secp521r1" };

/** node:crypto ECDH with our private key; null where the runtime cannot (then noble does the work). */
function nodeEcdh(group: number, sk: Uint8Array): ECDH | null {
  try {
    const e = createECDH(ECP_NODE[group]);
    e.setPrivateKey(sk);
    return e;
  } catch {
    return null;
  }
}

function ecp(group: number, curve: Weier, len: number, rng: Rng): KeyExchange {
  // P-521: 66 bytes hold 528 bits; keep the top 521 so a random value is almost always below n
  const draw = () => {
    const k = rng(len);
    if (len === 66) k[0] &= 0x01;
    return k;
  };
  let sk = draw();
  for (let i = 0; i < 64 && !curve.utils.isValidSecretKey(sk); i++) sk = draw();
  // node:crypto (the system's libcrypto: 3-100x faster than noble here, bench/ike/ke-groups.md), noble as fallback
  const fast = nodeEcdh(group, sk);
  const pub = fast ? new Uint8Array(fast.getPublicKey()).subarray(1) : curve.getPublicKey(sk, false).subarray(1);
  return {
    group,
    publicValue: pub,
    compute(peer) {
      if (peer.length !== 2 * len) return null;
      try {
        const full = concat(new Uint8Array([4]), peer);
        if (fast) return new Uint8Array(fast.computeSecret(full)); // x coordinate; throws on a point not on the curve
        const s = curve.getSharedSecret(sk, full, true);
        return s.slice(1);
      } catch {
        return null;
      }
    },
    destroy() {
      sk.fill(0);
      if (fast) {
        try {
          fast.setPrivateKey(new Uint8Array(len).fill(1)); // drop the key from the libcrypto object
        } catch {
          // nothing more to do
        }
      }
    },
  };
}

// X25519 through node:crypto (the system's libcrypto: ~20x noble's pure-JS ladder, which was the
// largest share of a responder's CPU per handshake, bench/ike/RESULTS.md (c)); noble where the
// runtime cannot import a raw X25519 key. DER prefixes of PKCS#8 / SPKI for OID 1.3.101.110.
const X25519_PKCS8 = new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);
const X25519_SPKI = new Uint8Array([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00]);

function nodeX25519(sk: Uint8Array): { key: KeyObject; pub: Uint8Array } | null {
  const der = concat(X25519_PKCS8, sk);
  try {
    const key = createPrivateKey({ key: der as Buffer, format: "der", type: "pkcs8" });
    const spki = createPublicKey(key).export({ format: "der", type: "spki" });
    return { key, pub: new Uint8Array(spki.subarray(X25519_SPKI.length)) };
  } catch {
    return null;
  } finally {
    der.fill(0);
  }
}

function curve25519(rng: Rng): KeyExchange {
  const sk = rng(32);
  const fast = nodeX25519(sk);
  const pub = fast ? fast.pub : x25519.getPublicKey(sk);
  return {
    group: 31,
    publicValue: pub,
    compute(peer) {
      if (peer.length !== 32) return null;
      try {
        const s = fast
          ? new Uint8Array(diffieHellman({ privateKey: fast.key, publicKey: createPublicKey({ key: concat(X25519_SPKI, peer) as Buffer, format: "der", type: "spki" }) }))
          : x25519.getSharedSecret(sk, peer);
        let z = 0;
        for (const v of s) z |= v;
        return z === 0 ? null : s; // all-zero: small-order point (RFC 8031 §2.3; libcrypto refuses it itself)
      } catch {
        return null;
      }
    },
    destroy() {
      sk.fill(0);
    },
  };
}

/** New ephemeral key exchange for `group`; null when the group is not implemented. */
export function newKeyExchange(group: number, rng: Rng): KeyExchange | null {
  switch (group) {
    case 31: return curve25519(rng);
    case 19: return ecp(19, p256, 32, rng);
    case 20: return ecp(20, p384 as unknown as Weier, 48, rng);
    case 21: return ecp(21, p521 as unknown as Weier, 66, rng);
    case 2: case 14: case 15: case 16: return modp(group, rng);
    default: return null;
  }
}
