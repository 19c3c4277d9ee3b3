/**
 * UDP GSO runs in captures. A sender using UDP GSO (UDP_SEGMENT; vpnkit does, so does
 * wireguard-go) hands the kernel several equal-size datagrams in one buffer. When the
 * outgoing interface offloads UDP segmentation (veth does, so do some NICs), tcpdump on that
 * host sees the whole run as one oversized datagram: ESP packets back to back, each with its
 * own SPI, sequence number and ICV. Decoded as one ESP packet its "ICV" fails; the datagrams on
 * the wire are fine.
 *
 * {@link findEspGsoRun} recognises such a run structurally: the same SPI, and the sequence
 * number one higher, at a fixed stride through the payload (every segment but the last has
 * the stride's length, the last is no longer). By default only payloads too big for one
 * standard Ethernet frame are examined, so ordinary traffic costs nothing; the decoder scans
 * every ESP payload when it has keys (decryption costs far more than the scan), which also
 * finds runs of small datagrams such as TCP ACKs. A false match needs 8 bytes of ciphertext
 * to equal the SPI and the next sequence number. Never throws.
 * @module
 */

/** ESP packets of `size` bytes back to back: `count` of them, the last `last` bytes long. */
export interface EspGsoRun {
  size: number;
  count: number;
  last: number;
  spi: number;
  firstSeq: number;
}

/** Smallest ESP packet a run can hold: SPI, sequence number, 8-byte IV, 16-byte ICV. */
const MIN_ESP = 32;
/** UDP payloads up to this size fit one 1500-byte IPv4 frame: not examined. */
export const GSO_MIN_PAYLOAD = 1473;
/** Linux sends at most 64 segments per GSO buffer. */
const MAX_SEGMENTS = 64;

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/** The GSO run in ESP-in-UDP payload `b[off..end)`, or null (not oversized, or no run). */
export function findEspGsoRun(b: Uint8Array, off: number, end: number, minPayload = GSO_MIN_PAYLOAD): EspGsoRun | null {
  if (end > b.length) end = b.length;
  const len = end - off;
  if (!(off >= 0) || len < Math.max(minPayload, 2 * MIN_ESP)) return null;
  const spi = u32(b, off);
  const seq = u32(b, off + 4);
  if (spi === 0) return null;
  const s0 = b[off], s1 = b[off + 1], s2 = b[off + 2], s3 = b[off + 3];
  // An ESP packet is a multiple of 4 bytes long (RFC 4303 §2.4: the ICV is 4-byte aligned),
  // so a run is too and every stride is. Smallest stride first: the first segment boundary is
  // the first place the pattern recurs.
  if ((len & 3) !== 0) return null;
  const minStride = (Math.max(MIN_ESP, Math.ceil(len / MAX_SEGMENTS)) + 3) & ~3;
  for (let s = minStride; s + MIN_ESP <= len; s += 4) {
    const o = off + s;
    if (b[o] !== s0 || b[o + 1] !== s1 || b[o + 2] !== s2 || b[o + 3] !== s3) continue;
    if (u32(b, o + 4) !== ((seq + 1) >>> 0)) continue;
    const count = Math.ceil(len / s);
    const last = len - (count - 1) * s;
    if (last < MIN_ESP) continue;
    let ok = true;
    for (let k = 2; ok && k < count; k++) {
      const p = off + k * s;
      ok = u32(b, p) === spi && u32(b, p + 4) === ((seq + k) >>> 0);
    }
    if (ok) return { size: s, count, last, spi, firstSeq: seq };
  }
  return null;
}
