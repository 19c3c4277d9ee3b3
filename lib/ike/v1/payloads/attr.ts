/**
 * ISAKMP Attribute payload (type 14) for the Transaction exchange:
 * Mode-Config (draft-dukes-ike-mode-cfg), XAUTH (draft-beaulieu-ike-xauth)
 * and Cisco Unity attributes. XAUTH passwords are flagged `secret`.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { decodeAttributes, type IsakmpAttribute } from "../attributes.ts";
import { CFG_ATTR_TYPES, CFG_ATTR_VALUES, CFG_SECRET_ATTRS, CFG_TYPES } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface AttrPayload extends IsakmpPayloadBase {
  kind: "attr";
  cfgType: number;
  cfgTypeName: string;
  reserved2: number;
  identifier: number;
  attributes: IsakmpAttribute[];
}

/** Decode a Mode-Config attribute payload at `off`. */
export function decodeAttrPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): AttrPayload | null {
  const layer = `${ctx.prefix}.attr`;
  const h = readGenericHeader(b, off, end, an, 14, layer);
  if (!h) return null;
  const p: AttrPayload = { ...h.base, kind: "attr", cfgType: 0, cfgTypeName: "", reserved2: 0, identifier: 0, attributes: [] };
  if (!need(an, layer, h.bodyOff, h.pend, 4, "attribute payload header")) return p;
  p.cfgType = b[h.bodyOff];
  p.cfgTypeName = CFG_TYPES.name(p.cfgType);
  p.reserved2 = b[h.bodyOff + 1];
  p.identifier = u16(b, h.bodyOff + 2);
  p.attributes = decodeAttributes(b, h.bodyOff + 4, h.pend, an, `${layer}.attr`, {
    classes: CFG_ATTR_TYPES,
    values: CFG_ATTR_VALUES,
    secret: CFG_SECRET_ATTRS,
  });
  return p;
}
