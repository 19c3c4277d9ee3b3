/**
 * Token buckets for the probe responder: one global, one per source address in a
 * bounded table. No I/O; time comes from the caller (ms).
 * @module
 */

export interface RateSpec {
  /** Tokens added per second. */
  rate: number;
  /** Bucket size (largest burst). */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly spec: RateSpec, now: number) {
    this.tokens = spec.burst;
    this.last = now;
  }

  private refill(now: number): void {
    const dt = now - this.last;
    if (dt > 0) {
      this.tokens = Math.min(this.spec.burst, this.tokens + (dt * this.spec.rate) / 1000);
      this.last = now;
    }
  }

  /** Take one token; false when the bucket is empty. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** True when the bucket has refilled completely (the entry carries no state worth keeping). */
  isFull(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.spec.burst;
  }
}

/**
 * One bucket per key (source address), at most `maxKeys` of them. When the table is full,
 * buckets that have refilled completely are dropped; if none has, the new key is refused
 * (a flood of sources cannot reset anyone's bucket).
 */
export class KeyedRateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly spec: RateSpec, private readonly maxKeys: number) {}

  take(key: string, now: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) {
        for (const [k, v] of this.buckets) if (v.isFull(now)) this.buckets.delete(k);
        if (this.buckets.size >= this.maxKeys) return false;
      }
      b = new TokenBucket(this.spec, now);
      this.buckets.set(key, b);
    }
    return b.take(now);
  }

  get size(): number {
    return this.buckets.size;
  }
}
