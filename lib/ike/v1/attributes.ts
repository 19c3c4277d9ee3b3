/**
 * ISAKMP data attributes (RFC 2408 §3.3): TV (AF=1, 2-byte value) and TLV
 * (AF=0, 2-byte length + value) forms, used by transforms, notify data
 * (RESPONDER-LIFETIME) and Mode-Config.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../../core/anomaly.ts";
import { u16, u32 } from "../../core/bytes.ts";
import type { Registry } from "../../core/registry.ts";

/** One data attribute. */
export interface IsakmpAttribute {
  offset: number;
  /** Bytes the attribute spans (4 for TV). */
  length: number;
  format: "TV" | "TLV";
  type: number;
  typeName: string;
  /** Numeric value: the TV value, or a TLV value of 1..6 bytes. */
  value?: number;
  /** Name of `value` in the class's value registry, when it has one. */
  valueName?: string;
  /** TLV value bytes (possibly truncated, see anomalies). */
  data?: Uint8Array;
  /** True when the attribute carries a secret (e.g. XAUTH password). Its `data`/`value` are then
   *  non-enumerable: readable by code, skipped by JSON.stringify and object walkers. */
  secret?: boolean;
}

/** How to name attributes of one family. */
export interface AttributeNaming {
  classes: Registry;
  values: Record<number, Registry>;
  secret?: Set<number>;
}

/** Mark `a` secret and attach `v` as a non-enumerable property. */
function hide(a: IsakmpAttribute, key: "data" | "value", v: Uint8Array | number): void {
  a.secret = true;
  Object.defineProperty(a, key, { value: v, enumerable: false, writable: false, configurable: false });
}

/** Upper bound on attributes per list (each takes ≥ 4 bytes, so this only caps absurd inputs). */
const MAX_ATTRS = 4096;

/**
 * Decode the attribute list in [off, end). Stops at an attribute that
 * overruns `end` (reported; its truncated value is kept).
 */
export function decodeAttributes(
  b: Uint8Array,
  off: number,
  end: number,
  an: Anomaly[],
  layer: string,
  naming: AttributeNaming,
): IsakmpAttribute[] {
  end = Math.min(end, b.length);
  const out: IsakmpAttribute[] = [];
  let o = Math.max(off, 0);
  while (o < end && out.length < MAX_ATTRS) {
    if (o + 4 > end) {
      anomaly(an, layer, o, `attribute header ${truncated(4, end - o)}`);
      break;
    }
    const t = u16(b, o);
    const type = t & 0x7fff;
    const typeName = naming.classes.name(type);
    const reg = naming.values[type];
    if (t & 0x8000) {
      const value = u16(b, o + 2);
      const a: IsakmpAttribute = { offset: o, length: 4, format: "TV", type, typeName };
      if (naming.secret?.has(type)) hide(a, "value", value);
      else {
        a.value = value;
        if (reg) a.valueName = reg.name(value);
      }
      out.push(a);
      o += 4;
      continue;
    }
    const len = u16(b, o + 2);
    let vend = o + 4 + len;
    if (vend > end) {
      anomaly(an, layer, o + 2, `attribute ${typeName} value ${truncated(len, end - o - 4)}`);
      vend = end;
    }
    const data = b.subarray(o + 4, vend);
    const a: IsakmpAttribute = { offset: o, length: vend - o, format: "TLV", type, typeName };
    if (naming.secret?.has(type)) {
      // Secrets stay reachable for code (a.data) but are not enumerable, so
      // JSON output and tree renderers never print them.
      hide(a, "data", data);
    } else {
      a.data = data;
      if (data.length === len && len >= 1 && len <= 6) {
        let v = 0;
        if (len === 4) v = u32(b, o + 4);
        else for (let i = 0; i < len; i++) v = v * 256 + data[i];
        a.value = v;
        if (reg) a.valueName = reg.name(v);
      }
    }
    out.push(a);
    if (vend - o < 4 + len) break;
    o = vend;
  }
  return out;
}
