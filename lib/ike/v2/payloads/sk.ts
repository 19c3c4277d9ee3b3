/**
 * Encrypted and Authenticated payload (RFC 7296 §3.14). The body is kept
 * undivided (IV ‖ ciphertext ‖ ICV): the split depends on the negotiated
 * cipher, which the decoder does not know. `nextPayload` names the first
 * payload inside the plaintext.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2SkPayload extends Ikev2PayloadBase {
  kind: "sk";
  /** IV, encrypted payloads + padding, ICV — undivided. */
  encrypted: Uint8Array;
}

/** Decode an SK payload spanning `b[off, end)`. */
export function decodeSkPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 46, layerPrefix = "ikev2",
): Ikev2SkPayload | null {
  const layer = `${layerPrefix}.sk`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end === h.bodyOff) an.push({ layer, offset: off, reason: "SK payload is empty" });
  return { ...payloadBase(h, "sk", layer), encrypted: b.subarray(h.bodyOff, h.end) };
}
