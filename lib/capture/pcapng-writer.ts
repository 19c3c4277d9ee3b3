/**
 * Streaming pcapng writer (used by `--write-decrypted` and by tests).
 *
 * {@link PcapngWriter} writes one SHB, then one IDB per link type the first
 * time that link type is seen (if_tsresol = 9, nanoseconds), then an EPB per
 * packet with an optional opt_comment. Blocks are gathered into a 256 KiB
 * buffer and written to a Node Writable (or any {@link ByteSink}); `write`
 * waits for 'drain' when the sink asks for it, so memory stays bounded.
 *
 * The block builders ({@link pcapngShb}, {@link pcapngIdb}, {@link pcapngEpb},
 * {@link pcapngBlock}) are pure and exported for building synthetic files.
 * @module
 */
import { createWriteStream } from "node:fs";

/** A packet to write. */
export interface PcapngPacket {
  /** LINKTYPE_* (selects/creates the interface). */
  linkType: number;
  tsSec: number;
  tsNsec: number;
  data: Uint8Array;
  /** Bytes on the wire (default: data.length). */
  len?: number;
  /** Packet comment (opt_comment, UTF-8). */
  comment?: string;
  /**
   * Linux packet type (sockaddr_ll sll_pkttype: 0-3 received, 4 sent by us), written as
   * the direction bits of epb_flags (inbound / outbound).
   */
  direction?: number;
  /** Name of the capture interface (if_name of its IDB: one IDB per link type and name). */
  ifName?: string;
}

/** Where bytes go: a Node Writable fits. */
export interface ByteSink {
  /** Returns false when the caller should wait for 'drain'. */
  write(chunk: Uint8Array): boolean | void;
  once?(event: "drain", cb: () => void): unknown;
  end?(cb?: () => void): unknown;
}

/** One option of a block: code and raw value (padded automatically). */
export interface PcapngOption {
  code: number;
  value: Uint8Array;
}

const utf8 = new TextEncoder();

function put16(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
  } else {
    b[o] = (v >>> 8) & 0xff;
    b[o + 1] = v & 0xff;
  }
}

function put32(b: Uint8Array, o: number, v: number, le: boolean): void {
  if (le) {
    b[o] = v & 0xff;
    b[o + 1] = (v >>> 8) & 0xff;
    b[o + 2] = (v >>> 16) & 0xff;
    b[o + 3] = (v >>> 24) & 0xff;
  } else {
    b[o] = (v >>> 24) & 0xff;
    b[o + 1] = (v >>> 16) & 0xff;
    b[o + 2] = (v >>> 8) & 0xff;
    b[o + 3] = v & 0xff;
  }
}

const pad4 = (n: number) => (n + 3) & ~3;

/** Encoded size of an option list (with opt_endofopt), 0 when empty. */
function optionsSize(opts: PcapngOption[]): number {
  if (opts.length === 0) return 0;
  let n = 4;
  for (const o of opts) n += 4 + pad4(o.value.length);
  return n;
}

function putOptions(b: Uint8Array, o: number, opts: PcapngOption[], le: boolean): number {
  if (opts.length === 0) return o;
  for (const x of opts) {
    put16(b, o, x.code, le);
    put16(b, o + 2, x.value.length, le);
    b.set(x.value, o + 4);
    o += 4 + pad4(x.value.length);
  }
  return o + 4; // opt_endofopt (zeroed)
}

/**
 * A generic block: type, fixed body (padded to 4), options. The body is
 * copied as given: multi-byte fields in it must already be in `le` order.
 */
export function pcapngBlock(type: number, body: Uint8Array, options: PcapngOption[] = [], le = true): Uint8Array {
  const len = 12 + pad4(body.length) + optionsSize(options);
  const b = new Uint8Array(len);
  put32(b, 0, type, le);
  put32(b, 4, len, le);
  b.set(body, 8);
  putOptions(b, 8 + pad4(body.length), options, le);
  put32(b, len - 4, len, le);
  return b;
}

/** Section Header Block (version 1.0, section length unknown). */
export function pcapngShb(le = true, options: PcapngOption[] = []): Uint8Array {
  const body = new Uint8Array(16);
  put32(body, 0, 0x1a2b3c4d, le);
  put16(body, 4, 1, le);
  put16(body, 6, 0, le);
  body.fill(0xff, 8, 16); // section length -1
  return pcapngBlock(0x0a0d0d0a, body, options, le);
}

/** Interface Description Block options in friendly form. */
export interface IdbOptions {
  name?: string;
  /** Raw if_tsresol byte (e.g. 6, 9, or 0x80|n for 2^-n). Omitted → default 10^-6. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
}

/** Interface Description Block. */
export function pcapngIdb(linkType: number, snaplen = 0, o: IdbOptions = {}, le = true): Uint8Array {
  const body = new Uint8Array(8);
  put16(body, 0, linkType, le);
  put32(body, 4, snaplen, le);
  const opts: PcapngOption[] = [];
  if (o.name !== undefined) opts.push({ code: 2, value: utf8.encode(o.name) });
  if (o.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(o.tsresol) });
  if (o.tsoffset !== undefined) {
    const v = new Uint8Array(8);
    const big = BigInt.asUintN(64, BigInt(o.tsoffset));
    const hi = Number(big >> 32n), lo = Number(big & 0xffffffffn);
    put32(v, le ? 4 : 0, hi, le);
    put32(v, le ? 0 : 4, lo, le);
    opts.push({ code: 14, value: v });
  }
  return pcapngBlock(1, body, opts, le);
}

/** Enhanced Packet Block with a raw 64-bit timestamp in interface units. */
export function pcapngEpb(
  iface: number,
  ts: bigint,
  data: Uint8Array,
  len = data.length,
  comment?: string,
  le = true,
  direction?: number,
): Uint8Array {
  const body = new Uint8Array(20 + pad4(data.length));
  put32(body, 0, iface, le);
  put32(body, 4, Number((ts >> 32n) & 0xffffffffn), le);
  put32(body, 8, Number(ts & 0xffffffffn), le);
  put32(body, 12, data.length, le);
  put32(body, 16, len, le);
  body.set(data, 20);
  const opts: PcapngOption[] = comment === undefined ? [] : [{ code: 1, value: utf8.encode(comment) }];
  if (direction !== undefined && direction >= 0 && direction <= 4) {
    // epb_flags: bits 0-1 direction (01 inbound, 10 outbound), bits 2-4 reception type (unicast 1, multicast 2, broadcast 3, promiscuous 4)
    const v = new Uint8Array(4);
    const flags = direction === 4 ? 2 : 1 | ([1, 3, 2, 4][direction] << 2);
    put32(v, 0, flags, le);
    opts.push({ code: 2, value: v });
  }
  return pcapngBlock(6, body, opts, le);
}

/** Nanosecond timestamp units for if_tsresol = 9. */
export function nsUnits(tsSec: number, tsNsec: number): bigint {
  return BigInt(Math.trunc(tsSec)) * 1000000000n + BigInt(Math.trunc(tsNsec));
}

const FLUSH_AT = 256 * 1024;

/** Streaming pcapng writer: SHB, an IDB per link type (ns resolution), EPBs. */
export class PcapngWriter {
  private readonly ifaces = new Map<number | string, number>();
  private parts: Uint8Array[] = [];
  private pending = 0;
  private readonly le: boolean;
  private readonly snaplen: number;
  private closed = false;

  constructor(private readonly sink: ByteSink, opts: { littleEndian?: boolean; snaplen?: number; userAppl?: string } = {}) {
    this.le = opts.littleEndian ?? true;
    this.snaplen = opts.snaplen ?? 262144;
    const shbOpts: PcapngOption[] = opts.userAppl ? [{ code: 4, value: utf8.encode(opts.userAppl) }] : [];
    this.push(pcapngShb(this.le, shbOpts));
  }

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.pending += b.length;
  }

  /** Interface index for `linkType` (and interface name), queuing its IDB the first time. */
  iface(linkType: number, name?: string): number {
    const key = name === undefined ? linkType : `${linkType}/${name}`;
    let i = this.ifaces.get(key);
    if (i === undefined) {
      i = this.ifaces.size;
      this.ifaces.set(key, i);
      this.push(pcapngIdb(linkType, this.snaplen, name === undefined ? { tsresol: 9 } : { name, tsresol: 9 }, this.le));
    }
    return i;
  }

  /** Queue one packet; resolves once the sink accepted the data (waits for 'drain' when asked to). */
  async write(p: PcapngPacket): Promise<void> {
    if (this.closed) throw new Error("PcapngWriter: write after close");
    const i = this.iface(p.linkType, p.ifName);
    this.push(pcapngEpb(i, nsUnits(p.tsSec, p.tsNsec), p.data, p.len ?? p.data.length, p.comment, this.le, p.direction));
    if (this.pending >= FLUSH_AT) await this.flush();
  }

  /** Hand everything queued to the sink. */
  async flush(): Promise<void> {
    if (this.pending === 0) return;
    const buf = new Uint8Array(this.pending);
    let o = 0;
    for (const x of this.parts) {
      buf.set(x, o);
      o += x.length;
    }
    this.parts = [];
    this.pending = 0;
    const ok = this.sink.write(buf);
    if (ok === false && this.sink.once) {
      await new Promise<void>((resolve) => this.sink.once!("drain", resolve));
    }
  }

  /** Flush and end the sink. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    const end = this.sink.end;
    if (end) await new Promise<void>((resolve) => end.call(this.sink, () => resolve()));
  }
}

/** A {@link PcapngWriter} on a new file; `close()` resolves when it is on disk, rejects on I/O error. */
export function createPcapngFileWriter(
  path: string,
  opts: { littleEndian?: boolean; snaplen?: number; userAppl?: string } = {},
): PcapngWriter {
  const ws = createWriteStream(path);
  let err: Error | null = null;
  ws.on("error", (e) => (err = e));
  const sink: ByteSink = {
    write: (c) => {
      if (err) throw err;
      return ws.write(c);
    },
    once: (ev, cb) => {
      // never wait for a drain that cannot come: an error also ends the wait
      const done = () => {
        ws.off(ev, done);
        ws.off("error", done);
        cb();
      };
      ws.on(ev, done);
      ws.on("error", done);
    },
    end: (cb) =>
      new Promise<void>((resolve) => {
        if (err) return resolve();
        ws.once("error", () => resolve());
        ws.end(() => resolve());
      }).then(() => cb?.()),
  };
  const w = new PcapngWriter(sink, opts);
  const close = w.close.bind(w);
  w.close = async () => {
    await close();
    if (err) throw err;
  };
  return w;
}
