/**
 * Vendor ID payload (RFC 7296 §3.12), named with the shared vendor-ID table.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { knownVendorId } from "../../vendor-ids.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2VendorPayload extends Ikev2PayloadBase {
  kind: "vendor";
  data: Uint8Array;
  /** Known vendor name, when the table has it. */
  vendor?: string;
}

/** Decode a Vendor ID payload spanning `b[off, end)`. */
export function decodeVendorPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 43, layerPrefix = "ikev2",
): Ikev2VendorPayload | null {
  const layer = `${layerPrefix}.vendor`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  const data = b.subarray(h.bodyOff, h.end);
  const out: Ikev2VendorPayload = { ...payloadBase(h, "vendor", layer), data };
  const v = knownVendorId(data);
  if (v !== undefined) out.vendor = v;
  return out;
}
