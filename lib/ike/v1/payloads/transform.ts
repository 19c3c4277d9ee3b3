/**
 * ISAKMP Transform payload (RFC 2408 §3.6), nested in a Proposal.
 * Attributes are named as IKE phase-1 attributes when the proposal's protocol
 * is ISAKMP, as IPsec DOI attributes otherwise.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { decodeAttributes, type IsakmpAttribute } from "../attributes.ts";
import {
  IKE_ATTR_CLASSES,
  IKE_ATTR_VALUES,
  IPSEC_ATTR_CLASSES,
  IPSEC_ATTR_VALUES,
  PROTO_ISAKMP,
  transformIdRegistry,
} from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface TransformPayload extends IsakmpPayloadBase {
  kind: "transform";
  transformNumber: number;
  transformId: number;
  transformIdName: string;
  /** RESERVED2 (2 bytes, must be 0). */
  reserved2: number;
  /** `"ike"` (phase 1, protocol ISAKMP) or `"ipsec"` (phase 2). */
  attributeFamily: "ike" | "ipsec";
  attributes: IsakmpAttribute[];
}

/** Decode one Transform payload at `off`, for a proposal with protocol `protocolId`. */
export function decodeTransformPayload(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  protocolId: number,
  ctx: IsakmpContext = WIRE,
): TransformPayload | null {
  const layer = `${ctx.prefix}.t`;
  const h = readGenericHeader(b, off, end, an, 3, layer);
  if (!h) return null;
  const { base, bodyOff, pend } = h;
  const ike = protocolId === PROTO_ISAKMP;
  const t: TransformPayload = {
    ...base,
    kind: "transform",
    transformNumber: 0,
    transformId: 0,
    transformIdName: "",
    reserved2: 0,
    attributeFamily: ike ? "ike" : "ipsec",
    attributes: [],
  };
  if (!need(an, layer, bodyOff, pend, 4, "transform header")) return t;
  t.transformNumber = b[bodyOff];
  t.transformId = b[bodyOff + 1];
  t.transformIdName = transformIdRegistry(protocolId).name(t.transformId);
  t.reserved2 = u16(b, bodyOff + 2);
  t.attributes = decodeAttributes(
    b,
    bodyOff + 4,
    pend,
    an,
    `${layer}.attr`,
    ike ? { classes: IKE_ATTR_CLASSES, values: IKE_ATTR_VALUES } : { classes: IPSEC_ATTR_CLASSES, values: IPSEC_ATTR_VALUES },
  );
  return t;
}
