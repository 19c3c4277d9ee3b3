/**
 * ISAKMP Certificate payload (RFC 2408 §3.9).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { CERT_ENCODINGS } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface CertPayload extends IsakmpPayloadBase {
  kind: "cert";
  encoding: number;
  encodingName: string;
  certificate: Uint8Array;
}

/** Decode a Certificate payload at `off`. */
export function decodeCertPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): CertPayload | null {
  const layer = `${ctx.prefix}.cert`;
  const h = readGenericHeader(b, off, end, an, 6, layer);
  if (!h) return null;
  const c: CertPayload = { ...h.base, kind: "cert", encoding: 0, encodingName: "", certificate: b.subarray(h.pend, h.pend) };
  if (!need(an, layer, h.bodyOff, h.pend, 1, "certificate encoding")) return c;
  c.encoding = b[h.bodyOff];
  c.encodingName = CERT_ENCODINGS.name(c.encoding);
  c.certificate = b.subarray(h.bodyOff + 1, h.pend);
  return c;
}
