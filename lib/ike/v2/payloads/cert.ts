/**
 * Certificate payload (RFC 7296 §3.6).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { x509Names } from "../der.ts";
import { CERT_ENCODINGS } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2CertPayload extends Ikev2PayloadBase {
  kind: "cert";
  encoding: number;
  encodingName: string;
  data: Uint8Array;
  /** X.509 (encoding 4): issuer Name, when the certificate parses. */
  issuer?: string;
  /** X.509 (encoding 4): subject Name, when the certificate parses. */
  subject?: string;
}

/** Decode a CERT payload spanning `b[off, end)`. */
export function decodeCertPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 37, layerPrefix = "ikev2",
): Ikev2CertPayload | null {
  const layer = `${layerPrefix}.cert`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 1) {
    anomaly(an, layer, h.bodyOff, "CERT encoding " + truncated(1, 0));
    return { ...payloadBase(h, "cert", layer), encoding: -1, encodingName: "MISSING", data: b.subarray(h.end, h.end) };
  }
  const encoding = b[h.bodyOff];
  const out: Ikev2CertPayload = {
    ...payloadBase(h, "cert", layer), encoding, encodingName: CERT_ENCODINGS.name(encoding), data: b.subarray(h.bodyOff + 1, h.end),
  };
  if (encoding === 4) {
    const n = x509Names(b, h.bodyOff + 1, h.end);
    if (n) { out.issuer = n.issuer; out.subject = n.subject; }
    else an.push({ layer, offset: h.bodyOff + 1, reason: "X.509 certificate: issuer/subject not found" });
  }
  return out;
}
