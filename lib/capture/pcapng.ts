/**
 * pcapng reader (hand-written; draft-ietf-opsawg-pcapng).
 *
 * Handles SHB (both byte orders, any number of sections; each SHB resets the
 * interface list), IDB (link type, snaplen, if_name, if_tsresol in both the
 * power-of-10 and power-of-2 forms, if_tsoffset), EPB, SPB (interface 0 and
 * its snaplen), the obsolete OPB, and opt_comment on EPB/OPB. Every other
 * block (NRB, ISB, DSB, custom, ...) is skipped by its length.
 *
 * Blocks are parsed in place in the chunk they arrived in; only a block that
 * straddles a chunk boundary is copied (exactly once) into its own buffer.
 * Block lengths are bounds-checked (at least 12, multiple of 4, at most
 * {@link PCAPNG_MAX_BLOCK}, trailing copy equal): a bad block length is an
 * anomaly and the reader stops, so memory is bounded and it never hangs.
 * @module
 */
import { u16, u16le, u32, u32le } from "../core/bytes.ts";
import { CaptureFormatError, type AnomalySink, type CaptureRecord, type ChunkParser } from "./types.ts";

export const PCAPNG_SHB = 0x0a0d0d0a;
export const PCAPNG_IDB = 0x00000001;
export const PCAPNG_OPB = 0x00000002;
export const PCAPNG_SPB = 0x00000003;
export const PCAPNG_EPB = 0x00000006;
export const PCAPNG_BOM = 0x1a2b3c4d;
/** Largest block accepted (Wireshark's limit, 16 MiB). */
export const PCAPNG_MAX_BLOCK = 16 * 1024 * 1024;

/** Byte order of a section from its SHB at `p` (needs 12 bytes), or null when the BOM is bad. */
export function shbByteOrder(b: Uint8Array, p: number): "le" | "be" | null {
  const bom = u32(b, p + 8);
  if (bom === PCAPNG_BOM) return "be";
  if (bom === 0x4d3c2b1a) return "le";
  return null;
}

/** Check the first bytes of a pcapng stream (throws {@link CaptureFormatError}). */
export function checkPcapngHead(b: Uint8Array): "le" | "be" {
  if (b.length < 12) throw new CaptureFormatError(`truncated pcapng section header: ${b.length} of 28 bytes`);
  const order = shbByteOrder(b, 0);
  if (order === null) {
    throw new CaptureFormatError(`bad pcapng byte-order magic 0x${u32(b, 8).toString(16).padStart(8, "0")}`);
  }
  const len = order === "le" ? u32le(b, 4) : u32(b, 4);
  if (len < 28 || len % 4 !== 0 || len > PCAPNG_MAX_BLOCK) throw new CaptureFormatError(`bad pcapng section header length ${len}`);
  if (b.length >= 14) {
    const major = order === "le" ? u16le(b, 12) : u16(b, 12);
    if (major !== 1) throw new CaptureFormatError(`unsupported pcapng version ${major}`);
  }
  return order;
}

interface Iface {
  linkType: number;
  snaplen: number;
  name?: string;
  /** Seconds added to every timestamp (if_tsoffset). */
  tsOffset: number;
  /** Fast path: units per second is 10^e with e <= 9: divisor, else 0. */
  div: number;
  /** Multiplier from the remainder to nanoseconds (fast path). */
  nsMul: number;
  /** Slow path: units per second as bigint. */
  units: bigint;
  /** Fast-path cache: hi·2^32 = hiSec·div + hiRem for the last timestamp high word. */
  lastHi: number;
  hiSec: number;
  hiRem: number;
}

const TWO32 = 4294967296;
const utf8 = new TextDecoder("utf-8");

function makeIface(linkType: number, snaplen: number): Iface {
  return { linkType, snaplen, tsOffset: 0, div: 1e6, nsMul: 1000, units: 1000000n, lastHi: -1, hiSec: 0, hiRem: 0 };
}

function setTsresol(f: Iface, v: number): void {
  if (v & 0x80) {
    const e = v & 0x7f;
    f.div = 0;
    f.nsMul = 0;
    f.units = 1n << BigInt(e);
  } else if (v <= 9) {
    f.div = 10 ** v;
    f.nsMul = 10 ** (9 - v);
    f.units = BigInt(f.div);
  } else {
    f.div = 0;
    f.nsMul = 0;
    f.units = 10n ** BigInt(v);
  }
}

/** Chunk parser for pcapng. */
export class PcapngChunkParser implements ChunkParser {
  private le: boolean;
  private ifaces: Iface[] = [];
  private no = 0;
  /** Stream offset of the next unparsed byte. */
  private base = 0;
  private carry: Uint8Array[] = [];
  private carryLen = 0;
  /** Length of the straddling block once known, else 0. */
  private need = 0;
  private stopped = false;
  // timestamp scratch
  private sec = 0;
  private nsec = 0;

  constructor(firstOrder: "le" | "be", private readonly onAnomaly: AnomalySink) {
    this.le = firstOrder === "le";
  }

  private r16(b: Uint8Array, o: number): number {
    return this.le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
  }

  private r32(b: Uint8Array, o: number): number {
    return this.le ? u32le(b, o) : u32(b, o);
  }

  private anomaly(offset: number, reason: string): void {
    this.onAnomaly({ no: this.no + 1, layer: "pcapng", offset, reason });
  }

  private fatal(offset: number, reason: string): void {
    this.anomaly(offset, reason + "; stopping");
    this.stopped = true;
    this.carry = [];
    this.carryLen = 0;
  }

  /** Total length of the block at `p` (12 bytes available), or -1 after a fatal anomaly. */
  private blockLength(b: Uint8Array, p: number): number {
    const type = this.r32(b, p);
    let len: number;
    if (type === PCAPNG_SHB) {
      const order = shbByteOrder(b, p);
      if (order === null) {
        this.fatal(this.base, `bad section header byte-order magic 0x${u32(b, p + 8).toString(16).padStart(8, "0")}`);
        return -1;
      }
      len = order === "le" ? u32le(b, p + 4) : u32(b, p + 4);
      if (len < 28) {
        this.fatal(this.base, `bad section header block length ${len}`);
        return -1;
      }
    } else {
      len = this.r32(b, p + 4);
    }
    if (len < 12 || len % 4 !== 0 || len > PCAPNG_MAX_BLOCK) {
      this.fatal(this.base, `bad block length ${len} (block type 0x${type.toString(16)})`);
      return -1;
    }
    return len;
  }

  feed(chunk: Uint8Array, out: CaptureRecord[]): boolean {
    if (this.stopped) return false;
    let pos = 0;
    const n = chunk.length;
    if (this.carryLen > 0) {
      if (this.need === 0) {
        const take = Math.min(12 - this.carryLen, n);
        this.carry.push(chunk.subarray(0, take));
        this.carryLen += take;
        pos = take;
        if (this.carryLen < 12) return true;
        const head = joinParts(this.carry, this.carryLen);
        this.carry = [head];
        const len = this.blockLength(head, 0);
        if (len < 0) return false;
        this.need = len;
      }
      const take = Math.min(this.need - this.carryLen, n - pos);
      if (take > 0) this.carry.push(chunk.subarray(pos, pos + take));
      this.carryLen += take;
      pos += take;
      if (this.carryLen < this.need) return true;
      const block = joinParts(this.carry, this.carryLen);
      this.carry = [];
      this.carryLen = 0;
      this.need = 0;
      this.block(block, 0, block.length, out);
      this.base += block.length;
      if (this.stopped) return false;
    }
    while (n - pos >= 12) {
      const len = this.blockLength(chunk, pos);
      if (len < 0) return false;
      if (n - pos < len) {
        this.need = len;
        break;
      }
      this.block(chunk, pos, len, out);
      this.base += len;
      pos += len;
      if (this.stopped) return false;
    }
    if (pos < n) {
      this.carry.push(chunk.subarray(pos));
      this.carryLen = n - pos;
    }
    return true;
  }

  end(_out: CaptureRecord[]): void {
    if (this.stopped || this.carryLen === 0) return;
    this.anomaly(
      this.base,
      this.need > 0
        ? `truncated block: have ${this.carryLen} of ${this.need} bytes`
        : `truncated block header: have ${this.carryLen} of 12 bytes`,
    );
    this.stopped = true;
  }

  /** Parse one complete block b[p, p+len). */
  private block(b: Uint8Array, p: number, len: number, out: CaptureRecord[]): void {
    const type = this.r32(b, p);
    if (type === PCAPNG_SHB) {
      this.le = shbByteOrder(b, p) === "le";
    }
    const trail = this.r32(b, p + len - 4);
    if (trail !== len) {
      this.fatal(this.base, `trailing block length ${trail} does not match leading length ${len}`);
      return;
    }
    switch (type) {
      case PCAPNG_SHB: {
        const major = this.r16(b, p + 12);
        if (major !== 1) {
          this.fatal(this.base, `unsupported section version ${major}.${this.r16(b, p + 14)}`);
          return;
        }
        this.ifaces = [];
        return;
      }
      case PCAPNG_IDB:
        this.idb(b, p, len);
        return;
      case PCAPNG_EPB:
      case PCAPNG_OPB:
        this.epb(b, p, len, type === PCAPNG_OPB, out);
        return;
      case PCAPNG_SPB:
        this.spb(b, p, len, out);
        return;
      default:
        return; // NRB, ISB, DSB, custom, unknown: skipped by length
    }
  }

  private idb(b: Uint8Array, p: number, len: number): void {
    if (len < 20) {
      this.anomaly(this.base, `interface description block too short (${len} bytes)`);
      this.ifaces.push(makeIface(0, 0));
      return;
    }
    const f = makeIface(this.r16(b, p + 8), this.r32(b, p + 12));
    const end = p + len - 4;
    let o = p + 16;
    while (o + 4 <= end) {
      const code = this.r16(b, o), olen = this.r16(b, o + 2);
      if (code === 0) break;
      if (o + 4 + olen > end) {
        this.anomaly(this.base + (o - p), `interface option ${code} length ${olen} overruns the block`);
        break;
      }
      const v = o + 4;
      if (code === 2) {
        f.name = utf8.decode(b.subarray(v, v + olen));
      } else if (code === 9) {
        if (olen >= 1) setTsresol(f, b[v]);
      } else if (code === 14) {
        if (olen >= 8) {
          const hi = this.r32(b, this.le ? v + 4 : v), lo = this.r32(b, this.le ? v : v + 4);
          f.tsOffset = (hi | 0) * TWO32 + lo;
        }
      }
      o = v + ((olen + 3) & ~3);
    }
    this.ifaces.push(f);
  }

  /** Timestamp units → this.sec / this.nsec. */
  private ts(f: Iface, hi: number, lo: number): void {
    const d = f.div;
    if (d !== 0) {
      if (hi !== f.lastHi) {
        // hi·2^32 = hiSec·d + hiRem, by long division in base 2^16 (d <= 1e9 keeps every step exact)
        let cur = hi >>> 16;
        let qd = Math.floor(cur / d);
        let r = cur - qd * d;
        let q = qd;
        cur = r * 65536 + (hi & 0xffff); qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd;
        cur = r * 65536; qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd;
        cur = r * 65536; qd = Math.floor(cur / d); r = cur - qd * d; q = q * 65536 + qd;
        f.lastHi = hi;
        f.hiSec = q;
        f.hiRem = r;
      }
      const t = f.hiRem + lo; // < 1e9 + 2^32: exact
      const q = Math.floor(t / d);
      this.sec = f.hiSec + q;
      this.nsec = (t - q * d) * f.nsMul;
    } else {
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      this.sec = Number(v / f.units);
      this.nsec = Number(((v % f.units) * 1000000000n) / f.units);
    }
    this.sec += f.tsOffset;
  }

  private epb(b: Uint8Array, p: number, len: number, obsolete: boolean, out: CaptureRecord[]): void {
    const what = obsolete ? "packet block" : "enhanced packet block";
    if (len < 32) {
      this.anomaly(this.base, `${what} too short (${len} bytes)`);
      return;
    }
    const ifi = obsolete ? this.r16(b, p + 8) : this.r32(b, p + 8);
    const caplen = this.r32(b, p + 20);
    const wire = this.r32(b, p + 24);
    const end = p + len - 4;
    if (caplen > end - (p + 28)) {
      this.anomaly(this.base + 20, `${what}: capture length ${caplen} exceeds the block (${end - p - 28} bytes)`);
      return;
    }
    const f = this.ifaces[ifi];
    if (f === undefined) {
      this.anomaly(this.base + 8, `${what} refers to undefined interface ${ifi}`);
      return;
    }
    this.ts(f, this.r32(b, p + 12), this.r32(b, p + 16));
    const data = p + 28;
    const rec: CaptureRecord = {
      no: ++this.no,
      iface: ifi,
      linkType: f.linkType,
      tsSec: this.sec,
      tsNsec: this.nsec,
      caplen,
      len: wire,
      // a plain Uint8Array view even when the chunk is a Buffer (Buffer#slice does not copy)
      data: new Uint8Array(b.buffer, b.byteOffset + data, caplen),
    };
    let o = data + ((caplen + 3) & ~3);
    while (o + 4 <= end) {
      const code = this.r16(b, o), olen = this.r16(b, o + 2);
      if (code === 0) break;
      if (o + 4 + olen > end) {
        this.anomaly(this.base + (o - p), `packet option ${code} length ${olen} overruns the block`);
        break;
      }
      if (code === 1) {
        const c = utf8.decode(b.subarray(o + 4, o + 4 + olen));
        rec.comment = rec.comment === undefined ? c : rec.comment + "\n" + c;
      }
      o += 4 + ((olen + 3) & ~3);
    }
    out.push(rec);
  }

  private spb(b: Uint8Array, p: number, len: number, out: CaptureRecord[]): void {
    if (len < 16) {
      this.anomaly(this.base, `simple packet block too short (${len} bytes)`);
      return;
    }
    const f = this.ifaces[0];
    if (f === undefined) {
      this.anomaly(this.base, "simple packet block without interface 0");
      return;
    }
    const wire = this.r32(b, p + 8);
    let caplen = Math.min(wire, len - 16);
    if (f.snaplen > 0 && caplen > f.snaplen) caplen = f.snaplen;
    out.push({
      no: ++this.no,
      iface: 0,
      linkType: f.linkType,
      tsSec: 0,
      tsNsec: 0,
      caplen,
      len: wire,
      data: new Uint8Array(b.buffer, b.byteOffset + p + 12, caplen),
    });
  }
}

function joinParts(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}
