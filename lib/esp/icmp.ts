/**
 * ICMP "packet too big" for the tunnel ingress: when an inner packet does not fit the
 * tunnel MTU, the engine drops it, counts `tooBig`, and may write the message built here
 * back into the TUN device so the sender lowers its path MTU (RFC 1191 / RFC 8201).
 *
 * - IPv4: ICMP type 3 code 4 "fragmentation needed and DF set" with the next-hop MTU
 *   (RFC 1191 §4), quoting the original IP header and as much of the datagram as keeps the
 *   error within 576 bytes (RFC 1812 §4.3.2.3; RFC 792's minimum is header + 8 bytes).
 * - IPv6: ICMPv6 type 2 "Packet Too Big" with a 32-bit MTU, quoting as much of the original
 *   as fits in the IPv6 minimum MTU of 1280 bytes (RFC 4443 §2.4(c), §3.2).
 *
 * Source address choice: the error is addressed TO the inner packet's source. It comes FROM
 * `opts.localAddress` (the tunnel's local inner address) when given. Otherwise it comes from
 * the inner packet's destination: the sender's PMTU code matches the quoted header, not the
 * error's source, and this avoids inventing an address; but it means the error claims to
 * come from the far end, so pass `localAddress` whenever the tunnel has one.
 *
 * Returns null (no error may be sent) for: unparseable packets; IPv4 without DF (the packet
 * should be fragmented instead); IPv4 non-initial fragments; ICMP/ICMPv6 error messages
 * themselves (RFC 1122 §3.2.2, RFC 4443 §2.4(e.1)); sources that do not name one host
 * (unspecified, multicast, IPv4 broadcast/loopback/class E); IPv4 multicast/broadcast
 * destinations (RFC 1122 §3.2.2); an IPv6 multicast destination with no localAddress
 * (RFC 4443 allows Packet Too Big for multicast, but the source must be unicast).
 * Rate limiting (RFC 4443 §2.4(f)) is the caller's job.
 * @module
 */

import { putU16, putU32, u16 } from "../core/bytes.ts";

export interface IcmpTooBigOptions {
  /** Source address of the error (4 bytes for IPv4, 16 for IPv6): the tunnel's local inner address. */
  localAddress?: Uint8Array;
  /** TTL / hop limit of the error. Default 64. */
  ttl?: number;
}

/** RFC 1071 one's-complement sum of `b[start, end)` folded into 16 bits, starting from `sum`. */
function sum16(b: Uint8Array, start: number, end: number, sum = 0): number {
  let i = start;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Internet checksum (RFC 1071) of `b[start, end)`, with an optional initial sum (pseudo-header). */
export function internetChecksum(b: Uint8Array, start = 0, end = b.length, initial = 0): number {
  return ~sum16(b, start, end, initial) & 0xffff;
}

/** ICMPv4 types that are NOT error messages (RFC 792, RFC 950, RFC 1256). */
const ICMP4_INFO = new Set([0, 8, 9, 10, 13, 14, 15, 16, 17, 18]);

function v4Unicast(b: Uint8Array, o: number): boolean {
  const a = b[o];
  if (a === 0 || a === 127 || a >= 224) return false; // this-network, loopback, multicast, class E, broadcast
  return true;
}

export function buildIcmpTooBig(inner: Uint8Array, mtu: number, opts: IcmpTooBigOptions = {}): Uint8Array | null {
  if (inner.length < 1 || !Number.isFinite(mtu) || mtu < 0) return null;
  const v = inner[0] >> 4;
  if (v === 4) return tooBig4(inner, Math.min(Math.floor(mtu), 0xffff), opts);
  if (v === 6) return tooBig6(inner, Math.min(Math.floor(mtu), 0xffffffff), opts);
  return null;
}

function tooBig4(p: Uint8Array, mtu: number, opts: IcmpTooBigOptions): Uint8Array | null {
  if (p.length < 20) return null;
  const ihl = (p[0] & 15) * 4;
  if (ihl < 20 || p.length < ihl) return null;
  const flagsFrag = u16(p, 6);
  if ((flagsFrag & 0x4000) === 0) return null; // DF clear: fragment, don't complain
  if ((flagsFrag & 0x1fff) !== 0) return null; // non-initial fragment
  if (!v4Unicast(p, 12)) return null;
  if (p[16] >= 224) return null; // multicast / broadcast destination
  if (p[9] === 1) {
    if (p.length < ihl + 1) return null;
    if (!ICMP4_INFO.has(p[ihl])) return null; // never answer an ICMP error
  }
  const src = opts.localAddress;
  if (src !== undefined && src.length !== 4) return null;
  const origLen = Math.min(p.length, Math.max(u16(p, 2), ihl));
  const quote = Math.min(origLen, 576 - 20 - 8);
  const total = 20 + 8 + quote;
  const out = new Uint8Array(total);
  out[0] = 0x45;
  putU16(out, 2, total);
  out[8] = opts.ttl ?? 64;
  out[9] = 1;
  if (src !== undefined) out.set(src, 12);
  else out.set(p.subarray(16, 20), 12);
  out.set(p.subarray(12, 16), 16);
  putU16(out, 10, internetChecksum(out, 0, 20));
  out[20] = 3;
  out[21] = 4;
  putU16(out, 26, mtu);
  out.set(p.subarray(0, quote), 28);
  putU16(out, 22, internetChecksum(out, 20, total));
  return out;
}

function tooBig6(p: Uint8Array, mtu: number, opts: IcmpTooBigOptions): Uint8Array | null {
  if (p.length < 40) return null;
  // Source must name one host: not :: and not multicast.
  if (p[8] === 0xff) return null;
  let zero = true;
  for (let i = 8; i < 24; i++) if (p[i] !== 0) { zero = false; break; }
  if (zero) return null;
  const src = opts.localAddress;
  if (src !== undefined && src.length !== 16) return null;
  if (src === undefined && p[24] === 0xff) return null;
  // Walk extension headers to see whether this is an ICMPv6 error.
  let nh = p[6];
  let o = 40;
  for (let guard = 0; guard < 16; guard++) {
    if (nh === 0 || nh === 43 || nh === 60) {
      if (p.length < o + 2) return null;
      nh = p[o];
      o += (p[o + 1] + 1) * 8;
    } else if (nh === 51) {
      if (p.length < o + 2) return null;
      nh = p[o];
      o += (p[o + 1] + 2) * 4;
    } else if (nh === 44) {
      if (p.length < o + 8) return null;
      if ((u16(p, o + 2) & 0xfff8) !== 0) { nh = -1; break; } // non-initial fragment: upper layer unknown
      nh = p[o];
      o += 8;
    } else break;
  }
  if (nh === 58) {
    if (p.length < o + 1) return null;
    if (p[o] < 128) return null; // ICMPv6 error message
  }
  const plen = u16(p, 4);
  const origLen = plen === 0 ? p.length : Math.min(p.length, 40 + plen);
  const quote = Math.min(origLen, 1280 - 40 - 8);
  const icmpLen = 8 + quote;
  const out = new Uint8Array(40 + icmpLen);
  out[0] = 0x60;
  putU16(out, 4, icmpLen);
  out[6] = 58;
  out[7] = opts.ttl ?? 64;
  if (src !== undefined) out.set(src, 8);
  else out.set(p.subarray(24, 40), 8);
  out.set(p.subarray(8, 24), 24);
  out[40] = 2;
  out[41] = 0;
  putU32(out, 44, mtu);
  out.set(p.subarray(0, quote), 48);
  // Pseudo-header: src, dst, upper-layer length (32), zeros, next header 58.
  let s = sum16(out, 8, 40);
  s += icmpLen >>> 16;
  s += icmpLen & 0xffff;
  s += 58;
  putU16(out, 42, internetChecksum(out, 40, out.length, s));
  return out;
}
