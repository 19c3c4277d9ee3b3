/**
 * IKE version dispatch: the ISAKMP header (RFC 2408 §3.1, RFC 7296 §3.1)
 * carries the major version in the high nibble of byte 17.
 * @module
 */

/**
 * Major IKE version of the message at `off` (1 = ISAKMP/IKEv1, 2 = IKEv2),
 * or null when byte 17 is not inside [off, end) or the version is neither.
 * Never throws.
 */
export function ikeVersion(b: Uint8Array, off: number, end: number): 1 | 2 | null {
  const e = Math.min(end, b.length);
  if (off < 0 || off + 17 >= e) return null;
  const major = b[off + 17] >> 4;
  return major === 1 ? 1 : major === 2 ? 2 : null;
}
