/**
 * IKEv2 Encrypted payload crypto (RFC 7296 §3.14, RFC 5282 AEAD, RFC 7634 ChaCha20,
 * RFC 5930 AES-CTR, RFC 7383 SKF) for both directions: {@link skOpen} verifies and
 * decrypts an SK/SKF payload inside a whole message; {@link skSeal} builds one.
 * Runtime-neutral (node:crypto where it helps, else @noble). No I/O, never throws on
 * wire data, integrity compared in constant time; plaintext is only returned when the
 * integrity check (ICV or AEAD tag) passed.
 *
 * Layout of the SK body: IV ‖ ciphertext(payloads ‖ padding ‖ pad length) ‖ ICV.
 * - AEAD (GCM, ChaCha20-Poly1305): AAD = message bytes from the IKE header to the end of
 *   the SK (4 bytes) / SKF (8 bytes) payload header; nonce = salt(4) ‖ IV(8).
 * - Otherwise: the ICV is an HMAC (truncated) over the whole message up to the ICV.
 * @module
 */
import * as nodeCrypto from "node:crypto";
import { cbc, ctr, gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { CHash } from "@noble/hashes/utils.js";
import { ctEqual, putU16, putU32 } from "../../core/bytes.ts";
import { aesCbcDecryptCached, gcmOpen, hmacAny } from "../../esp/decrypt.ts";

/** Encryption transforms. GCM keys, ChaCha20 keys and CTR keys are key ‖ 4-byte salt/nonce. */
export type SkEncr =
  | "aes-gcm-8" | "aes-gcm-12" | "aes-gcm-16"
  | "chacha20-poly1305"
  | "aes-cbc" | "aes-ctr" | "3des-cbc" | "null";

/** Integrity transforms (must be "none" for the AEAD ciphers). */
export type SkInteg =
  | "none" | "hmac-md5-96" | "hmac-sha1-96"
  | "hmac-sha2-256-128" | "hmac-sha2-384-192" | "hmac-sha2-512-256";

/** The keys of one direction (SK_ei/SK_ai for messages the initiator sends, SK_er/SK_ar otherwise). */
export interface SkParams {
  encr: SkEncr;
  encKey: Uint8Array;
  integ: SkInteg;
  integKey?: Uint8Array;
}

export interface SkOpenResult {
  /** True when integrity verified and the plaintext is trustworthy. */
  ok: boolean;
  /** Inner payloads (padding and pad length removed); when ok, or unverified on request (ok false, integrity "bad"). */
  plaintext?: Uint8Array;
  integrity: "good" | "bad";
  /** Why not ok (or a remark when ok, e.g. non-zero-free padding is allowed and not reported). */
  reason?: string;
}

const INTEG: Record<Exclude<SkInteg, "none">, { hash: CHash; node: string; len: number }> = {
  "hmac-md5-96": { hash: md5, node: "md5", len: 12 },
  "hmac-sha1-96": { hash: sha1, node: "sha1", len: 12 },
  "hmac-sha2-256-128": { hash: sha256, node: "sha256", len: 16 },
  "hmac-sha2-384-192": { hash: sha384, node: "sha384", len: 24 },
  "hmac-sha2-512-256": { hash: sha512, node: "sha512", len: 32 },
};

interface Shape { iv: number; block: number; icv: number; aead: boolean; keyLens: number[] }

function shape(p: SkParams): Shape | string {
  let s: Shape;
  switch (p.encr) {
    case "aes-gcm-8": case "aes-gcm-12": case "aes-gcm-16":
      s = { iv: 8, block: 1, icv: Number(p.encr.slice(8)), aead: true, keyLens: [20, 28, 36] };
      break;
    case "chacha20-poly1305":
      s = { iv: 8, block: 1, icv: 16, aead: true, keyLens: [36] };
      break;
    case "aes-cbc":
      s = { iv: 16, block: 16, icv: 0, aead: false, keyLens: [16, 24, 32] };
      break;
    case "aes-ctr":
      s = { iv: 8, block: 1, icv: 0, aead: false, keyLens: [20, 28, 36] };
      break;
    case "3des-cbc":
      s = { iv: 8, block: 8, icv: 0, aead: false, keyLens: [24] };
      break;
    case "null":
      s = { iv: 0, block: 1, icv: 0, aead: false, keyLens: [0] };
      break;
    default:
      return `unknown encryption ${String(p.encr)}`;
  }
  if (!s.keyLens.includes(p.encKey.length)) return `${p.encr} key must be ${s.keyLens.join("/")} bytes, have ${p.encKey.length}`;
  if (s.aead) {
    if (p.integ !== "none") return `${p.encr} is combined mode; integ must be "none"`;
  } else {
    if (p.integ === "none") return `${p.encr} needs an integrity transform`;
    const i = INTEG[p.integ];
    if (i === undefined) return `unknown integrity ${String(p.integ)}`;
    if (!p.integKey || p.integKey.length === 0) return `${p.integ} needs an integKey`;
    s.icv = i.len;
  }
  return s;
}

/** IV and ICV lengths and the padding block for `params` (for building messages); null when invalid. */
export function skOverhead(params: SkParams): { ivLen: number; icvLen: number; block: number } | null {
  const s = shape(params);
  return typeof s === "string" ? null : { ivLen: s.iv, icvLen: s.icv, block: s.block };
}

/** Which ciphers node:crypto has, asked once per name (getCiphers() builds a long list). */
const nodeCiphers = new Map<string, boolean>();
function nodeHas(alg: string): boolean {
  let v = nodeCiphers.get(alg);
  if (v === undefined) {
    try {
      v = nodeCrypto.getCiphers().includes(alg);
    } catch {
      v = false;
    }
    nodeCiphers.set(alg, v);
  }
  return v;
}

const view = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/**
 * Unauthenticated AES-CBC / AES-CTR (key ‖ 4-byte nonce, RFC 3686 counter block) / 3DES-CBC,
 * no padding handling: node:crypto when it has the cipher, else noble (AES only). Throws
 * when the runtime has no 3DES. Also used for IKEv1 (lib/decrypt/ikev1.ts).
 */
export function blockCipher(encr: "aes-cbc" | "aes-ctr" | "3des-cbc", key: Uint8Array, iv: Uint8Array, data: Uint8Array, encrypt: boolean): Uint8Array {
  let k = key, v = iv;
  if (encr === "aes-ctr") {
    // RFC 5930 / RFC 3686: counter block = nonce(4) ‖ IV(8) ‖ 1.
    k = key.subarray(0, key.length - 4);
    v = new Uint8Array(16);
    v.set(key.subarray(key.length - 4));
    v.set(iv, 4);
    putU32(v, 12, 1);
  }
  const name = encr === "3des-cbc" ? "des-ede3-cbc" : `aes-${k.length * 8}-${encr === "aes-cbc" ? "cbc" : "ctr"}`;
  if (nodeHas(name)) {
    const c = encrypt ? nodeCrypto.createCipheriv(name, k, v) : nodeCrypto.createDecipheriv(name, k, v);
    c.setAutoPadding(false);
    return view(Buffer.concat([c.update(data), c.final()]));
  }
  if (encr === "3des-cbc") throw new Error("3des-cbc is not available in this runtime");
  const m = encr === "aes-cbc" ? cbc(k, v, { disablePadding: true }) : ctr(k, v);
  return encrypt ? m.encrypt(data) : m.decrypt(data);
}

/**
 * AES-GCM seal through node:crypto (libcrypto: the SK payload of every response; noble's pure-JS
 * GHASH was ~4 % of a responder's main thread under bench/ike/held.sh): ciphertext and the
 * `icvLen`-byte tag written into `out` at `at`. False where the runtime cannot (noble then).
 */
function gcmSealNode(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, pt: Uint8Array, icvLen: number, out: Uint8Array, at: number): boolean {
  const name = `aes-${key.length * 8}-gcm`;
  if (!nodeHas(name)) return false;
  try {
    const c = nodeCrypto.createCipheriv(name as "aes-256-gcm", key, nonce, { authTagLength: icvLen });
    c.setAAD(aad);
    const a = c.update(pt), b = c.final(), tag = c.getAuthTag();
    if (a.length + b.length !== pt.length || tag.length !== icvLen) return false;
    out.set(a, at);
    out.set(b, at + a.length);
    out.set(tag, at + pt.length);
    return true;
  } catch {
    return false;
  }
}

/**
 * The AEAD key (a copy: the caller zeroes it after use) and nonce (salt || IV). No subarray of
 * `encKey`: a view would move the SA's key array into an ArrayBuffer of its own for good
 * (~0.3 KB per held SA, issue 12).
 */
function aeadNonce(encKey: Uint8Array, iv: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const kl = encKey.length - 4;
  const nonce = new Uint8Array(12);
  for (let i = 0; i < 4; i++) nonce[i] = encKey[kl + i];
  nonce.set(iv, 4);
  return { key: encKey.slice(0, kl), nonce };
}

/**
 * Verify and decrypt the SK (or, with `kind: "skf"`, SKF) payload that spans
 * `msg[skPayloadOffset, skPayloadEnd)` (generic header included). `msg` is the whole
 * IKE message, its header at index 0; the ICV is the last bytes of the payload. Never
 * throws.
 * `opts.cacheCipher` (decode only): keep the AES-CBC key schedule per key array
 * (lib/esp/decrypt.ts aesCbcDecryptCached); a live SA leaves it off, so nothing
 * outlives the zeroed key.
 */
export function skOpen(params: SkParams, msg: Uint8Array, skPayloadOffset: number, skPayloadEnd: number, kind: "sk" | "skf" = "sk", opts: { unverified?: boolean; cacheCipher?: boolean } = {}): SkOpenResult {
  try {
    return open(params, msg, skPayloadOffset, skPayloadEnd, kind, opts.unverified === true, opts.cacheCipher === true);
  } catch (e) {
    return { ok: false, integrity: "bad", reason: `decrypt error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function open(p: SkParams, msg: Uint8Array, off: number, end: number, kind: "sk" | "skf", unverified: boolean, cache: boolean): SkOpenResult {
  const s = shape(p);
  if (typeof s === "string") return { ok: false, integrity: "bad", reason: s };
  const hdr = kind === "skf" ? 8 : 4;
  if (off < 0 || end > msg.length || off + hdr > end) return { ok: false, integrity: "bad", reason: "truncated: no room for the payload header" };
  const ivOff = off + hdr, ctOff = ivOff + s.iv, icvOff = end - s.icv;
  if (icvOff - ctOff < 1) return { ok: false, integrity: "bad", reason: "truncated: no room for IV, pad length and ICV" };
  const iv = msg.subarray(ivOff, ctOff);
  const ct = msg.subarray(ctOff, icvOff);
  const icv = msg.subarray(icvOff, end);
  let pt: Uint8Array | null;
  if (s.aead) {
    const { key, nonce } = aeadNonce(p.encKey, iv);
    const aad = msg.subarray(0, ivOff);
    if (p.encr === "chacha20-poly1305") {
      try {
        pt = chacha20poly1305(key, nonce, aad).decrypt(msg.subarray(ctOff, end));
      } catch {
        pt = null;
      }
    } else {
      pt = gcmOpen(key, nonce, aad, ct, icv);
    }
    key.fill(0);
    if (pt === null) return { ok: false, integrity: "bad", reason: "ICV does not verify (wrong keys, or corrupted)" };
  } else {
    const i = INTEG[p.integ as Exclude<SkInteg, "none">];
    const mac = hmacAny(i.hash, i.node, p.integKey!, msg.subarray(0, icvOff));
    const good = ctEqual(mac.subarray(0, i.len), icv);
    if (!good && !unverified) return { ok: false, integrity: "bad", reason: "ICV does not verify (wrong keys, or corrupted)" };
    if (ct.length % s.block !== 0) return { ok: false, integrity: good ? "good" : "bad", reason: `ciphertext length ${ct.length} is not a multiple of the ${s.block}-byte block` };
    pt = p.encr === "null" ? ct : (cache && p.encr === "aes-cbc" ? aesCbcDecryptCached(p.encKey, iv, ct) : null) ?? blockCipher(p.encr as "aes-cbc", p.encKey, iv, ct, false);
    if (!good) {
      // Asked for explicitly (--show-unverified): the plaintext is returned, but never as ok.
      const padLen = pt[pt.length - 1];
      if (padLen > pt.length - 1) return { ok: false, integrity: "bad", reason: "ICV does not verify, and the padding is invalid" };
      return { ok: false, integrity: "bad", plaintext: pt.subarray(0, pt.length - 1 - padLen), reason: "ICV does not verify: plaintext shown unverified, on request" };
    }
  }
  const padLen = pt[pt.length - 1];
  if (padLen > pt.length - 1) return { ok: false, integrity: "good", reason: `pad length ${padLen} exceeds the ${pt.length}-byte plaintext` };
  return { ok: true, integrity: "good", plaintext: pt.subarray(0, pt.length - 1 - padLen) };
}

export interface SkSealOptions {
  /** The IV to use (default: random from `crypto.getRandomValues`). Never reuse one with a GCM/ChaCha key. */
  iv?: Uint8Array;
  /** Build an SKF payload (RFC 7383) with this fragment number / total. */
  fragment?: { number: number; total: number };
  /** Extra padding bytes beyond the minimum (default 0); pad bytes are zero. */
  extraPad?: number;
}

/**
 * Build a message ending in an SK (or SKF) payload. `prefix` is the IKE header plus any
 * unencrypted payloads before SK; the chain in it must already name SK (46) / SKF (53)
 * as the next payload. Its length field (bytes 24..27) is set in the copy returned.
 * `nextPayload` is the type of the first payload inside `plaintext` (0 for a non-first
 * fragment). Returns the whole message. Throws on invalid parameters (a programming error).
 */
export function skSeal(params: SkParams, prefix: Uint8Array, nextPayload: number, plaintext: Uint8Array, opts: SkSealOptions = {}): Uint8Array {
  const s = shape(params);
  if (typeof s === "string") throw new Error(s);
  if (prefix.length < 28) throw new Error("prefix must hold at least the 28-byte IKE header");
  const hdr = opts.fragment ? 8 : 4;
  const minPad = (s.block - ((plaintext.length + 1) % s.block)) % s.block;
  const padLen = minPad + (opts.extraPad ?? 0) * s.block;
  if (padLen > 255) throw new Error("padding longer than 255 bytes");
  const ptLen = plaintext.length + padLen + 1;
  const total = prefix.length + hdr + s.iv + ptLen + s.icv;
  const out = new Uint8Array(total);
  out.set(prefix);
  putU32(out, 24, total);
  const off = prefix.length;
  out[off] = nextPayload;
  putU16(out, off + 2, total - off);
  if (opts.fragment) {
    putU16(out, off + 4, opts.fragment.number);
    putU16(out, off + 6, opts.fragment.total);
  }
  const ivOff = off + hdr, ctOff = ivOff + s.iv, icvOff = ctOff + ptLen;
  let iv = opts.iv;
  if (iv === undefined) {
    iv = new Uint8Array(s.iv);
    globalThis.crypto.getRandomValues(iv);
  }
  if (iv.length !== s.iv) throw new Error(`IV must be ${s.iv} bytes`);
  out.set(iv, ivOff);
  const pt = new Uint8Array(ptLen);
  pt.set(plaintext);
  pt[ptLen - 1] = padLen;
  if (s.aead) {
    const { key, nonce } = aeadNonce(params.encKey, iv);
    const aad = out.subarray(0, ivOff);
    if (params.encr === "chacha20-poly1305" || !gcmSealNode(key, nonce, aad, pt, s.icv, out, ctOff)) {
      const sealed = params.encr === "chacha20-poly1305" ? chacha20poly1305(key, nonce, aad).encrypt(pt) : gcm(key, nonce, aad).encrypt(pt);
      out.set(sealed.subarray(0, ptLen + s.icv), ctOff);
    }
    key.fill(0);
  } else {
    const ct = params.encr === "null" ? pt : blockCipher(params.encr as "aes-cbc", params.encKey, iv, pt, true);
    out.set(ct, ctOff);
    const i = INTEG[params.integ as Exclude<SkInteg, "none">];
    out.set(hmacAny(i.hash, i.node, params.integKey!, out.subarray(0, icvOff)).subarray(0, i.len), icvOff);
  }
  pt.fill(0);
  return out;
}
