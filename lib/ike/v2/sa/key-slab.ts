/**
 * The seven IKE SA keys (RFC 7296 §2.14) in one byte array per SA: one allocation instead of
 * seven, no per-key object kept (each `sk*` read returns a fresh view; the exchanges read them
 * a few times per message), zeroed as one. Issue 12: memory per held SA.
 * @module
 */
import type { IkeKeys } from "./crypto.ts";

export class IkeKeySlab implements IkeKeys {
  private readonly slab: Uint8Array;
  /** Start offsets of SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr and the end. */
  private readonly at: readonly number[];

  /** Copies the keys in and zeroes the originals. */
  constructor(k: IkeKeys) {
    const parts = [k.skd, k.skai, k.skar, k.skei, k.sker, k.skpi, k.skpr];
    const at = [0];
    for (const p of parts) at.push(at[at.length - 1] + p.length);
    this.slab = new Uint8Array(at[7]);
    parts.forEach((p, i) => {
      this.slab.set(p, at[i]);
      p.fill(0);
    });
    this.at = at;
  }

  private part(i: number): Uint8Array {
    return this.slab.subarray(this.at[i], this.at[i + 1]);
  }
  get skd(): Uint8Array { return this.part(0); }
  get skai(): Uint8Array { return this.part(1); }
  get skar(): Uint8Array { return this.part(2); }
  get skei(): Uint8Array { return this.part(3); }
  get sker(): Uint8Array { return this.part(4); }
  get skpi(): Uint8Array { return this.part(5); }
  get skpr(): Uint8Array { return this.part(6); }

  /** True when every key byte is zero (tests: after the SA died or was rekeyed). */
  isZero(): boolean {
    return this.slab.every((b) => b === 0);
  }
}
