/**
 * ISAKMP Vendor ID payload (RFC 2408 §3.16), named via {@link knownVendorId}.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { knownVendorId } from "../../vendor-ids.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface VendorPayload extends IsakmpPayloadBase {
  kind: "vendor";
  vendorId: Uint8Array;
  /** Known name of the vendor ID, when the table has it. */
  vendorName?: string;
}

/** Decode a Vendor ID payload at `off`. */
export function decodeVendorPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): VendorPayload | null {
  const h = readGenericHeader(b, off, end, an, 13, `${ctx.prefix}.vid`);
  if (!h) return null;
  const vendorId = b.subarray(h.bodyOff, h.pend);
  const v: VendorPayload = { ...h.base, kind: "vendor", vendorId };
  const name = knownVendorId(vendorId);
  if (name !== undefined) v.vendorName = name;
  return v;
}
