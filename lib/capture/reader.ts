/**
 * Streaming capture input for `vpnkit decode`: a file path or "-" (stdin),
 * optionally gzip-compressed, classic pcap (all four magics) or pcapng.
 *
 * Runtime-neutral: node:fs, node:zlib, node:stream, node:buffer only.
 *
 * Live input (a pipe, a terminal, a FIFO: `tcpdump -U -w - | vpnkit decode -`) hands
 * on the records of every chunk as soon as it is read, so each packet is decoded when
 * it arrives; files are read in full batches (throughput).
 *
 * Flow control is pull-based. The input is read through its async iterator,
 * one chunk (512 KiB for files) whenever the records of the previous chunk
 * have all been handed out, so memory stays constant for any file size:
 * roughly one chunk, the stream's own high-water mark, and one batch.
 * @module
 */
import { Buffer } from "node:buffer";
import { createReadStream, fstatSync, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import process from "node:process";
import { Readable, pipeline } from "node:stream";
import { createGunzip } from "node:zlib";
import { u32 } from "../core/bytes.ts";
import { isPcapMagic, parsePcapHeader, PcapChunkParser } from "./pcap.ts";
import { checkPcapngHead, PCAPNG_SHB, PcapngChunkParser } from "./pcapng.ts";
import {
  CaptureFormatError,
  type CaptureAnomaly,
  type CaptureInfo,
  type CaptureOptions,
  type CaptureReader,
  type CaptureRecord,
  type ChunkParser,
} from "./types.ts";

export * from "./types.ts";

/** Read size for files. */
export const FILE_CHUNK = 512 * 1024;
/** Output chunk size of the gunzip stream. */
const GUNZIP_CHUNK = 256 * 1024;
/** Bytes sniffed before choosing a parser (pcap header 24, pcapng SHB minimum 28). */
const HEAD = 28;

type Source = NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>;

function toBytes(c: Uint8Array | string): Uint8Array {
  return typeof c === "string" ? Buffer.from(c, "latin1") : c;
}

/** Pull-based byte source with a pushed-back prefix. */
class Pull {
  private readonly it: AsyncIterator<Uint8Array | string>;
  private readonly prefix: Uint8Array[] = [];
  private closed = false;
  constructor(src: AsyncIterable<Uint8Array | string>, private readonly count?: (n: number) => void) {
    this.it = src[Symbol.asyncIterator]();
  }
  unshift(c: Uint8Array): void {
    this.prefix.unshift(c);
  }
  async next(): Promise<Uint8Array | null> {
    if (this.prefix.length > 0) return this.prefix.shift()!;
    if (this.closed) return null;
    for (;;) {
      const r = await this.it.next();
      if (r.done) {
        this.closed = true;
        return null;
      }
      const c = toBytes(r.value);
      if (this.count) this.count(c.length);
      if (c.length > 0) return c;
    }
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.it.return?.();
    } catch {
      // closing a failed stream: nothing left to do
    }
  }
  /** Chunks until at least `n` bytes (or end); joined when the first is short. */
  async head(n: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let have = 0;
    while (have < n) {
      const c = await this.next();
      if (c === null) break;
      parts.push(c);
      have += c.length;
    }
    if (parts.length <= 1) return parts[0] ?? new Uint8Array(0);
    const out = new Uint8Array(have);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function isZlibError(e: unknown): e is Error {
  const code = (e as { code?: unknown })?.code;
  return e instanceof Error && typeof code === "string" && (code.startsWith("Z_") || code === "ERR_ZLIB_INITIALIZATION_FAILED");
}

async function* drain(p: Pull): AsyncGenerator<Uint8Array> {
  for (;;) {
    const c = await p.next();
    if (c === null) return;
    yield c;
  }
}

/**
 * Open a capture from any byte stream (Node Readable, process.stdin, or an
 * async iterable of byte chunks). Throws {@link CaptureFormatError} for
 * empty input, unknown magic, a bad or truncated file header, or a gzip
 * stream that is corrupt before the capture header.
 */
export async function openCaptureStream(stream: Source, opts: CaptureOptions = {}): Promise<CaptureReader> {
  let raw = 0;
  const rawPull = new Pull(stream as AsyncIterable<Uint8Array | string>, (n) => (raw += n));
  let pull = rawPull;
  let first = await rawPull.head(4);
  if (first.length === 0) throw new CaptureFormatError("empty input: not a pcap or pcapng file");
  let gzip = false;
  if (first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b) {
    gzip = true;
    rawPull.unshift(first);
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    const src = Readable.from(drain(rawPull), { objectMode: false, highWaterMark: 64 * 1024 });
    pipeline(src, gunzip, () => {}); // errors surface on gunzip's iterator
    pull = new Pull(gunzip);
    try {
      first = await pull.head(HEAD);
    } catch (e) {
      await pull.close();
      await rawPull.close();
      if (isZlibError(e)) throw new CaptureFormatError(`corrupt gzip input: ${e.message}`);
      throw e;
    }
    if (first.length === 0) {
      await rawPull.close();
      throw new CaptureFormatError("empty input: gzip stream decompresses to nothing");
    }
  } else if (first.length < HEAD) {
    const more = await rawPull.head(HEAD - first.length);
    if (more.length > 0) {
      const j = new Uint8Array(first.length + more.length);
      j.set(first);
      j.set(more, first.length);
      first = j;
    }
  }

  const onAnomaly = opts.onAnomaly ?? ((_a: CaptureAnomaly) => {});
  let parser: ChunkParser;
  let info: CaptureInfo;
  try {
    if (first.length < 4) throw new CaptureFormatError(`input too short (${first.length} bytes): not a pcap or pcapng file`);
    const magic = u32(first, 0);
    if (isPcapMagic(magic)) {
      const h = parsePcapHeader(first);
      info = { format: "pcap", gzip, nanosecond: h.nanosecond, byteOrder: h.le ? "le" : "be" };
      parser = new PcapChunkParser(h, onAnomaly);
    } else if (magic === PCAPNG_SHB) {
      const order = checkPcapngHead(first);
      info = { format: "pcapng", gzip, byteOrder: order };
      parser = new PcapngChunkParser(order, onAnomaly);
    } else {
      throw new CaptureFormatError(
        `not a pcap or pcapng file (magic 0x${magic.toString(16).padStart(8, "0")})`,
      );
    }
  } catch (e) {
    await pull.close();
    if (pull !== rawPull) await rawPull.close();
    throw e;
  }

  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 256));
  const live = opts.live === true;
  let started = false;
  let decompressed = 0;
  let lastNo = 0;

  async function* batches(): AsyncGenerator<CaptureRecord[]> {
    if (started) throw new Error("CaptureReader.batches() can only be iterated once");
    started = true;
    let out: CaptureRecord[] = [];
    let chunk: Uint8Array | null = first;
    try {
      for (;;) {
        decompressed += chunk.length;
        const alive = parser.feed(chunk, out);
        if (out.length > 0) lastNo = out[out.length - 1].no;
        if (live && out.length > 0) {
          // live input: what this chunk completed goes out now (a pipe read returns what
          // is there, so records batch only while input is immediately available)
          for (let i = 0; i < out.length; i += batchSize) yield out.length <= batchSize ? out : out.slice(i, i + batchSize);
          out = [];
        } else if (out.length >= batchSize) {
          let i = 0;
          for (; out.length - i >= batchSize; i += batchSize) yield out.slice(i, i + batchSize);
          out = out.slice(i);
        }
        if (!alive) break;
        try {
          chunk = await pull.next();
        } catch (e) {
          if (!gzip || !isZlibError(e)) throw e;
          onAnomaly({ no: lastNo + 1, layer: "gzip", offset: decompressed, reason: `corrupt gzip input: ${e.message}` });
          chunk = null;
        }
        if (chunk === null) {
          parser.end(out);
          break;
        }
      }
      for (let i = 0; i < out.length; i += batchSize) yield out.slice(i, i + batchSize);
    } finally {
      await pull.close();
      if (pull !== rawPull) await rawPull.close();
    }
  }

  return { info, batches, bytesRead: () => raw, live };
}

/**
 * The chunks of a regular file, each read into a buffer of its own (records are
 * views into it, valid as long as the caller keeps them). Closes the file at the
 * end, or when the consumer stops early (return()).
 */
async function* fileChunks(fh: FileHandle): AsyncGenerator<Uint8Array> {
  try {
    for (;;) {
      // not zero-filled: every byte handed on was just read
      const buf = Buffer.allocUnsafeSlow(FILE_CHUNK);
      const b = new Uint8Array(buf.buffer, buf.byteOffset, FILE_CHUNK);
      const { bytesRead } = await fh.read(b, 0, FILE_CHUNK, null);
      if (bytesRead === 0) return;
      yield bytesRead === FILE_CHUNK ? b : b.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Open a capture file, or standard input for `"-"`. Throws
 * {@link CaptureFormatError} for input that is not a capture, and the usual
 * `ENOENT`/`EACCES`/`EISDIR` errors of node:fs for files that cannot be read.
 */
export async function openCapture(pathOrDash: string, opts: CaptureOptions = {}): Promise<CaptureReader> {
  if (pathOrDash === "-") {
    // a pipe or a terminal is live (records go out as they complete); `< file` is a file
    let file = false;
    try {
      file = fstatSync(0).isFile();
    } catch {
      // no fstat (closed fd 0): treat as live
    }
    return openCaptureStream(process.stdin, { ...opts, live: opts.live ?? !file });
  }
  const st = await fsp.stat(pathOrDash);
  if (st.isDirectory()) {
    const e = new Error(`EISDIR: illegal operation on a directory, read '${pathOrDash}'`) as Error & { code: string };
    e.code = "EISDIR";
    throw e;
  }
  // a regular file is read straight into a new buffer per chunk (a read stream's machinery
  // cost about as much again as the reads); a named pipe or a character device
  // (`vpnkit decode /dev/stdin`) through a read stream, and it is live
  const src = st.isFile() ? fileChunks(await fsp.open(pathOrDash, "r")) : createReadStream(pathOrDash, { highWaterMark: FILE_CHUNK });
  const r = await openCaptureStream(src, { ...opts, live: opts.live ?? !st.isFile() });
  if (st.isFile()) r.totalBytes = st.size;
  return r;
}
