/**
 * Delete payload (RFC 7296 §3.11).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { PROTOCOL_IDS } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2DeletePayload extends Ikev2PayloadBase {
  kind: "delete";
  protocol: number;
  protocolName: string;
  spiSize: number;
  /** Declared Num of SPIs. */
  numSpis: number;
  spis: Uint8Array[];
}

/** Decode a Delete payload spanning `b[off, end)`. */
export function decodeDeletePayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 42, layerPrefix = "ikev2",
): Ikev2DeletePayload | null {
  const layer = `${layerPrefix}.delete`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  const p = h.bodyOff;
  if (h.end - p < 4) {
    anomaly(an, layer, p, "Delete header " + truncated(4, h.end - p));
    return { ...payloadBase(h, "delete", layer), protocol: -1, protocolName: "MISSING", spiSize: 0, numSpis: 0, spis: [] };
  }
  const protocol = b[p];
  const spiSize = b[p + 1];
  const numSpis = u16(b, p + 2);
  const spis: Uint8Array[] = [];
  const avail = h.end - (p + 4);
  if (spiSize > 0) {
    for (let i = 0, q = p + 4; i < numSpis && q + spiSize <= h.end; i++, q += spiSize) spis.push(b.subarray(q, q + spiSize));
  }
  if (spiSize * numSpis !== avail) {
    an.push({ layer, offset: p, reason: `Delete declares ${numSpis} SPIs of ${spiSize} bytes, ${avail} bytes present` });
  }
  return { ...payloadBase(h, "delete", layer), protocol, protocolName: PROTOCOL_IDS.name(protocol), spiSize, numSpis, spis };
}
