/**
 * ISAKMP Certificate Request payload (RFC 2408 §3.10).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { CERT_ENCODINGS } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface CertReqPayload extends IsakmpPayloadBase {
  kind: "certreq";
  certType: number;
  certTypeName: string;
  /** Certificate Authority (typically a DER DistinguishedName); may be empty. */
  authority: Uint8Array;
}

/** Decode a Certificate Request payload at `off`. */
export function decodeCertReqPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): CertReqPayload | null {
  const layer = `${ctx.prefix}.cr`;
  const h = readGenericHeader(b, off, end, an, 7, layer);
  if (!h) return null;
  const c: CertReqPayload = { ...h.base, kind: "certreq", certType: 0, certTypeName: "", authority: b.subarray(h.pend, h.pend) };
  if (!need(an, layer, h.bodyOff, h.pend, 1, "certificate type")) return c;
  c.certType = b[h.bodyOff];
  c.certTypeName = CERT_ENCODINGS.name(c.certType);
  c.authority = b.subarray(h.bodyOff + 1, h.pend);
  return c;
}
