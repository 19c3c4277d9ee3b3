/**
 * Classic pcap builder for tests: either byte order, µs or ns magic.
 */
import type { CaptureReader, CaptureRecord } from "../../lib/capture/index.ts";

export interface PcapTestPacket {
  tsSec: number;
  /** Fraction: µs for µs files, ns for ns files. */
  tsFrac: number;
  data: Uint8Array;
  /** Wire length (default data.length). */
  len?: number;
  /** Override the record's capturedLength field (hostile files). */
  caplenField?: number;
}

export interface PcapBuildOptions {
  le?: boolean;
  ns?: boolean;
  linkType?: number;
  snaplen?: number;
  major?: number;
  minor?: number;
}

function put16(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) { b[o] = v & 0xff; b[o + 1] = v >>> 8; } else { b[o] = v >>> 8; b[o + 1] = v & 0xff; }
}
function put32(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    b[o] = v & 0xff; b[o + 1] = (v >>> 8) & 0xff; b[o + 2] = (v >>> 16) & 0xff; b[o + 3] = (v >>> 24) & 0xff;
  } else {
    b[o] = (v >>> 24) & 0xff; b[o + 1] = (v >>> 16) & 0xff; b[o + 2] = (v >>> 8) & 0xff; b[o + 3] = v & 0xff;
  }
}

/** Build a whole classic pcap file. */
export function buildPcap(packets: PcapTestPacket[], o: PcapBuildOptions = {}): Uint8Array {
  const le = o.le ?? true;
  let n = 24;
  for (const p of packets) n += 16 + p.data.length;
  const b = new Uint8Array(n);
  put32(b, 0, o.ns ? 0xa1b23c4d : 0xa1b2c3d4, le);
  put16(b, 4, o.major ?? 2, le);
  put16(b, 6, o.minor ?? 4, le);
  put32(b, 16, o.snaplen ?? 262144, le);
  put32(b, 20, o.linkType ?? 1, le);
  let off = 24;
  for (const p of packets) {
    put32(b, off, p.tsSec, le);
    put32(b, off + 4, p.tsFrac, le);
    put32(b, off + 8, p.caplenField ?? p.data.length, le);
    put32(b, off + 12, p.len ?? p.data.length, le);
    b.set(p.data, off + 16);
    off += 16 + p.data.length;
  }
  return b;
}

/** Async iterable over `b` in chunks of `size` bytes (a stdin-like stream). */
export async function* chunked(b: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < b.length; i += size) yield b.slice(i, Math.min(b.length, i + size));
}

/** Deterministic packet payload. */
export function payload(i: number, n: number): Uint8Array {
  const d = new Uint8Array(n);
  for (let j = 0; j < n; j++) d[j] = (i * 31 + j * 7) & 0xff;
  return d;
}

/** Read every record (copying data) from a reader. */
export async function readAll(r: CaptureReader): Promise<CaptureRecord[]> {
  const all: CaptureRecord[] = [];
  for await (const batch of r.batches()) for (const x of batch) all.push({ ...x, data: x.data.slice() });
  return all;
}
