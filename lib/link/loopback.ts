/**
 * BSD loopback encapsulations: LINKTYPE_NULL (0, AF in host byte order) and
 * LINKTYPE_LOOP (108, AF in network byte order). Both byte orders are accepted for both.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { u32, u32le } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { BSD_AF } from "./registries.ts";

/** 4-byte loopback header. */
export interface LoopbackLayer extends LayerBase {
  layer: "loopback";
  /** 0 (NULL) or 108 (LOOP). */
  linkType: number;
  family: number;
  familyName: string;
  /** True when the AF value was stored big-endian. */
  bigEndian: boolean;
  /** Network protocol implied by the family, or null. */
  net: "ipv4" | "ipv6" | null;
  payloadOffset: number;
  payloadEnd: number;
}

/** Map a BSD AF value to the network layer it carries. */
export function bsdAfNet(af: number): "ipv4" | "ipv6" | null {
  if (af === 2) return "ipv4";
  if (af === 24 || af === 28 || af === 30) return "ipv6";
  return null;
}

/** Decode a NULL/LOOP header. */
export function decodeLoopback(b: Uint8Array, off: number, end: number, an: Anomaly[], linkType = 0): LoopbackLayer | null {
  if (end > b.length) end = b.length;
  if (off + 4 > end) return anomaly(an, "loopback", off, truncated(4, end - off));
  // AF values are small: whichever end holds the non-zero low bytes is the byte order.
  const be = b[off] === 0 && b[off + 1] === 0 && (b[off + 2] !== 0 || b[off + 3] !== 0 || linkType === 108);
  const af = be ? u32(b, off) : u32le(b, off);
  const net = bsdAfNet(af);
  return {
    layer: "loopback", offset: off, length: 4, linkType, family: af, familyName: BSD_AF.name(af), bigEndian: be,
    net, payloadOffset: off + 4, payloadEnd: end,
  };
}
