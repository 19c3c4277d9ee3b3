/**
 * The ISAKMP generic payload header (RFC 2408 §3.2) and the fallback decoder
 * for payload types without a specific dissector.
 *
 * ```
 *  0                   1                   2                   3
 * | Next Payload  |   RESERVED    |         Payload Length        |
 * ```
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import type { LayerBase } from "../../../core/layer.ts";
import { PAYLOAD_TYPES } from "../registry.ts";

/** Where a payload is being decoded: layer-name prefix and exchange. */
export interface IsakmpContext {
  /** Layer prefix, `"isakmp"` for wire data; e.g. `"isakmp.decrypted"` for plaintext. */
  prefix: string;
  /** Exchange type of the enclosing message, when known. */
  exchange?: number;
}

/** Default context for wire data. */
export const WIRE: IsakmpContext = { prefix: "isakmp" };

/** Fields every ISAKMP payload carries. `length` is the bytes actually decoded. */
export interface IsakmpPayloadBase extends LayerBase {
  /** This payload's type (from the previous payload's Next Payload field). */
  type: number;
  typeName: string;
  nextPayload: number;
  nextPayloadName: string;
  /** RESERVED byte (must be 0). */
  reserved: number;
  /** Payload Length field as sent (includes the 4-byte generic header). */
  payloadLength: number;
}

/** A payload decoded only as its generic header plus body bytes. */
export interface GenericPayload extends IsakmpPayloadBase {
  kind: "generic";
  /** Body after the generic header. */
  data: Uint8Array;
}

/**
 * Read the generic header at `off` (caller-known `type`). Returns the base
 * fields and the payload end clamped to `end`, or null when fewer than 4 bytes
 * remain. An overrunning length is reported; a length < 4 is reported and the
 * body is taken as empty.
 */
export function readGenericHeader(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  type: number,
  layer: string,
): { base: IsakmpPayloadBase; bodyOff: number; pend: number } | null {
  end = Math.min(end, b.length);
  if (off < 0 || off + 4 > end) return anomaly(an, layer, Math.max(off, 0), `payload header ${truncated(4, end - off)}`);
  const np = b[off];
  const res = b[off + 1];
  const plen = u16(b, off + 2);
  let pend = off + plen;
  if (plen < 4) {
    anomaly(an, layer, off + 2, `payload length ${plen} < 4`);
    pend = off + 4;
  } else if (pend > end) {
    anomaly(an, layer, off + 2, `payload length ${plen} overruns: ${truncated(plen, end - off)}`);
    pend = end;
  }
  if (res !== 0) anomaly(an, layer, off + 1, `reserved byte is 0x${res.toString(16)}`);
  return {
    base: {
      layer,
      offset: off,
      length: pend - off,
      type,
      typeName: PAYLOAD_TYPES.name(type),
      nextPayload: np,
      nextPayloadName: PAYLOAD_TYPES.name(np),
      reserved: res,
      payloadLength: plen,
    },
    bodyOff: off + 4,
    pend,
  };
}

/** Decode any payload as header + opaque body. */
export function decodeGenericPayload(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  type: number,
  prefix = "isakmp",
): GenericPayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${prefix}.payload${type}`);
  if (!h) return null;
  return { ...h.base, kind: "generic", data: b.subarray(h.bodyOff, h.pend) };
}

/** `need` bytes available in [o, end)? Otherwise records an anomaly. */
export function need(an: Anomaly[], layer: string, o: number, end: number, n: number, what: string): boolean {
  if (o + n <= end) return true;
  anomaly(an, layer, o, `${what} ${truncated(n, end - o)}`);
  return false;
}
