/**
 * TCP header (RFC 9293) with options: MSS, Window Scale, SACK-permitted, SACK, Timestamps
 * (others kept as raw data). Flags are also given as tcpdump's text, e.g. "[S.]".
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { transportChecksumOk } from "./checksum.ts";
import { TCP_OPTIONS } from "./registries.ts";

/** TCP flag bits (in the 12-bit field after the data offset). */
export const TCP_FIN = 0x001, TCP_SYN = 0x002, TCP_RST = 0x004, TCP_PSH = 0x008, TCP_ACK = 0x010,
  TCP_URG = 0x020, TCP_ECE = 0x040, TCP_CWR = 0x080, TCP_AE = 0x100;

/** One parsed TCP option. */
export interface TcpOption {
  kind: number;
  name: string;
  offset: number;
  length: number;
  mss?: number;
  windowScale?: number;
  sack?: { left: number; right: number }[];
  tsVal?: number;
  tsEcr?: number;
  data?: Uint8Array;
}

/** Decoded TCP header. */
export interface TcpLayer extends LayerBase {
  layer: "tcp";
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes (data offset * 4). */
  headerLength: number;
  /** Flag bits (9 bits: AE/NS, CWR, ECE, URG, ACK, PSH, RST, SYN, FIN). */
  flags: number;
  /** tcpdump-style flags, e.g. "[S.]", "[P.]", "[none]". */
  flagsText: string;
  window: number;
  checksum: number;
  urgentPointer: number;
  options: readonly TcpOption[];
  payloadOffset: number;
  payloadEnd: number;
  /** Header not fully captured (only possible fields filled; e.g. quoted in an ICMP error). */
  truncated?: boolean;
}

// tcpdump's flag letters, in its print order.
const FLAG_LETTERS: [number, string][] = [
  [TCP_FIN, "F"], [TCP_SYN, "S"], [TCP_RST, "R"], [TCP_PSH, "P"], [TCP_ACK, "."], [TCP_URG, "U"],
  [TCP_ECE, "E"], [TCP_CWR, "W"], [TCP_AE, "e"],
];
const FLAGS_TEXT: string[] = [];
for (let f = 0; f < 512; f++) {
  let s = "";
  for (const [bit, c] of FLAG_LETTERS) if (f & bit) s += c;
  FLAGS_TEXT[f] = `[${s || "none"}]`;
}

/** tcpdump-style text for a flag value (precomputed; no per-packet string building). */
export function tcpFlagsText(flags: number): string {
  return FLAGS_TEXT[flags & 0x1ff];
}

const NO_OPTIONS: readonly TcpOption[] = Object.freeze([]) as readonly TcpOption[];

function want(an: Anomaly[], o: number, name: string, len: number, need: number): boolean {
  if (len === need) return true;
  anomaly(an, "tcp.option", o, `${name} length ${len} != ${need}`);
  return false;
}

/** Parse TCP options `b[o..end)`. */
export function parseTcpOptions(b: Uint8Array, o: number, end: number, an: Anomaly[]): TcpOption[] {
  const out: TcpOption[] = [];
  while (o < end) {
    const k = b[o];
    if (k === 0 || k === 1) {
      out.push({ kind: k, name: TCP_OPTIONS.name(k), offset: o, length: 1 });
      o++;
      if (k === 0) break;
      continue;
    }
    if (o + 2 > end) {
      anomaly(an, "tcp.option", o, `option ${TCP_OPTIONS.name(k)} length byte missing`);
      break;
    }
    const len = b[o + 1];
    if (len < 2) {
      anomaly(an, "tcp.option", o + 1, `option ${TCP_OPTIONS.name(k)} has length ${len} < 2`);
      break;
    }
    if (o + len > end) {
      anomaly(an, "tcp.option", o, `option ${TCP_OPTIONS.name(k)} ` + truncated(len, end - o));
      break;
    }
    const opt: TcpOption = { kind: k, name: TCP_OPTIONS.name(k), offset: o, length: len };
    switch (k) {
      case 2:
        if (want(an, o, "MSS", len, 4)) opt.mss = u16(b, o + 2);
        break;
      case 3:
        if (want(an, o, "WS", len, 3)) {
          opt.windowScale = b[o + 2];
          if (opt.windowScale > 14) anomaly(an, "tcp.option", o + 2, `window scale ${opt.windowScale} > 14`);
        }
        break;
      case 4:
        want(an, o, "SACK_PERM", len, 2);
        break;
      case 5: {
        if ((len - 2) % 8 !== 0 || len < 10) anomaly(an, "tcp.option", o, `SACK length ${len} is not 2 + 8n (n >= 1)`);
        const s: { left: number; right: number }[] = [];
        for (let p = o + 2; p + 8 <= o + len; p += 8) s.push({ left: u32(b, p), right: u32(b, p + 4) });
        opt.sack = s;
        break;
      }
      case 8:
        if (want(an, o, "TS", len, 10)) {
          opt.tsVal = u32(b, o + 2);
          opt.tsEcr = u32(b, o + 6);
        }
        break;
      default:
        opt.data = b.subarray(o + 2, o + len);
    }
    out.push(opt);
    o += len;
  }
  return out;
}

/**
 * Decode a TCP header at `b[off..end)`.
 * `quoted`: the header sits inside an ICMP/ICMPv6 error, where truncation is normal: it is
 * then still returned (ports and sequence number need only 8 bytes) but not reported as an anomaly.
 */
export function decodeTcp(b: Uint8Array, off: number, end: number, an: Anomaly[], quoted = false): TcpLayer | null {
  if (end > b.length) end = b.length;
  if (off + 20 > end) {
    if (!quoted || off + 8 > end) return anomaly(an, "tcp", off, truncated(20, end - off));
    // Quoted in an ICMP error: often only the first 8 bytes (ports, sequence number).
    const has12 = off + 12 <= end;
    return {
      layer: "tcp", offset: off, length: end - off, srcPort: u16(b, off), dstPort: u16(b, off + 2), seq: u32(b, off + 4),
      ack: has12 ? u32(b, off + 8) : 0, headerLength: 0, flags: 0, flagsText: FLAGS_TEXT[0], window: 0, checksum: 0,
      urgentPointer: 0, options: NO_OPTIONS, payloadOffset: end, payloadEnd: end, truncated: true,
    };
  }
  let hl = (b[off + 12] >>> 4) * 4;
  const flags = u16(b, off + 12) & 0x1ff;
  const l: TcpLayer = {
    layer: "tcp", offset: off, length: hl, srcPort: u16(b, off), dstPort: u16(b, off + 2), seq: u32(b, off + 4),
    ack: u32(b, off + 8), headerLength: hl, flags, flagsText: FLAGS_TEXT[flags], window: u16(b, off + 14),
    checksum: u16(b, off + 16), urgentPointer: u16(b, off + 18), options: NO_OPTIONS, payloadOffset: off + hl, payloadEnd: end,
  };
  if ((b[off + 12] & 0x0e) !== 0) anomaly(an, "tcp", off + 12, "reserved bits are set");
  if (hl < 20) {
    anomaly(an, "tcp", off + 12, `data offset ${hl} bytes < 20`);
    hl = 20;
    l.length = 20;
    l.payloadOffset = off + 20;
    return l;
  }
  if (off + hl > end) {
    l.truncated = true;
    if (!quoted) anomaly(an, "tcp", off + 12, "header " + truncated(hl, end - off));
    if (off + 20 < end) l.options = parseTcpOptions(b, off + 20, end, an);
    l.payloadOffset = end;
    return l;
  }
  if (hl > 20) l.options = parseTcpOptions(b, off + 20, off + hl, an);
  return l;
}

/** Verify the TCP checksum of the segment `b[tcp.offset..segEnd)` against the IP header at `ipOff`. */
export function tcpChecksumOk(b: Uint8Array, ipOff: number, tcp: TcpLayer, segEnd: number): boolean {
  return transportChecksumOk(b, ipOff, 6, tcp.offset, segEnd);
}
