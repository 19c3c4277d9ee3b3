/**
 * Configuration payload (RFC 7296 §3.15) with attribute values rendered for
 * address, subnet and string attributes.
 * @module
 */
import { anomaly, truncated, type Anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, printable, toHex, u16, u32 } from "../../../core/bytes.ts";
import { CP_ATTRIBUTE_TYPES, CP_TYPES } from "../registry.ts";
import { payloadBase, readPayloadHeader, type Ikev2PayloadBase } from "./generic.ts";

export interface Ikev2CpAttribute {
  offset: number;
  type: number;
  name: string;
  /** Declared value length. */
  length: number;
  value: Uint8Array;
  /** Rendered value (empty string for empty request attributes). */
  text?: string;
}

export interface Ikev2CpPayload extends Ikev2PayloadBase {
  kind: "cp";
  cfgType: number;
  cfgTypeName: string;
  attributes: Ikev2CpAttribute[];
}

const IP4 = new Set([1, 2, 3, 4, 6, 20]);
const IP6 = new Set([10, 12, 21]);
const IP6_PREFIX = new Set([8, 15, 16, 18]);

function attrText(type: number, v: Uint8Array): string | undefined {
  const n = v.length;
  if (n === 0) return "";
  if (IP4.has(type) && n === 4) return ipv4Text(v);
  if (IP6.has(type) && n === 16) return ipv6Text(v);
  if (IP6_PREFIX.has(type) && n === 17) return `${ipv6Text(v)}/${v[16]}`;
  if (type === 13 && n === 8) return `${ipv4Text(v)}/${ipv4Text(v, 4)}`;
  if (type === 7 || type === 25) return printable(v, n);
  if (type === 24 && n === 4) return String(u32(v, 0));
  if (type === 14) {
    const list: string[] = [];
    for (let i = 0; i + 2 <= n; i += 2) list.push(CP_ATTRIBUTE_TYPES.name(u16(v, i) & 0x7fff));
    return list.join(" ");
  }
  if (type === 17 && n === 8) return toHex(v);
  return undefined;
}

/** Decode a CP payload spanning `b[off, end)`. */
export function decodeCpPayload(
  b: Uint8Array, off: number, end: number, an: Anomaly[], type = 47, layerPrefix = "ikev2",
): Ikev2CpPayload | null {
  const layer = `${layerPrefix}.cp`;
  const h = readPayloadHeader(b, off, end, type, an, layer);
  if (!h) return null;
  if (h.end - h.bodyOff < 4) {
    anomaly(an, layer, h.bodyOff, "CP header " + truncated(4, h.end - h.bodyOff));
    return { ...payloadBase(h, "cp", layer), cfgType: -1, cfgTypeName: "MISSING", attributes: [] };
  }
  const cfgType = b[h.bodyOff];
  const out: Ikev2CpPayload = { ...payloadBase(h, "cp", layer), cfgType, cfgTypeName: CP_TYPES.name(cfgType), attributes: [] };
  let p = h.bodyOff + 4;
  while (p < h.end) {
    if (h.end - p < 4) { anomaly(an, layer, p, "CP attribute " + truncated(4, h.end - p)); break; }
    const t = u16(b, p) & 0x7fff;
    const len = u16(b, p + 2);
    let vend = p + 4 + len;
    if (vend > h.end) { anomaly(an, layer, p, `CP attribute length ${len} runs past payload`); vend = h.end; }
    const value = b.subarray(p + 4, vend);
    const a: Ikev2CpAttribute = { offset: p, type: t, name: CP_ATTRIBUTE_TYPES.name(t), length: len, value };
    const text = attrText(t, value);
    if (text !== undefined) a.text = text;
    else if (IP4.has(t) || IP6.has(t) || IP6_PREFIX.has(t) || t === 13) {
      an.push({ layer, offset: p, reason: `${a.name} value length ${value.length} is invalid` });
    }
    if (u16(b, p) & 0x8000) an.push({ layer, offset: p, reason: "CP attribute reserved bit set" });
    out.attributes.push(a);
    p = vend;
  }
  return out;
}
