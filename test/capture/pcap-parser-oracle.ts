/**
 * Test oracles for the classic-pcap reader, built on the npm package
 * `pcap-parser` (0.2.1), which lib/ no longer uses (test and bench only):
 *
 * - {@link rawPcapParser}: pcap-parser alone, on the whole file in one chunk.
 *   It is right wherever it accepts the input: µs magic, either byte order,
 *   any record lengths it can finish. Where it is wrong or silent (ns magic,
 *   versions like 3.4, hostile capture lengths, truncated tails) the caller
 *   compares against the reader's documented behaviour instead.
 * - {@link PcapParserChunkParser}: the previous production wrapper around it.
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import pcapParser from "pcap-parser";
import {
  PCAP_MAGIC_US_BE,
  PCAP_MAGIC_US_LE,
  PCAP_MAX_CAPLEN,
  type PcapHeader,
} from "../../lib/capture/pcap.ts";
import type { AnomalySink, CaptureRecord, ChunkParser } from "../../lib/capture/types.ts";

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

/**
 * The classic-pcap chunk parser vpnkit used before the hand-written one
 * (lib/capture/pcap.ts at 19c5b97), kept verbatim but for its name: the wrapper
 * around pcap-parser that fixes its nanosecond magic, hostile lengths and
 * truncated tails. Its records and anomalies are the reference for the new
 * parser, and bench/capture/read.ts measures it in the same run.
 */
export class PcapParserChunkParser implements ChunkParser {
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

/** One record as pcap-parser reports it (fraction field uninterpreted, data copied). */
export interface RawPcapRecord {
  tsSec: number;
  tsFrac: number;
  caplen: number;
  len: number;
  data: Uint8Array;
}

/** What pcap-parser made of a whole file. */
export interface RawPcapResult {
  /** Its 'error' message (bad magic or version), or null. */
  error: string | null;
  records: RawPcapRecord[];
}

/** Run pcap-parser alone over `file`, fed as chunks of `chunk` bytes. */
export function rawPcapParser(file: Uint8Array, chunk = file.length || 1): RawPcapResult {
  const shim = new FeedShim();
  const p = parsePcap(shim);
  const res: RawPcapResult = { error: null, records: [] };
  p.on("error", (e: Error) => {
    res.error ??= e.message;
  });
  p.on("packet", (x: PcapPacket) => {
    res.records.push({
      tsSec: x.header.timestampSeconds,
      tsFrac: x.header.timestampMicroseconds,
      caplen: x.header.capturedLength,
      len: x.header.originalLength,
      data: Uint8Array.from(x.data),
    });
  });
  for (let i = 0; i < file.length; i += chunk) {
    shim.emit("data", Buffer.from(file.subarray(i, Math.min(file.length, i + chunk))));
  }
  return res;
}
