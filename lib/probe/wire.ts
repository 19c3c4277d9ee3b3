/**
 * Wire format of the MTU probe protocol (`vpnkit mtu` ↔ `vpnkit responder`). No I/O.
 *
 * Every datagram starts with a 44-byte header; a probe is the header followed by zero
 * padding up to the probed size, an ack is the header alone (so an ack is never larger
 * than the probe it answers: no amplification).
 *
 * ```
 *  0  magic "VKMP"
 *  4  version (1)
 *  5  type (1 = probe, 2 = ack)
 *  6  size: total IP packet size of the probe (u16), as the prober built it
 *  8  session nonce (8 random bytes, one per run)
 * 16  probe id (u32, from 1, never reused within a session)
 * 20  timestamp: sender's clock in ms since the epoch (u64)
 * 28  MAC: HMAC-SHA256(K, bytes 0..27) truncated to 16 bytes,
 *     K = HMAC-SHA256(shared secret, "vpnkit mtu probe v1")
 * 44
 * ```
 *
 * The type byte is under the MAC, so a probe can never pass as an ack or vice versa. The
 * padding is not covered: its length is (size is checked against the datagram length).
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ctEqual, putU16, putU32, u16, u32 } from "../core/bytes.ts";

export const PROBE_MAGIC = 0x564b4d50; // "VKMP"
export const PROBE_VERSION = 1;
export const TYPE_PROBE = 1;
export const TYPE_ACK = 2;
/** Header (and ack) length in bytes. */
export const PROBE_HEADER_LEN = 44;
/** Bytes covered by the MAC. */
const MACED_LEN = 28;
export const PROBE_MAC_LEN = 16;
export const PROBE_NONCE_LEN = 8;

const KEY_LABEL = new TextEncoder().encode("vpnkit mtu probe v1");

/**
 * Largest probe the responder answers by default, and the prober's default upper bound
 * (above common 9000-byte jumbo frames).
 */
export const DEFAULT_MAX_PROBE_SIZE = 9216;

/** Minimum acceptable shared secret length in bytes. */
export const MIN_SECRET_LEN = 16;

/** IP + UDP header bytes in front of the probe payload (no IP options, no extension headers). */
export function ipUdpOverhead(family: 4 | 6): number {
  return family === 6 ? 48 : 28;
}

/** UDP payload length of a probe whose IP packet is `size` bytes. */
export function probePayloadLength(size: number, family: 4 | 6): number {
  return size - ipUdpOverhead(family);
}

/** Smallest probe size (total IP packet) that can carry the header. */
export function minProbeSize(family: 4 | 6): number {
  return PROBE_HEADER_LEN + ipUdpOverhead(family);
}

/**
 * Derive the 32-byte MAC key from the shared secret. Throws on a secret shorter than
 * MIN_SECRET_LEN (configuration error, not wire data). The caller may zero the secret afterwards.
 */
export function deriveProbeKey(secret: Uint8Array): Uint8Array {
  if (secret.length < MIN_SECRET_LEN) throw new RangeError(`the probe secret must be at least ${MIN_SECRET_LEN} bytes (got ${secret.length})`);
  return hmac(sha256, secret, KEY_LABEL);
}

export interface ProbeHeader {
  type: number;
  /** Total IP packet size of the probe. */
  size: number;
  /** View into the datagram. */
  nonce: Uint8Array;
  id: number;
  /** Milliseconds since the epoch (sender's clock). */
  ts: number;
}

function mac(key: Uint8Array, b: Uint8Array): Uint8Array {
  return hmac(sha256, key, b.subarray(0, MACED_LEN)).subarray(0, PROBE_MAC_LEN);
}

/** Write header + MAC into `b[0..44)`; the rest of `b` is left as it is (padding). */
export function writeHeader(b: Uint8Array, key: Uint8Array, h: ProbeHeader): void {
  putU32(b, 0, PROBE_MAGIC);
  b[4] = PROBE_VERSION;
  b[5] = h.type;
  putU16(b, 6, h.size);
  b.set(h.nonce.subarray(0, PROBE_NONCE_LEN), 8);
  putU32(b, 16, h.id);
  putU32(b, 20, Math.floor(h.ts / 4294967296));
  putU32(b, 24, h.ts >>> 0);
  b.set(mac(key, b), MACED_LEN);
}

/** A probe datagram (UDP payload) for an IP packet of `h.size` bytes in `family`. */
export function buildProbe(key: Uint8Array, h: Omit<ProbeHeader, "type">, family: 4 | 6): Uint8Array {
  const len = probePayloadLength(h.size, family);
  if (len < PROBE_HEADER_LEN || h.size > 65535) throw new RangeError(`probe size ${h.size} out of range for IPv${family}`);
  const b = new Uint8Array(len);
  writeHeader(b, key, { ...h, type: TYPE_PROBE });
  return b;
}

/** The ack for a verified probe header (44 bytes). */
export function buildAck(key: Uint8Array, h: ProbeHeader): Uint8Array {
  const b = new Uint8Array(PROBE_HEADER_LEN);
  writeHeader(b, key, { ...h, type: TYPE_ACK });
  return b;
}

/** Structural parse (magic, version, length). Null when it is not one of ours. Never throws. */
export function parseHeader(b: Uint8Array): ProbeHeader | null {
  if (b.length < PROBE_HEADER_LEN) return null;
  if (u32(b, 0) !== PROBE_MAGIC || b[4] !== PROBE_VERSION) return null;
  return {
    type: b[5],
    size: u16(b, 6),
    nonce: b.subarray(8, 16),
    id: u32(b, 16),
    ts: u32(b, 20) * 4294967296 + u32(b, 24),
  };
}

/** Constant-time check of the MAC at bytes 28..44. */
export function verifyMac(key: Uint8Array, b: Uint8Array): boolean {
  if (b.length < PROBE_HEADER_LEN) return false;
  return ctEqual(mac(key, b), b.subarray(MACED_LEN, PROBE_HEADER_LEN));
}
