/**
 * ISAKMP Proposal payload (RFC 2408 §3.5), nested in an SA payload.
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { PAYLOAD_TYPES, PROTOCOL_IDS } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";
import { decodeTransformPayload, type TransformPayload } from "./transform.ts";

export interface ProposalPayload extends IsakmpPayloadBase {
  kind: "proposal";
  proposalNumber: number;
  protocolId: number;
  protocolName: string;
  spiSize: number;
  /** Number of transforms the proposal announces. */
  transformCount: number;
  spi: Uint8Array;
  transforms: TransformPayload[];
}

/** Decode one Proposal payload (with its transforms) at `off`. */
export function decodeProposalPayload(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  ctx: IsakmpContext = WIRE,
): ProposalPayload | null {
  const layer = `${ctx.prefix}.p`;
  const h = readGenericHeader(b, off, end, an, 2, layer);
  if (!h) return null;
  const { base, bodyOff, pend } = h;
  const p: ProposalPayload = {
    ...base,
    kind: "proposal",
    proposalNumber: 0,
    protocolId: 0,
    protocolName: "",
    spiSize: 0,
    transformCount: 0,
    spi: b.subarray(bodyOff, bodyOff),
    transforms: [],
  };
  if (!need(an, layer, bodyOff, pend, 4, "proposal header")) return p;
  p.proposalNumber = b[bodyOff];
  p.protocolId = b[bodyOff + 1];
  p.protocolName = PROTOCOL_IDS.name(p.protocolId);
  p.spiSize = b[bodyOff + 2];
  p.transformCount = b[bodyOff + 3];
  let o = bodyOff + 4;
  if (!need(an, layer, o, pend, p.spiSize, "SPI")) {
    p.spi = b.subarray(o, pend);
    return p;
  }
  p.spi = b.subarray(o, o + p.spiSize);
  o += p.spiSize;
  // Transforms: a chain of type-3 payloads ending with next payload NONE.
  while (o < pend) {
    const t = decodeTransformPayload(b, o, pend, an, p.protocolId, ctx);
    if (!t) break;
    p.transforms.push(t);
    o += t.length;
    if (t.payloadLength < 4) break;
    if (t.nextPayload === 0) break;
    if (t.nextPayload !== 3) {
      anomaly(an, `${ctx.prefix}.t`, t.offset, `transform next payload is ${PAYLOAD_TYPES.name(t.nextPayload)}, expected T or NONE`);
    }
  }
  if (o < pend) anomaly(an, layer, o, `${pend - o} bytes after last transform`);
  if (p.transforms.length !== p.transformCount) {
    anomaly(an, layer, bodyOff + 3, `proposal announces ${p.transformCount} transforms, found ${p.transforms.length}`);
  }
  return p;
}
