/**
 * ISAKMP Key Exchange payload (RFC 2408 §3.7): the Diffie-Hellman public value.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface KePayload extends IsakmpPayloadBase {
  kind: "ke";
  keyData: Uint8Array;
}

/** Decode a ke payload at `off`. */
export function decodeKePayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 4): KePayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${ctx.prefix}.ke`);
  if (!h) return null;
  return { ...h.base, kind: "ke", keyData: b.subarray(h.bodyOff, h.pend) };
}
