/**
 * The COOKIE path's look into an IKE_SA_INIT request (RFC 7296 §2.6): the Nonce and a COOKIE
 * notify, found by walking the generic payload headers only, with no payload decoded and nothing
 * allocated but two views. A full decode costs ~14 µs a message here, this walk well under 1 µs;
 * under a spoofed flood every request takes this path. Never throws: a chain that runs out of
 * bounds ends the walk (the answer is then "no Nonce").
 * @module
 */

const PT_NONCE = 40, PT_NOTIFY = 41, N_COOKIE = 16390;

/** Nonce and COOKIE data of the IKE message in `d` (header at 0); undefined where absent. */
export function scanInit(d: Uint8Array): { nonce?: Uint8Array; cookie?: Uint8Array } {
  const out: { nonce?: Uint8Array; cookie?: Uint8Array } = {};
  if (d.length < 28) return out;
  const declared = ((d[24] << 24) | (d[25] << 16) | (d[26] << 8) | d[27]) >>> 0;
  const end = Math.min(d.length, declared);
  let type = d[16], off = 28;
  // at most 64 payloads: a chain of 4-byte payloads cannot make the walk long
  for (let n = 0; n < 64 && type !== 0 && off + 4 <= end; n++) {
    const len = (d[off + 2] << 8) | d[off + 3];
    if (len < 4 || off + len > end) break;
    if (type === PT_NONCE) out.nonce ??= d.subarray(off + 4, off + len);
    else if (type === PT_NOTIFY && len >= 8) {
      const spiSize = d[off + 5];
      if (((d[off + 6] << 8) | d[off + 7]) === N_COOKIE && 8 + spiSize <= len) out.cookie ??= d.subarray(off + 8 + spiSize, off + len);
    }
    type = d[off];
    off += len;
  }
  return out;
}
