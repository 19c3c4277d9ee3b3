/**
 * IKEv2 key derivation (RFC 7296 §2.13, §2.14, §2.17, §2.18) and PSK AUTH
 * (§2.15), NAT detection hashes (§2.23). Pure functions over bytes, no state.
 * PRFs: HMAC-SHA1 and HMAC-SHA2-256/384/512, and the AES-based PRF_AES128_XCBC
 * (RFC 4434) and PRF_AES128_CMAC (RFC 4615), which take a fixed 16-byte key (§2.14).
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { concat, putU16 } from "../../../core/bytes.ts";
import { prfAesCmac, prfAesXcbc } from "./prf-aes.ts";

/** PRF transform IDs this module implements. */
export const PRF_HMAC_SHA1 = 2;
export const PRF_AES128_XCBC = 4;
export const PRF_HMAC_SHA2_256 = 5;
export const PRF_HMAC_SHA2_384 = 6;
export const PRF_HMAC_SHA2_512 = 7;
export const PRF_AES128_CMAC = 8;

const HASH = {
  [PRF_HMAC_SHA1]: sha1,
  [PRF_HMAC_SHA2_256]: sha256,
  [PRF_HMAC_SHA2_384]: sha384,
  [PRF_HMAC_SHA2_512]: sha512,
} as const;

/** Output (and preferred key) length of a PRF in bytes; 0 when unsupported. */
export function prfLength(prfId: number): number {
  switch (prfId) {
    case PRF_HMAC_SHA1: return 20;
    case PRF_AES128_XCBC: case PRF_AES128_CMAC: return 16;
    case PRF_HMAC_SHA2_256: return 32;
    case PRF_HMAC_SHA2_384: return 48;
    case PRF_HMAC_SHA2_512: return 64;
    default: return 0;
  }
}

/** Fixed key length of a PRF in bytes (the AES-based ones), or 0 for HMAC (any key length). */
export function prfFixedKeyLength(prfId: number): number {
  return prfId === PRF_AES128_XCBC || prfId === PRF_AES128_CMAC ? 16 : 0;
}

/** OpenSSL names of the HMAC PRFs (node:crypto). */
const NODE_HASH: Record<number, string> = {
  [PRF_HMAC_SHA1]: "sha1",
  [PRF_HMAC_SHA2_256]: "sha256",
  [PRF_HMAC_SHA2_384]: "sha384",
  [PRF_HMAC_SHA2_512]: "sha512",
};

/**
 * HMAC through node:crypto (the system's libcrypto: ~6.6x noble's pure-JS HMAC-SHA256 for an
 * IKE-sized input, and a responder computes ~14 per handshake: bench/ike/RESULTS.md (d)); null
 * where the runtime cannot (then noble does the work). The digest is copied out and the
 * runtime's buffer zeroed.
 */
function nodeHmac(name: string, key: Uint8Array, data: Uint8Array): Uint8Array | null {
  if (nodeHmacBroken) return null;
  try {
    const d = createHmac(name, key).update(data).digest();
    const r = new Uint8Array(d);
    d.fill(0);
    return r;
  } catch {
    nodeHmacBroken = true;
    return null;
  }
}
let nodeHmacBroken = false;

/** prf(key, data). Throws on an unsupported PRF ID (a programming error: negotiation only selects supported ones). */
export function prf(prfId: number, key: Uint8Array, data: Uint8Array): Uint8Array {
  if (prfId === PRF_AES128_XCBC) return prfAesXcbc(key, data);
  if (prfId === PRF_AES128_CMAC) return prfAesCmac(key, data);
  const h = HASH[prfId as keyof typeof HASH];
  if (!h) throw new Error(`unsupported PRF ${prfId}`);
  return nodeHmac(NODE_HASH[prfId], key, data) ?? hmac(h, key, data);
}

/** prf+ (RFC 7296 §2.13): T1 | T2 | ... truncated to `length` bytes. At most 255 blocks. */
export function prfPlus(prfId: number, key: Uint8Array, seed: Uint8Array, length: number): Uint8Array {
  const hl = prfLength(prfId);
  if (!hl) throw new Error(`unsupported PRF ${prfId}`);
  const n = Math.ceil(length / hl);
  if (n > 255) throw new Error(`prf+ cannot produce ${length} bytes`);
  const out = new Uint8Array(n * hl);
  let t: Uint8Array = new Uint8Array(0);
  const buf = new Uint8Array(hl + seed.length + 1);
  for (let i = 1; i <= n; i++) {
    buf.set(t, 0);
    buf.set(seed, t.length);
    buf[t.length + seed.length] = i;
    t = prf(prfId, key, buf.subarray(0, t.length + seed.length + 1));
    out.set(t, (i - 1) * hl);
  }
  buf.fill(0);
  const r = out.slice(0, length);
  out.fill(0);
  return r;
}

/** The seven IKE SA keys (RFC 7296 §2.14). */
export interface IkeKeys {
  skd: Uint8Array;
  skai: Uint8Array;
  skar: Uint8Array;
  skei: Uint8Array;
  sker: Uint8Array;
  skpi: Uint8Array;
  skpr: Uint8Array;
}

export interface IkeKeyInput {
  prf: number;
  /** SK_e length (for AEAD ciphers: key + salt). */
  encrKeyLength: number;
  /** SK_a length (0 for AEAD ciphers). */
  integKeyLength: number;
  ni: Uint8Array;
  nr: Uint8Array;
  /** DH/KE shared secret g^ir. */
  shared: Uint8Array;
  spii: Uint8Array;
  spir: Uint8Array;
  /** IKE SA rekey (§2.18): SK_d of the old SA and the old SA's PRF; `extra`: RFC 9370 §2.2.4 SK(1) | ... | SK(n), after Ni | Nr. */
  rekey?: { skd: Uint8Array; prf: number; extra?: Uint8Array };
}

/**
 * SKEYSEED: initial `prf(Ni | Nr, g^ir)`; rekey `prf_old(SK_d_old, g^ir | Ni | Nr)`.
 * For HMAC PRFs the whole Ni | Nr is the key; a PRF with a fixed key length
 * (AES-XCBC, AES-CMAC: 16 bytes) takes half of it from the start of Ni and half
 * from the start of Nr (§2.14).
 */
export function skeyseed(k: IkeKeyInput): Uint8Array {
  if (k.rekey) return prf(k.rekey.prf, k.rekey.skd, k.rekey.extra?.length ? concat(k.shared, k.ni, k.nr, k.rekey.extra) : concat(k.shared, k.ni, k.nr));
  const fixed = prfFixedKeyLength(k.prf);
  if (fixed) {
    const key = concat(k.ni.subarray(0, fixed / 2), k.nr.subarray(0, fixed / 2));
    const r = prf(k.prf, key, k.shared);
    key.fill(0);
    return r;
  }
  return prf(k.prf, concat(k.ni, k.nr), k.shared);
}

/** {SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr). */
export function deriveIkeKeys(k: IkeKeyInput): IkeKeys & { skeyseed: Uint8Array } {
  const seed = skeyseed(k);
  const pl = prfLength(k.prf);
  const e = k.encrKeyLength;
  const a = k.integKeyLength;
  const total = 3 * pl + 2 * a + 2 * e;
  const km = prfPlus(k.prf, seed, concat(k.ni, k.nr, k.spii, k.spir), total);
  let o = 0;
  const take = (n: number) => km.slice(o, (o += n));
  const keys = { skd: take(pl), skai: take(a), skar: take(a), skei: take(e), sker: take(e), skpi: take(pl), skpr: take(pl) };
  km.fill(0);
  return { ...keys, skeyseed: seed };
}

/**
 * Child SA KEYMAT (§2.17): prf+(SK_d, [g^ir (new) |] Ni | Nr). The first half
 * keys the initiator→responder SA, the second half responder→initiator; each
 * half is `encrKeyLength` (key || salt for AEAD) followed by `integKeyLength`.
 */
export function childKeymat(
  prfId: number, skd: Uint8Array, ni: Uint8Array, nr: Uint8Array, encrKeyLength: number, integKeyLength: number, shared?: Uint8Array,
): { i2r: Uint8Array; r2i: Uint8Array } {
  const per = encrKeyLength + integKeyLength;
  const km = prfPlus(prfId, skd, shared ? concat(shared, ni, nr) : concat(ni, nr), 2 * per);
  const out = { i2r: km.slice(0, per), r2i: km.slice(per, 2 * per) };
  km.fill(0);
  return out;
}

const KEY_PAD = new TextEncoder().encode("Key Pad for IKEv2");

/**
 * Octets signed/MACed by AUTH (§2.15):
 * `RealMessage | NonceOfPeer | prf(SK_px, RestOfIDPayload)` where the rest of
 * the ID payload is its body (ID type, 3 reserved octets, data).
 */
export function signedOctets(prfId: number, realMessage: Uint8Array, peerNonce: Uint8Array, skp: Uint8Array, idBody: Uint8Array, intAuth?: Uint8Array): Uint8Array {
  // RFC 9242 §3.3.2: `| IntAuth` when IKE_INTERMEDIATE exchanges took place (intermediate-auth.ts)
  return intAuth?.length ? concat(realMessage, peerNonce, prf(prfId, skp, idBody), intAuth) : concat(realMessage, peerNonce, prf(prfId, skp, idBody));
}

/** Shared Key Message Integrity Code: prf(prf(secret, "Key Pad for IKEv2"), octets). */
export function pskAuth(prfId: number, psk: Uint8Array, octets: Uint8Array): Uint8Array {
  const k = prf(prfId, psk, KEY_PAD);
  const r = prf(prfId, k, octets);
  k.fill(0);
  return r;
}

/** NAT_DETECTION_*_IP data: SHA-1(SPIi | SPIr | IP | Port) (§2.23). */
export function natdHash(spii: Uint8Array, spir: Uint8Array, ip: Uint8Array, port: number): Uint8Array {
  const p = new Uint8Array(2);
  putU16(p, 0, port);
  const data = concat(spii, spir, ip, p);
  // node:crypto (libcrypto) where it can: four per IKE_SA_INIT exchange; public inputs
  try {
    return new Uint8Array(createHash("sha1").update(data).digest());
  } catch {
    return sha1(data);
  }
}

/** SHA-256 for cookies (§2.6). */
export function sha256Bytes(data: Uint8Array): Uint8Array {
  return sha256(data);
}

/** Zero every key of an IKE key set (when the SA dies or is rekeyed). */
export function wipeIkeKeys(k: IkeKeys): void {
  for (const v of [k.skd, k.skai, k.skar, k.skei, k.sker, k.skpi, k.skpr]) v.fill(0);
}
