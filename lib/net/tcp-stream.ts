/**
 * Per-flow in-order TCP byte-stream reassembly, for RFC 9329 (IKE/ESP over TCP) consumers.
 *
 * `push` returns the bytes that became in-order with this segment (always a copy).
 * Out-of-order segments are copied and buffered up to a per-flow byte/segment cap; when the
 * cap is hit the missing range is reported as a gap anomaly and the stream resynchronises at
 * the earliest buffered segment. Retransmitted (already delivered) bytes are dropped.
 * Sequence numbers wrap (mod 2^32 arithmetic). Flows are kept in LRU order up to `maxFlows`.
 * @module
 */
import { type Anomaly, anomaly } from "../core/anomaly.ts";

/** Tuning knobs. */
export interface TcpStreamOptions {
  /** Flows tracked at once; the least recently used is dropped beyond this (default 1024). */
  maxFlows?: number;
  /** Out-of-order bytes buffered per flow before a gap is declared (default 262144). */
  maxBufferBytes?: number;
  /** Out-of-order segments buffered per flow before a gap is declared (default 256). */
  maxSegments?: number;
}

/** Counters. */
export interface TcpStreamStats {
  flows: number;
  evictedFlows: number;
  deliveredBytes: number;
  retransmittedBytes: number;
  outOfOrderSegments: number;
  gaps: number;
  gapBytes: number;
}

interface Seg {
  seq: number;
  data: Uint8Array;
  packetNo: number;
}

interface Flow {
  /** Next expected sequence number (uint32); -1 until known. */
  next: number;
  isn: number;
  segs: Seg[];
  segBytes: number;
  /** Sequence number of the FIN, -1 if none seen. */
  fin: number;
}

/** Reassembles TCP byte streams keyed by a caller-supplied flow key (one direction per key). */
export class TcpStreams {
  readonly maxFlows: number;
  readonly maxBufferBytes: number;
  readonly maxSegments: number;
  private readonly flows = new Map<string, Flow>();
  private readonly st: TcpStreamStats = {
    flows: 0, evictedFlows: 0, deliveredBytes: 0, retransmittedBytes: 0, outOfOrderSegments: 0, gaps: 0, gapBytes: 0,
  };

  constructor(opts: TcpStreamOptions = {}) {
    this.maxFlows = Math.max(1, opts.maxFlows ?? 1024);
    this.maxBufferBytes = Math.max(1, opts.maxBufferBytes ?? 262144);
    this.maxSegments = Math.max(1, opts.maxSegments ?? 256);
  }

  /**
   * Add one segment of a flow direction. Returns the bytes newly in order (copied), or null.
   * `anOffset` is the frame offset used in anomalies.
   */
  push(
    flowKey: string, seq: number, syn: boolean, fin: boolean, payload: Uint8Array, packetNo: number, an: Anomaly[],
    anOffset = 0,
  ): Uint8Array | null {
    seq >>>= 0;
    let f = this.flows.get(flowKey);
    if (f) {
      this.flows.delete(flowKey);
      this.flows.set(flowKey, f);
    } else {
      if (this.flows.size >= this.maxFlows) {
        const old = this.flows.keys().next().value as string;
        this.flows.delete(old);
        this.st.evictedFlows++;
      }
      f = { next: -1, isn: -1, segs: [], segBytes: 0, fin: -1 };
      this.flows.set(flowKey, f);
      this.st.flows = this.flows.size;
    }
    let dataSeq = seq;
    if (syn) {
      if (f.isn >= 0 && f.isn !== seq) {
        // A new connection reusing the key: start over.
        f.segs = [];
        f.segBytes = 0;
        f.fin = -1;
      }
      if (f.isn !== seq) {
        f.isn = seq;
        f.next = (seq + 1) >>> 0;
      }
      dataSeq = (seq + 1) >>> 0;
    } else if (f.next < 0) {
      f.next = seq; // picked up mid-stream
    }
    const len = payload.length;
    if (fin) f.fin = (dataSeq + len) >>> 0;
    if (len === 0) return null;
    if (f.fin >= 0 && ((dataSeq + len - f.fin) | 0) > 0) {
      anomaly(an, "tcp.stream", anOffset, `data beyond FIN (packet ${packetNo})`);
    }
    const rel = (dataSeq - f.next) | 0;
    if (rel > 0) {
      this.buffer(f, dataSeq, payload, packetNo);
      if (f.segBytes <= this.maxBufferBytes && f.segs.length <= this.maxSegments) return null;
      // Cap hit: give up on the hole and resynchronise at the earliest buffered byte.
      const first = f.segs[0];
      const gap = (first.seq - f.next) >>> 0;
      this.st.gaps++;
      this.st.gapBytes += gap;
      anomaly(an, "tcp.stream", anOffset,
        `gap of ${gap} bytes at seq ${f.next} (never received; buffer cap hit at packet ${packetNo}); resynchronised at seq ${first.seq} (packet ${first.packetNo})`);
      f.next = first.seq;
      return this.drain(f, null);
    }
    const skip = -rel;
    if (skip >= len) {
      this.st.retransmittedBytes += len;
      return null;
    }
    this.st.retransmittedBytes += skip;
    return this.drain(f, payload.subarray(skip));
  }

  /**
   * Deliver whatever is buffered for a flow, reporting each remaining hole as a gap
   * (e.g. at the end of the capture). Returns the bytes, or null.
   */
  flush(flowKey: string, an: Anomaly[], anOffset = 0): Uint8Array | null {
    const f = this.flows.get(flowKey);
    if (!f || f.segs.length === 0) return null;
    const parts: Uint8Array[] = [];
    while (f.segs.length > 0) {
      const first = f.segs[0];
      const gap = (first.seq - f.next) | 0;
      if (gap > 0) {
        this.st.gaps++;
        this.st.gapBytes += gap;
        anomaly(an, "tcp.stream", anOffset, `gap of ${gap} bytes at seq ${f.next} (never received); resynchronised at seq ${first.seq} (packet ${first.packetNo})`);
        f.next = first.seq;
      }
      const d = this.drain(f, null);
      if (d) parts.push(d);
    }
    return join(parts);
  }

  /** Forget a flow. */
  delete(flowKey: string): void {
    this.flows.delete(flowKey);
    this.st.flows = this.flows.size;
  }

  /** Snapshot of the counters. */
  stats(): TcpStreamStats {
    return { ...this.st, flows: this.flows.size };
  }

  private buffer(f: Flow, seq: number, payload: Uint8Array, packetNo: number): void {
    this.st.outOfOrderSegments++;
    const seg: Seg = { seq, data: payload.slice(), packetNo };
    const r = (seq - f.next) | 0;
    let i = f.segs.length;
    while (i > 0 && ((f.segs[i - 1].seq - f.next) | 0) > r) i--;
    f.segs.splice(i, 0, seg);
    f.segBytes += seg.data.length;
  }

  /** Append `head` (in order at f.next) and every buffered segment that is now contiguous. */
  private drain(f: Flow, head: Uint8Array | null): Uint8Array | null {
    const parts: Uint8Array[] = [];
    if (head && head.length > 0) {
      parts.push(head);
      f.next = (f.next + head.length) >>> 0;
    }
    while (f.segs.length > 0) {
      const s = f.segs[0];
      const r = (s.seq - f.next) | 0;
      if (r > 0) break;
      f.segs.shift();
      f.segBytes -= s.data.length;
      const skip = -r;
      if (skip >= s.data.length) {
        this.st.retransmittedBytes += s.data.length;
        continue;
      }
      this.st.retransmittedBytes += skip;
      const d = s.data.subarray(skip);
      parts.push(d);
      f.next = (f.next + d.length) >>> 0;
    }
    const out = join(parts);
    if (out) this.st.deliveredBytes += out.length;
    return out;
  }
}

function join(parts: Uint8Array[]): Uint8Array | null {
  if (parts.length === 0) return null;
  let n = 0;
  for (const p of parts) n += p.length;
  if (n === 0) return null;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
