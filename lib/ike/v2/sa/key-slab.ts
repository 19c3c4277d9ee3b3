/**
 * The seven IKE SA keys (RFC 7296 §2.14) of one SA, zeroed as one. Issue 12: memory per held SA.
 *
 * Each key is a plain array of its own, never a view: in JavaScriptCore a small typed array
 * keeps its bytes in the JS heap until someone asks for its `buffer` or a subarray of it, which
 * moves them into an ArrayBuffer of their own for good (~0.3 KB more per array). One slab with
 * views on it cost ~0.8 KB per SA that way; these arrays ~0.3 KB (zero-length keys, e.g. SK_a
 * with an AEAD, share one empty array). SK_pi/SK_pr sign AUTH only: {@link dropAuthKeys} zeroes
 * and releases them once the SA is established. Callers must not take subarrays of the keys
 * (sk-crypto.ts copies the AEAD key and zeroes the copy).
 * @module
 */
import type { IkeKeys } from "./crypto.ts";

const EMPTY = new Uint8Array(0);

export class IkeKeySlab implements IkeKeys {
  skd: Uint8Array;
  skai: Uint8Array;
  skar: Uint8Array;
  skei: Uint8Array;
  sker: Uint8Array;
  skpi: Uint8Array;
  skpr: Uint8Array;

  /** Copies the keys in and zeroes the originals. */
  constructor(k: IkeKeys) {
    this.skd = own(k.skd);
    this.skai = own(k.skai);
    this.skar = own(k.skar);
    this.skei = own(k.skei);
    this.sker = own(k.sker);
    this.skpi = own(k.skpi);
    this.skpr = own(k.skpr);
  }

  /** Zero and release SK_pi/SK_pr (only AUTH uses them: RFC 7296 §2.15). */
  dropAuthKeys(): void {
    this.skpi.fill(0);
    this.skpr.fill(0);
    this.skpi = this.skpr = EMPTY;
  }

  /** True when every key byte is zero (tests: after the SA died or was rekeyed). */
  isZero(): boolean {
    return [this.skd, this.skai, this.skar, this.skei, this.sker, this.skpi, this.skpr].every((k) => k.every((b) => b === 0));
  }
}

/** A copy of `k` in a fresh array (the original zeroed). */
function own(k: Uint8Array): Uint8Array {
  if (!k.length) return EMPTY;
  const c = new Uint8Array(k.length);
  for (let i = 0; i < k.length; i++) c[i] = k[i];
  k.fill(0);
  return c;
}
