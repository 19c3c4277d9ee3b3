/**
 * Security Association payload (RFC 7296 §3.3): proposals, transforms and
 * transform attributes, with structural checks (proposal numbering, Last
 * Substruc values, transform counts vs actual, lengths).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { PROTOCOL_IDS, TRANSFORM_ATTRIBUTE_TYPES, TRANSFORM_TYPES, transformIdName } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

/** A transform attribute (TV when the AF bit is set, else TLV). */
export interface Ikev2TransformAttribute {
  offset: number;
  type: number;
  name: string;
  /** True for TV format (AF=1): `value` holds the 16-bit value. */
  tv: boolean;
  value?: number;
  /** TLV format: the value bytes. */
  bytes?: Uint8Array;
}

export interface Ikev2Transform {
  offset: number;
  length: number;
  /** Last Substruc field: 0 for the last transform, 3 otherwise. */
  last: number;
  type: number;
  typeName: string;
  id: number;
  idName: string;
  attributes: Ikev2TransformAttribute[];
  /** Key Length attribute (bits), when present. */
  keyLength?: number;
}

export interface Ikev2Proposal {
  offset: number;
  length: number;
  /** Last Substruc field: 0 for the last proposal, 2 otherwise. */
  last: number;
  num: number;
  protocol: number;
  protocolName: string;
  spiSize: number;
  spi: Uint8Array;
  /** Declared number of transforms. */
  numTransforms: number;
  transforms: Ikev2Transform[];
}

export interface Ikev2SaPayload extends Ikev2PayloadBase {
  kind: "sa";
  proposals: Ikev2Proposal[];
}

function decodeAttributes(b: Uint8Array, off: number, end: number, an: Anomaly[], layer: string, t: Ikev2Transform): void {
  let p = off;
  while (p < end) {
    if (end - p < 4) { anomaly(an, layer, p, "transform attribute " + truncated(4, end - p)); return; }
    const raw = u16(b, p);
    const tv = (raw & 0x8000) !== 0;
    const type = raw & 0x7fff;
    const a: Ikev2TransformAttribute = { offset: p, type, name: TRANSFORM_ATTRIBUTE_TYPES.name(type), tv };
    if (tv) {
      a.value = u16(b, p + 2);
      p += 4;
    } else {
      const len = u16(b, p + 2);
      let vend = p + 4 + len;
      if (vend > end) { anomaly(an, layer, p, `transform attribute length ${len} runs past transform: ` + truncated(len, end - p - 4)); vend = end; }
      a.bytes = b.subarray(p + 4, vend);
      p = vend;
    }
    if (type === 14) {
      if (!tv) an.push({ layer, offset: a.offset, reason: "Key Length attribute must use TV format" });
      else t.keyLength = a.value;
    }
    t.attributes.push(a);
  }
}

function decodeTransforms(b: Uint8Array, off: number, end: number, an: Anomaly[], layer: string, pr: Ikev2Proposal): void {
  let p = off;
  while (p < end) {
    if (end - p < 8) { anomaly(an, layer, p, "transform " + truncated(8, end - p)); break; }
    const last = b[p];
    const len = u16(b, p + 2);
    if (len < 8) { anomaly(an, layer, p, `transform length ${len} < 8`); break; }
    let tend = p + len;
    if (tend > end) { anomaly(an, layer, p, `transform length ${len} runs past proposal: ` + truncated(len, end - p)); tend = end; }
    const type = b[p + 4];
    const id = u16(b, p + 6);
    const t: Ikev2Transform = {
      offset: p, length: tend - p, last, type, typeName: TRANSFORM_TYPES.name(type), id, idName: transformIdName(type, id), attributes: [],
    };
    if (b[p + 1] !== 0 || b[p + 5] !== 0) an.push({ layer, offset: p, reason: "transform reserved field not zero" });
    decodeAttributes(b, p + 8, tend, an, layer, t);
    pr.transforms.push(t);
    const isLast = tend >= end;
    if (last !== 0 && last !== 3) an.push({ layer, offset: p, reason: `transform Last Substruc ${last}, expected 0 or 3` });
    else if (isLast && last !== 0) an.push({ layer, offset: p, reason: "last transform has Last Substruc 3 (more follow) but the proposal ends" });
    else if (!isLast && last === 0) an.push({ layer, offset: p, reason: "transform has Last Substruc 0 but more data follows in the proposal" });
    p = tend;
  }
  if (pr.transforms.length !== pr.numTransforms) {
    an.push({ layer, offset: pr.offset, reason: `proposal #${pr.num} declares ${pr.numTransforms} transforms, found ${pr.transforms.length}` });
  }
}

/** Decode an SA payload spanning `b[off, end)` (generic header included). */
export function decodeSaPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 33, layerPrefix = "ikev2",
): Ikev2SaPayload | null {
  const layer = `${layerPrefix}.sa`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  const out: Ikev2SaPayload = { ...payloadBase(h, "sa", layer), proposals: [] };
  let p = h.bodyOff;
  const pend = h.end;
  if (p >= pend) an.push({ layer, offset: off, reason: "SA payload has no proposals" });
  while (p < pend) {
    if (pend - p < 8) { anomaly(an, layer, p, "proposal " + truncated(8, pend - p)); break; }
    const last = b[p];
    const len = u16(b, p + 2);
    if (len < 8) { anomaly(an, layer, p, `proposal length ${len} < 8`); break; }
    let prEnd = p + len;
    if (prEnd > pend) { anomaly(an, layer, p, `proposal length ${len} runs past SA payload: ` + truncated(len, pend - p)); prEnd = pend; }
    const num = b[p + 4];
    const protocol = b[p + 5];
    const spiSize = b[p + 6];
    const numTransforms = b[p + 7];
    let spiEnd = p + 8 + spiSize;
    if (spiEnd > prEnd) { anomaly(an, layer, p + 6, `proposal SPI size ${spiSize} runs past proposal`); spiEnd = prEnd; }
    const pr: Ikev2Proposal = {
      offset: p, length: prEnd - p, last, num, protocol, protocolName: PROTOCOL_IDS.name(protocol),
      spiSize, spi: b.subarray(p + 8, spiEnd), numTransforms, transforms: [],
    };
    if (b[p + 1] !== 0) an.push({ layer, offset: p + 1, reason: "proposal reserved field not zero" });
    const prev = out.proposals[out.proposals.length - 1];
    // "first proposal number must be 1" holds for offers only: a response keeps the
    // accepted proposal's number (RFC 7296 3.3.1), so validateIkev2 checks it there.
    if (prev && num !== prev.num + 1) an.push({ layer, offset: p + 4, reason: `proposal number ${num} does not follow ${prev.num}` });
    decodeTransforms(b, spiEnd, prEnd, an, layer, pr);
    out.proposals.push(pr);
    const isLast = prEnd >= pend;
    if (last !== 0 && last !== 2) an.push({ layer, offset: p, reason: `proposal Last Substruc ${last}, expected 0 or 2` });
    else if (isLast && last !== 0) an.push({ layer, offset: p, reason: "last proposal has Last Substruc 2 (more follow) but the SA payload ends" });
    else if (!isLast && last === 0) an.push({ layer, offset: p, reason: "proposal has Last Substruc 0 but more data follows in the SA payload" });
    p = prEnd;
  }
  return out;
}
