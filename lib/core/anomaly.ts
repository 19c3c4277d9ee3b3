/**
 * Anomalies: what a decoder records instead of throwing.
 *
 * Every decoder in vpnkit bounds-checks its reads. When wire data is
 * truncated or malformed it appends an {@link Anomaly} and keeps going with
 * whatever structure it could recover (principle 3 in DEVELOPERS.md).
 * @module
 */

/** One malformed or truncated spot in the input. */
export interface Anomaly {
  /** Protocol layer that noticed it, e.g. `"ipv4"`, `"ikev2.sa"`. */
  layer: string;
  /** Byte offset of the problem. Frame-absolute for wire data; for decrypted
   *  payloads it is relative to the decrypted plaintext and `layer` says so. */
  offset: number;
  /** Human-readable reason, e.g. `"truncated: need 8 bytes, have 3"`. */
  reason: string;
}

/** Append an anomaly to a list and return `null` (handy in decoders). */
export function anomaly(list: Anomaly[], layer: string, offset: number, reason: string): null {
  list.push({ layer, offset, reason });
  return null;
}

/** Standard reason text for a short read. */
export function truncated(need: number, have: number): string {
  return `truncated: need ${need} bytes, have ${have < 0 ? 0 : have}`;
}
