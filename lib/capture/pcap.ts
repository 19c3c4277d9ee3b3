/**
 * Classic pcap through the npm package `pcap-parser` (0.2.x).
 *
 * pcap-parser is a push parser on a Node Readable. We hand it a tiny
 * stream-like shim and emit 'data' on it ourselves, synchronously, one chunk
 * at a time: every record the chunk completes is delivered before `feed`
 * returns, and nothing is read ahead of the consumer.
 *
 * Its weaknesses and how they are guarded here:
 * - only the microsecond magic: for the nanosecond magic (0xa1b23c4d, both
 *   byte orders) the magic of the first chunk is rewritten to the µs one and
 *   `timestampMicroseconds` is read as nanoseconds;
 * - its version check (`major != 2 && minor != 4`) accepts e.g. 3.4 or 2.0:
 *   the global header is validated by {@link parsePcapHeader} first;
 * - a hostile `capturedLength` would make it buffer forever: checked on
 *   'packetHeader'; above {@link PCAP_MAX_CAPLEN} the reader stops with an anomaly;
 * - a truncated final record is silently dropped by it: detected at end of
 *   input from our own byte accounting and reported at its file offset;
 * - it concatenates its leftover with each new chunk (`new Buffer(a+b)`), which
 *   is O(chunk) per chunk but O(n²) for a record spanning many small chunks:
 *   callers feed large chunks (the file source reads 512 KiB at a time).
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import pcapParser from "pcap-parser";
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
  // libpcap reads every 2.x file; pcap-parser's own check is buggy (see module doc).
  if (major !== 2) throw new CaptureFormatError(`unsupported pcap version ${major}.${minor} (only 2.x)`);
  const field = r32(b, 20);
  return { le, nanosecond, major, minor, snaplen: r32(b, 16), linkType: field & 0x0fffffff, linkTypeField: field };
}

/** pcap-parser's per-record header ('packetHeader' event). */
interface PcapPacketHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}

/** pcap-parser's 'packet' event. */
interface PcapPacket {
  header: PcapPacketHeader;
  data: Buffer;
}

/**
 * pcap-parser's entry point, typed here rather than trusted from the import:
 * Deno infers types from its JavaScript (and misses util.inherits), tsc uses
 * ./pcap-parser.d.ts.
 */
const parsePcap = (pcapParser as unknown as { parse(input: EventEmitter): EventEmitter }).parse;

/** The minimum a Readable needs to offer pcap-parser. */
class FeedShim extends EventEmitter {
  pause(): void {}
  resume(): void {}
}

function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** Internal state of pcap-parser 0.2.1 that we touch to stop it (guarded). */
interface ParserInternals {
  errored?: boolean;
  state?: () => boolean;
}

/** Chunk parser for classic pcap, driving pcap-parser. */
export class PcapChunkParser implements ChunkParser {
  private readonly shim = new FeedShim();
  private readonly parser: EventEmitter;
  private out: CaptureRecord[] = [];
  private no = 0;
  /** Bytes handed to pcap-parser. */
  private fed = 0;
  /** Bytes of complete records (incl. the global header). */
  private consumed = 24;
  private pendingCaplen = -1;
  private stopped = false;
  private first = true;

  constructor(private readonly hdr: PcapHeader, private readonly onAnomaly: AnomalySink) {
    this.parser = parsePcap(this.shim);
    this.parser.on("error", (e: Error) => this.stop(this.consumed, `pcap-parser: ${e.message}`));
    this.parser.on("packetHeader", (h: PcapPacketHeader) => this.onHeader(h));
    this.parser.on("packet", (p: PcapPacket) => this.onPacket(p));
  }

  private stop(offset: number, reason: string): void {
    if (this.stopped) return;
    this.stopped = true;
    const p = this.parser as unknown as ParserInternals;
    p.errored = true; // makes its onData ignore further input
    p.state = () => false; // ends its parse loop over the current buffer
    this.onAnomaly({ no: this.no + 1, layer: "pcap", offset, reason });
  }

  private onHeader(h: PcapPacketHeader): void {
    if (this.stopped) return;
    const cl = h.capturedLength;
    if (cl > PCAP_MAX_CAPLEN) {
      this.stop(this.consumed, `record capture length ${cl} exceeds ${PCAP_MAX_CAPLEN}; stopping`);
      return;
    }
    if (this.hdr.snaplen > 0 && cl > this.hdr.snaplen) {
      this.onAnomaly({
        no: this.no + 1,
        layer: "pcap",
        offset: this.consumed + 8,
        reason: `record capture length ${cl} exceeds snaplen ${this.hdr.snaplen}`,
      });
    }
    this.pendingCaplen = cl;
  }

  private onPacket(p: PcapPacket): void {
    if (this.stopped) return;
    const h = p.header;
    const d = p.data;
    let sec = h.timestampSeconds;
    let ns = this.hdr.nanosecond ? h.timestampMicroseconds : h.timestampMicroseconds * 1000;
    if (ns >= 1e9) {
      sec += Math.floor(ns / 1e9);
      ns %= 1e9;
    }
    this.out.push({
      no: ++this.no,
      iface: 0,
      linkType: this.hdr.linkType,
      tsSec: sec,
      tsNsec: ns,
      caplen: d.length,
      len: h.originalLength,
      data: new Uint8Array(d.buffer, d.byteOffset, d.length),
    });
    this.consumed += 16 + d.length;
    this.pendingCaplen = -1;
  }

  feed(chunk: Uint8Array, out: CaptureRecord[]): boolean {
    if (this.stopped) return false;
    if (chunk.length === 0) return true;
    let buf = asBuffer(chunk);
    if (this.first) {
      this.first = false;
      if (this.hdr.nanosecond) {
        // pcap-parser only knows a1b2c3d4 / d4c3b2a1: rewrite (on a copy).
        buf = Buffer.from(buf);
        const m = this.hdr.le ? PCAP_MAGIC_US_LE : PCAP_MAGIC_US_BE;
        buf[0] = m >>> 24;
        buf[1] = (m >>> 16) & 0xff;
        buf[2] = (m >>> 8) & 0xff;
        buf[3] = m & 0xff;
      }
    }
    this.out = out;
    this.fed += buf.length;
    this.shim.emit("data", buf);
    return !this.stopped;
  }

  end(_out: CaptureRecord[]): void {
    if (this.stopped) return;
    const left = this.fed - this.consumed;
    if (left <= 0) return;
    const reason = this.pendingCaplen >= 0 || left >= 16
      ? `truncated record: capture length ${this.pendingCaplen}, have ${left - 16} of it`
      : `truncated record header: have ${left} of 16 bytes`;
    this.stopped = true;
    this.onAnomaly({ no: this.no + 1, layer: "pcap", offset: this.consumed, reason });
  }
}
