/**
 * IKEv2 generic payload header (RFC 7296 §3.2) and the fallback decoder for
 * payload types this library does not interpret (body kept raw).
 *
 * ```
 *  0                   1                   2                   3
 * | Next Payload  |C|  RESERVED   |         Payload Length        |
 * ```
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import type { LayerBase } from "../../../core/layer.ts";
import { PAYLOAD_TYPES } from "../registry.ts";

/** Fields every decoded IKEv2 payload carries. */
export interface Ikev2PayloadBase extends LayerBase {
  /** Discriminator: which decoder produced the object. */
  kind: string;
  /** Payload type (the previous header's Next Payload value). */
  type: number;
  typeName: string;
  /** Critical bit of the generic payload header. */
  critical: boolean;
  /** Next Payload field of this payload's header. For SK/SKF it names the first inner payload. */
  nextPayload: number;
  nextPayloadName: string;
  /** True when the payload length ran past the end of the enclosing data (decoded clamped). */
  truncated?: boolean;
}

/** A payload this library does not interpret. */
export interface Ikev2GenericPayload extends Ikev2PayloadBase {
  kind: "generic";
  /** Payload body (after the 4-byte generic header). */
  body: Uint8Array;
}

/** The parsed generic payload header. */
export interface PayloadHeader {
  type: number;
  nextPayload: number;
  critical: boolean;
  /** The 7 reserved bits. */
  reserved: number;
  offset: number;
  /** Declared Payload Length. */
  declaredLength: number;
  /** Length actually decoded (declared, clamped to `end`). */
  length: number;
  /** First body byte. */
  bodyOff: number;
  /** End of the payload (exclusive), clamped to the enclosing end. */
  end: number;
  truncated: boolean;
}

/**
 * Read the 4-byte generic header at `off`. Returns null (with an anomaly)
 * when fewer than 4 bytes remain or Payload Length < 4. A length running
 * past `end` is recorded and clamped (`truncated`).
 */
export function readPayloadHeader(
  b: Uint8Array, off: number, end: number, type: number, an: Anomaly[], layer: string,
): PayloadHeader | null {
  if (end > b.length) end = b.length;
  if (off < 0 || end - off < 4) return anomaly(an, layer, off, "payload header " + truncated(4, end - off));
  const declared = (b[off + 2] << 8) | b[off + 3];
  if (declared < 4) return anomaly(an, layer, off, `payload length ${declared} < 4`);
  let pend = off + declared;
  let trunc = false;
  if (pend > end) {
    an.push({ layer, offset: off, reason: `payload length ${declared} runs past end: ` + truncated(declared, end - off) });
    pend = end;
    trunc = true;
  }
  const reserved = b[off + 1] & 0x7f;
  if (reserved !== 0) an.push({ layer, offset: off + 1, reason: `reserved bits set in payload header: 0x${reserved.toString(16)}` });
  return {
    type, nextPayload: b[off], critical: (b[off + 1] & 0x80) !== 0, reserved, offset: off,
    declaredLength: declared, length: pend - off, bodyOff: off + 4, end: pend, truncated: trunc,
  };
}

/** Build the common fields of a payload object from its header. */
export function payloadBase<K extends string>(h: PayloadHeader, kind: K, layer: string): Ikev2PayloadBase & { kind: K } {
  const o: Ikev2PayloadBase & { kind: K } = {
    layer, offset: h.offset, length: h.length, kind,
    type: h.type, typeName: PAYLOAD_TYPES.name(h.type), critical: h.critical,
    nextPayload: h.nextPayload, nextPayloadName: PAYLOAD_TYPES.name(h.nextPayload),
  };
  if (h.truncated) o.truncated = true;
  return o;
}

/** Decode a payload whose type is not interpreted: header plus raw body. */
export function decodeGenericPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type: number, layerPrefix = "ikev2",
): Ikev2GenericPayload | null {
  const layer = `${layerPrefix}.payload`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  return { ...payloadBase(h, "generic", layer), body: b.subarray(h.bodyOff, h.end) };
}
