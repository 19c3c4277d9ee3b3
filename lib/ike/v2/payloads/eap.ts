/**
 * EAP payload (RFC 7296 §3.16) carrying one EAP message (RFC 3748).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { EAP_CODES, EAP_TYPES } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2EapPayload extends Ikev2PayloadBase {
  kind: "eap";
  code: number;
  codeName: string;
  identifier: number;
  /** EAP Length field. */
  eapLength: number;
  /** Request/Response: method type. */
  eapType?: number;
  eapTypeName?: string;
  /** Type-Data (or the rest after the header for other codes). */
  data: Uint8Array;
}

/** Decode an EAP payload spanning `b[off, end)`. */
export function decodeEapPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 48, layerPrefix = "ikev2",
): Ikev2EapPayload | null {
  const layer = `${layerPrefix}.eap`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  const p = h.bodyOff;
  if (h.end - p < 4) {
    anomaly(an, layer, p, "EAP header " + truncated(4, h.end - p));
    return { ...payloadBase(h, "eap", layer), code: -1, codeName: "MISSING", identifier: 0, eapLength: 0, data: b.subarray(h.end, h.end) };
  }
  const code = b[p];
  const eapLength = u16(b, p + 2);
  let eend = p + eapLength;
  if (eapLength < 4) { an.push({ layer, offset: p + 2, reason: `EAP length ${eapLength} < 4` }); eend = p + 4; }
  else if (eend > h.end) { an.push({ layer, offset: p + 2, reason: `EAP length ${eapLength} runs past payload: ` + truncated(eapLength, h.end - p) }); eend = h.end; }
  else if (eend < h.end) an.push({ layer, offset: eend, reason: `${h.end - eend} bytes after the EAP message` });
  const out: Ikev2EapPayload = {
    ...payloadBase(h, "eap", layer), code, codeName: EAP_CODES.name(code), identifier: b[p + 1], eapLength, data: b.subarray(p + 4, eend),
  };
  if (code === 1 || code === 2) {
    if (eend - p < 5) an.push({ layer, offset: p + 4, reason: "EAP Request/Response without a Type" });
    else {
      out.eapType = b[p + 4];
      out.eapTypeName = EAP_TYPES.name(b[p + 4]);
      out.data = b.subarray(p + 5, eend);
    }
  }
  return out;
}
