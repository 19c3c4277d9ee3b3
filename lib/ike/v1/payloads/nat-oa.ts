/**
 * NAT Original Address payload (RFC 3947 §5.2; payload 131 in the drafts):
 * ID type (1), RESERVED (3), IPv4 or IPv6 address.
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, u16 } from "../../../core/bytes.ts";
import { NATOA_ID_TYPES } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface NatOaPayload extends IsakmpPayloadBase {
  kind: "nat-oa";
  draft: boolean;
  idType: number;
  idTypeName: string;
  address: Uint8Array;
  /** Address text, when the length matches the ID type. */
  addressText?: string;
}

/** Decode a NAT-OA payload at `off`. */
export function decodeNatOaPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 21): NatOaPayload | null {
  const layer = `${ctx.prefix}.natoa`;
  const h = readGenericHeader(b, off, end, an, type, layer);
  if (!h) return null;
  const p: NatOaPayload = { ...h.base, kind: "nat-oa", draft: type !== 21, idType: 0, idTypeName: "", address: b.subarray(h.pend, h.pend) };
  if (!need(an, layer, h.bodyOff, h.pend, 4, "NAT-OA header")) return p;
  p.idType = b[h.bodyOff];
  p.idTypeName = NATOA_ID_TYPES.name(p.idType);
  if (b[h.bodyOff + 1] !== 0 || u16(b, h.bodyOff + 2) !== 0) anomaly(an, layer, h.bodyOff + 1, "NAT-OA reserved bytes not zero");
  p.address = b.subarray(h.bodyOff + 4, h.pend);
  const want = p.idType === 1 ? 4 : p.idType === 5 ? 16 : -1;
  if (want < 0) anomaly(an, layer, h.bodyOff, `NAT-OA ID type ${p.idTypeName} is not an address`);
  else if (p.address.length !== want) anomaly(an, layer, h.bodyOff + 4, `NAT-OA address is ${p.address.length} bytes, expected ${want}`);
  else p.addressText = want === 4 ? ipv4Text(p.address) : ipv6Text(p.address);
  return p;
}
