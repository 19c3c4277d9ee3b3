/**
 * IKEv2 message decoder: header plus the payload chain (RFC 7296 §3), and a
 * separate semantic validation pass ({@link validateIkev2}).
 *
 * Parsing records structural anomalies only; meaning (which payloads an
 * exchange must carry, flag sanity, ordering) is checked by validation.
 * @module
 */
import type { Anomaly } from "../../core/anomaly.ts";
import type { LayerBase } from "../../core/layer.ts";
import { decodeIkev2Header, IKEV2_HEADER_LEN, type Ikev2Header } from "./header.ts";
import { PAYLOAD_TYPES } from "./registry.ts";
import { decodeAuthPayload, type Ikev2AuthPayload } from "./payloads/auth.ts";
import { decodeCertPayload, type Ikev2CertPayload } from "./payloads/cert.ts";
import { decodeCertreqPayload, type Ikev2CertreqPayload } from "./payloads/certreq.ts";
import { decodeCpPayload, type Ikev2CpPayload } from "./payloads/cp.ts";
import { decodeDeletePayload, type Ikev2DeletePayload } from "./payloads/delete.ts";
import { decodeEapPayload, type Ikev2EapPayload } from "./payloads/eap.ts";
import { decodeGenericPayload, type Ikev2GenericPayload } from "./payloads/generic.ts";
import { decodeIdPayload, type Ikev2IdPayload } from "./payloads/id.ts";
import { decodeKePayload, type Ikev2KePayload } from "./payloads/ke.ts";
import { decodeNoncePayload, type Ikev2NoncePayload } from "./payloads/nonce.ts";
import { decodeNotifyPayload, type Ikev2NotifyPayload } from "./payloads/notify.ts";
import { decodeSaPayload, type Ikev2SaPayload } from "./payloads/sa.ts";
import { decodeSkPayload, type Ikev2SkPayload } from "./payloads/sk.ts";
import { decodeSkfPayload, type Ikev2SkfPayload } from "./payloads/skf.ts";
import { decodeTsPayload, type Ikev2TsPayload } from "./payloads/ts.ts";
import { decodeVendorPayload, type Ikev2VendorPayload } from "./payloads/vendor.ts";

/** Any decoded IKEv2 payload (discriminate on `kind`). */
export type Ikev2Payload =
  | Ikev2SaPayload | Ikev2KePayload | Ikev2IdPayload | Ikev2CertPayload | Ikev2CertreqPayload
  | Ikev2AuthPayload | Ikev2NoncePayload | Ikev2NotifyPayload | Ikev2DeletePayload | Ikev2VendorPayload
  | Ikev2TsPayload | Ikev2SkPayload | Ikev2CpPayload | Ikev2EapPayload | Ikev2SkfPayload | Ikev2GenericPayload;

/**
 * A decoded IKEv2 message: the header's fields ({@link Ikev2Header}; its `declaredLength`
 * is the length field as sent, `length` the span actually decoded) and the payload chain.
 */
export interface Ikev2Message extends LayerBase, Ikev2Header {
  layer: "ikev2";
  payloads: Ikev2Payload[];
}

type Decoder = (b: Uint8Array, off: number, end: number, an: Anomaly[], type: number, prefix: string) => Ikev2Payload | null;

const DECODERS: Record<number, Decoder> = {
  33: decodeSaPayload,
  34: decodeKePayload,
  35: decodeIdPayload,
  36: decodeIdPayload,
  37: decodeCertPayload,
  38: decodeCertreqPayload,
  39: decodeAuthPayload,
  40: decodeNoncePayload,
  41: decodeNotifyPayload,
  42: decodeDeletePayload,
  43: decodeVendorPayload,
  44: decodeTsPayload,
  45: decodeTsPayload,
  46: decodeSkPayload,
  47: decodeCpPayload,
  48: decodeEapPayload,
  53: decodeSkfPayload,
};

/**
 * Decode a payload chain in `b[off, end)` starting with payload type
 * `firstType`. Stops at Next Payload 0, after an SK/SKF payload (its Next
 * Payload names the encrypted content), or at a malformed header. Use it on
 * decrypted SK plaintext too (pass `layerPrefix`, e.g. `"ikev2.sk"`, so
 * anomalies say their offsets are plaintext-relative).
 */
export function decodeIkev2Payloads(
  b: Uint8Array, off: number, end: number, firstType: number, an: Anomaly[], layerPrefix = "ikev2",
): Ikev2Payload[] {
  const out: Ikev2Payload[] = [];
  if (end > b.length) end = b.length;
  let type = firstType;
  let p = off;
  // Each payload consumes ≥ 4 bytes, so the walk is bounded by (end - off) / 4.
  while (type !== 0) {
    if (p >= end) {
      an.push({ layer: layerPrefix, offset: p, reason: `payload chain names ${PAYLOAD_TYPES.name(type)} (${type}) but the message ends` });
      break;
    }
    const dec = DECODERS[type];
    let pl: Ikev2Payload | null;
    if (dec) pl = dec(b, p, end, an, type, layerPrefix);
    else {
      pl = decodeGenericPayload(b, p, end, an, type, layerPrefix);
      if (pl && pl.critical) {
        an.push({ layer: layerPrefix, offset: p, reason: `unknown payload type ${type} has the critical bit set (receiver must reject with UNSUPPORTED_CRITICAL_PAYLOAD)` });
      }
    }
    if (!pl) break;
    out.push(pl);
    if (pl.truncated) break;
    p += pl.length;
    if (type === 46 || type === 53) {
      if (p < end) an.push({ layer: layerPrefix, offset: p, reason: `${end - p} bytes after the ${type === 46 ? "SK" : "SKF"} payload` });
      return out;
    }
    type = pl.nextPayload;
  }
  if (type === 0 && p < end) an.push({ layer: layerPrefix, offset: p, reason: `${end - p} trailing bytes after the last payload` });
  return out;
}

/**
 * Decode the IKEv2 message in `b[off, end)` (the UDP payload, with any
 * RFC 3948 non-ESP marker already stripped). Returns null when not even the
 * 28-byte header is present.
 */
export function decodeIkev2(b: Uint8Array, off: number, end: number, an: Anomaly[]): Ikev2Message | null {
  if (end > b.length) end = b.length;
  const h = decodeIkev2Header(b, off, end, an, "ikev2");
  if (!h) return null;
  const avail = end - off;
  let len = h.declaredLength;
  if (len < IKEV2_HEADER_LEN) {
    an.push({ layer: "ikev2", offset: off + 24, reason: `message length ${len} < ${IKEV2_HEADER_LEN}` });
    len = avail;
  } else if (len !== avail) {
    an.push({
      layer: "ikev2", offset: off + 24,
      reason: len > avail ? `message length ${len} but only ${avail} bytes present (truncated)` : `message length ${len} but ${avail} bytes present (${avail - len} trailing)`,
    });
    len = Math.min(len, avail);
  }
  const payloads = decodeIkev2Payloads(b, off + IKEV2_HEADER_LEN, off + len, h.nextPayload, an, "ikev2");
  return { layer: "ikev2", offset: off, length: len, ...h, payloads };
}
