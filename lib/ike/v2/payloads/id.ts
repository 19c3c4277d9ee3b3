/**
 * Identification payloads IDi/IDr (RFC 7296 §3.5), with the identity rendered
 * as text: addresses, FQDN / RFC 822 text, DER Names via the bounded DER
 * walker, hex for KEY_ID and anything that cannot be rendered.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, isPrintable, printable, toHex } from "../../../core/bytes.ts";
import { derNameText } from "../der.ts";
import { ID_TYPES } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2IdPayload extends Ikev2PayloadBase {
  kind: "id";
  idType: number;
  idTypeName: string;
  data: Uint8Array;
  /** Rendered identity (hex when it cannot be rendered). */
  text: string;
}

/** Text of a UTF-8 / ASCII identity; non-printable bytes become `.`. */
function idString(d: Uint8Array): string {
  if (isPrintable(d)) return printable(d, d.length);
  const s = new TextDecoder("utf-8", { fatal: false }).decode(d);
  // not UTF-8, or control characters (a newline would forge a log line): bytes as `.`
  return s.includes("\uFFFD") || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(s) ? printable(d, d.length) : s;
}

/** Render identification data of type `idType`; appends an anomaly when the data does not fit the type. */
export function idText(idType: number, d: Uint8Array, an: Anomaly[], layer: string, offset: number): string {
  switch (idType) {
    case 1:
      if (d.length === 4) return ipv4Text(d);
      an.push({ layer, offset, reason: `ID_IPV4_ADDR needs 4 bytes, have ${d.length}` });
      return toHex(d);
    case 5:
      if (d.length === 16) return ipv6Text(d);
      an.push({ layer, offset, reason: `ID_IPV6_ADDR needs 16 bytes, have ${d.length}` });
      return toHex(d);
    case 2:
    case 3:
      return idString(d);
    case 9: {
      const t = derNameText(d, 0, d.length);
      if (t !== null) return t;
      an.push({ layer, offset, reason: "ID_DER_ASN1_DN is not a well-formed DER Name" });
      return toHex(d);
    }
    case 13:
      if (d.length !== 0) an.push({ layer, offset, reason: `ID_NULL carries ${d.length} bytes of data` });
      return "";
    default:
      return toHex(d);
  }
}

/** Decode an IDi (35) / IDr (36) payload spanning `b[off, end)`. */
export function decodeIdPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 35, layerPrefix = "ikev2",
): Ikev2IdPayload | null {
  const layer = `${layerPrefix}.id`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "ID payload too short: " + truncated(4, h.end - h.bodyOff));
    const rest = b.subarray(h.bodyOff, h.end);
    const idType = rest.length > 0 ? rest[0] : -1;
    return { ...payloadBase(h, "id", layer), idType, idTypeName: idType < 0 ? "MISSING" : ID_TYPES.name(idType), data: b.subarray(h.end, h.end), text: "" };
  }
  const idType = b[h.bodyOff];
  const data = b.subarray(h.bodyOff + 4, h.end);
  return {
    ...payloadBase(h, "id", layer), idType, idTypeName: ID_TYPES.name(idType), data,
    text: idText(idType, data, an, layer, h.bodyOff + 4),
  };
}
