/**
 * Per-ESP-SA accounting for `decode --stats` and the diagnostics.
 *
 * An SA is keyed by (SPI, source address, destination address). UDP ports
 * (NAT-T) are *not* part of the key: a NAT rebinding changes them in the
 * middle of an SA; the tracker records the ports and counts changes instead.
 *
 * For every SA it keeps packet/byte counts, first/last seen, min/max sequence
 * number and a sliding bitmap of the last `window` sequence numbers (like an
 * RFC 4303 §3.4.3 anti-replay window, default 4096 wide). From that:
 * - **duplicates** (replays): a number already seen inside the window;
 * - **out-of-order**: a number below the highest seen, inside the window,
 *   not seen before — it fills a gap counted earlier;
 * - **too old**: below the window; it cannot be told apart from a duplicate,
 *   so it is counted separately (and as unique) and does not change `missing`;
 * - **gaps**: when the highest number jumps by more than one, the skipped
 *   numbers are added to `missing` (late arrivals subtract again); the first
 *   few gap ranges are kept with the packet numbers around them.
 *
 * Sequence numbers are widened to 64 bits (ESN, RFC 4303 Appendix A): of the
 * three candidates in the previous, current and next 2^32 epoch the one
 * nearest the highest number seen is chosen. Moving into the next epoch
 * (32-bit value dropping from near 2^32 to small) is reported as a likely
 * ESN wrap — without ESN the SA must have been rekeyed before.
 *
 * Invariants (property-tested): `packets = unique + duplicates`,
 * `missing >= 0`, memory bounded by `maxSas` SAs × (`window`/8 bytes +
 * `maxGapRanges` ranges). SAs beyond `maxSas` are not tracked (first-N
 * policy): their packets are counted in {@link EspTracker.untracked}.
 *
 * Pure bookkeeping: no I/O, never throws on any input.
 * @module
 */
import { toHex } from "../core/bytes.ts";

/** Identity of the SA a packet belongs to. */
export interface EspSaKeyInfo {
  spi: number;
  /** Source address as text. */
  src: string;
  /** Destination address as text. */
  dst: string;
  /** UDP source port for ESP-in-UDP (NAT-T). */
  sport?: number;
  /** UDP destination port for ESP-in-UDP (NAT-T). */
  dport?: number;
}

/** How one packet's sequence number relates to what was seen before. */
export type EspSeqStatus =
  | "first" // first packet of this SA
  | "in-order" // highest + 1
  | "gap" // jumped ahead; `missing` numbers skipped
  | "duplicate" // already seen inside the window (replay)
  | "out-of-order" // late, inside the window, not seen before
  | "too-old" // below the window: cannot tell duplicate from late
  | "untracked"; // SA table full, not accounted

/** Per-packet verdict, so the packet line can flag it. */
export interface EspObservation {
  /** SA id (order of first appearance, from 0); -1 when untracked. */
  saId: number;
  status: EspSeqStatus;
  /** For `gap`: how many numbers were skipped just before this packet. */
  missing: number;
  /** Sequence number moved into the next 2^32 epoch (likely ESN wrap). */
  esnWrap: boolean;
  /** The widened (ESN) sequence number. */
  extSeq: number;
  /** The UDP ports differ from the previous packet of this SA (NAT rebinding). */
  portChange: boolean;
}

/** A packet reference: number in the capture and timestamp. */
export interface EspPacketRef {
  no: number;
  tsSec: number;
  tsNsec: number;
}

/** One run of skipped sequence numbers. */
export interface EspGapRange {
  /** First missing (widened) sequence number. */
  fromSeq: number;
  /** Last missing (widened) sequence number. */
  toSeq: number;
  /** `toSeq - fromSeq + 1`. */
  count: number;
  /** Packet number of the packet before the gap (the previous highest). */
  afterPacket: number;
  /** Packet number of the packet that revealed the gap. */
  atPacket: number;
  /** Numbers of this range that arrived later (reordered rather than lost). */
  filledLate: number;
}

/** Summary of one SA. */
export interface EspSaReport {
  id: number;
  spi: number;
  /** SPI as 8 hex digits, e.g. `"c4ba5861"`. */
  spiHex: string;
  src: string;
  dst: string;
  /** Ports of the most recent packet (ESP-in-UDP only). */
  sport?: number;
  dport?: number;
  /** Times the UDP ports changed within the SA. */
  portChanges: number;
  packets: number;
  bytes: number;
  /** Packets with a sequence number not seen before (too-old ones included). */
  unique: number;
  duplicates: number;
  outOfOrder: number;
  tooOld: number;
  /** Numbers between the lowest and highest seen that never arrived. */
  missing: number;
  /** Number of forward jumps (gap events). */
  gapEvents: number;
  /** The first `maxGapRanges` gaps. */
  gaps: EspGapRange[];
  /** More gaps happened than are listed. */
  gapsTruncated: boolean;
  /** Lowest and highest 32-bit sequence number seen. */
  minSeq: number;
  maxSeq: number;
  /** Highest widened sequence number. */
  highestExtSeq: number;
  /** Likely ESN wraps (moves into the next 2^32 epoch). */
  esnWraps: number;
  /** Packets with sequence number 0, which RFC 4303 never sends (the first packet is 1). */
  zeroSeq: number;
  first: EspPacketRef;
  last: EspPacketRef;
  /** Id of the SA carrying the reverse direction (same addresses swapped, started close in time), or null: one-way traffic. */
  pairedWith: number | null;
}

/** Two SAs that look like the two directions of one child SA. */
export interface EspSaPair {
  a: number;
  b: number;
  /** |first seen of a − first seen of b| in seconds. */
  deltaSec: number;
}

/** Packets that belonged to SAs beyond the `maxSas` cap. */
export interface EspUntracked {
  packets: number;
  bytes: number;
  /** Distinct SAs not tracked (counting stops at `maxSas`, so this is a lower bound then). */
  sas: number;
}

/** Tracker options. */
export interface EspTrackerOptions {
  /** Bitmap width: a power of two in 32..65536 (default 4096). */
  window?: number;
  /** Maximum SAs tracked (first-N; default 4096). */
  maxSas?: number;
  /** Gap ranges kept per SA (default 8). */
  maxGapRanges?: number;
  /** Reverse SAs whose first packets are at most this far apart pair up (default 60 s). */
  pairWindowSec?: number;
}

const EPOCH = 4294967296; // 2^32

/** The table key of an SA: SPI, source and destination (not the ports). */
function saKey(key: EspSaKeyInfo): string {
  return `${key.spi >>> 0}/${key.src}/${key.dst}`;
}

/**
 * One SA identity, resolved once: see {@link EspTracker.handle}. `info` is
 * read when the handle is made and on every packet (its ports); do not change it.
 */
export interface EspSaHandle {
  readonly info: EspSaKeyInfo;
  /** @internal the SA's table key */
  readonly key: string;
  /** @internal the tracker that made it */
  readonly owner: EspTracker;
  /** @internal that tracker's SA state, once it exists */
  sa: unknown;
}

interface SaState {
  id: number;
  spi: number;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  portChanges: number;
  packets: number;
  bytes: number;
  unique: number;
  duplicates: number;
  outOfOrder: number;
  tooOld: number;
  missing: number;
  gapEvents: number;
  gaps: EspGapRange[];
  minSeq: number;
  maxSeq: number;
  /** Highest widened sequence number. */
  top: number;
  /** Packet number that carried `top`. */
  topNo: number;
  /** Lowest widened sequence number seen inside the accounting range. */
  base: number;
  esnWraps: number;
  zeroSeq: number;
  firstNo: number;
  firstSec: number;
  firstNsec: number;
  lastNo: number;
  lastSec: number;
  lastNsec: number;
  bits: Uint32Array;
}

function nonNegInt(v: number, fallback: number): number {
  return Number.isFinite(v) && v >= 0 ? Math.floor(v) : fallback;
}

/** Per-SA ESP sequence and volume accounting. */
export class EspTracker {
  private readonly sas = new Map<string, SaState>();
  private readonly order: SaState[] = [];
  private readonly window: number;
  private readonly mask: number;
  private readonly maxSas: number;
  private readonly maxGapRanges: number;
  private readonly pairWindowSec: number;
  private readonly untrackedKeys = new Set<string>();
  private untrackedPackets = 0;
  private untrackedBytes = 0;

  constructor(opts: EspTrackerOptions = {}) {
    let w = opts.window ?? 4096;
    if (!(w >= 32 && w <= 65536) || (w & (w - 1)) !== 0) w = 4096;
    this.window = w;
    this.mask = w - 1;
    this.maxSas = Math.max(1, nonNegInt(opts.maxSas ?? 4096, 4096));
    this.maxGapRanges = nonNegInt(opts.maxGapRanges ?? 8, 8);
    const p = opts.pairWindowSec ?? 60;
    this.pairWindowSec = Number.isFinite(p) && p >= 0 ? p : 60;
  }

  /** SAs currently tracked. */
  get size(): number {
    return this.order.length;
  }

  /** What fell outside the SA cap. */
  get untracked(): EspUntracked {
    return { packets: this.untrackedPackets, bytes: this.untrackedBytes, sas: this.untrackedKeys.size };
  }

  /**
   * Account one ESP packet. `seq` is the 32-bit wire value, `bytes` the ESP
   * length (header included). Never throws; nonsense numbers are coerced.
   */
  observe(key: EspSaKeyInfo, seq: number, bytes: number, packetNo: number, tsSec: number, tsNsec: number): EspObservation {
    const k = saKey(key);
    const sa = this.sas.get(k);
    if (sa === undefined) return this.first(k, key, seq, bytes, packetNo, tsSec, tsNsec);
    return this.next(sa, key, seq, bytes, packetNo, tsSec, tsNsec);
  }

  /**
   * A reusable handle for one SA identity (and UDP ports), for callers that
   * see the same flow many times (the decode fast paths cache one per flow):
   * {@link observeHandle} then skips building the SA's key string and the
   * table lookup on every packet. Results are exactly those of {@link observe}
   * with `info`.
   */
  handle(info: EspSaKeyInfo): EspSaHandle {
    return { info, key: saKey(info), owner: this, sa: undefined };
  }

  /** {@link observe} for the SA of `h` (a handle from {@link handle}). */
  observeHandle(h: EspSaHandle, seq: number, bytes: number, packetNo: number, tsSec: number, tsNsec: number): EspObservation {
    // SAs are never dropped, so a handle, once resolved, stays valid. A handle
    // from another tracker still works: it is looked up by key every time.
    const mine = h.owner === this;
    let sa = mine ? (h.sa as SaState | undefined) : undefined;
    if (sa === undefined) {
      sa = this.sas.get(h.key);
      if (sa === undefined) {
        const o = this.first(h.key, h.info, seq, bytes, packetNo, tsSec, tsNsec);
        if (mine && o.saId >= 0) h.sa = this.order[o.saId];
        return o;
      }
      if (mine) h.sa = sa;
    }
    return this.next(sa, h.info, seq, bytes, packetNo, tsSec, tsNsec);
  }

  /** First packet of an SA not in the table (or over the cap). */
  private first(k: string, key: EspSaKeyInfo, seq: number, bytes: number, packetNo: number, tsSec: number, tsNsec: number): EspObservation {
    const s32 = Number.isFinite(seq) ? Math.floor(seq) >>> 0 : 0;
    const nbytes = nonNegInt(bytes, 0);
    if (this.order.length >= this.maxSas) {
      this.untrackedPackets++;
      this.untrackedBytes += nbytes;
      if (this.untrackedKeys.size < this.maxSas) this.untrackedKeys.add(k);
      return { saId: -1, status: "untracked", missing: 0, esnWrap: false, extSeq: s32, portChange: false };
    }
    const sa: SaState = {
      id: this.order.length,
      spi: key.spi >>> 0,
      src: key.src,
      dst: key.dst,
      sport: key.sport,
      dport: key.dport,
      portChanges: 0,
      packets: 1,
      bytes: nbytes,
      unique: 1,
      duplicates: 0,
      outOfOrder: 0,
      tooOld: 0,
      missing: 0,
      gapEvents: 0,
      gaps: [],
      minSeq: s32,
      maxSeq: s32,
      top: s32,
      topNo: packetNo,
      base: s32,
      esnWraps: 0,
      zeroSeq: s32 === 0 ? 1 : 0,
      firstNo: packetNo,
      firstSec: tsSec,
      firstNsec: tsNsec,
      lastNo: packetNo,
      lastSec: tsSec,
      lastNsec: tsNsec,
      bits: new Uint32Array(this.window >>> 5),
    };
    this.setBit(sa, s32);
    this.sas.set(k, sa);
    this.order.push(sa);
    return { saId: sa.id, status: "first", missing: 0, esnWrap: false, extSeq: s32, portChange: false };
  }

  /** A packet of a tracked SA. */
  private next(sa: SaState, key: EspSaKeyInfo, seq: number, bytes: number, packetNo: number, tsSec: number, tsNsec: number): EspObservation {
    const s32 = Number.isFinite(seq) ? Math.floor(seq) >>> 0 : 0;
    const nbytes = nonNegInt(bytes, 0);
    sa.packets++;
    sa.bytes += nbytes;
    sa.lastNo = packetNo;
    sa.lastSec = tsSec;
    sa.lastNsec = tsNsec;
    if (s32 < sa.minSeq) sa.minSeq = s32;
    if (s32 > sa.maxSeq) sa.maxSeq = s32;
    let portChange = false;
    if (key.sport !== sa.sport || key.dport !== sa.dport) {
      portChange = true;
      sa.portChanges++;
      sa.sport = key.sport;
      sa.dport = key.dport;
    }

    // Widen to 64 bits: nearest candidate to the highest seen.
    const top = sa.top;
    const hi = Math.floor(top / EPOCH);
    let ext = hi * EPOCH + s32;
    let best = Math.abs(ext - top);
    const up = ext + EPOCH;
    if (Math.abs(up - top) < best) {
      ext = up;
      best = Math.abs(up - top);
    }
    const down = hi * EPOCH + s32 - EPOCH;
    if (down >= 0 && Math.abs(down - top) < best) ext = down;
    if (ext === 0) sa.zeroSeq++;

    let status: EspSeqStatus;
    let missing = 0;
    let esnWrap = false;
    if (ext > top) {
      if (Math.floor(ext / EPOCH) > hi) {
        esnWrap = true;
        sa.esnWraps++;
      }
      const d = ext - top;
      if (d >= this.window) {
        sa.bits.fill(0);
      } else {
        for (let x = top + 1; x <= ext; x++) this.clearBit(sa, x);
      }
      this.setBit(sa, ext);
      sa.unique++;
      if (d > 1) {
        missing = d - 1;
        sa.missing += missing;
        sa.gapEvents++;
        if (sa.gaps.length < this.maxGapRanges) {
          sa.gaps.push({ fromSeq: top + 1, toSeq: ext - 1, count: missing, afterPacket: sa.topNo, atPacket: packetNo, filledLate: 0 });
        }
        status = "gap";
      } else {
        status = "in-order";
      }
      sa.top = ext;
      sa.topNo = packetNo;
    } else if (ext === top) {
      sa.duplicates++;
      status = "duplicate";
    } else if (top - ext >= this.window) {
      sa.tooOld++;
      sa.unique++;
      status = "too-old";
    } else if (this.getBit(sa, ext)) {
      sa.duplicates++;
      status = "duplicate";
    } else {
      this.setBit(sa, ext);
      sa.unique++;
      sa.outOfOrder++;
      status = "out-of-order";
      if (ext < sa.base) {
        // Below everything seen so far: the numbers in between are now missing.
        sa.missing += sa.base - ext - 1;
        sa.base = ext;
      } else {
        if (sa.missing > 0) sa.missing--;
        for (const g of sa.gaps) {
          if (ext >= g.fromSeq && ext <= g.toSeq) {
            g.filledLate++;
            break;
          }
        }
      }
    }
    return { saId: sa.id, status, missing, esnWrap, extSeq: ext, portChange };
  }

  private setBit(sa: SaState, x: number): void {
    const i = x % this.window; // x may exceed 2^32: use %, not bit ops
    sa.bits[i >>> 5] |= 1 << (i & 31);
  }

  private clearBit(sa: SaState, x: number): void {
    const i = x % this.window;
    sa.bits[i >>> 5] &= ~(1 << (i & 31));
  }

  private getBit(sa: SaState, x: number): boolean {
    const i = x % this.window;
    return (sa.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  /**
   * Pair SAs that look like the two directions of one child SA: addresses
   * swapped, first packets at most `pairWindowSec` apart. Greedy in order of
   * first appearance, each SA taking the nearest unpaired candidate.
   */
  pairs(): EspSaPair[] {
    const byDir = new Map<string, SaState[]>();
    for (const sa of this.order) {
      const d = `${sa.src}\u0000${sa.dst}`;
      let l = byDir.get(d);
      if (l === undefined) byDir.set(d, (l = []));
      l.push(sa);
    }
    const paired = new Set<number>();
    const out: EspSaPair[] = [];
    for (const sa of this.order) {
      if (paired.has(sa.id)) continue;
      const rev = byDir.get(`${sa.dst}\u0000${sa.src}`);
      if (rev === undefined) continue;
      const t = sa.firstSec + sa.firstNsec / 1e9;
      let best: SaState | null = null;
      let bestD = Infinity;
      for (const r of rev) {
        if (r === sa || paired.has(r.id)) continue;
        const d = Math.abs(r.firstSec + r.firstNsec / 1e9 - t);
        if (d <= this.pairWindowSec && d < bestD) {
          best = r;
          bestD = d;
        }
      }
      if (best !== null) {
        paired.add(sa.id);
        paired.add(best.id);
        out.push({ a: sa.id, b: best.id, deltaSec: bestD });
      }
    }
    return out;
  }

  /** Ids of SAs without a reverse partner (one-way traffic). */
  oneWay(): number[] {
    const paired = new Set<number>();
    for (const p of this.pairs()) {
      paired.add(p.a);
      paired.add(p.b);
    }
    return this.order.filter((sa) => !paired.has(sa.id)).map((sa) => sa.id);
  }

  /** One report per tracked SA, in order of first appearance. */
  report(): EspSaReport[] {
    const partner = new Map<number, number>();
    for (const p of this.pairs()) {
      partner.set(p.a, p.b);
      partner.set(p.b, p.a);
    }
    const spiBytes = new Uint8Array(4);
    return this.order.map((sa) => {
      spiBytes[0] = sa.spi >>> 24;
      spiBytes[1] = sa.spi >>> 16;
      spiBytes[2] = sa.spi >>> 8;
      spiBytes[3] = sa.spi;
      const r: EspSaReport = {
        id: sa.id,
        spi: sa.spi,
        spiHex: toHex(spiBytes),
        src: sa.src,
        dst: sa.dst,
        portChanges: sa.portChanges,
        packets: sa.packets,
        bytes: sa.bytes,
        unique: sa.unique,
        duplicates: sa.duplicates,
        outOfOrder: sa.outOfOrder,
        tooOld: sa.tooOld,
        missing: sa.missing,
        gapEvents: sa.gapEvents,
        gaps: sa.gaps.map((g) => ({ ...g })),
        gapsTruncated: sa.gapEvents > sa.gaps.length,
        minSeq: sa.minSeq,
        maxSeq: sa.maxSeq,
        highestExtSeq: sa.top,
        esnWraps: sa.esnWraps,
        zeroSeq: sa.zeroSeq,
        first: { no: sa.firstNo, tsSec: sa.firstSec, tsNsec: sa.firstNsec },
        last: { no: sa.lastNo, tsSec: sa.lastSec, tsNsec: sa.lastNsec },
        pairedWith: partner.get(sa.id) ?? null,
      };
      if (sa.sport !== undefined) r.sport = sa.sport;
      if (sa.dport !== undefined) r.dport = sa.dport;
      return r;
    });
  }
}
