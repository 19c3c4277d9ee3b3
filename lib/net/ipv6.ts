/**
 * IPv6 fixed header (RFC 8200) and its extension-header chain: Hop-by-Hop (0), Routing (43),
 * Fragment (44), Destination Options (60), Mobility (135), HIP (139), Shim6 (140) and the
 * experimental 253/254. The walk stops at AH (51), ESP (50), No Next Header (59), after a
 * non-first fragment, or at any upper-layer protocol; the chain length is bounded.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { ipv6Text, u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { IP_PROTOCOLS, IPV6_OPTIONS, IPV6_ROUTING_TYPES } from "./registries.ts";

/** One Hop-by-Hop / Destination option. */
export interface Ipv6Option {
  type: number;
  name: string;
  offset: number;
  /** Bytes spanned including type and length (1 for Pad1). */
  length: number;
  data?: Uint8Array;
  routerAlert?: number;
  jumboLength?: number;
  tunnelEncapLimit?: number;
}

/** One extension header. */
export interface Ipv6ExtHeader {
  type: number;
  name: string;
  offset: number;
  /** Bytes spanned by the header. */
  length: number;
  nextHeader: number;
  nextHeaderName: string;
  /** Hop-by-Hop and Destination Options. */
  options?: Ipv6Option[];
  /** Routing header. */
  routingType?: number;
  routingTypeName?: string;
  segmentsLeft?: number;
  addresses?: string[];
  /** Fragment header: offset in bytes, More Fragments, identification. */
  fragOffset?: number;
  more?: boolean;
  id?: number;
  /** Body bytes (after the first two bytes) for headers not parsed further. */
  data?: Uint8Array;
}

/** Fragment header summary. */
export interface Ipv6Fragment {
  /** Offset in bytes. */
  offset: number;
  more: boolean;
  id: number;
}

/** Decoded IPv6 header and extension-header chain. */
export interface Ipv6Layer extends LayerBase {
  layer: "ipv6";
  version: number;
  trafficClass: number;
  dscp: number;
  ecn: number;
  flowLabel: number;
  payloadLength: number;
  /** Next Header value of the fixed header. */
  headerNextHeader: number;
  hopLimit: number;
  src: string;
  dst: string;
  extHeaders: readonly Ipv6ExtHeader[];
  fragment?: Ipv6Fragment;
  /** Protocol of the bytes at `payloadOffset` (after the chain), with its name. */
  nextHeader: number;
  nextHeaderName: string;
  payloadOffset: number;
  payloadEnd: number;
  /** Payload length claims more than was captured. */
  truncated: boolean;
}

/** Maximum extension headers walked before giving up. */
export const MAX_IPV6_EXT_HEADERS = 16;

const NO_EXT: readonly Ipv6ExtHeader[] = Object.freeze([]) as readonly Ipv6ExtHeader[];

/** True for Next Header values that use the generic extension-header layout. */
export function isIpv6ExtHeader(nh: number): boolean {
  return nh === 0 || nh === 43 || nh === 44 || nh === 60 || nh === 135 || nh === 139 || nh === 140 || nh === 253 || nh === 254;
}

/** Parse the TLV options of a Hop-by-Hop / Destination Options header body `b[o..end)`. */
export function parseIpv6Options(b: Uint8Array, o: number, end: number, an: Anomaly[]): Ipv6Option[] {
  const out: Ipv6Option[] = [];
  while (o < end) {
    const t = b[o];
    if (t === 0) {
      out.push({ type: 0, name: "Pad1", offset: o, length: 1 });
      o++;
      continue;
    }
    if (o + 2 > end) {
      anomaly(an, "ipv6.option", o, `option ${IPV6_OPTIONS.name(t)} length byte missing`);
      break;
    }
    const len = b[o + 1] + 2;
    if (o + len > end) {
      anomaly(an, "ipv6.option", o, `option ${IPV6_OPTIONS.name(t)} ` + truncated(len, end - o));
      break;
    }
    const opt: Ipv6Option = { type: t, name: IPV6_OPTIONS.name(t), offset: o, length: len };
    if (t === 0x05) {
      if (len !== 4) anomaly(an, "ipv6.option", o, `Router Alert data length ${len - 2} != 2`);
      if (len >= 4) opt.routerAlert = u16(b, o + 2);
    } else if (t === 0xc2) {
      if (len !== 6) anomaly(an, "ipv6.option", o, `Jumbo Payload data length ${len - 2} != 4`);
      if (len >= 6) opt.jumboLength = u32(b, o + 2);
    } else if (t === 0x04) {
      if (len >= 3) opt.tunnelEncapLimit = b[o + 2];
    } else if (t !== 0x01) {
      opt.data = b.subarray(o + 2, o + len);
    }
    out.push(opt);
    o += len;
  }
  return out;
}

/**
 * Decode an IPv6 header and its extension headers at `b[off..end)`.
 * `quoted`: the header sits inside an ICMP/ICMPv6 error, where truncation is normal: it is
 * then flagged (`truncated`) but not reported as an anomaly.
 */
export function decodeIpv6(b: Uint8Array, off: number, end: number, an: Anomaly[], quoted = false): Ipv6Layer | null {
  if (end > b.length) end = b.length;
  if (off + 40 > end) return anomaly(an, "ipv6", off, truncated(40, end - off));
  const v = b[off] >>> 4;
  if (v !== 6) return anomaly(an, "ipv6", off, `version ${v} is not 6`);
  const tc = ((b[off] & 0x0f) << 4) | (b[off + 1] >>> 4);
  const plen = u16(b, off + 4);
  const nh0 = b[off + 6];
  const l: Ipv6Layer = {
    layer: "ipv6", offset: off, length: 40, version: 6, trafficClass: tc, dscp: tc >>> 2, ecn: tc & 3,
    flowLabel: ((b[off + 1] & 0x0f) << 16) | u16(b, off + 2), payloadLength: plen, headerNextHeader: nh0,
    hopLimit: b[off + 7], src: ipv6Text(b, off + 8), dst: ipv6Text(b, off + 24), extHeaders: NO_EXT,
    nextHeader: nh0, nextHeaderName: "", payloadOffset: off + 40, payloadEnd: end, truncated: false,
  };
  // Payload end: from the payload length (jumbograms fixed up below).
  let pe = end;
  if (plen !== 0) {
    if (off + 40 + plen > end) {
      if (!quoted) anomaly(an, "ipv6", off + 4, "payload " + truncated(plen, end - off - 40));
      l.truncated = true;
    } else pe = off + 40 + plen;
  }
  let nh = nh0;
  let o = off + 40;
  if (isIpv6ExtHeader(nh)) {
    const ext: Ipv6ExtHeader[] = [];
    l.extHeaders = ext;
    while (isIpv6ExtHeader(nh)) {
      if (ext.length >= MAX_IPV6_EXT_HEADERS) {
        anomaly(an, "ipv6", o, `more than ${MAX_IPV6_EXT_HEADERS} extension headers; stopped`);
        break;
      }
      const hlen = nh === 44 ? 8 : o + 2 <= pe ? (b[o + 1] + 1) * 8 : 8;
      if (o + hlen > pe) {
        anomaly(an, "ipv6", o, `${IP_PROTOCOLS.name(nh)} header ` + truncated(hlen, pe - o));
        break;
      }
      const next = b[o];
      const h: Ipv6ExtHeader = {
        type: nh, name: IP_PROTOCOLS.name(nh), offset: o, length: hlen, nextHeader: next, nextHeaderName: IP_PROTOCOLS.name(next),
      };
      ext.push(h);
      if (nh === 0) {
        if (o !== off + 40) anomaly(an, "ipv6", o, "Hop-by-Hop Options header is not first");
        h.options = parseIpv6Options(b, o + 2, o + hlen, an);
        for (const op of h.options) {
          if (op.jumboLength === undefined) continue;
          if (plen !== 0) anomaly(an, "ipv6", op.offset, "Jumbo Payload option with a non-zero payload length");
          else if (off + 40 + op.jumboLength > end) {
            anomaly(an, "ipv6", op.offset, "jumbogram " + truncated(op.jumboLength, end - off - 40));
            l.truncated = true;
          } else pe = off + 40 + op.jumboLength;
        }
      } else if (nh === 60) {
        h.options = parseIpv6Options(b, o + 2, o + hlen, an);
      } else if (nh === 43) {
        const rt = b[o + 2];
        h.routingType = rt;
        h.routingTypeName = IPV6_ROUTING_TYPES.name(rt);
        h.segmentsLeft = b[o + 3];
        if (rt === 0 || rt === 2 || rt === 4) {
          const a: string[] = [];
          for (let p = o + 8; p + 16 <= o + hlen; p += 16) a.push(ipv6Text(b, p));
          h.addresses = a;
        }
        h.data = b.subarray(o + 4, o + hlen);
      } else if (nh === 44) {
        const fo = u16(b, o + 2);
        const frag: Ipv6Fragment = { offset: fo & 0xfff8, more: (fo & 1) !== 0, id: u32(b, o + 4) };
        h.fragOffset = frag.offset;
        h.more = frag.more;
        h.id = frag.id;
        if (l.fragment) anomaly(an, "ipv6", o, "more than one Fragment header");
        else l.fragment = frag;
        nh = next;
        o += hlen;
        if (frag.offset !== 0) break; // the rest is the middle of the fragmented payload
        continue;
      } else {
        h.data = b.subarray(o + 2, o + hlen);
      }
      nh = next;
      o += hlen;
    }
  }
  if (plen === 0 && pe === end && !(l.extHeaders.length > 0 && l.extHeaders[0].options?.some((x) => x.jumboLength !== undefined))) {
    if (end > off + 40 || nh !== 59) anomaly(an, "ipv6", off + 4, "payload length 0 without a Jumbo Payload option; using captured length");
  }
  l.nextHeader = nh;
  l.nextHeaderName = IP_PROTOCOLS.name(nh);
  l.length = o - off;
  l.payloadOffset = o;
  l.payloadEnd = pe < o ? o : pe;
  return l;
}

/** Reassembly key for an IPv6 fragment (src, dst, id; RFC 8200 has no protocol in the key). */
export function ipv6FragmentKey(l: Ipv6Layer): string {
  return `6|${l.src}|${l.dst}|${l.fragment ? l.fragment.id : 0}`;
}
