/**
 * IPsec-specific number tables.
 *
 * IP protocol / next-header names live with the network layer (lib/net); this
 * file only holds what is particular to IPsec framing: the SPI value ranges
 * (RFC 4303 §2.1, RFC 4302 §2.4, IANA "Security Parameters Index" note) and
 * the RFC 3948 / RFC 9329 magic values.
 * @module
 */
import { Registry } from "../core/registry.ts";

/**
 * SPI value ranges. 0 is reserved for local, implementation-specific use and
 * must never be sent on the wire (RFC 4303 §2.1); 1–255 are reserved by IANA
 * for future use. Every other value is an ordinary, locally chosen SPI.
 */
export const spiRanges = new Registry(
  "ESP/AH SPI values",
  { 0: "RESERVED_LOCAL_USE" },
  [{ from: 1, to: 255, label: "RESERVED_IANA" }],
);

/** Largest SPI in the IANA-reserved block (1–255). */
export const SPI_RESERVED_MAX = 255;

/**
 * Describe why an SPI is reserved, or `null` for an ordinary SPI.
 * Used by both ESP and AH decoders for their anomaly text.
 */
export function spiReservedReason(spi: number): string | null {
  if (spi === 0) return "SPI 0 is reserved for local use and never sent on the wire (RFC 4303 §2.1)";
  if (spi <= SPI_RESERVED_MAX) return `SPI ${spi} is in the range 1-255 reserved by IANA`;
  return null;
}

/** RFC 3948 §2.3: a NAT-keepalive is a single octet of this value. */
export const NAT_KEEPALIVE_BYTE = 0xff;

/** RFC 3948 §2.2 / RFC 9329 §3.1: four zero octets in place of an SPI mark IKE. */
export const NON_ESP_MARKER_LEN = 4;

/** RFC 9329 §3.1: the TCP stream prefix sent by the initiator, ASCII "IKETCP". */
export const IKETCP_PREFIX: Uint8Array = new Uint8Array([0x49, 0x4b, 0x45, 0x54, 0x43, 0x50]);

/** Default UDP port for IKE (RFC 7296 §2). */
export const IKE_PORT = 500;
/** Default UDP port for NAT-T, i.e. IKE with non-ESP marker and ESP-in-UDP (RFC 3948). */
export const NATT_PORT = 4500;
