/**
 * ESP header framing (RFC 4303 §2).
 *
 * ```
 *  0                   1                   2                   3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               Security Parameters Index (SPI)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      Sequence Number                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  IV + encrypted payload + padding + pad len + next hdr + ICV  |
 * ```
 *
 * Without keys everything after the sequence number is opaque: the decoder
 * returns it as one view (`payload`). Decryption is a separate step that
 * takes this layer plus an SA.
 * @module
 */
import { type Anomaly, truncated } from "../core/anomaly.ts";
import { u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { spiReservedReason } from "./registry.ts";

/** Bytes of the fixed ESP header (SPI + sequence number). */
export const ESP_HEADER_LEN = 8;

/** A decoded (still encrypted) ESP packet. */
export interface EspLayer extends LayerBase {
  layer: "esp";
  /** Security Parameters Index. */
  spi: number;
  /** Low 32 bits of the sequence number; `null` when the capture stops before it. */
  seq: number | null;
  /** IV + ciphertext + trailer + ICV (opaque until keys are given); view into the input. */
  payload: Uint8Array;
}

/**
 * Decode the ESP header at `b[off..end)`.
 *
 * Never throws. Fewer than 4 bytes → anomaly and `null`; 4–7 bytes → the SPI
 * is recovered, `seq` is `null`, and a truncation anomaly is recorded (like
 * tcpdump's `ESP(spi=… [|esp]`). SPI 0 and SPI 1–255 are reported as anomalies
 * but the layer is still returned.
 */
export function decodeEsp(b: Uint8Array, off: number, end: number, an: Anomaly[]): EspLayer | null {
  if (end > b.length) end = b.length;
  if (!(off >= 0) || off > end) {
    an.push({ layer: "esp", offset: off, reason: truncated(ESP_HEADER_LEN, 0) });
    return null;
  }
  const have = end - off;
  if (have < 4) {
    an.push({ layer: "esp", offset: off, reason: truncated(ESP_HEADER_LEN, have) });
    return null;
  }
  const spi = u32(b, off);
  let seq: number | null = null;
  if (have < ESP_HEADER_LEN) {
    an.push({ layer: "esp", offset: off, reason: truncated(ESP_HEADER_LEN, have) });
  } else {
    seq = u32(b, off + 4);
    if (have < ESP_HEADER_LEN + 2) {
      an.push({
        layer: "esp",
        offset: off + ESP_HEADER_LEN,
        reason: `no room for the ESP trailer: ${have - ESP_HEADER_LEN} bytes after the header, need at least 2 (pad length, next header)`,
      });
    }
  }
  if (spi <= 255) {
    const r = spiReservedReason(spi);
    if (r !== null) an.push({ layer: "esp", offset: off, reason: r });
  }
  return {
    layer: "esp",
    offset: off,
    length: have,
    spi,
    seq,
    payload: b.subarray(have < ESP_HEADER_LEN ? end : off + ESP_HEADER_LEN, end),
  };
}
