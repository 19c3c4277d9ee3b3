/**
 * `--json` output: NDJSON, one object per packet. The schema is documented in
 * docs/json-schema.md; it is the layer objects themselves, serialised with
 * {@link jsonReplacer} (byte fields → lower-case hex, bigint → decimal string).
 * @module
 */
import { jsonReplacer, type DecodedPacket, type LayerBase } from "../core/layer.ts";
import { toHex } from "../core/bytes.ts";
import type { DecodeStats } from "./pipeline.ts";
import type { RunDecodeResult } from "./run.ts";

/** Schema version of the packet objects; bumped on incompatible changes. */
export const JSON_SCHEMA_VERSION = 1;

/**
 * ESP's opaque payload (IV, ciphertext, ICV) is emitted as its length only
 * (`payloadLength`), unless `opts.bytes` asks for the hex: dumping every
 * ciphertext byte would make the output ~3× the capture for no insight.
 */
function espLean(l: LayerBase): LayerBase {
  if (l.layer !== "esp") return l;
  const { payload, ...rest } = l as LayerBase & { payload: Uint8Array };
  return { ...rest, payloadLength: payload.length } as LayerBase;
}

/** `"key":` text per field name (field names repeat on every packet). */
const KEY_TEXT = new Map<string, string>();
const SIMPLE = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

function str(s: string): string {
  return s.length < 64 && SIMPLE.test(s) ? `"${s}"` : JSON.stringify(s);
}

/**
 * JSON text of a value, with the same output as
 * `JSON.stringify(v, jsonReplacer)` (byte fields as hex, bigint as decimal
 * strings, undefined members skipped). Hand-written because JSC's stringify
 * leaves its fast path when given a replacer (≈4× slower on packets).
 */
export function toJson(v: unknown): string {
  switch (typeof v) {
    case "string":
      return str(v);
    case "number":
      return Number.isFinite(v) ? String(v) : "null";
    case "boolean":
      return v ? "true" : "false";
    case "bigint":
      return `"${v}"`;
    case "object": {
      if (v === null) return "null";
      if (v instanceof Uint8Array) return `"${toHex(v)}"`;
      if (Array.isArray(v)) {
        let s = "[";
        for (let i = 0; i < v.length; i++) {
          const x = v[i];
          s += (i ? "," : "") + (x === undefined || typeof x === "function" ? "null" : toJson(x));
        }
        return s + "]";
      }
      const o = v as Record<string, unknown>;
      if (typeof (o as { toJSON?: unknown }).toJSON === "function") return JSON.stringify(o, jsonReplacer);
      let s = "{";
      let first = true;
      const keys = Object.keys(o);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i];
        const x = o[k];
        if (x === undefined || typeof x === "function" || typeof x === "symbol") continue;
        let q = KEY_TEXT.get(k);
        if (q === undefined) {
          q = str(k) + ":";
          if (KEY_TEXT.size < 4096) KEY_TEXT.set(k, q);
        }
        s += (first ? q : "," + q) + toJson(x);
        first = false;
      }
      return s + "}";
    }
  }
  return "null";
}

/** One NDJSON line for a packet. */
export function packetJson(p: DecodedPacket, opts: { bytes?: boolean } = {}): string {
  let s = `{"no":${p.no},"ts":"${p.tsSec}.${String(p.tsNsec).padStart(9, "0")}","iface":${p.iface},"linkType":${p.linkType},"caplen":${p.caplen},"len":${p.len},"layers":[`;
  for (let i = 0; i < p.layers.length; i++) s += (i ? "," : "") + toJson(opts.bytes ? p.layers[i] : espLean(p.layers[i]));
  s += `],"anomalies":${toJson(p.anomalies)}`;
  if (p.notes) s += `,"notes":${toJson(p.notes)}`;
  if (p.comment !== undefined) s += `,"comment":${str(p.comment)}`;
  if (p.ifName !== undefined) s += `,"ifName":${str(p.ifName)}`;
  return s + "}";
}

/** The `--stats --json` object. */
export function statsJson(st: DecodeStats, res: RunDecodeResult): string {
  return JSON.stringify({ schema: JSON_SCHEMA_VERSION, stats: true, packets: res.packets, anomalies: res.anomalies, anomalousPackets: res.anomalousPackets, ...st }, jsonReplacer);
}
