/**
 * Anti-replay window (RFC 4303 §3.4.3, bitmap layout of RFC 6479) with extended
 * sequence number inference (RFC 4303 Appendix A).
 *
 * Sequence numbers are kept as two uint32 halves (hi, lo) so 64-bit ESN values stay exact
 * without a BigInt per packet. The bitmap is a ring of 32-bit blocks: the bit of sequence
 * number s is block (s >> 5) mod nBlocks, bit s & 31. nBlocks is a power of two at least
 * window/32 + 1, so sliding forward only clears whole blocks (RFC 6479 §2).
 *
 * Usage: `check()` before decryption (cheap reject, returns the inferred high half or -1),
 * `update()` only after the ICV has verified.
 * @module
 */

const TWO32 = 4294967296;

export class ReplayWindow {
  /** Window size in packets (0 = anti-replay off; ESN inference still works). */
  readonly size: number;
  private readonly esn: boolean;
  private readonly bits: Uint32Array;
  private readonly mask: number;
  /** Highest authenticated sequence number, split. Starts at 0 (0 is never valid). */
  private topHi = 0;
  private topLo = 0;
  /** Window used for ESN inference (the replay window, or 1024 when anti-replay is off). */
  private readonly inferW: number;

  constructor(size: number, esn: boolean) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`bad replay window ${size}`);
    let w = size === 0 ? 0 : Math.max(1024, size);
    w = Math.ceil(w / 32) * 32;
    if (w > 1 << 20) throw new RangeError(`replay window ${size} too large (max 2^20)`);
    this.size = w;
    this.esn = esn;
    let nb = 1;
    while (nb < w / 32 + 1) nb <<= 1;
    this.bits = new Uint32Array(w === 0 ? 1 : nb);
    this.mask = this.bits.length - 1;
    this.inferW = w === 0 ? 1024 : w;
    this.bits[0] = 1; // sequence number 0 counts as seen: it is never valid
  }

  /** Highest authenticated sequence number so far. */
  get top(): bigint {
    return (BigInt(this.topHi) << 32n) | BigInt(this.topLo);
  }

  /**
   * Start the window at `top` = (hi, lo) with every sequence number up to and including it
   * counted as already received (SA migration, tests). Only valid before any packet.
   */
  seed(hi: number, lo: number): void {
    this.topHi = hi >>> 0;
    this.topLo = lo >>> 0;
    this.bits.fill(0xffffffff);
    const r = lo & 31;
    this.bits[(lo >>> 5) & this.mask] = r === 31 ? 0xffffffff : ((1 << (r + 1)) - 1) >>> 0;
  }

  /**
   * Infer the high 32 bits for wire sequence number `lo` (RFC 4303 Appendix A) and check it
   * against the window. Returns the high half (0 without ESN) when the packet may be new,
   * -1 when it is a replay, too old, or not representable.
   */
  check(lo: number): number {
    const tl = this.topLo, th = this.topHi;
    let hi: number;
    if (!this.esn) {
      hi = 0;
    } else {
      const W = this.inferW;
      if (tl >= W - 1) {
        hi = lo >= tl - W + 1 ? th : th + 1;
      } else {
        const bottom = (tl - W + 1 + TWO32) % TWO32;
        hi = lo >= bottom ? th - 1 : th;
      }
      if (hi < 0 || hi >= TWO32) return -1;
    }
    if (this.size === 0) {
      // No anti-replay: only sequence number 0 of the first subspace is refused.
      return hi === 0 && lo === 0 ? -1 : hi;
    }
    const delta = (hi - th) * TWO32 + (lo - tl);
    if (delta > 0) return hi;
    if (-delta >= this.size) return -1;
    const blk = (lo >>> 5) & this.mask;
    return (this.bits[blk] >>> (lo & 31)) & 1 ? -1 : hi;
  }

  /**
   * Record (hi, lo) as received. Call only after the ICV verified and `check()` accepted it
   * (nothing may run in between). Returns false when it turned out to be a duplicate.
   */
  update(hi: number, lo: number): boolean {
    const tl = this.topLo, th = this.topHi;
    const delta = (hi - th) * TWO32 + (lo - tl);
    if (this.size === 0) {
      if (delta > 0) { this.topHi = hi; this.topLo = lo; }
      return true;
    }
    if (delta > 0) {
      // Slide: clear every block strictly after top's block up to and including the new one.
      const steps = (hi - th) * 134217728 + ((lo >>> 5) - (tl >>> 5)); // 2^27 blocks per subspace
      const n = Math.min(steps, this.bits.length);
      let b = (tl >>> 5) & this.mask;
      for (let i = 0; i < n; i++) {
        b = (b + 1) & this.mask;
        this.bits[b] = 0;
      }
      this.topHi = hi;
      this.topLo = lo;
    } else if (-delta >= this.size) {
      return false;
    }
    const blk = (lo >>> 5) & this.mask;
    const bit = 1 << (lo & 31);
    if (this.bits[blk] & bit) return false;
    this.bits[blk] |= bit;
    return true;
  }
}
