/**
 * Traffic Selector payloads TSi/TSr (RFC 7296 §3.13; TS_FC_ADDR_RANGE
 * RFC 4595; TS_SECLABEL RFC 9478).
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, u16 } from "../../../core/bytes.ts";
import { TS_TYPES } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2TrafficSelector {
  offset: number;
  type: number;
  typeName: string;
  length: number;
  /** IP address ranges: IP protocol ID (0 = any). */
  ipProtocol?: number;
  startPort?: number;
  endPort?: number;
  /** IP address ranges: start/end address text. */
  start?: string;
  end?: string;
  /** TS_SECLABEL: the security label. */
  label?: Uint8Array;
  /** Selector body after the type/length header (FC and unknown types). */
  raw: Uint8Array;
}

export interface Ikev2TsPayload extends Ikev2PayloadBase {
  kind: "ts";
  /** Declared Number of TSs. */
  numTs: number;
  selectors: Ikev2TrafficSelector[];
}

/** Decode a TSi (44) / TSr (45) payload spanning `b[off, end)`. */
export function decodeTsPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 44, layerPrefix = "ikev2",
): Ikev2TsPayload | null {
  const layer = `${layerPrefix}.ts`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "TS header " + truncated(4, h.end - h.bodyOff));
    return { ...payloadBase(h, "ts", layer), numTs: 0, selectors: [] };
  }
  const numTs = b[h.bodyOff];
  const out: Ikev2TsPayload = { ...payloadBase(h, "ts", layer), numTs, selectors: [] };
  let p = h.bodyOff + 4;
  while (p < h.end) {
    if (h.end - p < 4) { anomaly(an, layer, p, "traffic selector " + truncated(4, h.end - p)); break; }
    const t = b[p];
    const len = u16(b, p + 2);
    if (len < 4) { anomaly(an, layer, p, `traffic selector length ${len} < 4`); break; }
    let send = p + len;
    if (send > h.end) { anomaly(an, layer, p, `traffic selector length ${len} runs past payload`); send = h.end; }
    const ts: Ikev2TrafficSelector = { offset: p, type: t, typeName: TS_TYPES.name(t), length: send - p, raw: b.subarray(p + 4, send) };
    if (t === 7 || t === 8) {
      const alen = t === 7 ? 4 : 16;
      const want = 8 + 2 * alen;
      if (len !== want) an.push({ layer, offset: p, reason: `${ts.typeName} length ${len}, expected ${want}` });
      ts.ipProtocol = b[p + 1];
      if (send - p >= 8) { ts.startPort = u16(b, p + 4); ts.endPort = u16(b, p + 6); }
      if (send - p >= want) {
        ts.start = t === 7 ? ipv4Text(b, p + 8) : ipv6Text(b, p + 8);
        ts.end = t === 7 ? ipv4Text(b, p + 8 + alen) : ipv6Text(b, p + 8 + alen);
      }
    } else if (t === 10) {
      ts.label = b.subarray(p + 4, send);
      if (ts.label.length === 0) an.push({ layer, offset: p, reason: "TS_SECLABEL with empty label" });
    }
    out.selectors.push(ts);
    p = send;
  }
  if (out.selectors.length !== numTs) an.push({ layer, offset: h.bodyOff, reason: `TS payload declares ${numTs} selectors, found ${out.selectors.length}` });
  return out;
}
