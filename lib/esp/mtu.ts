/**
 * ESP overhead and tunnel MTU arithmetic (RFC 4303 §2.4 padding, RFC 4106/7634 8-byte IV,
 * 16-byte ICV; AES-CBC: 16-byte IV, padding to the 16-byte block, the HMAC's 12..32-byte ICV).
 * @module
 */

import { cbcPadLength, cbcSuite, isCbcCipher } from "./cbc.ts";
import type { EncapOptions, EspCipherName } from "./types.ts";

/** ESP header (SPI + sequence number). */
export const ESP_HEADER_LEN = 8;
/** Explicit IV of the AEAD transforms (the 64-bit sequence number). */
export const ESP_IV_LEN = 8;
/** ICV length of the AEAD transforms. */
export const ESP_ICV_LEN = 16;
/** Pad Length + Next Header. */
export const ESP_TRAILER_LEN = 2;

/** Padding so that payload + padding + 2 is a multiple of 4 (RFC 4303 §2.4). */
export function espPadLength(innerLen: number): number {
  return (4 - ((innerLen + ESP_TRAILER_LEN) & 3)) & 3;
}

function fixedOverhead(cipher: EspCipherName, opts: EncapOptions): number {
  // The AEAD transforms share IV 8 / ICV 16 / block alignment 4 (GCM and ChaCha are stream modes);
  // CBC: IV 16, the HMAC's ICV, alignment 16 (the padding is added by espOverhead / tunnelMtu)
  const ip = opts.outer === "ipv6" ? 40 : 20;
  const udp = opts.udpEncap ? 8 : 0;
  const tcp = opts.tcpEncap ? 2 + 20 : 0;
  if (isCbcCipher(cipher)) return ip + udp + tcp + ESP_HEADER_LEN + 16 + ESP_TRAILER_LEN + cbcSuite(cipher).icvLen;
  return ip + udp + tcp + ESP_HEADER_LEN + ESP_IV_LEN + ESP_TRAILER_LEN + ESP_ICV_LEN;
}

/**
 * Exact bytes added to an inner packet of `innerLen` bytes: outer IP (20/40, no options)
 * + UDP 8 (if udpEncap) + TCP-encap 22 (if tcpEncap: 2-byte length + 20-byte TCP header
 * without options) + ESP header 8 + IV 8 + padding 0..3 + trailer 2 + ICV 16.
 * For aes256gcm16 in UDP/4500 over IPv4 and a 1028-byte inner packet: 64.
 */
export function espOverhead(cipher: EspCipherName, opts: EncapOptions, innerLen: number): number {
  return fixedOverhead(cipher, opts) + (isCbcCipher(cipher) ? cbcPadLength(innerLen) : espPadLength(innerLen));
}

/** Size of the outer packet (outer IP total length) for an inner packet of `innerLen` bytes. */
export function espOuterLength(cipher: EspCipherName, opts: EncapOptions, innerLen: number): number {
  return innerLen + espOverhead(cipher, opts, innerLen);
}

/**
 * Largest inner packet whose ESP packet (with outer headers) fits in `pathMtu`.
 * 0 when nothing fits. (IPv6 inner traffic needs ≥ 1280; checking that is the caller's job.)
 */
export function tunnelMtu(pathMtu: number, cipher: EspCipherName, opts: EncapOptions): number {
  // outer = fixed - 2 + align4(n + 2)  ≤ pathMtu  ⇔  n + 2 ≤ floor4(pathMtu - fixed + 2)
  const room = pathMtu - fixedOverhead(cipher, opts) + ESP_TRAILER_LEN;
  if (room < ESP_TRAILER_LEN) return 0;
  const n = (room & (isCbcCipher(cipher) ? ~15 : ~3)) - ESP_TRAILER_LEN;
  return n > 0 ? n : 0;
}
