/**
 * `-v` output: the full field tree of a decoded packet, like `tshark -V`.
 *
 * The tree is rendered generically from the layer objects, so every field
 * that `--json` carries is shown under the same name. A numeric field `x`
 * with a sibling `xName` prints as `x: NAME (n)` (also `fooType` + `fooName`).
 * Written for speed: one string is built per packet, and per-field-name
 * facts (its `Name` sibling, whether it is an SPI) are cached.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { DecodedPacket, LayerBase } from "../core/layer.ts";

/** Bytes shown in full before a hex field is shortened. */
export const HEX_MAX = 48;
const SKIP = new Set(["layer", "offset", "length", "payloadOffset", "payloadEnd"]);

interface KeyInfo {
  /** The sibling holding this field's name (`xName`), if any could exist. */
  nameKey: string | null;
  /** This field is itself the name of a sibling (`xName` next to `x`), given the sibling's key. */
  nameOf: string[];
  hexNumber: boolean;
}
const KEYS = new Map<string, KeyInfo>();

function keyInfo(key: string): KeyInfo {
  let k = KEYS.get(key);
  if (k) return k;
  const nameOf: string[] = [];
  if (key.endsWith("Name") && key.length > 4) {
    const base = key.slice(0, -4);
    nameOf.push(base, base + "Type");
  }
  k = {
    nameKey: key + "Name",
    nameOf,
    hexNumber: key === "spi" || key.endsWith("Spi") || key === "checksum",
  };
  if (KEYS.size < 4096) KEYS.set(key, k);
  return k;
}

function typeNameKey(key: string): string | null {
  return key.endsWith("Type") && key.length > 4 ? key.slice(0, -4) + "Name" : null;
}

function hexField(b: Uint8Array): string {
  if (b.length <= HEX_MAX) return `${toHex(b)} (${b.length} bytes)`;
  return `${toHex(b, 0, HEX_MAX)}... (${b.length} bytes)`;
}

function macText(b: Uint8Array): string {
  const h = toHex(b);
  return `${h.slice(0, 2)}:${h.slice(2, 4)}:${h.slice(4, 6)}:${h.slice(6, 8)}:${h.slice(8, 10)}:${h.slice(10, 12)}`;
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

function renderObject(indent: string, o: Record<string, unknown>): string {
  let out = "";
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    if (SKIP.has(key)) continue;
    const v = o[key];
    if (v === undefined || v === null) continue;
    const ki = keyInfo(key);
    // a name shown next to its number is not repeated on its own line
    if (ki.nameOf.length && typeof v === "string" && (ki.nameOf[0] in o || ki.nameOf[1] in o)) continue;
    let named = o[ki.nameKey!];
    if (named === undefined) {
      const t = typeNameKey(key);
      if (t) named = o[t];
    }
    if (v instanceof Uint8Array && v.length === 6 && (key === "src" || key === "dst")) {
      out += `${indent}${key}: ${macText(v)}\n`;
      continue;
    }
    const s = typeof v === "number" && ki.hexNumber ? `0x${(v >>> 0).toString(16).padStart(key === "checksum" ? 4 : 8, "0")}` : scalar(v);
    if (s !== undefined) {
      out += typeof named === "string" ? `${indent}${key}: ${named} (${s})\n` : `${indent}${key}: ${s}\n`;
      continue;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) {
        out += `${indent}${key}: []\n`;
        continue;
      }
      let allScalar = true;
      for (let j = 0; j < v.length; j++) if (scalar(v[j]) === undefined) allScalar = false;
      if (allScalar) {
        out += `${indent}${key}: ${v.map((x) => scalar(x)).join(", ")}\n`;
        continue;
      }
      out += `${indent}${key}: (${v.length})\n`;
      for (let j = 0; j < v.length; j++) {
        const item = v[j];
        out += `${indent}  ${itemLabel(item, j)}\n`;
        if (item && typeof item === "object") out += renderObject(indent + "    ", item as Record<string, unknown>);
        else out += `${indent}    ${String(item)}\n`;
      }
      continue;
    }
    if (typeof v === "object") out += `${indent}${key}:\n` + renderObject(indent + "  ", v as Record<string, unknown>);
  }
  return out;
}

/** Render one layer as an indented block (lines end with "\n"). */
export function renderLayer(l: LayerBase, indent = "  "): string {
  return `${indent}${l.layer} @${l.offset}, ${l.length} bytes\n` + renderObject(indent + "  ", l as unknown as Record<string, unknown>);
}

/** Full `-v` rendering of a packet (no trailing newline). */
export function renderTree(p: DecodedPacket, header: string): string {
  let out = header + "\n";
  for (const l of p.layers) out += renderLayer(l);
  if (p.comment) out += `  comment: ${p.comment}\n`;
  if (p.notes) for (const n of p.notes) out += `  note: ${n}\n`;
  for (const a of p.anomalies) out += `  !! ${a.layer} @${a.offset}: ${a.reason}\n`;
  return out.slice(0, -1);
}
