/**
 * IP fragment reassembly (IPv4 and IPv6) with an RFC 815 hole list and bounded memory.
 *
 * Fragments are copied (input views are reused by the capture reader). At most
 * `maxDatagrams` datagrams are held (the oldest is evicted), each at most `maxBytes`
 * long; datagrams older than `timeoutSec` (capture time) expire. Overlaps keep the bytes
 * that arrived first and are reported: identical re-sent data as "duplicate", differing
 * data as "overlap ... different data" (RFC 5722 would drop the datagram; a decoder keeps
 * going and says so). The caller builds the key, e.g. with `ipv4FragmentKey`/`ipv6FragmentKey`.
 * @module
 */
import { type Anomaly, anomaly } from "../core/anomaly.ts";

/** Tuning knobs. */
export interface ReassemblerOptions {
  /** Datagrams held at once (default 256). */
  maxDatagrams?: number;
  /** Largest reassembled payload in bytes (default 65535). */
  maxBytes?: number;
  /** Expiry in capture seconds since the first fragment (default 30; use 60 for IPv6). */
  timeoutSec?: number;
  /** Layer name used in anomalies (default "ip.reassembly"). */
  layer?: string;
}

/** A completed datagram. */
export interface ReassembledDatagram {
  /** The reassembled payload (for IPv4: the transport payload; for IPv6: the fragmentable part). */
  datagram: Uint8Array;
  /** Packet numbers of the fragments that built it, in arrival order. */
  fragments: number[];
}

/** A datagram given up on (expired, evicted, or flushed at the end). */
export interface ExpiredDatagram {
  key: string;
  fragments: number[];
  /** Human-readable description of what is missing, e.g. "bytes 1232-2463; last fragment not seen". */
  missing: string;
}

/** Counters. */
export interface ReassemblyStats {
  inFlight: number;
  bufferedBytes: number;
  completed: number;
  expired: number;
  evicted: number;
  dropped: number;
  duplicates: number;
  overlaps: number;
  conflicts: number;
}

const OPEN = 0x7fffffff;

interface Pending {
  firstTs: number;
  buf: Uint8Array;
  /** Sorted disjoint holes as [start, end) pairs; end OPEN while the last fragment is unknown. */
  holes: number[];
  /** End of the datagram (from the fragment with MF=0), -1 while unknown. */
  total: number;
  /** Highest byte end received. */
  maxEnd: number;
  frags: number[];
}

function describeHoles(p: Pending): string {
  const parts: string[] = [];
  for (let i = 0; i < p.holes.length; i += 2) {
    const s = p.holes[i], e = p.holes[i + 1];
    parts.push(e === OPEN ? `bytes ${s}-end` : `bytes ${s}-${e - 1}`);
  }
  let m = parts.join(", ");
  if (p.total < 0) m += (m ? "; " : "") + "last fragment not seen";
  return m || "nothing";
}

/** Reassembles IP fragments keyed by a caller-supplied string. */
export class Reassembler {
  readonly maxDatagrams: number;
  readonly maxBytes: number;
  readonly timeoutSec: number;
  readonly layer: string;
  private readonly pending = new Map<string, Pending>();
  private given: ExpiredDatagram[] = [];
  private readonly st: ReassemblyStats = {
    inFlight: 0, bufferedBytes: 0, completed: 0, expired: 0, evicted: 0, dropped: 0, duplicates: 0, overlaps: 0, conflicts: 0,
  };

  constructor(opts: ReassemblerOptions = {}) {
    this.maxDatagrams = Math.max(1, opts.maxDatagrams ?? 256);
    this.maxBytes = Math.max(8, opts.maxBytes ?? 65535);
    this.timeoutSec = opts.timeoutSec ?? 30;
    this.layer = opts.layer ?? "ip.reassembly";
  }

  /**
   * Add one fragment. Returns the datagram when this fragment completes it, else null.
   * `anOffset` is the frame offset used in anomalies (e.g. of the fragment's IP header).
   */
  add(
    key: string, fragOffsetBytes: number, more: boolean, payload: Uint8Array, packetNo: number, tsSec: number,
    an: Anomaly[], anOffset = 0,
  ): ReassembledDatagram | null {
    const L = this.layer;
    let p = this.pending.get(key);
    if (p && tsSec - p.firstTs > this.timeoutSec) {
      this.giveUp(key, p, "expired");
      this.st.expired++;
      p = undefined;
    }
    const s = fragOffsetBytes;
    const e = s + payload.length;
    if (s < 0 || e > this.maxBytes) {
      anomaly(an, L, anOffset, `fragment ${s}-${e - 1} (packet ${packetNo}) exceeds the maximum datagram size ${this.maxBytes}; datagram dropped`);
      if (p) this.drop(key, p);
      this.st.dropped++;
      return null;
    }
    if (!p) {
      if (this.pending.size >= this.maxDatagrams) {
        const oldKey = this.pending.keys().next().value as string;
        const old = this.pending.get(oldKey)!;
        anomaly(an, L, anOffset, `reassembly table full (${this.maxDatagrams}); evicted datagram ${oldKey} (${old.frags.length} fragments)`);
        this.giveUp(oldKey, old, `evicted (table full): ${describeHoles(old)}`);
        this.st.evicted++;
      }
      p = { firstTs: tsSec, buf: new Uint8Array(0), holes: [0, OPEN], total: -1, maxEnd: 0, frags: [] };
      this.pending.set(key, p);
      this.st.inFlight = this.pending.size;
    }
    p.frags.push(packetNo);
    if (more && payload.length % 8 !== 0) {
      anomaly(an, L, anOffset, `fragment (packet ${packetNo}) has More Fragments set but length ${payload.length} is not a multiple of 8`);
      this.st.conflicts++;
    }
    let end = e;
    if (!more) {
      if (p.total >= 0 && p.total !== e) {
        anomaly(an, L, anOffset, `conflicting last fragments: end ${p.total} before, ${e} now (packet ${packetNo}); first kept`);
        this.st.conflicts++;
        if (end > p.total) end = p.total;
      } else if (p.total < 0) {
        if (p.maxEnd > e) {
          anomaly(an, L, anOffset, `last fragment (packet ${packetNo}) ends at ${e} but data up to ${p.maxEnd} was received`);
          this.st.conflicts++;
        }
        p.total = e;
        this.clipHoles(p);
      }
    } else if (p.total >= 0 && e > p.total) {
      anomaly(an, L, anOffset, `fragment ${s}-${e - 1} (packet ${packetNo}) extends past the datagram end ${p.total}`);
      this.st.conflicts++;
      end = p.total;
    }
    if (end > s) this.fill(p, s, end, payload, packetNo, an, anOffset);
    if (end > p.maxEnd) p.maxEnd = end;
    if (p.total >= 0 && p.holes.length === 0) {
      this.pending.delete(key);
      this.st.bufferedBytes -= p.buf.length;
      this.st.inFlight = this.pending.size;
      this.st.completed++;
      const d = p.buf.length === p.total ? p.buf : p.buf.slice(0, p.total);
      return { datagram: d, fragments: p.frags };
    }
    return null;
  }

  /** Give up on datagrams older than `timeoutSec` at capture time `tsSec` (and report evictions since the last call). */
  expire(tsSec: number): ExpiredDatagram[] {
    for (const [k, p] of this.pending) {
      if (tsSec - p.firstTs > this.timeoutSec) {
        this.giveUp(k, p, "expired");
        this.st.expired++;
      }
    }
    const out = this.given;
    this.given = [];
    return out;
  }

  /** Give up on everything still held (end of capture). */
  flush(): ExpiredDatagram[] {
    for (const [k, p] of this.pending) this.giveUp(k, p, "incomplete at end of capture");
    const out = this.given;
    this.given = [];
    return out;
  }

  /** Snapshot of the counters. */
  stats(): ReassemblyStats {
    return { ...this.st };
  }

  private drop(key: string, p: Pending): void {
    this.pending.delete(key);
    this.st.bufferedBytes -= p.buf.length;
    this.st.inFlight = this.pending.size;
  }

  private giveUp(key: string, p: Pending, why: string): void {
    this.drop(key, p);
    this.given.push({ key, fragments: p.frags, missing: why === "expired" || why.startsWith("incomplete") ? `${why}: ${describeHoles(p)}` : why });
  }

  private clipHoles(p: Pending): void {
    const h = p.holes, t = p.total, out: number[] = [];
    for (let i = 0; i < h.length; i += 2) {
      if (h[i] >= t) continue;
      out.push(h[i], h[i + 1] > t ? t : h[i + 1]);
    }
    p.holes = out;
  }

  private fill(p: Pending, s: number, e: number, payload: Uint8Array, packetNo: number, an: Anomaly[], anOffset: number): void {
    if (p.buf.length < e) {
      let n = p.buf.length || 2048;
      while (n < e) n *= 2;
      if (n > this.maxBytes) n = this.maxBytes;
      const nb = new Uint8Array(n);
      nb.set(p.buf);
      this.st.bufferedBytes += n - p.buf.length;
      p.buf = nb;
    }
    const h = p.holes, out: number[] = [];
    let pos = s, overlap = 0, differ = 0;
    for (let i = 0; i < h.length; i += 2) {
      const hs = h[i], he = h[i + 1];
      if (he <= s || hs >= e) {
        out.push(hs, he);
        continue;
      }
      const fs = hs > s ? hs : s, fe = he < e ? he : e;
      if (fs > pos) {
        overlap += fs - pos;
        differ += this.compare(p.buf, pos, fs, payload, s);
      }
      p.buf.set(payload.subarray(fs - s, fe - s), fs);
      if (hs < fs) out.push(hs, fs);
      if (fe < he) out.push(fe, he);
      pos = fe;
    }
    if (pos < e) {
      overlap += e - pos;
      differ += this.compare(p.buf, pos, e, payload, s);
    }
    p.holes = out;
    if (overlap === 0) return;
    if (differ > 0) {
      this.st.overlaps++;
      anomaly(an, this.layer, anOffset, `overlapping fragment ${s}-${e - 1} (packet ${packetNo}): ${differ} of ${overlap} overlapping bytes have different data; first copy kept`);
    } else if (overlap === e - s) {
      this.st.duplicates++;
      anomaly(an, this.layer, anOffset, `duplicate fragment ${s}-${e - 1} (packet ${packetNo})`);
    } else {
      this.st.overlaps++;
      anomaly(an, this.layer, anOffset, `overlapping fragment ${s}-${e - 1} (packet ${packetNo}): ${overlap} bytes overlap with identical data`);
    }
  }

  private compare(buf: Uint8Array, from: number, to: number, payload: Uint8Array, s: number): number {
    let d = 0;
    for (let i = from; i < to; i++) if (buf[i] !== payload[i - s]) d++;
    return d;
  }
}
