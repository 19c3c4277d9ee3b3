/**
 * Encrypted and Authenticated Fragment payload (RFC 7383 §2.5).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2SkfPayload extends Ikev2PayloadBase {
  kind: "skf";
  fragmentNumber: number;
  totalFragments: number;
  /** IV, encrypted content + padding, ICV — undivided. */
  encrypted: Uint8Array;
}

/** Decode an SKF payload spanning `b[off, end)`. */
export function decodeSkfPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 53, layerPrefix = "ikev2",
): Ikev2SkfPayload | null {
  const layer = `${layerPrefix}.skf`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "SKF header " + truncated(4, h.end - h.bodyOff));
    return { ...payloadBase(h, "skf", layer), fragmentNumber: 0, totalFragments: 0, encrypted: b.subarray(h.end, h.end) };
  }
  const fragmentNumber = u16(b, h.bodyOff);
  const totalFragments = u16(b, h.bodyOff + 2);
  if (fragmentNumber === 0) an.push({ layer, offset: h.bodyOff, reason: "fragment number 0 (must start at 1)" });
  if (totalFragments === 0) an.push({ layer, offset: h.bodyOff + 2, reason: "total fragments 0" });
  else if (fragmentNumber > totalFragments) an.push({ layer, offset: h.bodyOff, reason: `fragment number ${fragmentNumber} > total ${totalFragments}` });
  if (fragmentNumber !== 1 && h.nextPayload !== 0) an.push({ layer, offset: off, reason: `non-first fragment ${fragmentNumber} has Next Payload ${h.nextPayload}, must be 0` });
  return { ...payloadBase(h, "skf", layer), fragmentNumber, totalFragments, encrypted: b.subarray(h.bodyOff + 4, h.end) };
}
