/**
 * UDP encapsulation of IKE and ESP (RFC 3948, RFC 7296 §2.23).
 *
 * On the NAT-T port (4500, plus any user-added ports) one UDP payload is
 * exactly one of:
 * - a NAT-keepalive: a single octet 0xFF (RFC 3948 §2.3);
 * - IKE: four zero octets (the non-ESP marker) followed by the IKE header
 *   (RFC 3948 §2.2) — the IKE message starts at `off + 4`;
 * - ESP: anything else; the first four octets are the (non-zero) SPI.
 * A payload shorter than 4 bytes that is not a keepalive is invalid.
 *
 * On the IKE port (500) there is no marker: the IKE header starts at the
 * first byte. {@link ikeOffsetOnPort500} flags the common misconfiguration of
 * a non-ESP marker sent to port 500.
 * @module
 */
import { type Anomaly } from "../core/anomaly.ts";
import { u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { IKE_PORT, NAT_KEEPALIVE_BYTE, NATT_PORT, NON_ESP_MARKER_LEN } from "./registry.ts";

/** What a NAT-T UDP payload carries. */
export type NattKind = "keepalive" | "ike" | "esp" | "invalid";

/** Classification result: the kind and where the next layer starts. */
export interface NattClassification {
  kind: NattKind;
  /** Offset of the next layer: `off + 4` for IKE, `off` for ESP and invalid, `end` for a keepalive. */
  off: number;
}

/** The NAT-T framing layer as shown in the decode. */
export interface NattLayer extends LayerBase, NattClassification {
  layer: "natt";
  /** Offset of the 4-byte non-ESP marker (IKE only). */
  markerOffset?: number;
}

/**
 * Classify `b[off..end)` without allocating or recording anomalies
 * (summary fast path). Same rules as {@link decodeNatt}.
 */
export function classifyNattPayload(b: Uint8Array, off: number, end: number): NattKind {
  if (end > b.length) end = b.length;
  const have = end - off;
  if (!(off >= 0) || have <= 0) return "invalid";
  if (have === 1) return b[off] === NAT_KEEPALIVE_BYTE ? "keepalive" : "invalid";
  if (have < NON_ESP_MARKER_LEN) return "invalid";
  return (b[off] | b[off + 1] | b[off + 2] | b[off + 3]) === 0 ? "ike" : "esp";
}

/**
 * Decode the RFC 3948 framing of a UDP payload received on a NAT-T port.
 * Never throws and always returns a layer; `kind: "invalid"` comes with an
 * anomaly. For ESP, call `decodeEsp(b, layer.off, end, an)`; for IKE, the
 * IKE decoder at `layer.off`.
 */
export function decodeNatt(b: Uint8Array, off: number, end: number, an: Anomaly[]): NattLayer {
  if (end > b.length) end = b.length;
  if (!(off >= 0) || off > end) {
    an.push({ layer: "natt", offset: off, reason: "empty UDP payload on a NAT-T port" });
    return { layer: "natt", offset: off, length: 0, kind: "invalid", off };
  }
  const kind = classifyNattPayload(b, off, end);
  const have = end - off;
  switch (kind) {
    case "keepalive":
      return { layer: "natt", offset: off, length: 1, kind, off: end };
    case "ike":
      if (have === NON_ESP_MARKER_LEN) {
        an.push({ layer: "natt", offset: off + NON_ESP_MARKER_LEN, reason: "non-ESP marker with no IKE message after it" });
      }
      return { layer: "natt", offset: off, length: NON_ESP_MARKER_LEN, kind, off: off + NON_ESP_MARKER_LEN, markerOffset: off };
    case "esp":
      return { layer: "natt", offset: off, length: 0, kind, off };
    default: {
      let reason: string;
      if (have === 0) reason = "empty UDP payload on a NAT-T port";
      else if (have === 1) reason = `1-byte payload 0x${b[off].toString(16).padStart(2, "0")} is not a NAT-keepalive (must be 0xff)`;
      else reason = `${have}-byte payload: too short for a non-ESP marker or an SPI and not a NAT-keepalive`;
      an.push({ layer: "natt", offset: off, reason });
      return { layer: "natt", offset: off, length: have, kind, off };
    }
  }
}

/** UDP ports treated as IKE (no marker) and as NAT-T (RFC 3948 framing). */
export interface IpsecPorts {
  ike: Set<number>;
  natt: Set<number>;
}

/** Default ports: IKE {500}, NAT-T {4500}. Frozen by convention; use {@link makeIpsecPorts} to add ports. */
export const DEFAULT_IPSEC_PORTS: IpsecPorts = { ike: new Set([IKE_PORT]), natt: new Set([NATT_PORT]) };

/** The defaults plus user-added ports (e.g. `--natt-port 4501`). */
export function makeIpsecPorts(extra?: { ike?: Iterable<number>; natt?: Iterable<number> }): IpsecPorts {
  const ike = new Set<number>([IKE_PORT]);
  const natt = new Set<number>([NATT_PORT]);
  if (extra?.ike) for (const p of extra.ike) ike.add(p);
  if (extra?.natt) for (const p of extra.natt) natt.add(p);
  return { ike, natt };
}

/**
 * Decide how to dissect a UDP payload from its ports.
 *
 * The destination port is looked at first (a server listens on the
 * well-known port; replies through a NAT come *from* it to an arbitrary
 * port), then the source port. If a port is in both sets, NAT-T wins,
 * because its framing is self-describing (the marker) while IKE's is not.
 * Returns `null` when neither port is an IPsec port.
 */
export function classifyUdp(srcPort: number, dstPort: number, ports: IpsecPorts = DEFAULT_IPSEC_PORTS): "ike" | "natt" | null {
  if (ports.natt.has(dstPort)) return "natt";
  if (ports.ike.has(dstPort)) return "ike";
  if (ports.natt.has(srcPort)) return "natt";
  if (ports.ike.has(srcPort)) return "ike";
  return null;
}

/** IKE fixed header length (RFC 7296 §3.1, also ISAKMP RFC 2408 §3.1). */
const IKE_HDR = 28;

function looksLikeIke(b: Uint8Array, off: number, end: number): boolean {
  if (end - off < IKE_HDR) return false;
  const major = b[off + 17] >>> 4;
  if (major !== 1 && major !== 2) return false;
  return u32(b, off + 24) === end - off;
}

/**
 * Where the IKE header starts in a payload on the IKE port (no NAT-T
 * framing). Normally `off`. If the payload starts with four zero bytes and
 * only parses as IKE *after* them, a non-ESP marker was sent to the IKE port
 * (RFC 3948 §2.2 allows it only on the NAT-T port): an anomaly is recorded
 * and `off + 4` returned so the message can still be read.
 */
export function ikeOffsetOnPort500(b: Uint8Array, off: number, end: number, an: Anomaly[]): number {
  if (end > b.length) end = b.length;
  if (!(off >= 0) || end - off < NON_ESP_MARKER_LEN + IKE_HDR) return off;
  if ((b[off] | b[off + 1] | b[off + 2] | b[off + 3]) !== 0) return off;
  if (looksLikeIke(b, off, end)) return off;
  if (!looksLikeIke(b, off + NON_ESP_MARKER_LEN, end)) return off;
  an.push({ layer: "natt", offset: off, reason: "non-ESP marker on the IKE port: RFC 3948 framing is only used on the NAT-T port" });
  return off + NON_ESP_MARKER_LEN;
}
