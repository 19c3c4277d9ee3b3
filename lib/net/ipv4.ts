/**
 * IPv4 header (RFC 791) with options, flags, fragment offset and header checksum.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { ipv4Text, u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { ipv4HeaderChecksumOk } from "./checksum.ts";
import { IP_PROTOCOLS, IPV4_OPTIONS } from "./registries.ts";

/** One timestamp entry of the Timestamp option. */
export interface Ipv4TimestampEntry {
  address?: string;
  timestamp: number;
}

/** One parsed IPv4 option. */
export interface Ipv4Option {
  /** Whole option-type byte (copied flag, class, number). */
  type: number;
  name: string;
  offset: number;
  /** Bytes the option spans (1 for EOL/NOP). */
  length: number;
  /** Copied-on-fragmentation flag. */
  copied: boolean;
  /** Option data after type and length (unknown options). */
  data?: Uint8Array;
  /** RR/LSRR/SSRR/TS pointer. */
  pointer?: number;
  /** RR/LSRR/SSRR route data addresses. */
  addresses?: string[];
  /** TS: overflow count and flag. */
  overflow?: number;
  flag?: number;
  timestamps?: Ipv4TimestampEntry[];
  /** Router Alert value. */
  routerAlert?: number;
}

/** Decoded IPv4 header. */
export interface Ipv4Layer extends LayerBase {
  layer: "ipv4";
  version: number;
  /** Header length in bytes (IHL * 4). */
  headerLength: number;
  dscp: number;
  ecn: number;
  totalLength: number;
  id: number;
  /** Raw 3 flag bits (0x4 reserved, 0x2 DF, 0x1 MF). */
  flags: number;
  reservedFlag: boolean;
  df: boolean;
  mf: boolean;
  /** Fragment offset in bytes (the wire field times 8). */
  fragOffset: number;
  ttl: number;
  proto: number;
  protoName: string;
  checksum: number;
  /** Header checksum verifies; null when the header was not fully captured. */
  checksumOk: boolean | null;
  src: string;
  dst: string;
  options: readonly Ipv4Option[];
  /** Start and end of the captured payload (end clamps to the total length and to the capture). */
  payloadOffset: number;
  payloadEnd: number;
  /** Total length claims more than was captured. */
  truncated: boolean;
}

const NO_OPTIONS: readonly Ipv4Option[] = Object.freeze([]) as readonly Ipv4Option[];

/** Parse the options area `b[o..end)`. */
export function parseIpv4Options(b: Uint8Array, o: number, end: number, an: Anomaly[]): Ipv4Option[] {
  const out: Ipv4Option[] = [];
  while (o < end) {
    const t = b[o];
    if (t === 0 || t === 1) {
      out.push({ type: t, name: IPV4_OPTIONS.name(t), offset: o, length: 1, copied: false });
      o++;
      if (t === 0) break; // EOL: the rest is padding
      continue;
    }
    if (o + 2 > end) {
      anomaly(an, "ipv4.option", o, `option ${IPV4_OPTIONS.name(t)} length byte missing`);
      break;
    }
    const len = b[o + 1];
    if (len < 2) {
      anomaly(an, "ipv4.option", o + 1, `option ${IPV4_OPTIONS.name(t)} has length ${len} < 2`);
      break;
    }
    if (o + len > end) {
      anomaly(an, "ipv4.option", o, `option ${IPV4_OPTIONS.name(t)} ` + truncated(len, end - o));
      break;
    }
    const opt: Ipv4Option = { type: t, name: IPV4_OPTIONS.name(t), offset: o, length: len, copied: (t & 0x80) !== 0 };
    const e = o + len;
    if (t === 7 || t === 131 || t === 137) {
      if (len < 3) anomaly(an, "ipv4.option", o, `${opt.name} length ${len} < 3`);
      else {
        opt.pointer = b[o + 2];
        if ((len - 3) % 4 !== 0) anomaly(an, "ipv4.option", o, `${opt.name} route data length ${len - 3} is not a multiple of 4`);
        if (opt.pointer < 4) anomaly(an, "ipv4.option", o + 2, `${opt.name} pointer ${opt.pointer} < 4`);
        const a: string[] = [];
        for (let p = o + 3; p + 4 <= e; p += 4) a.push(ipv4Text(b, p));
        opt.addresses = a;
      }
    } else if (t === 68) {
      if (len < 4) anomaly(an, "ipv4.option", o, `TS length ${len} < 4`);
      else {
        opt.pointer = b[o + 2];
        opt.overflow = b[o + 3] >>> 4;
        opt.flag = b[o + 3] & 0x0f;
        const withAddr = opt.flag === 1 || opt.flag === 3;
        const step = withAddr ? 8 : 4;
        if ((len - 4) % step !== 0) anomaly(an, "ipv4.option", o, `TS data length ${len - 4} is not a multiple of ${step}`);
        if (opt.flag !== 0 && opt.flag !== 1 && opt.flag !== 3) anomaly(an, "ipv4.option", o + 3, `TS flag ${opt.flag} is undefined`);
        const ts: Ipv4TimestampEntry[] = [];
        for (let p = o + 4; p + step <= e; p += step) {
          ts.push(withAddr ? { address: ipv4Text(b, p), timestamp: u32(b, p + 4) } : { timestamp: u32(b, p) });
        }
        opt.timestamps = ts;
      }
    } else if (t === 148) {
      if (len !== 4) anomaly(an, "ipv4.option", o, `Router Alert length ${len} != 4`);
      if (len >= 4) opt.routerAlert = u16(b, o + 2);
    } else {
      opt.data = b.subarray(o + 2, e);
    }
    out.push(opt);
    o = e;
  }
  return out;
}

/**
 * Decode an IPv4 header at `b[off..end)`.
 * `quoted`: the header sits inside an ICMP/ICMPv6 error, where truncation is normal: it is
 * then flagged (`truncated`) but not reported as an anomaly.
 */
export function decodeIpv4(b: Uint8Array, off: number, end: number, an: Anomaly[], quoted = false): Ipv4Layer | null {
  if (end > b.length) end = b.length;
  if (off + 20 > end) return anomaly(an, "ipv4", off, truncated(20, end - off));
  const v = b[off] >>> 4;
  if (v !== 4) return anomaly(an, "ipv4", off, `version ${v} is not 4`);
  let hl = (b[off] & 0x0f) * 4;
  const total = u16(b, off + 2);
  const fl = u16(b, off + 6);
  const proto = b[off + 9];
  const layer: Ipv4Layer = {
    layer: "ipv4", offset: off, length: hl, version: 4, headerLength: hl, dscp: b[off + 1] >>> 2, ecn: b[off + 1] & 3,
    totalLength: total, id: u16(b, off + 4), flags: fl >>> 13, reservedFlag: (fl & 0x8000) !== 0,
    df: (fl & 0x4000) !== 0, mf: (fl & 0x2000) !== 0, fragOffset: (fl & 0x1fff) * 8, ttl: b[off + 8], proto,
    protoName: IP_PROTOCOLS.name(proto), checksum: u16(b, off + 10), checksumOk: null,
    src: ipv4Text(b, off + 12), dst: ipv4Text(b, off + 16), options: NO_OPTIONS,
    payloadOffset: off + hl, payloadEnd: end, truncated: false,
  };
  if (hl < 20) {
    anomaly(an, "ipv4", off, `header length ${hl} < 20`);
    hl = 20;
    layer.length = 20;
    layer.payloadOffset = layer.payloadEnd = off + 20;
    return layer;
  }
  if (off + hl > end) {
    anomaly(an, "ipv4", off, "header " + truncated(hl, end - off));
    layer.truncated = true;
    if (off + 20 < end) layer.options = parseIpv4Options(b, off + 20, end, an);
    layer.payloadOffset = layer.payloadEnd = end;
    return layer;
  }
  layer.checksumOk = ipv4HeaderChecksumOk(b, off, hl);
  if (!layer.checksumOk) anomaly(an, "ipv4", off + 10, `bad header checksum 0x${layer.checksum.toString(16).padStart(4, "0")}`);
  if (hl > 20) layer.options = parseIpv4Options(b, off + 20, off + hl, an);
  if (layer.reservedFlag) anomaly(an, "ipv4", off + 6, "reserved flag bit is set");
  if (total === 0) {
    // TCP segmentation offload captures: total length left at 0.
    anomaly(an, "ipv4", off + 2, "total length 0 (segmentation offload?); using captured length");
  } else if (total < hl) {
    anomaly(an, "ipv4", off + 2, `total length ${total} < header length ${hl}`);
    layer.payloadEnd = off + hl;
  } else if (off + total > end) {
    if (!quoted) anomaly(an, "ipv4", off + 2, "payload " + truncated(total, end - off));
    layer.truncated = true;
  } else {
    layer.payloadEnd = off + total;
  }
  return layer;
}

/** Reassembly key for an IPv4 fragment (src, dst, protocol, id). */
export function ipv4FragmentKey(l: Ipv4Layer): string {
  return `4|${l.src}|${l.dst}|${l.proto}|${l.id}`;
}

/** True when the header says this is a fragment (MF set or non-zero offset). */
export function isIpv4Fragment(l: Ipv4Layer): boolean {
  return l.mf || l.fragOffset !== 0;
}
