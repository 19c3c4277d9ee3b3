/**
 * ISAKMP Security Association payload (RFC 2408 §3.4, IPsec DOI RFC 2407 §4.6.1).
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { u32 } from "../../../core/bytes.ts";
import { DOI, PAYLOAD_TYPES, situationNames } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";
import { decodeProposalPayload, type ProposalPayload } from "./proposal.ts";

export interface SaPayload extends IsakmpPayloadBase {
  kind: "sa";
  doi: number;
  doiName: string;
  /** IPsec DOI situation bitmap (absent for other DOIs). */
  situation?: number;
  situationNames?: string[];
  proposals: ProposalPayload[];
  /** Bytes not decoded as proposals (non-IPsec DOI, labeled-domain situations). */
  rest?: Uint8Array;
}

/** Decode an SA payload at `off`, with its proposals and transforms. */
export function decodeSaPayload(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  ctx: IsakmpContext = WIRE,
): SaPayload | null {
  const layer = `${ctx.prefix}.sa`;
  const h = readGenericHeader(b, off, end, an, 1, layer);
  if (!h) return null;
  const { base, bodyOff, pend } = h;
  // situation fields are listed before proposals so renderers keep wire order.
  const sa: SaPayload = { ...base, kind: "sa", doi: 0, doiName: "", situation: undefined, situationNames: undefined, proposals: [] };
  if (!need(an, layer, bodyOff, pend, 4, "DOI")) return sa;
  sa.doi = u32(b, bodyOff);
  sa.doiName = DOI.name(sa.doi);
  let o = bodyOff + 4;
  if (sa.doi !== 1 && sa.doi !== 0) {
    // GDOI and others: the situation and proposal layout is DOI-specific.
    sa.rest = b.subarray(o, pend);
    return sa;
  }
  if (!need(an, layer, o, pend, 4, "situation")) {
    sa.rest = b.subarray(o, pend);
    return sa;
  }
  sa.situation = u32(b, o);
  sa.situationNames = situationNames(sa.situation);
  o += 4;
  if (sa.situation & 0x6) {
    anomaly(an, layer, o - 4, "labeled-domain situation (secrecy/integrity) not decoded");
    sa.rest = b.subarray(o, pend);
    return sa;
  }
  while (o < pend) {
    const p = decodeProposalPayload(b, o, pend, an, ctx);
    if (!p) break;
    sa.proposals.push(p);
    o += p.length;
    if (p.payloadLength < 4) break;
    if (p.nextPayload === 0) break;
    if (p.nextPayload !== 2) {
      anomaly(an, `${ctx.prefix}.p`, p.offset, `proposal next payload is ${PAYLOAD_TYPES.name(p.nextPayload)}, expected P or NONE`);
    }
  }
  if (o < pend) {
    anomaly(an, layer, o, `${pend - o} bytes after last proposal`);
    sa.rest = b.subarray(o, pend);
  }
  if (sa.proposals.length === 0) anomaly(an, layer, bodyOff, "SA payload without proposals");
  return sa;
}
