/**
 * ISAKMP Nonce payload (RFC 2408 §3.13).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface NoncePayload extends IsakmpPayloadBase {
  kind: "nonce";
  nonce: Uint8Array;
}

/** Decode a nonce payload at `off`. */
export function decodeNoncePayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 10): NoncePayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${ctx.prefix}.nonce`);
  if (!h) return null;
  return { ...h.base, kind: "nonce", nonce: b.subarray(h.bodyOff, h.pend) };
}
