/**
 * NAT-Discovery payload (RFC 3947 §3.2; payload 130 in draft-ietf-ipsec-nat-t-ike-02/03, 15 in some pre-RFC implementations): HASH(CKY-I | CKY-R | IP | Port).
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { type IsakmpContext, type IsakmpPayloadBase, readGenericHeader, WIRE } from "./generic.ts";

export interface NatdPayload extends IsakmpPayloadBase {
  kind: "natd";
  /** True for the pre-RFC payload numbers (130, or 15 in phase 1). */
  draft: boolean;
  hash: Uint8Array;
}

/** Decode a natd payload at `off`. */
export function decodeNatdPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE, type = 20): NatdPayload | null {
  const h = readGenericHeader(b, off, end, an, type, `${ctx.prefix}.natd`);
  if (!h) return null;
  return { ...h.base, kind: "natd", draft: type !== 20, hash: b.subarray(h.bodyOff, h.pend) };
}
