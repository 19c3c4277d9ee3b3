/**
 * Internet checksum (RFC 1071) helpers: IPv4 header, and transport checksums with the
 * IPv4/IPv6 pseudo-header. Verification is kept out of the decoders' hot path for the
 * transport layers; call these when a verbose decode wants the status.
 * @module
 */

/** Sum of the 16-bit big-endian words of `b[off..end)` (odd tail padded with zero), added to `acc`. Not folded. */
export function onesSum(b: Uint8Array, off: number, end: number, acc = 0): number {
  let s = acc;
  let i = off;
  const last = end - 1;
  for (; i < last; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}

/** Fold a {@link onesSum} to 16 bits and complement it: 0 means "verifies". */
export function foldComplement(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 65536);
  return ~sum & 0xffff;
}

/** True when the IPv4 header `b[off..off+hl)` has a valid checksum (caller bounds-checked). */
export function ipv4HeaderChecksumOk(b: Uint8Array, off: number, hl: number): boolean {
  return foldComplement(onesSum(b, off, off + hl)) === 0;
}

/**
 * Verify a TCP/UDP/ICMPv6 checksum over `b[off..end)` with the pseudo-header of the IP header
 * at `ipOff` (version taken from the header). Addresses are read from the fixed header
 * (with an IPv6 routing header the final destination would be needed; not handled).
 * Returns true when it verifies.
 */
export function transportChecksumOk(b: Uint8Array, ipOff: number, proto: number, off: number, end: number): boolean {
  let s: number;
  if (b[ipOff] >>> 4 === 6) s = onesSum(b, ipOff + 8, ipOff + 40);
  else s = onesSum(b, ipOff + 12, ipOff + 20);
  const len = end - off;
  s += proto + (len & 0xffff) + Math.floor(len / 65536);
  return foldComplement(onesSum(b, off, end, s)) === 0;
}
