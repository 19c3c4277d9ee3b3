/**
 * Certificate Request payload (RFC 7296 §3.7). For X.509 encodings the data
 * is a concatenation of 20-byte SHA-1 hashes of trusted CAs' public keys.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { CERT_ENCODINGS } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2CertreqPayload extends Ikev2PayloadBase {
  kind: "certreq";
  encoding: number;
  encodingName: string;
  /** Certification Authority field, raw. */
  data: Uint8Array;
  /** 20-byte CA key hashes, when the data is a whole number of them. */
  caHashes: Uint8Array[];
}

/** Decode a CERTREQ payload spanning `b[off, end)`. */
export function decodeCertreqPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 38, layerPrefix = "ikev2",
): Ikev2CertreqPayload | null {
  const layer = `${layerPrefix}.certreq`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 1) {
    anomaly(an, layer, h.bodyOff, "CERTREQ encoding " + truncated(1, 0));
    return { ...payloadBase(h, "certreq", layer), encoding: -1, encodingName: "MISSING", data: b.subarray(h.end, h.end), caHashes: [] };
  }
  const encoding = b[h.bodyOff];
  const data = b.subarray(h.bodyOff + 1, h.end);
  const caHashes: Uint8Array[] = [];
  if (encoding === 4 || encoding === 12 || encoding === 13 || encoding === 1 || encoding === 10 || encoding === 7) {
    if (data.length % 20 !== 0) an.push({ layer, offset: h.bodyOff + 1, reason: `CA hash list length ${data.length} is not a multiple of 20` });
    for (let i = 0; i + 20 <= data.length; i += 20) caHashes.push(data.subarray(i, i + 20));
  }
  return { ...payloadBase(h, "certreq", layer), encoding, encodingName: CERT_ENCODINGS.name(encoding), data, caHashes };
}
