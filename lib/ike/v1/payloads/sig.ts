/**
 * ISAKMP Signature payload (RFC 2408 §3.12).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface SigPayload extends IsakmpPayloadBase {
  kind: "sig";
  signature: Uint8Array;
}

/** Decode a sig payload at `off`. */
export function decodeSigPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 9): SigPayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${ctx.prefix}.sig`);
  if (!h) return null;
  return { ...h.base, kind: "sig", signature: b.subarray(h.bodyOff, h.pend) };
}
