/**
 * Key Exchange payload (RFC 7296 §3.4): KE method (DH group) and data.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { KE_IDS } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2KePayload extends Ikev2PayloadBase {
  kind: "ke";
  group: number;
  groupName: string;
  /** Key exchange data. */
  data: Uint8Array;
}

/** Decode a KE payload spanning `b[off, end)`. */
export function decodeKePayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 34, layerPrefix = "ikev2",
): Ikev2KePayload | null {
  const layer = `${layerPrefix}.ke`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "KE payload body " + truncated(4, h.end - h.bodyOff));
    return { ...payloadBase(h, "ke", layer), group: -1, groupName: "MISSING", data: b.subarray(h.end, h.end) };
  }
  const group = u16(b, h.bodyOff);
  if (u16(b, h.bodyOff + 2) !== 0) an.push({ layer, offset: h.bodyOff + 2, reason: "KE reserved field not zero" });
  return { ...payloadBase(h, "ke", layer), group, groupName: KE_IDS.name(group), data: b.subarray(h.bodyOff + 4, h.end) };
}
