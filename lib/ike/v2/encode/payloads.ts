/**
 * IKEv2 payload encoders (RFC 7296 §3.2–§3.16): the inverse of the decoders in
 * `lib/ike/v2/payloads/`. A payload is described by a plain object
 * ({@link PayloadSpec}); {@link encodePayloadChain} writes a chain with the
 * Next Payload fields filled in. Encoders only build bytes; they never
 * validate meaning (a proposal with no transforms is encoded as given).
 * @module
 */
import { concat, putU16, putU32 } from "../../../core/bytes.ts";

/** A transform attribute: TV (16-bit value) or TLV (bytes). */
export type TransformAttributeSpec = { type: number; value: number } | { type: number; bytes: Uint8Array };

export interface TransformSpec {
  /** Transform type (1 ENCR, 2 PRF, 3 INTEG, 4 KE, 5 ESN, ...). */
  type: number;
  id: number;
  /** Key Length attribute (bits), emitted as TV attribute 14. */
  keyLength?: number;
  /** Further attributes (after the key length). */
  attributes?: TransformAttributeSpec[];
}

export interface ProposalSpec {
  /** Proposal number; default: position + 1. */
  num?: number;
  /** Protocol ID: 1 IKE, 2 AH, 3 ESP. */
  protocol: number;
  /** SPI (empty in an initial IKE_SA_INIT, 8 bytes for an IKE rekey, 4 for ESP/AH). */
  spi: Uint8Array;
  transforms: TransformSpec[];
}

/** Traffic selector in wire form: TS_IPV4_ADDR_RANGE (7) or TS_IPV6_ADDR_RANGE (8). */
export interface TrafficSelectorSpec {
  /** 7 (IPv4) or 8 (IPv6). */
  tsType: number;
  /** IP protocol ID, 0 = any. */
  ipProtocol: number;
  startPort: number;
  endPort: number;
  /** Start/end address (4 or 16 bytes). */
  start: Uint8Array;
  end: Uint8Array;
}

export interface CpAttributeSpec {
  type: number;
  value: Uint8Array;
}

/** Everything the encoder can write; `type` is the IKEv2 payload type name. */
export type PayloadSpec =
  | { type: "sa"; proposals: ProposalSpec[] }
  | { type: "ke"; group: number; data: Uint8Array }
  | { type: "idi" | "idr"; idType: number; data: Uint8Array }
  | { type: "cert"; encoding: number; data: Uint8Array }
  | { type: "certreq"; encoding: number; data: Uint8Array }
  | { type: "auth"; method: number; data: Uint8Array }
  | { type: "nonce"; nonce: Uint8Array }
  | { type: "notify"; protocol?: number; spi?: Uint8Array; notifyType: number; data?: Uint8Array }
  | { type: "delete"; protocol: number; spiSize: number; spis: Uint8Array[] }
  | { type: "vendor"; data: Uint8Array }
  | { type: "tsi" | "tsr"; selectors: TrafficSelectorSpec[] }
  | { type: "cp"; cfgType: number; attributes: CpAttributeSpec[] }
  | { type: "eap"; data: Uint8Array }
  | { type: "raw"; payloadType: number; body: Uint8Array; critical?: boolean };

/** IKEv2 payload type numbers by spec name. */
export const PAYLOAD_NUMBER: Record<Exclude<PayloadSpec["type"], "raw">, number> = {
  sa: 33, ke: 34, idi: 35, idr: 36, cert: 37, certreq: 38, auth: 39, nonce: 40, notify: 41,
  delete: 42, vendor: 43, tsi: 44, tsr: 45, cp: 47, eap: 48,
};

/** Payload type number of a spec. */
export function payloadNumber(p: PayloadSpec): number {
  return p.type === "raw" ? p.payloadType : PAYLOAD_NUMBER[p.type];
}

function u16b(v: number): Uint8Array {
  const b = new Uint8Array(2);
  putU16(b, 0, v);
  return b;
}

function encodeTransform(t: TransformSpec, last: boolean): Uint8Array {
  const attrs: Uint8Array[] = [];
  const list: TransformAttributeSpec[] = [];
  if (t.keyLength !== undefined) list.push({ type: 14, value: t.keyLength });
  if (t.attributes) list.push(...t.attributes);
  for (const a of list) {
    if ("value" in a) {
      const b = new Uint8Array(4);
      putU16(b, 0, 0x8000 | (a.type & 0x7fff));
      putU16(b, 2, a.value);
      attrs.push(b);
    } else {
      const b = new Uint8Array(4 + a.bytes.length);
      putU16(b, 0, a.type & 0x7fff);
      putU16(b, 2, a.bytes.length);
      b.set(a.bytes, 4);
      attrs.push(b);
    }
  }
  const body = concat(...attrs);
  const out = new Uint8Array(8 + body.length);
  out[0] = last ? 0 : 3;
  putU16(out, 2, out.length);
  out[4] = t.type;
  putU16(out, 6, t.id);
  out.set(body, 8);
  return out;
}

function encodeProposal(p: ProposalSpec, index: number, last: boolean): Uint8Array {
  const ts = p.transforms.map((t, i) => encodeTransform(t, i === p.transforms.length - 1));
  const body = concat(...ts);
  const out = new Uint8Array(8 + p.spi.length + body.length);
  out[0] = last ? 0 : 2;
  putU16(out, 2, out.length);
  out[4] = p.num ?? index + 1;
  out[5] = p.protocol;
  out[6] = p.spi.length;
  out[7] = p.transforms.length;
  out.set(p.spi, 8);
  out.set(body, 8 + p.spi.length);
  return out;
}

function encodeSelector(s: TrafficSelectorSpec): Uint8Array {
  const out = new Uint8Array(8 + s.start.length + s.end.length);
  out[0] = s.tsType;
  out[1] = s.ipProtocol;
  putU16(out, 2, out.length);
  putU16(out, 4, s.startPort);
  putU16(out, 6, s.endPort);
  out.set(s.start, 8);
  out.set(s.end, 8 + s.start.length);
  return out;
}

/** The payload body (everything after the 4-byte generic header). */
export function encodePayloadBody(p: PayloadSpec): Uint8Array {
  switch (p.type) {
    case "sa":
      return concat(...p.proposals.map((pr, i) => encodeProposal(pr, i, i === p.proposals.length - 1)));
    case "ke":
      return concat(u16b(p.group), new Uint8Array(2), p.data);
    case "idi":
    case "idr":
      return concat(new Uint8Array([p.idType, 0, 0, 0]), p.data);
    case "cert":
    case "certreq":
      return concat(new Uint8Array([p.encoding]), p.data);
    case "auth":
      return concat(new Uint8Array([p.method, 0, 0, 0]), p.data);
    case "nonce":
      return p.nonce;
    case "notify": {
      const spi = p.spi ?? new Uint8Array(0);
      return concat(new Uint8Array([p.protocol ?? 0, spi.length]), u16b(p.notifyType), spi, p.data ?? new Uint8Array(0));
    }
    case "delete":
      return concat(new Uint8Array([p.protocol, p.spiSize]), u16b(p.spis.length), ...p.spis);
    case "vendor":
    case "eap":
      return p.data;
    case "tsi":
    case "tsr":
      return concat(new Uint8Array([p.selectors.length, 0, 0, 0]), ...p.selectors.map(encodeSelector));
    case "cp": {
      const attrs = p.attributes.map((a) => concat(u16b(a.type & 0x7fff), u16b(a.value.length), a.value));
      return concat(new Uint8Array([p.cfgType, 0, 0, 0]), ...attrs);
    }
    case "raw":
      return p.body;
  }
}

/** Write one payload with its generic header; `next` is the following payload's type (0 = none). */
export function encodePayload(p: PayloadSpec, next: number): Uint8Array {
  const body = encodePayloadBody(p);
  const out = new Uint8Array(4 + body.length);
  out[0] = next;
  out[1] = p.type === "raw" && p.critical ? 0x80 : 0;
  putU16(out, 2, out.length);
  out.set(body, 4);
  return out;
}

/**
 * Encode a payload chain. Returns the bytes and the type of the first payload
 * (for the IKE header's or the SK payload's Next Payload field).
 */
export function encodePayloadChain(list: readonly PayloadSpec[]): { first: number; bytes: Uint8Array } {
  const parts = list.map((p, i) => encodePayload(p, i + 1 < list.length ? payloadNumber(list[i + 1]) : 0));
  return { first: list.length ? payloadNumber(list[0]) : 0, bytes: concat(...parts) };
}

/** Big-endian 4-byte encoding of a 32-bit SPI / value. */
export function u32Bytes(v: number): Uint8Array {
  const b = new Uint8Array(4);
  putU32(b, 0, v);
  return b;
}
