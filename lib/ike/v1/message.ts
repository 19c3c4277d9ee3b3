/**
 * ISAKMP / IKEv1 message decoder: header plus payload chain.
 *
 * When the Encryption flag is set, everything after the header is one opaque
 * `encrypted` view: the payload chain is unknown until decrypted. Decrypted
 * plaintext is decoded later with {@link decodeIsakmpPayloads}.
 * @module
 */
import { type Anomaly, anomaly } from "../../core/anomaly.ts";
import { decodeIsakmpHeader, ISAKMP_HEADER_LEN, type IsakmpHeader } from "./header.ts";
import { PAYLOAD_TYPES } from "./registry.ts";
import { decodeAttrPayload, type AttrPayload } from "./payloads/attr.ts";
import { type CertPayload, decodeCertPayload } from "./payloads/cert.ts";
import { type CertReqPayload, decodeCertReqPayload } from "./payloads/certreq.ts";
import { decodeDeletePayload, type DeletePayload } from "./payloads/delete.ts";
import { decodeFragmentPayload, type FragmentPayload } from "./payloads/fragment.ts";
import { decodeGenericPayload, type GenericPayload, type IsakmpContext } from "./payloads/generic.ts";
import { decodeHashPayload, type HashPayload } from "./payloads/hash.ts";
import { decodeIdPayload, type IdPayload } from "./payloads/id.ts";
import { decodeKePayload, type KePayload } from "./payloads/ke.ts";
import { decodeNatOaPayload, type NatOaPayload } from "./payloads/nat-oa.ts";
import { decodeNatdPayload, type NatdPayload } from "./payloads/natd.ts";
import { decodeNoncePayload, type NoncePayload } from "./payloads/nonce.ts";
import { decodeNotifyPayload, type NotifyPayload } from "./payloads/notify.ts";
import { decodeProposalPayload, type ProposalPayload } from "./payloads/proposal.ts";
import { decodeSaPayload, type SaPayload } from "./payloads/sa.ts";
import { decodeSigPayload, type SigPayload } from "./payloads/sig.ts";
import { decodeTransformPayload, type TransformPayload } from "./payloads/transform.ts";
import { decodeVendorPayload, type VendorPayload } from "./payloads/vendor.ts";

/** Any decoded ISAKMP payload; discriminate on `kind`. */
export type IsakmpPayload =
  | SaPayload
  | ProposalPayload
  | TransformPayload
  | KePayload
  | IdPayload
  | CertPayload
  | CertReqPayload
  | HashPayload
  | SigPayload
  | NoncePayload
  | NotifyPayload
  | DeletePayload
  | VendorPayload
  | AttrPayload
  | NatdPayload
  | NatOaPayload
  | FragmentPayload
  | GenericPayload;

/** Result of walking a payload chain. */
export interface IsakmpPayloadList {
  payloads: IsakmpPayload[];
  /** True when the chain ended with next payload NONE inside the bounds. */
  complete: boolean;
  /** Bytes after the last payload (padding in decrypted plaintext; an anomaly in cleartext). */
  trailing?: Uint8Array;
}

/** A decoded ISAKMP message. `length` is the bytes the message spans in the input. */
export interface IsakmpMessage extends IsakmpHeader {
  layer: "isakmp";
  /** Bytes available from `offset` to the end of the datagram. */
  actualLength: number;
  /** Cleartext payloads (empty when encrypted). */
  payloads: IsakmpPayload[];
  /** Everything after the header when the Encryption flag is set. */
  encrypted?: Uint8Array;
  /** Bytes after the last payload or after the declared message length. */
  trailing?: Uint8Array;
}

/** Exchanges in which payload types 15/16 are the pre-RFC NAT-D/NAT-OA numbers rather than GDOI SAK/SAT. */
const PHASE1_EXCHANGES = new Set([2, 4]);

/** Cap on payloads per chain (each takes ≥ 4 bytes; this only bounds absurd inputs). */
const MAX_PAYLOADS = 4096;

function decodeOne(b: Uint8Array, o: number, end: number, an: Anomaly[], type: number, ctx: IsakmpContext): IsakmpPayload | null {
  switch (type) {
    case 1: return decodeSaPayload(b, o, end, an, ctx);
    case 2: {
      anomaly(an, `${ctx.prefix}.p`, o, "Proposal payload outside an SA payload");
      return decodeProposalPayload(b, o, end, an, ctx);
    }
    case 3: {
      anomaly(an, `${ctx.prefix}.t`, o, "Transform payload outside a Proposal payload");
      return decodeTransformPayload(b, o, end, an, 0, ctx);
    }
    case 4: return decodeKePayload(b, o, end, an, ctx);
    case 5: return decodeIdPayload(b, o, end, an, ctx);
    case 6: return decodeCertPayload(b, o, end, an, ctx);
    case 7: return decodeCertReqPayload(b, o, end, an, ctx);
    case 8: return decodeHashPayload(b, o, end, an, ctx);
    case 9: return decodeSigPayload(b, o, end, an, ctx);
    case 10: return decodeNoncePayload(b, o, end, an, ctx);
    case 11: return decodeNotifyPayload(b, o, end, an, ctx);
    case 12: return decodeDeletePayload(b, o, end, an, ctx);
    case 13: return decodeVendorPayload(b, o, end, an, ctx);
    case 14: return decodeAttrPayload(b, o, end, an, ctx);
    case 15:
      if (ctx.exchange !== undefined && PHASE1_EXCHANGES.has(ctx.exchange)) return decodeNatdPayload(b, o, end, an, ctx, 15);
      return decodeGenericPayload(b, o, end, an, type, ctx.prefix);
    case 16:
      if (ctx.exchange !== undefined && PHASE1_EXCHANGES.has(ctx.exchange)) return decodeNatOaPayload(b, o, end, an, ctx, 16);
      return decodeGenericPayload(b, o, end, an, type, ctx.prefix);
    case 20:
    case 130:
      return decodeNatdPayload(b, o, end, an, ctx, type);
    case 21:
    case 131:
      return decodeNatOaPayload(b, o, end, an, ctx, type);
    case 132: return decodeFragmentPayload(b, o, end, an, ctx);
    default: return decodeGenericPayload(b, o, end, an, type, ctx.prefix);
  }
}

/**
 * Walk a payload chain in [off, end) starting with payload type `firstType`.
 * Used for cleartext messages and for decrypted plaintext (pass a
 * `layerPrefix` such as `"isakmp.decrypted"`; offsets are then relative to
 * the plaintext buffer). Stops cleanly on a truncated header, a length < 4,
 * a payload overrunning `end`, or a chain that runs past `end`.
 */
export function decodeIsakmpPayloads(
  b: Uint8Array,
  off: number,
  end: number,
  firstType: number,
  an: Anomaly[],
  exchange?: number,
  layerPrefix = "isakmp",
): IsakmpPayloadList {
  end = Math.max(off, Math.min(end, b.length));
  const ctx: IsakmpContext = { prefix: layerPrefix, exchange };
  const payloads: IsakmpPayload[] = [];
  let type = firstType;
  let o = off;
  let complete = true;
  while (type !== 0) {
    if (o >= end) {
      anomaly(an, layerPrefix, o, `next payload ${PAYLOAD_TYPES.name(type)} announced but no bytes left`);
      complete = false;
      break;
    }
    if (payloads.length >= MAX_PAYLOADS) {
      anomaly(an, layerPrefix, o, `more than ${MAX_PAYLOADS} payloads; stopped`);
      complete = false;
      break;
    }
    const p = decodeOne(b, o, end, an, type, ctx);
    if (!p) {
      complete = false;
      break;
    }
    payloads.push(p);
    // readGenericHeader already reported these; stop rather than guess.
    if (p.payloadLength < 4 || p.payloadLength > end - o) {
      complete = false;
      break;
    }
    o += p.length;
    type = p.nextPayload;
  }
  const out: IsakmpPayloadList = { payloads, complete };
  if (complete && o < end) out.trailing = b.subarray(o, end);
  return out;
}

/** Decode an ISAKMP (IKEv1) message at [off, end). Null only when the 28-byte header is incomplete. */
export function decodeIsakmp(b: Uint8Array, off: number, end: number, an: Anomaly[]): IsakmpMessage | null {
  end = Math.min(end, b.length);
  const h = decodeIsakmpHeader(b, off, end, an, "isakmp");
  if (!h) return null;
  if (h.majorVersion !== 1) anomaly(an, "isakmp", off + 17, `major version ${h.majorVersion}, expected 1`);
  const actual = end - off;
  let msgEnd = end;
  let trailing: Uint8Array | undefined;
  if (h.declaredLength < ISAKMP_HEADER_LEN) {
    anomaly(an, "isakmp", off + 24, `length field ${h.declaredLength} is smaller than the header`);
  } else if (h.declaredLength > actual) {
    anomaly(an, "isakmp", off + 24, `length field ${h.declaredLength} exceeds the ${actual} bytes available`);
  } else if (h.declaredLength < actual) {
    msgEnd = off + h.declaredLength;
    trailing = b.subarray(msgEnd, end);
    anomaly(an, "isakmp", msgEnd, `${actual - h.declaredLength} bytes after the message length`);
  }
  const msg: IsakmpMessage = { ...h, layer: "isakmp", length: msgEnd - off, actualLength: actual, payloads: [] };
  const bodyOff = off + ISAKMP_HEADER_LEN;
  if (h.flags.encryption) {
    msg.encrypted = b.subarray(bodyOff, msgEnd);
    if (msg.encrypted.length === 0 && h.nextPayload !== 0) anomaly(an, "isakmp", bodyOff, "encrypted message without ciphertext");
  } else {
    const list = decodeIsakmpPayloads(b, bodyOff, msgEnd, h.nextPayload, an, h.exchange, "isakmp");
    msg.payloads = list.payloads;
    if (list.trailing && list.trailing.length > 0) {
      anomaly(an, "isakmp", msgEnd - list.trailing.length, `${list.trailing.length} bytes after the last payload`);
      trailing = list.trailing;
    }
  }
  if (trailing) msg.trailing = trailing;
  return msg;
}
