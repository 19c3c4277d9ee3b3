/**
 * IKEv2 header (RFC 7296 §3.1).
 *
 * ```
 * | IKE SA Initiator's SPI (8) | IKE SA Responder's SPI (8) |
 * | Next Payload | MjVer|MnVer | Exchange Type | Flags | Message ID (4) | Length (4) |
 * ```
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../core/anomaly.ts";
import { u32 } from "../../core/bytes.ts";
import { EXCHANGE_TYPES, PAYLOAD_TYPES } from "./registry.ts";

/** Size of the fixed IKE header. */
export const IKEV2_HEADER_LEN = 28;

export interface Ikev2Flags {
  /** I (0x08): sent by the original initiator. */
  initiator: boolean;
  /** R (0x20): this message is a response. */
  response: boolean;
  /** V (0x10): sender can speak a higher major version. */
  higherVersion: boolean;
  /** The whole flags octet. */
  raw: number;
}

export interface Ikev2Header {
  /** Initiator's SPI (8-byte view). */
  ispi: Uint8Array;
  /** Responder's SPI (8-byte view). */
  rspi: Uint8Array;
  nextPayload: number;
  nextPayloadName: string;
  majorVersion: number;
  minorVersion: number;
  exchange: number;
  exchangeName: string;
  flags: Ikev2Flags;
  messageId: number;
  /** Length field as sent. */
  declaredLength: number;
}

/**
 * Decode the 28-byte header at `off` (no check of Length against the data;
 * {@link decodeIkev2} does that). Returns null when fewer than 28 bytes remain.
 */
export function decodeIkev2Header(b: Uint8Array, off: number, end: number, an: Anomaly[], layer = "ikev2"): Ikev2Header | null {
  if (end > b.length) end = b.length;
  if (off < 0 || end - off < IKEV2_HEADER_LEN) return anomaly(an, layer, off, "IKE header " + truncated(IKEV2_HEADER_LEN, end - off));
  const ver = b[off + 17];
  const flags = b[off + 19];
  const h: Ikev2Header = {
    ispi: b.subarray(off, off + 8),
    rspi: b.subarray(off + 8, off + 16),
    nextPayload: b[off + 16],
    nextPayloadName: PAYLOAD_TYPES.name(b[off + 16]),
    majorVersion: ver >> 4,
    minorVersion: ver & 0x0f,
    exchange: b[off + 18],
    exchangeName: EXCHANGE_TYPES.name(b[off + 18]),
    flags: { initiator: (flags & 0x08) !== 0, response: (flags & 0x20) !== 0, higherVersion: (flags & 0x10) !== 0, raw: flags },
    messageId: u32(b, off + 20),
    declaredLength: u32(b, off + 24),
  };
  if (h.majorVersion !== 2) an.push({ layer, offset: off + 17, reason: `major version ${h.majorVersion}, expected 2` });
  if (flags & 0xc7) an.push({ layer, offset: off + 19, reason: `reserved flag bits set: 0x${(flags & 0xc7).toString(16)}` });
  return h;
}
