/**
 * ESP for an SPI we do not know (RFC 7296 §2.21): "If an ESP or AH packet arrives with an
 * unrecognized SPI ... the receiver MAY send an INFORMATIONAL with an INVALID_SPI
 * notification, in the IKE SA with that peer if there is one, rate-limited". The notify
 * (§3.10.1, type 11) carries the packet's SPI as its data, with protocol 0 and no SPI field
 * (§3.10: the SPI field is only used by INVALID_SELECTORS, REKEY_SA and CHILD_SA_NOT_FOUND).
 *
 * {@link InvalidSpiLimiter} decides whether one may go now: never more than one per SPI per
 * interval, at most `perSecond` in total (token bucket), and a bounded table of the SPIs it
 * remembers (an attacker sending random SPIs cannot grow it). No I/O; time is passed in.
 * @module
 */
import { u32Bytes, type PayloadSpec } from "../encode/payloads.ts";
import { EX_INFO, hex32, type Pending, type SaContext } from "./context.ts";

/** INVALID_SPI (RFC 7296 §3.10.1). */
export const INVALID_SPI = 11;

export interface InvalidSpiLimits {
  /** At most one notify per SPI in this many ms (default 10,000). */
  perSpiMs: number;
  /** At most this many notifies a second in total (default 10, burst the same). */
  perSecond: number;
  /** SPIs remembered at most (default 4096); when full, SPIs not seen yet are refused. */
  maxTracked: number;
}

export const DEFAULT_INVALID_SPI_LIMITS: InvalidSpiLimits = { perSpiMs: 10_000, perSecond: 10, maxTracked: 4096 };

export interface InvalidSpiCounters {
  /** ESP packets with an unknown SPI offered to the limiter. */
  seen: number;
  /** Allowed (a notify may go). */
  allowed: number;
  /** Refused: the same SPI within the interval. */
  limitedSpi: number;
  /** Refused: the global rate, or the table full. */
  limitedRate: number;
}

export class InvalidSpiLimiter {
  readonly limits: InvalidSpiLimits;
  readonly counters: InvalidSpiCounters = { seen: 0, allowed: 0, limitedSpi: 0, limitedRate: 0 };
  private readonly last = new Map<number, number>();
  private tokens: number;
  private stamp: number | null = null;

  constructor(limits: Partial<InvalidSpiLimits> = {}) {
    this.limits = { ...DEFAULT_INVALID_SPI_LIMITS, ...limits };
    this.tokens = this.limits.perSecond;
  }

  /** SPIs remembered now. */
  get size(): number {
    return this.last.size;
  }

  /** May an INVALID_SPI for `spi` go now (and if so, it is counted as sent)? */
  allow(spi: number, now: number): boolean {
    const L = this.limits;
    this.counters.seen++;
    spi >>>= 0;
    const t = this.last.get(spi);
    if (t !== undefined && now - t < L.perSpiMs) {
      this.counters.limitedSpi++;
      return false;
    }
    if (this.stamp === null) this.stamp = now;
    const dt = now - this.stamp;
    if (dt > 0) {
      this.tokens = Math.min(L.perSecond, this.tokens + (dt * L.perSecond) / 1000);
      this.stamp = now;
    }
    if (t === undefined && this.last.size >= L.maxTracked) this.prune(now);
    if (this.tokens < 1 || (t === undefined && this.last.size >= L.maxTracked)) {
      this.counters.limitedRate++;
      return false;
    }
    this.tokens -= 1;
    this.last.delete(spi); // re-insert: the map stays in time order
    this.last.set(spi, now);
    this.counters.allowed++;
    return true;
  }

  /** Forget SPIs whose interval is over (oldest first: the map is in insertion = time order). */
  prune(now: number): void {
    for (const [spi, t] of this.last) {
      if (now - t < this.limits.perSpiMs) break;
      this.last.delete(spi);
    }
  }
}

/** The INVALID_SPI notify payload for `spi`. */
export function invalidSpiNotify(spi: number): PayloadSpec {
  return { type: "notify", notifyType: INVALID_SPI, data: u32Bytes(spi >>> 0) };
}

/** An INFORMATIONAL request carrying INVALID_SPI for `spi` (protected: it goes in the IKE SA). */
export function invalidSpiRequest(sa: SaContext, spi: number): Pending {
  return () => {
    if (sa.state !== "established") return null;
    sa.log("info", `ESP with unknown SPI ${hex32(spi)} from ${sa.remote.address}: INVALID_SPI sent (RFC 7296 §2.21)`);
    return { exchange: EX_INFO, payloads: [invalidSpiNotify(spi)], onResponse: () => {} };
  };
}
