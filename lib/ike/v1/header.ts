/**
 * The 28-byte ISAKMP header (RFC 2408 §3.1).
 *
 * ```
 * | Initiator Cookie (8) | Responder Cookie (8) |
 * | Next Payload | MjVer|MnVer | Exchange Type | Flags | Message ID (4) | Length (4) |
 * ```
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../../core/anomaly.ts";
import { u32 } from "../../core/bytes.ts";
import type { LayerBase } from "../../core/layer.ts";
import { EXCHANGE_TYPES, PAYLOAD_TYPES } from "./registry.ts";

export const ISAKMP_HEADER_LEN = 28;
export const FLAG_ENCRYPTION = 0x01;
export const FLAG_COMMIT = 0x02;
export const FLAG_AUTH_ONLY = 0x04;

/** ISAKMP header flags. */
export interface IsakmpFlags {
  /** The raw flags byte. */
  value: number;
  encryption: boolean;
  commit: boolean;
  authOnly: boolean;
}

/** The decoded header. `length` (LayerBase) is the header size, 28. */
export interface IsakmpHeader extends LayerBase {
  icookie: Uint8Array;
  rcookie: Uint8Array;
  nextPayload: number;
  nextPayloadName: string;
  majorVersion: number;
  minorVersion: number;
  exchange: number;
  exchangeName: string;
  flags: IsakmpFlags;
  messageId: number;
  /** The Length field: total message length as sent. */
  declaredLength: number;
}

/** Decode the ISAKMP header at `off`; null (with an anomaly) if fewer than 28 bytes. */
export function decodeIsakmpHeader(b: Uint8Array, off: number, end: number, an: Anomaly[], layer = "isakmp"): IsakmpHeader | null {
  end = Math.min(end, b.length);
  if (off < 0 || off + ISAKMP_HEADER_LEN > end) return anomaly(an, layer, off, `header ${truncated(ISAKMP_HEADER_LEN, end - off)}`);
  const np = b[off + 16];
  const ver = b[off + 17];
  const ex = b[off + 18];
  const fl = b[off + 19];
  return {
    layer,
    offset: off,
    length: ISAKMP_HEADER_LEN,
    icookie: b.subarray(off, off + 8),
    rcookie: b.subarray(off + 8, off + 16),
    nextPayload: np,
    nextPayloadName: PAYLOAD_TYPES.name(np),
    majorVersion: ver >> 4,
    minorVersion: ver & 0x0f,
    exchange: ex,
    exchangeName: EXCHANGE_TYPES.name(ex),
    flags: {
      value: fl,
      encryption: (fl & FLAG_ENCRYPTION) !== 0,
      commit: (fl & FLAG_COMMIT) !== 0,
      authOnly: (fl & FLAG_AUTH_ONLY) !== 0,
    },
    messageId: u32(b, off + 20),
    declaredLength: u32(b, off + 24),
  };
}
