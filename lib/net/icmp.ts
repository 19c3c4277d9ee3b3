/**
 * ICMP for IPv4 (RFC 792, RFC 1191): type/code names, echo id/seq, the "fragmentation needed"
 * next-hop MTU, redirect gateway, parameter-problem pointer, and where the embedded original
 * datagram starts in error messages.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { ipv4Text, u16 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { foldComplement, onesSum } from "./checksum.ts";
import { ICMP_TYPES, icmpCodeName } from "./registries.ts";

/** Decoded ICMP message header. */
export interface IcmpLayer extends LayerBase {
  layer: "icmp";
  type: number;
  typeName: string;
  code: number;
  codeName: string;
  checksum: number;
  /** Checksum over the whole message verifies; null when the message was not fully captured. */
  checksumOk: boolean | null;
  /** Echo / timestamp / information / address-mask identifier and sequence number. */
  id?: number;
  seq?: number;
  /** Destination Unreachable / Fragmentation Needed: next-hop MTU (RFC 1191; 0 = old router). */
  mtu?: number;
  /** Redirect: gateway address. */
  gateway?: string;
  /** Parameter Problem: pointer. */
  pointer?: number;
  /** Error messages: offset of the embedded original IP header. */
  embeddedOffset?: number;
  payloadOffset: number;
  payloadEnd: number;
}

/** True for ICMP error types that embed the original datagram. */
export function isIcmpError(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12 || type === 31 || type === 40;
}

/**
 * Decode an ICMP message at `b[off..end)`. `complete` says whether `end` is the real end
 * of the message (false when the IP datagram was truncated or is a fragment): the checksum is
 * then not checked.
 */
export function decodeIcmp(b: Uint8Array, off: number, end: number, an: Anomaly[], complete = true): IcmpLayer | null {
  if (end > b.length) end = b.length;
  if (off + 8 > end) return anomaly(an, "icmp", off, truncated(8, end - off));
  const type = b[off], code = b[off + 1];
  const l: IcmpLayer = {
    layer: "icmp", offset: off, length: 8, type, typeName: ICMP_TYPES.name(type), code, codeName: icmpCodeName(type, code),
    checksum: u16(b, off + 2), checksumOk: null, payloadOffset: off + 8, payloadEnd: end,
  };
  if (complete) {
    l.checksumOk = foldComplement(onesSum(b, off, end)) === 0;
    if (!l.checksumOk) anomaly(an, "icmp", off + 2, `bad checksum 0x${l.checksum.toString(16).padStart(4, "0")}`);
  }
  switch (type) {
    case 0: case 8: case 13: case 14: case 15: case 16: case 17: case 18:
      l.id = u16(b, off + 4);
      l.seq = u16(b, off + 6);
      break;
    case 3:
      if (code === 4) l.mtu = u16(b, off + 6);
      break;
    case 5:
      l.gateway = ipv4Text(b, off + 4);
      break;
    case 12:
      l.pointer = b[off + 4];
      break;
  }
  if (isIcmpError(type)) {
    l.embeddedOffset = off + 8;
    if (off + 8 + 20 > end) anomaly(an, "icmp", off + 8, "embedded IP header " + truncated(20, end - off - 8));
  }
  return l;
}
