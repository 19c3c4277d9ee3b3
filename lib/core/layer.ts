/**
 * The decode data model shared by every dissector.
 *
 * A dissector is a pure function
 * `(b: Uint8Array, off: number, end: number, an: Anomaly[], ...) => XLayer | null`
 * that reads `b[off..end)` with bounds checks, never throws on wire data,
 * appends {@link Anomaly} entries for anything malformed, and returns a plain
 * object describing the layer. Byte fields are `Uint8Array` views into `b`
 * (no copies); the output stage renders them as hex.
 *
 * The NDJSON output (`vpnkit decode --json`) is these objects serialised with
 * {@link jsonReplacer}; the layer interfaces therefore *are* the JSON schema
 * (documented in docs/json-schema.md).
 * @module
 */
import type { Anomaly } from "./anomaly.ts";
import { toHex } from "./bytes.ts";

/** Fields every layer carries. */
export interface LayerBase {
  /** Layer tag, e.g. `"eth"`, `"ipv4"`, `"udp"`, `"esp"`, `"ikev2"`. */
  layer: string;
  /** Offset of the layer's first byte in the buffer it was decoded from. */
  offset: number;
  /** Bytes the layer header (or the whole message, for IKE/ESP) spans. */
  length: number;
}

/** A decoded packet: capture metadata plus the layer stack. */
export interface DecodedPacket {
  /** 1-based packet number in the capture. */
  no: number;
  /** Capture timestamp: whole seconds since the epoch. */
  tsSec: number;
  /** Capture timestamp: nanoseconds within the second. */
  tsNsec: number;
  /** pcapng interface index (0 for classic pcap). */
  iface: number;
  /** LINKTYPE_* value of the interface. */
  linkType: number;
  /** Bytes captured. */
  caplen: number;
  /** Bytes on the wire. */
  len: number;
  /** Layers, outermost first. */
  layers: LayerBase[];
  /** Everything malformed or truncated in this packet. */
  anomalies: Anomaly[];
  /** Free-text notes from the pipeline (e.g. "IPv4 fragment 2 of datagram id 0x1234, held for reassembly"). */
  notes?: string[];
  /** pcapng packet comment, when present. */
  comment?: string;
  /** Interface name, when the capture source knows it (live capture). */
  ifName?: string;
}

/**
 * JSON.stringify replacer: Uint8Array → hex string, bigint → decimal string.
 * Looks at the holder's raw value, so Node Buffers (whose toJSON runs before
 * the replacer) are rendered as hex too.
 */
export function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = key === "" || this === null || typeof this !== "object" ? value : (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) return toHex(raw);
  if (typeof value === "bigint") return value.toString();
  return value;
}
