/**
 * Authentication payload (RFC 7296 §3.8). For method 14 (Digital Signature,
 * RFC 7427) the data starts with a one-octet ASN.1 length and a DER
 * AlgorithmIdentifier, which is decoded and named.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { decodeAlgorithmIdentifier, type AlgorithmIdentifier } from "../der.ts";
import { AUTH_METHODS } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2AuthPayload extends Ikev2PayloadBase {
  kind: "auth";
  method: number;
  methodName: string;
  /** Authentication data (for method 14 including the ASN.1 prefix). */
  data: Uint8Array;
  /** Method 14: declared length of the AlgorithmIdentifier. */
  asn1Length?: number;
  /** Method 14: the decoded AlgorithmIdentifier, when well-formed. */
  signatureAlgorithm?: AlgorithmIdentifier;
  /** Method 14: signature value after the AlgorithmIdentifier. */
  signature?: Uint8Array;
}

/** Decode an AUTH payload spanning `b[off, end)`. */
export function decodeAuthPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 39, layerPrefix = "ikev2",
): Ikev2AuthPayload | null {
  const layer = `${layerPrefix}.auth`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "AUTH header " + truncated(4, h.end - h.bodyOff));
    return { ...payloadBase(h, "auth", layer), method: -1, methodName: "MISSING", data: b.subarray(h.end, h.end) };
  }
  const method = b[h.bodyOff];
  const d0 = h.bodyOff + 4;
  const out: Ikev2AuthPayload = { ...payloadBase(h, "auth", layer), method, methodName: AUTH_METHODS.name(method), data: b.subarray(d0, h.end) };
  if (method === 14) {
    if (d0 >= h.end) { anomaly(an, layer, d0, "Digital Signature ASN.1 length " + truncated(1, 0)); return out; }
    const n = b[d0];
    out.asn1Length = n;
    if (d0 + 1 + n > h.end) { anomaly(an, layer, d0, `AlgorithmIdentifier length ${n} runs past AUTH payload`); return out; }
    const alg = decodeAlgorithmIdentifier(b, d0 + 1, d0 + 1 + n);
    if (alg) out.signatureAlgorithm = alg;
    else an.push({ layer, offset: d0 + 1, reason: "malformed AlgorithmIdentifier" });
    out.signature = b.subarray(d0 + 1 + n, h.end);
  }
  return out;
}
