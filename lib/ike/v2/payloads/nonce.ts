/**
 * Nonce payload (RFC 7296 §3.9).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2NoncePayload extends Ikev2PayloadBase {
  kind: "nonce";
  nonce: Uint8Array;
}

/** Decode a Nonce payload spanning `b[off, end)`. Size limits (16–256) are checked by validation. */
export function decodeNoncePayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 40, layerPrefix = "ikev2",
): Ikev2NoncePayload | null {
  const layer = `${layerPrefix}.nonce`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  return { ...payloadBase(h, "nonce", layer), nonce: b.subarray(h.bodyOff, h.end) };
}
