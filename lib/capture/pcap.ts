/**
 * Classic pcap reader (hand-written; the libpcap file format, 2.x).
 *
 * All four magics (µs and ns, both byte orders). The 24-byte global header is
 * validated by {@link parsePcapHeader} before this parser is created. Records
 * are parsed in place in the chunk they arrived in and returned as views into
 * it; only a record that straddles a chunk boundary is copied, exactly once,
 * into a buffer of its own size (allocated when its 16-byte header is complete),
 * so a record spread over many small chunks costs O(record), never O(n²).
 *
 * Never throws on wire data:
 * - a record capture length above {@link PCAP_MAX_CAPLEN} is an anomaly at the
 *   record's offset and the reader stops (it would otherwise buffer forever);
 * - a capture length above the header's snaplen is a soft anomaly;
 * - a truncated final record or record header is reported at end of input, at
 *   the offset of that record.
 *
 * This replaced the npm package `pcap-parser` on the hot path (about 2.7× our
 * CPU per packet, see bench/capture/RESULTS.md); pcap-parser is now the
 * differential test oracle (test/capture/pcap-oracle.test.ts).
 * @module
 */
import { u16, u16le, u32, u32le } from "../core/bytes.ts";
import { CaptureFormatError, type AnomalySink, type CaptureRecord, type ChunkParser } from "./types.ts";

/** Largest capturedLength accepted (libpcap's MAXIMUM_SNAPLEN, 256 KiB). */
export const PCAP_MAX_CAPLEN = 262144;

/** Parsed pcap global header. */
export interface PcapHeader {
  le: boolean;
  nanosecond: boolean;
  major: number;
  minor: number;
  snaplen: number;
  /** LINKTYPE_* (low 28 bits of the header field). */
  linkType: number;
  /** The raw link-type field (upper bits: FCS length). */
  linkTypeField: number;
}

/** Magic as the first 4 bytes read big-endian. */
export const PCAP_MAGIC_US_BE = 0xa1b2c3d4;
export const PCAP_MAGIC_US_LE = 0xd4c3b2a1;
export const PCAP_MAGIC_NS_BE = 0xa1b23c4d;
export const PCAP_MAGIC_NS_LE = 0x4d3cb2a1;

/** True when the first 4 bytes are one of the four pcap magics. */
export function isPcapMagic(m: number): boolean {
  return m === PCAP_MAGIC_US_BE || m === PCAP_MAGIC_US_LE || m === PCAP_MAGIC_NS_BE || m === PCAP_MAGIC_NS_LE;
}

/** Validate the 24-byte global header (throws {@link CaptureFormatError}). */
export function parsePcapHeader(b: Uint8Array): PcapHeader {
  if (b.length < 24) throw new CaptureFormatError(`truncated pcap file header: ${b.length} of 24 bytes`);
  const m = u32(b, 0);
  if (!isPcapMagic(m)) throw new CaptureFormatError(`not a pcap file (magic 0x${m.toString(16).padStart(8, "0")})`);
  const le = m === PCAP_MAGIC_US_LE || m === PCAP_MAGIC_NS_LE;
  const nanosecond = m === PCAP_MAGIC_NS_BE || m === PCAP_MAGIC_NS_LE;
  const r16 = le ? u16le : u16;
  const r32 = le ? u32le : u32;
  const major = r16(b, 4), minor = r16(b, 6);
  // libpcap reads every 2.x file (pcap-parser's check, `major != 2 && minor != 4`, accepts 3.4).
  if (major !== 2) throw new CaptureFormatError(`unsupported pcap version ${major}.${minor} (only 2.x)`);
  const field = r32(b, 20);
  return { le, nanosecond, major, minor, snaplen: r32(b, 16), linkType: field & 0x0fffffff, linkTypeField: field };
}

/** Size of a record header. */
const REC_HDR = 16;

/** Chunk parser for classic pcap (hand-written). */
export class PcapChunkParser implements ChunkParser {
  private readonly le: boolean;
  /** 1 for the ns magic, 1000 for µs. */
  private readonly fracMul: number;
  private readonly snaplen: number;
  private readonly linkType: number;
  /** Capture lengths above this need {@link checkCaplen}: min(snaplen or ∞, PCAP_MAX_CAPLEN). */
  private readonly limit: number;
  private no = 0;
  /** Stream offset of the next unparsed byte (start of a record, or of the carried one). */
  private base = 24;
  /** Global-header bytes still to skip. */
  private skip = 24;
  /** Header of a record split across chunks (while fewer than 16 bytes are known). */
  private readonly hdr = new Uint8Array(REC_HDR);
  /** The whole split record once its header is known (16 + caplen bytes), else null. */
  private rec: Uint8Array | null = null;
  /** Bytes of the split record held (in `hdr` or `rec`); 0 when none. */
  private held = 0;
  private stopped = false;

  constructor(h: PcapHeader, private readonly onAnomaly: AnomalySink) {
    this.le = h.le;
    this.fracMul = h.nanosecond ? 1 : 1000;
    this.snaplen = h.snaplen;
    this.linkType = h.linkType;
    this.limit = h.snaplen > 0 ? Math.min(h.snaplen, PCAP_MAX_CAPLEN) : PCAP_MAX_CAPLEN;
  }

  /**
   * Check a record's capture length when its header is complete: false (and
   * the parser stopped) when it is hostile; a soft anomaly above snaplen.
   */
  private checkCaplen(cl: number): boolean {
    if (cl > PCAP_MAX_CAPLEN) {
      this.stopped = true;
      this.rec = null;
      this.held = 0;
      this.onAnomaly({
        no: this.no + 1,
        layer: "pcap",
        offset: this.base,
        reason: `record capture length ${cl} exceeds ${PCAP_MAX_CAPLEN}; stopping`,
      });
      return false;
    }
    if (this.snaplen > 0 && cl > this.snaplen) {
      this.onAnomaly({
        no: this.no + 1,
        layer: "pcap",
        offset: this.base + 8,
        reason: `record capture length ${cl} exceeds snaplen ${this.snaplen}`,
      });
    }
    return true;
  }

  /** u32 of the file's byte order. */
  private r32(b: Uint8Array, o: number): number {
    return this.le
      ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
      : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }

  /** Append the record whose header starts at b[p] (caplen `cl`, data complete). */
  private emit(b: Uint8Array, p: number, cl: number, out: CaptureRecord[]): void {
    let sec = this.r32(b, p);
    let ns = this.r32(b, p + 4) * this.fracMul;
    if (ns >= 1e9) {
      sec += Math.floor(ns / 1e9);
      ns %= 1e9;
    }
    out.push({
      no: ++this.no,
      iface: 0,
      linkType: this.linkType,
      tsSec: sec,
      tsNsec: ns,
      caplen: cl,
      len: this.r32(b, p + 12),
      data: b.subarray(p + REC_HDR, p + REC_HDR + cl),
    });
  }

  feed(chunk: Uint8Array, out: CaptureRecord[]): boolean {
    if (this.stopped) return false;
    const n = chunk.length;
    if (n === 0) return true;
    // A plain Uint8Array view of the chunk (a Buffer's subarray would be a
    // Buffer, whose slice() does not copy): record data are subarrays of it.
    const b = chunk.constructor === Uint8Array ? chunk : new Uint8Array(chunk.buffer, chunk.byteOffset, n);
    let p = 0;
    if (this.skip > 0) {
      p = Math.min(this.skip, n);
      this.skip -= p;
      if (this.skip > 0) return true;
    }
    if (this.held > 0) {
      p = this.fillSplit(b, p, n);
      if (this.stopped) return false;
      const rec = this.rec;
      if (rec === null || this.held < rec.length) return true; // the whole chunk went into it
      this.emit(rec, 0, rec.length - REC_HDR, out);
      this.base += rec.length;
      this.rec = null;
      this.held = 0;
    }
    // The hot loop: whole records inside this chunk.
    const le = this.le;
    const fracMul = this.fracMul;
    const limit = this.limit;
    const linkType = this.linkType;
    let no = this.no;
    let base = this.base;
    while (n - p >= REC_HDR) {
      let sec: number, frac: number, cl: number, len: number;
      if (le) {
        sec = (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
        frac = (b[p + 4] | (b[p + 5] << 8) | (b[p + 6] << 16) | (b[p + 7] << 24)) >>> 0;
        cl = (b[p + 8] | (b[p + 9] << 8) | (b[p + 10] << 16) | (b[p + 11] << 24)) >>> 0;
        len = (b[p + 12] | (b[p + 13] << 8) | (b[p + 14] << 16) | (b[p + 15] << 24)) >>> 0;
      } else {
        sec = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
        frac = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
        cl = ((b[p + 8] << 24) | (b[p + 9] << 16) | (b[p + 10] << 8) | b[p + 11]) >>> 0;
        len = ((b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15]) >>> 0;
      }
      if (cl > limit) {
        this.no = no;
        this.base = base;
        if (!this.checkCaplen(cl)) return false;
      }
      const end = p + REC_HDR + cl;
      if (end > n) break;
      let ns = frac * fracMul;
      if (ns >= 1e9) {
        sec += Math.floor(ns / 1e9);
        ns %= 1e9;
      }
      out.push({
        no: ++no,
        iface: 0,
        linkType,
        tsSec: sec,
        tsNsec: ns,
        caplen: cl,
        len,
        data: b.subarray(p + REC_HDR, end),
      });
      base += REC_HDR + cl;
      p = end;
    }
    this.no = no;
    this.base = base;
    if (p < n) this.startSplit(b, p, n);
    return true;
  }

  /**
   * Keep the tail b[p, n) of a record split across chunks. When its header is
   * complete (its capture length already checked in the loop), the record's
   * own buffer is allocated now.
   */
  private startSplit(b: Uint8Array, p: number, n: number): void {
    const have = n - p;
    if (have >= REC_HDR) {
      const rec = new Uint8Array(REC_HDR + this.r32(b, p + 8));
      rec.set(b.subarray(p, n));
      this.rec = rec;
    } else {
      this.hdr.set(b.subarray(p, n));
    }
    this.held = have;
  }

  /** Add bytes from b[p, n) to the split record; returns the new position. */
  private fillSplit(b: Uint8Array, p: number, n: number): number {
    if (this.rec === null) {
      const take = Math.min(REC_HDR - this.held, n - p);
      this.hdr.set(b.subarray(p, p + take), this.held);
      this.held += take;
      p += take;
      if (this.held < REC_HDR) return p;
      const cl = this.r32(this.hdr, 8);
      if (!this.checkCaplen(cl)) return p;
      const rec = new Uint8Array(REC_HDR + cl);
      rec.set(this.hdr);
      this.rec = rec;
    }
    const rec = this.rec;
    const take = Math.min(rec.length - this.held, n - p);
    if (take > 0) rec.set(b.subarray(p, p + take), this.held);
    this.held += take;
    return p + take;
  }

  end(_out: CaptureRecord[]): void {
    if (this.stopped || this.held === 0) return;
    const reason = this.rec !== null
      ? `truncated record: capture length ${this.rec.length - REC_HDR}, have ${this.held - REC_HDR} of it`
      : `truncated record header: have ${this.held} of ${REC_HDR} bytes`;
    this.stopped = true;
    this.onAnomaly({ no: this.no + 1, layer: "pcap", offset: this.base, reason });
  }
}
