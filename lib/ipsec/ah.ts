/**
 * Authentication Header framing (RFC 4302 §2).
 *
 * ```
 *  0                   1                   2                   3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Next Header   |  Payload Len  |          RESERVED             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Security Parameters Index (SPI)               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Sequence Number Field                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Integrity Check Value-ICV (variable)           |
 * ```
 *
 * Payload Len is the AH length in 32-bit words minus 2, so the header spans
 * `(payloadLen + 2) * 4` bytes and the ICV `(payloadLen + 2) * 4 - 12`.
 * Alignment (RFC 4302 §2.2/§3.3.3.2.1): the whole AH must be a multiple of
 * 32 bits over IPv4 and of 64 bits over IPv6; a misaligned length is recorded
 * as an anomaly (the layer is still returned).
 *
 * The next header is passed on unmodified (`payloadOffset`..`payloadEnd`), so
 * the pipeline continues with the protocol named by `nextHeader`.
 * @module
 */
import { type Anomaly, truncated } from "../core/anomaly.ts";
import { u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { IP_PROTOCOLS } from "../net/registries.ts";
import { spiReservedReason } from "./registry.ts";

/** Bytes of the fixed part of AH (before the ICV). */
export const AH_FIXED_LEN = 12;

/** A decoded AH header. */
export interface AhLayer extends LayerBase {
  layer: "ah";
  /** Protocol number of what follows AH. */
  nextHeader: number;
  /** Registry name of `nextHeader` (IANA protocol numbers, `lib/net/registries.ts`). */
  nextHeaderName: string;
  /** Raw Payload Len field: AH length in 32-bit words, minus 2. */
  payloadLen: number;
  /** `(payloadLen + 2) * 4`: bytes the AH header claims to span (tcpdump's "sumlen"). */
  ahLen: number;
  /** RESERVED field (must be zero). */
  reserved: number;
  spi: number;
  seq: number;
  /** Integrity Check Value: view of `ahLen - 12` bytes (fewer if the capture is short). */
  icv: Uint8Array;
  /** Offset of the next header (the protected payload). */
  payloadOffset: number;
  /** End of the protected payload (= `end`). */
  payloadEnd: number;
}

/** Options for {@link decodeAh}. */
export interface AhOptions {
  /** Carried over IPv6 (64-bit alignment) instead of IPv4 (32-bit alignment). */
  ipv6?: boolean;
  /** Override the next-header naming (default: `IP_PROTOCOLS` from lib/net). */
  protoName?: (n: number) => string;
}

function ipProtoName(n: number): string {
  return IP_PROTOCOLS.name(n);
}

/**
 * Decode AH at `b[off..end)`. Never throws.
 *
 * Fewer than 12 bytes → truncation anomaly and `null`. A Payload Len that
 * claims fewer than 12 bytes, more bytes than available, or breaks the
 * IPv4/IPv6 alignment rule yields an anomaly; the ICV view and
 * `payloadOffset` are clamped to what is actually there.
 */
export function decodeAh(b: Uint8Array, off: number, end: number, an: Anomaly[], opts?: AhOptions): AhLayer | null {
  if (end > b.length) end = b.length;
  if (!(off >= 0) || off > end) {
    an.push({ layer: "ah", offset: off, reason: truncated(AH_FIXED_LEN, 0) });
    return null;
  }
  const have = end - off;
  if (have < AH_FIXED_LEN) {
    an.push({ layer: "ah", offset: off, reason: truncated(AH_FIXED_LEN, have) });
    return null;
  }
  const ipv6 = opts?.ipv6 === true;
  const nextHeader = b[off];
  const payloadLen = b[off + 1];
  const reserved = u16(b, off + 2);
  const spi = u32(b, off + 4);
  const seq = u32(b, off + 8);
  const ahLen = (payloadLen + 2) * 4;

  let hdrEnd = off + ahLen;
  if (ahLen < AH_FIXED_LEN) {
    an.push({
      layer: "ah",
      offset: off + 1,
      reason: `payload length ${payloadLen} gives ${ahLen} bytes, less than the 12-byte fixed header`,
    });
    hdrEnd = off + AH_FIXED_LEN;
  } else if (hdrEnd > end) {
    an.push({ layer: "ah", offset: off, reason: truncated(ahLen, have) });
    hdrEnd = end;
  }
  const align = ipv6 ? 8 : 4;
  if (ahLen % align !== 0) {
    an.push({
      layer: "ah",
      offset: off + 1,
      reason: `AH length ${ahLen} bytes is not a multiple of ${align * 8} bits as required over ${ipv6 ? "IPv6" : "IPv4"} (RFC 4302 §3.3.3.2.1)`,
    });
  }
  if (reserved !== 0) {
    an.push({ layer: "ah", offset: off + 2, reason: `reserved field is 0x${reserved.toString(16).padStart(4, "0")}, must be zero` });
  }
  if (spi <= 255) {
    const r = spiReservedReason(spi);
    if (r !== null) an.push({ layer: "ah", offset: off + 4, reason: r });
  }
  return {
    layer: "ah",
    offset: off,
    length: hdrEnd - off,
    nextHeader,
    nextHeaderName: (opts?.protoName ?? ipProtoName)(nextHeader),
    payloadLen,
    ahLen,
    reserved,
    spi,
    seq,
    icv: b.subarray(off + AH_FIXED_LEN, hdrEnd),
    payloadOffset: hdrEnd,
    payloadEnd: end,
  };
}
