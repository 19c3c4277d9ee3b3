/**
 * AEAD providers for the ESP data plane.
 *
 * - {@link nodeGcm}: AES-GCM from `node:crypto` (OpenSSL/BoringSSL; ~40× faster than noble
 *   on Bun). Key objects are cached per SA key buffer with `createSecretKey`.
 * - {@link nobleGcm} / {@link nobleChaCha}: AES-GCM and ChaCha20-Poly1305 from
 *   `@noble/ciphers` (pure JS, works everywhere).
 * - {@link nodeChaCha}: ChaCha20-Poly1305 from `node:crypto` where the runtime has it and it
 *   passes a self-test against noble at load (Node, Deno). Bun's `node:crypto` has none, so
 *   on Bun ChaCha uses noble.
 *
 * Both verify tags in constant time inside the library (OpenSSL / noble `equalBytes`).
 * Runtime-neutral: only `node:crypto` and `@noble/*` are imported.
 * @module
 */

import * as nodeCrypto from "node:crypto";
import type { KeyObject } from "node:crypto";
import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadProvider, EspCipherName } from "./types.ts";

/** ICV (tag) length of every transform the data plane implements. */
export const TAG_LEN = 16;

function hasNodeGcm(): boolean {
  try {
    if (typeof nodeCrypto.createCipheriv !== "function" || typeof nodeCrypto.createSecretKey !== "function") return false;
    const list = nodeCrypto.getCiphers();
    return list.includes("aes-128-gcm") && list.includes("aes-256-gcm");
  } catch {
    return false;
  }
}

/** True when `node:crypto` offers AES-GCM on this runtime. */
export const NODE_GCM_AVAILABLE: boolean = hasNodeGcm();

/** node:crypto ChaCha20-Poly1305 exists and agrees with noble on a test message. */
function probeNodeChaCha(): boolean {
  try {
    if (!nodeCrypto.getCiphers().includes("chacha20-poly1305")) return false;
    const key = new Uint8Array(32).fill(0x11), nonce = new Uint8Array(12).fill(0x22);
    const aad = new Uint8Array(8).fill(0x33), pt = new Uint8Array(37).fill(0x44);
    const c = nodeCrypto.createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: TAG_LEN });
    c.setAAD(aad, { plaintextLength: pt.length });
    const a = c.update(pt), f = c.final(), t = c.getAuthTag();
    const got = new Uint8Array(a.length + f.length + t.length);
    got.set(a, 0); got.set(f, a.length); got.set(t, a.length + f.length);
    const want = chacha20poly1305(key, nonce, aad).encrypt(pt);
    if (got.length !== want.length) return false;
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) return false;
    return true;
  } catch {
    return false;
  }
}

/** True when `node:crypto` ChaCha20-Poly1305 is usable (not on Bun 1.x). */
export const NODE_CHACHA_AVAILABLE: boolean = probeNodeChaCha();

function asU8(b: Uint8Array): Uint8Array {
  // Buffers are Uint8Arrays already; normalise the prototype so callers (and deep-equal
  // assertions) see a plain Uint8Array view over the same memory.
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

class NodeAeadProvider implements AeadProvider {
  readonly name: string;
  private readonly keys = new WeakMap<Uint8Array, KeyObject>();

  constructor(private readonly mode: "gcm" | "chacha") {
    this.name = mode === "gcm" ? "node:crypto-gcm" : "node:crypto-chacha20-poly1305";
  }

  supports(cipher: EspCipherName): boolean {
    if (this.mode === "chacha") return NODE_CHACHA_AVAILABLE && cipher === "chacha20poly1305";
    return NODE_GCM_AVAILABLE && (cipher === "aes128gcm16" || cipher === "aes256gcm16");
  }

  /** Two-entry cache in front of the WeakMap (a tunnel uses one outbound and one inbound key). */
  private k0: Uint8Array | null = null;
  private o0: KeyObject | null = null;
  private k1: Uint8Array | null = null;
  private o1: KeyObject | null = null;

  private keyObject(key: Uint8Array): KeyObject {
    if (key === this.k0) return this.o0!;
    if (key === this.k1) return this.o1!;
    let k = this.keys.get(key);
    if (k === undefined) {
      k = nodeCrypto.createSecretKey(key);
      this.keys.set(key, k);
    }
    this.k1 = this.k0;
    this.o1 = this.o0;
    this.k0 = key;
    this.o0 = k;
    return k;
  }

  private alg(key: Uint8Array): "aes-128-gcm" | "aes-256-gcm" | "chacha20-poly1305" {
    if (this.mode === "chacha") {
      if (key.length === 32) return "chacha20-poly1305";
      throw new RangeError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
    }
    if (key.length === 16) return "aes-128-gcm";
    if (key.length === 32) return "aes-256-gcm";
    throw new RangeError(`AES-GCM key must be 16 or 32 bytes, got ${key.length}`);
  }

  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array): Uint8Array {
    const c = nodeCrypto.createCipheriv(this.alg(key) as "aes-256-gcm", this.keyObject(key), nonce, { authTagLength: TAG_LEN });
    c.setAAD(aad);
    const ct = c.update(plaintext);
    const fin = c.final();
    const tag = c.getAuthTag();
    const n = plaintext.length;
    const r = out ?? new Uint8Array(n + TAG_LEN);
    // `ct` is a fresh buffer, so `out` may alias `plaintext` (in-place sealing).
    r.set(ct, 0);
    if (fin.length) r.set(fin, ct.length);
    r.set(tag, n);
    return r.length === n + TAG_LEN ? r : r.subarray(0, n + TAG_LEN);
  }

  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctt: Uint8Array): Uint8Array | null {
    if (ctt.length < TAG_LEN) return null;
    const n = ctt.length - TAG_LEN;
    try {
      const d = nodeCrypto.createDecipheriv(this.alg(key) as "aes-256-gcm", this.keyObject(key), nonce, { authTagLength: TAG_LEN });
      d.setAAD(aad);
      d.setAuthTag(ctt.subarray(n));
      const pt = d.update(ctt.subarray(0, n));
      d.final(); // throws when the tag does not verify
      return asU8(pt);
    } catch {
      return null;
    }
  }

  forget(key: Uint8Array): void {
    // A KeyObject's memory cannot be wiped from JS; dropping the last reference is all we can do.
    this.keys.delete(key);
    if (this.k0 === key) {
      this.k0 = null;
      this.o0 = null;
    }
    if (this.k1 === key) {
      this.k1 = null;
      this.o1 = null;
    }
  }
}

class NobleAeadProvider implements AeadProvider {
  readonly name = "noble";

  supports(cipher: EspCipherName): boolean {
    return cipher === "aes128gcm16" || cipher === "aes256gcm16" || cipher === "chacha20poly1305";
  }

  constructor(private readonly mode: "gcm" | "chacha") {}

  private inst(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array) {
    return this.mode === "gcm" ? gcm(key, nonce, aad) : chacha20poly1305(key, nonce, aad);
  }

  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array): Uint8Array {
    const ct = this.inst(key, nonce, aad).encrypt(plaintext);
    if (out === undefined) return ct;
    out.set(ct, 0);
    return out.length === ct.length ? out : out.subarray(0, ct.length);
  }

  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctt: Uint8Array): Uint8Array | null {
    if (ctt.length < TAG_LEN) return null;
    try {
      return this.inst(key, nonce, aad).decrypt(ctt);
    } catch {
      return null;
    }
  }
}

/** AES-GCM via node:crypto (only when {@link NODE_GCM_AVAILABLE}). */
export const nodeGcm: AeadProvider = new NodeAeadProvider("gcm");
/** ChaCha20-Poly1305 via node:crypto (only when {@link NODE_CHACHA_AVAILABLE}). */
export const nodeChaCha: AeadProvider = new NodeAeadProvider("chacha");
/** AES-GCM via @noble/ciphers. */
export const nobleGcm: AeadProvider = new NobleAeadProvider("gcm");
/** ChaCha20-Poly1305 (RFC 8439) via @noble/ciphers. */
export const nobleChaCha: AeadProvider = new NobleAeadProvider("chacha");

/** Provider preference: "auto" = node:crypto GCM when available, noble otherwise. */
export type ProviderPreference = "auto" | "node" | "noble";

/**
 * The provider for `cipher`: "auto" picks node:crypto when the runtime has the algorithm
 * (always for GCM on Bun/Node/Deno; ChaCha only on Node/Deno), noble otherwise; "node"
 * throws when node:crypto lacks it; "noble" forces the pure-JS fallback.
 */
export function selectAeadProvider(cipher: EspCipherName, prefer: ProviderPreference = "auto"): AeadProvider {
  if (cipher === "chacha20poly1305") {
    if (prefer !== "noble" && NODE_CHACHA_AVAILABLE) return nodeChaCha;
    if (prefer === "node") throw new Error("node:crypto ChaCha20-Poly1305 is not available on this runtime");
    return nobleChaCha;
  }
  if (prefer === "noble") return nobleGcm;
  if (NODE_GCM_AVAILABLE) return nodeGcm;
  if (prefer === "node") throw new Error("node:crypto AES-GCM is not available on this runtime");
  return nobleGcm;
}

/** Cipher key length (without salt) of each transform. */
export function cipherKeyLength(cipher: EspCipherName): number {
  return cipher === "aes128gcm16" ? 16 : 32;
}

/** Salt length (RFC 4106 / RFC 7634): 4 bytes for every transform here. */
export const SALT_LEN = 4;
