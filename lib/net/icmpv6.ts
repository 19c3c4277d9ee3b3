/**
 * ICMPv6 (RFC 4443, RFC 4861): type/code names, echo id/seq, Packet Too Big MTU,
 * Parameter Problem pointer, neighbour-discovery target, and where the embedded original
 * packet starts in error messages.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { ipv6Text, u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { transportChecksumOk } from "./checksum.ts";
import { ICMPV6_TYPES, icmpv6CodeName } from "./registries.ts";

/** Decoded ICMPv6 message header. */
export interface Icmpv6Layer extends LayerBase {
  layer: "icmpv6";
  type: number;
  typeName: string;
  code: number;
  codeName: string;
  checksum: number;
  /** Checksum (with pseudo-header) verifies; null when not checked (no IP header given or truncated). */
  checksumOk: boolean | null;
  id?: number;
  seq?: number;
  /** Packet Too Big: MTU. */
  mtu?: number;
  /** Parameter Problem: pointer. */
  pointer?: number;
  /** Neighbor Solicitation/Advertisement, Redirect: target address. */
  target?: string;
  /** Neighbor Advertisement flags (R, S, O as bits 0x80, 0x40, 0x20). */
  naFlags?: number;
  /** Error messages: offset of the embedded original IPv6 header. */
  embeddedOffset?: number;
  payloadOffset: number;
  payloadEnd: number;
}

/**
 * Decode an ICMPv6 message at `b[off..end)`. When `ipOff` (offset of the enclosing IPv6 header)
 * is given and `complete` is true, the checksum is verified.
 */
export function decodeIcmpv6(b: Uint8Array, off: number, end: number, an: Anomaly[], ipOff = -1, complete = true): Icmpv6Layer | null {
  if (end > b.length) end = b.length;
  if (off + 4 > end) return anomaly(an, "icmpv6", off, truncated(4, end - off));
  const type = b[off], code = b[off + 1];
  const l: Icmpv6Layer = {
    layer: "icmpv6", offset: off, length: 4, type, typeName: ICMPV6_TYPES.name(type), code,
    codeName: icmpv6CodeName(type, code), checksum: u16(b, off + 2), checksumOk: null,
    payloadOffset: off + 4, payloadEnd: end,
  };
  if (complete && ipOff >= 0 && ipOff + 40 <= off && b[ipOff] >>> 4 === 6) {
    l.checksumOk = transportChecksumOk(b, ipOff, 58, off, end);
    if (!l.checksumOk) anomaly(an, "icmpv6", off + 2, `bad checksum 0x${l.checksum.toString(16).padStart(4, "0")}`);
  }
  const body = off + 8 <= end;
  if (type < 128 || type === 128 || type === 129 || (type >= 133 && type <= 137)) {
    if (!body) {
      anomaly(an, "icmpv6", off + 4, `${l.typeName} ` + truncated(4, end - off - 4));
      return l;
    }
    l.length = 8;
    l.payloadOffset = off + 8;
  }
  switch (type) {
    case 1: case 3:
      break;
    case 2:
      l.mtu = u32(b, off + 4);
      if (l.mtu < 1280) anomaly(an, "icmpv6", off + 4, `Packet Too Big MTU ${l.mtu} < 1280`);
      break;
    case 4:
      l.pointer = u32(b, off + 4);
      break;
    case 128: case 129:
      l.id = u16(b, off + 4);
      l.seq = u16(b, off + 6);
      break;
    case 135: case 136: case 137:
      if (type === 136) l.naFlags = b[off + 4] & 0xe0;
      if (off + 24 <= end) {
        l.target = ipv6Text(b, off + 8);
        l.length = 24;
        l.payloadOffset = off + 24;
      } else anomaly(an, "icmpv6", off + 8, "target address " + truncated(16, end - off - 8));
      break;
  }
  if (type < 128 && type >= 1 && type <= 4) {
    l.embeddedOffset = off + 8;
    if (off + 8 + 40 > end) anomaly(an, "icmpv6", off + 8, "embedded IPv6 header " + truncated(40, end - off - 8));
  }
  return l;
}
