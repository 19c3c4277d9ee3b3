/**
 * Notify payload (RFC 7296 §3.10), with the Notification Data of common
 * types decoded into `value`.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, printable, toHex, u16, u32 } from "../../../core/bytes.ts";
import {
  GATEWAY_ID_TYPES, HASH_ALGORITHMS, KE_IDS, NOTIFY_TYPES, PAYLOAD_TYPES, PROTOCOL_IDS, isNotifyError,
} from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

/** A redirect gateway identity (RFC 5685). */
export interface Ikev2GatewayIdentity {
  type: number;
  typeName: string;
  /** Address or FQDN text (hex for unknown types). */
  text: string;
}

/** Decoded Notification Data; which fields are set depends on the type. */
export interface Ikev2NotifyValue {
  /** NAT_DETECTION_*_IP: SHA-1 hash. */
  hash?: Uint8Array;
  /** COOKIE / COOKIE2. */
  cookie?: Uint8Array;
  /** INVALID_KE_PAYLOAD: the group the responder wants. */
  group?: number;
  groupName?: string;
  /** SIGNATURE_HASH_ALGORITHMS. */
  hashAlgorithms?: { id: number; name: string }[];
  /** INVALID_MESSAGE_ID: the offending message ID. */
  messageId?: number;
  /** SET_WINDOW_SIZE. */
  windowSize?: number;
  /** UNSUPPORTED_CRITICAL_PAYLOAD: the payload type. */
  payloadType?: number;
  payloadTypeName?: string;
  /** ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS. */
  address?: string;
  /** REDIRECT / REDIRECTED_FROM. */
  gateway?: Ikev2GatewayIdentity;
  /** REDIRECT in IKE_SA_INIT: the initiator's nonce. */
  nonce?: Uint8Array;
  /** AUTH_LIFETIME / TICKET_LT_OPAQUE lifetime (seconds). */
  lifetime?: number;
  /** TICKET_LT_OPAQUE / TICKET_OPAQUE ticket. */
  ticket?: Uint8Array;
  /** IPCOMP_SUPPORTED. */
  cpi?: number;
  ipcompTransform?: number;
  /** REKEY_SA / INVALID_SPI / CHILD_SA_NOT_FOUND: the SPI concerned (hex). */
  spi?: string;
  /** IKEV2_MESSAGE_ID_SYNC (RFC 6311). */
  syncNonce?: number;
  expectedSendRequestMid?: number;
  expectedRecvRequestMid?: number;
  /** Text data (e.g. TS_MAX_QUEUE is none; kept for vendor text notifies). */
  text?: string;
}

export interface Ikev2NotifyPayload extends Ikev2PayloadBase {
  kind: "notify";
  protocol: number;
  protocolName: string;
  spiSize: number;
  spi: Uint8Array;
  notifyType: number;
  notifyName: string;
  /** Error type (0–16383) vs status type. */
  isError: boolean;
  /** Notification Data, raw. */
  data: Uint8Array;
  /** Decoded data for common types. */
  value?: Ikev2NotifyValue;
}

/** Status types whose Notification Data is empty by definition (capability flags and the like). */
const NO_DATA = new Set([
  7, 16384, 16386, 16391, 16392, 16394, 16395, 16396, 16399, 16400, 16404, 16405, 16406, 16410, 16411,
  16412, 16417, 16418, 16420, 16421, 16430, 16432, 16435, 16438, 16442,
]);

function gatewayIdentity(d: Uint8Array, an: Anomaly[], layer: string, off: number): { gw?: Ikev2GatewayIdentity; used: number } {
  if (d.length < 2) { anomaly(an, layer, off, "gateway identity " + truncated(2, d.length)); return { used: d.length }; }
  const t = d[0];
  const len = d[1];
  if (2 + len > d.length) { anomaly(an, layer, off, `gateway identity length ${len} runs past data`); return { used: d.length }; }
  const v = d.subarray(2, 2 + len);
  let text: string;
  if (t === 1 && len === 4) text = ipv4Text(v);
  else if (t === 2 && len === 16) text = ipv6Text(v);
  else if (t === 3) text = printable(v, v.length);
  else {
    if (t === 1 || t === 2) an.push({ layer, offset: off, reason: `gateway identity type ${t} with length ${len}` });
    text = toHex(v);
  }
  return { gw: { type: t, typeName: GATEWAY_ID_TYPES.name(t), text }, used: 2 + len };
}

function decodeValue(
  type: number, d: Uint8Array, spi: Uint8Array, an: Anomaly[], layer: string, off: number,
): Ikev2NotifyValue | undefined {
  const need = (n: number, what: string): boolean => {
    if (d.length === n) return true;
    an.push({ layer, offset: off, reason: `${what} data length ${d.length}, expected ${n}` });
    return false;
  };
  switch (type) {
    case 1:
      if (!need(1, "UNSUPPORTED_CRITICAL_PAYLOAD") && d.length < 1) return undefined;
      return { payloadType: d[0], payloadTypeName: PAYLOAD_TYPES.name(d[0]) };
    case 9:
      if (!need(4, "INVALID_MESSAGE_ID") && d.length < 4) return undefined;
      return { messageId: u32(d, 0) };
    case 11:
    case 44:
      return spi.length ? { spi: toHex(spi) } : d.length ? { spi: toHex(d) } : undefined;
    case 17:
      if (!need(2, "INVALID_KE_PAYLOAD") && d.length < 2) return undefined;
      return { group: u16(d, 0), groupName: KE_IDS.name(u16(d, 0)) };
    case 16385:
      if (!need(4, "SET_WINDOW_SIZE") && d.length < 4) return undefined;
      return { windowSize: u32(d, 0) };
    case 16387:
      if (!need(3, "IPCOMP_SUPPORTED") && d.length < 3) return undefined;
      return { cpi: u16(d, 0), ipcompTransform: d[2] };
    case 16388:
    case 16389:
      need(20, NOTIFY_TYPES.name(type));
      return { hash: d };
    case 16390:
    case 16401:
      if (d.length < 1 || d.length > 64) an.push({ layer, offset: off, reason: `cookie length ${d.length}, must be 1..64` });
      return { cookie: d };
    case 16393:
      if (spi.length === 0) an.push({ layer, offset: off, reason: "REKEY_SA without an SPI" });
      return { spi: toHex(spi) };
    case 16397:
      if (!need(4, "ADDITIONAL_IP4_ADDRESS")) return undefined;
      return { address: ipv4Text(d) };
    case 16398:
      if (!need(16, "ADDITIONAL_IP6_ADDRESS")) return undefined;
      return { address: ipv6Text(d) };
    case 16403:
      if (!need(4, "AUTH_LIFETIME") && d.length < 4) return undefined;
      return { lifetime: u32(d, 0) };
    case 16407:
    case 16408: {
      const { gw, used } = gatewayIdentity(d, an, layer, off);
      const v: Ikev2NotifyValue = {};
      if (gw) v.gateway = gw;
      if (type === 16407 && used < d.length) v.nonce = d.subarray(used);
      else if (used < d.length) an.push({ layer, offset: off + used, reason: "trailing bytes after gateway identity" });
      return v;
    }
    case 16409:
      if (d.length < 4) { anomaly(an, layer, off, "TICKET_LT_OPAQUE " + truncated(4, d.length)); return undefined; }
      return { lifetime: u32(d, 0), ticket: d.subarray(4) };
    case 16413:
      return { ticket: d };
    case 16422:
      if (!need(12, "IKEV2_MESSAGE_ID_SYNC") && d.length < 12) return undefined;
      return { syncNonce: u32(d, 0), expectedSendRequestMid: u32(d, 4), expectedRecvRequestMid: u32(d, 8) };
    case 16431: {
      if (d.length % 2 !== 0) an.push({ layer, offset: off, reason: `SIGNATURE_HASH_ALGORITHMS data length ${d.length} is odd` });
      const list: { id: number; name: string }[] = [];
      for (let i = 0; i + 2 <= d.length; i += 2) list.push({ id: u16(d, i), name: HASH_ALGORITHMS.name(u16(d, i)) });
      return { hashAlgorithms: list };
    }
    default:
      if (NO_DATA.has(type) && d.length !== 0) an.push({ layer, offset: off, reason: `${NOTIFY_TYPES.name(type)} carries ${d.length} bytes of data, expected none` });
      return undefined;
  }
}

/** Decode a Notify payload spanning `b[off, end)`. */
export function decodeNotifyPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 41, layerPrefix = "ikev2",
): Ikev2NotifyPayload | null {
  const layer = `${layerPrefix}.notify`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  const p = h.bodyOff;
  if (h.end - p < 4) {
    anomaly(an, layer, p, "Notify header " + truncated(4, h.end - p));
    const e = b.subarray(h.end, h.end);
    return {
      ...payloadBase(h, "notify", layer), protocol: -1, protocolName: "MISSING", spiSize: 0, spi: e,
      notifyType: -1, notifyName: "MISSING", isError: false, data: e,
    };
  }
  const protocol = b[p];
  const spiSize = b[p + 1];
  const notifyType = u16(b, p + 2);
  let spiEnd = p + 4 + spiSize;
  if (spiEnd > h.end) { anomaly(an, layer, p + 1, `Notify SPI size ${spiSize} runs past payload`); spiEnd = h.end; }
  const spi = b.subarray(p + 4, spiEnd);
  const data = b.subarray(spiEnd, h.end);
  const out: Ikev2NotifyPayload = {
    ...payloadBase(h, "notify", layer), protocol, protocolName: PROTOCOL_IDS.name(protocol), spiSize, spi,
    notifyType, notifyName: NOTIFY_TYPES.name(notifyType), isError: isNotifyError(notifyType), data,
  };
  const v = decodeValue(notifyType, data, spi, an, layer, spiEnd);
  if (v !== undefined) out.value = v;
  return out;
}
