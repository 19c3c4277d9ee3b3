/**
 * ISAKMP Hash payload (RFC 2408 §3.11).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface HashPayload extends IsakmpPayloadBase {
  kind: "hash";
  hash: Uint8Array;
}

/** Decode a hash payload at `off`. */
export function decodeHashPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 8): HashPayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${ctx.prefix}.hash`);
  if (!h) return null;
  return { ...h.base, kind: "hash", hash: b.subarray(h.bodyOff, h.pend) };
}
