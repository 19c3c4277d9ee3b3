/**
 * ISAKMP Delete payload (RFC 2408 §3.15): DOI (4), protocol (1), SPI size (1),
 * number of SPIs (2), SPIs.
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { u16, u32 } from "../../../core/bytes.ts";
import { DOI, PROTOCOL_IDS } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface DeletePayload extends IsakmpPayloadBase {
  kind: "delete";
  doi: number;
  doiName: string;
  protocolId: number;
  protocolName: string;
  spiSize: number;
  /** Number of SPIs announced. */
  spiCount: number;
  /** The SPIs that fit in the payload. */
  spis: Uint8Array[];
}

/** Decode a Delete payload at `off`. */
export function decodeDeletePayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): DeletePayload | null {
  const layer = `${ctx.prefix}.d`;
  const h = readGenericHeader(b, off, end, an, 12, layer);
  if (!h) return null;
  const { bodyOff, pend } = h;
  const d: DeletePayload = { ...h.base, kind: "delete", doi: 0, doiName: "", protocolId: 0, protocolName: "", spiSize: 0, spiCount: 0, spis: [] };
  if (!need(an, layer, bodyOff, pend, 8, "delete header")) return d;
  d.doi = u32(b, bodyOff);
  d.doiName = DOI.name(d.doi);
  d.protocolId = b[bodyOff + 4];
  d.protocolName = PROTOCOL_IDS.name(d.protocolId);
  d.spiSize = b[bodyOff + 5];
  d.spiCount = u16(b, bodyOff + 6);
  let o = bodyOff + 8;
  if (d.spiSize === 0) {
    if (d.spiCount > 0) anomaly(an, layer, bodyOff + 5, `SPI size 0 with ${d.spiCount} SPIs`);
  } else {
    const fit = Math.floor((pend - o) / d.spiSize);
    const n = Math.min(fit, d.spiCount);
    if (n < d.spiCount) anomaly(an, layer, o, `${d.spiCount} SPIs of ${d.spiSize} bytes announced, only ${n} fit`);
    for (let i = 0; i < n; i++, o += d.spiSize) d.spis.push(b.subarray(o, o + d.spiSize));
  }
  if (o < pend) anomaly(an, layer, o, `${pend - o} bytes after the SPIs`);
  return d;
}
