/**
 * `-v` output: the full field tree of a decoded packet, like `tshark -V`.
 *
 * The tree is rendered generically from the layer objects, so every field
 * that `--json` carries is shown under the same name. A numeric field `x`
 * with a sibling `xName` prints as `x: NAME (n)`.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { DecodedPacket, LayerBase } from "./layer.ts";

/** Bytes shown in full before a hex field is shortened. */
const HEX_MAX = 48;
const SKIP = new Set(["layer", "offset", "length", "payloadOffset", "payloadEnd"]);

function hexField(b: Uint8Array): string {
  if (b.length <= HEX_MAX) return `${toHex(b)} (${b.length} bytes)`;
  return `${toHex(b, 0, HEX_MAX)}… (${b.length} bytes)`;
}

function scalar(v: unknown): string | undefined {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
    case "boolean":
      return String(v);
    case "bigint":
      return v.toString();
  }
  if (v instanceof Uint8Array) return hexField(v);
  return undefined;
}

function renderValue(out: string[], indent: string, key: string, v: unknown, obj: Record<string, unknown>): void {
  if (v === undefined || v === null) return;
  if (key.endsWith("Name") && typeof v === "string" && key.length > 4 && (key.slice(0, -4) in obj || key.slice(0, -4) + "Type" in obj)) return;
  // `x` + `xName`, or `fooType` + `fooName` (notifyType/notifyName)
  let named = obj[key + "Name"];
  if (named === undefined && key.endsWith("Type") && key.length > 4) named = obj[key.slice(0, -4) + "Name"];
  if (v instanceof Uint8Array && v.length === 6 && (key === "src" || key === "dst")) {
    out.push(`${indent}${key}: ${macText(v)}`);
    return;
  }
  const s = typeof v === "number" && (isSpiKey(key) || key === "checksum") ? `0x${(v >>> 0).toString(16).padStart(8, "0")}` : scalar(v);
  if (s !== undefined) {
    if (typeof named === "string") out.push(`${indent}${key}: ${named} (${s})`);
    else out.push(`${indent}${key}: ${s}`);
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(`${indent}${key}: []`);
      return;
    }
    if (v.every((x) => scalar(x) !== undefined)) {
      out.push(`${indent}${key}: ${v.map((x) => scalar(x)).join(", ")}`);
      return;
    }
    out.push(`${indent}${key}: (${v.length})`);
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      const label = itemLabel(item, i);
      out.push(`${indent}  ${label}`);
      if (item && typeof item === "object") renderObject(out, indent + "    ", item as Record<string, unknown>);
      else out.push(`${indent}    ${String(item)}`);
    }
    return;
  }
  if (typeof v === "object") {
    out.push(`${indent}${key}:`);
    renderObject(out, indent + "  ", v as Record<string, unknown>);
  }
}

function macText(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (i ? ":" : "") + (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function isSpiKey(k: string): boolean {
  return k === "spi" || k.endsWith("Spi");
}

function itemLabel(item: unknown, i: number): string {
  if (item && typeof item === "object") {
    const o = item as Record<string, unknown>;
    const t = o.typeName ?? o.name ?? o.layer;
    const off = typeof o.offset === "number" ? ` @${o.offset}` : "";
    const len = typeof o.length === "number" ? `, ${o.length} bytes` : "";
    if (typeof t === "string") return `[${i}] ${t}${off}${len}`;
  }
  return `[${i}]`;
}

function renderObject(out: string[], indent: string, o: Record<string, unknown>): void {
  for (const key in o) {
    if (SKIP.has(key)) continue;
    renderValue(out, indent, key, o[key], o);
  }
}

/** Render one layer as an indented block. */
export function renderLayer(out: string[], l: LayerBase, indent = "  "): void {
  out.push(`${indent}${l.layer} @${l.offset}, ${l.length} bytes`);
  renderObject(out, indent + "  ", l as unknown as Record<string, unknown>);
}

/** Full `-v` rendering of a packet, lines joined with "\n" (no trailing newline). */
export function renderTree(p: DecodedPacket, header: string): string {
  const out: string[] = [header];
  for (const l of p.layers) renderLayer(out, l);
  if (p.comment) out.push(`  comment: ${p.comment}`);
  if (p.notes) for (const n of p.notes) out.push(`  note: ${n}`);
  for (const a of p.anomalies) out.push(`  !! ${a.layer} @${a.offset}: ${a.reason}`);
  return out.join("\n");
}
