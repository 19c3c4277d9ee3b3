/** Test helpers: golden message loading and a parser for tshark -V text. */
import { readdirSync, readFileSync } from "node:fs";
import { fromHex } from "../../../lib/core/bytes.ts";

export const ROOT = new URL("../../../", import.meta.url).pathname;
export const GOLDEN_DIR = new URL("./golden/", import.meta.url).pathname;

export interface GoldenMessage {
  frame: number;
  srcPort: number;
  dstPort: number;
  nonEspMarker: boolean;
  udpLength: number;
  captured: number;
  hex: string;
}
export interface GoldenFile {
  name: string;
  source: string;
  messages: GoldenMessage[];
}

export function loadGolden(name: string): GoldenFile {
  const g = JSON.parse(readFileSync(`${GOLDEN_DIR}${name}.json`, "utf8"));
  return { name, ...g };
}

export function allGolden(): GoldenFile[] {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".json")).sort().map((f) => loadGolden(f.slice(0, -5)));
}

export function bytesOf(m: GoldenMessage): Uint8Array {
  const b = fromHex(m.hex);
  if (!b) throw new Error(`bad hex in golden frame ${m.frame}`);
  return b;
}

/** A node of tshark's indented -V output. */
export interface TNode {
  text: string;
  children: TNode[];
}

/** Parse tshark -V output into frames: frame number → top-level nodes. */
export function parseTsharkV(text: string): Map<number, TNode[]> {
  const frames = new Map<number, TNode[]>();
  let roots: TNode[] = [];
  let stack: { indent: number; node: TNode }[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const indent = line.length - line.trimStart().length;
    const t = line.trim();
    const fm = indent === 0 ? /^Frame (\d+):/.exec(t) : null;
    if (fm) {
      roots = [];
      stack = [];
      frames.set(Number(fm[1]), roots);
    }
    const node: TNode = { text: t, children: [] };
    while (stack.length && stack[stack.length - 1].indent >= indent) stack.pop();
    if (stack.length) stack[stack.length - 1].node.children.push(node);
    else roots.push(node);
    stack.push({ indent, node });
  }
  return frames;
}

/** Children whose text starts with `prefix`. */
export function kids(n: TNode, prefix: string): TNode[] {
  return n.children.filter((c) => c.text.startsWith(prefix));
}

/** Value after `prefix` in the first child starting with it. */
export function field(n: TNode, prefix: string): string | undefined {
  const c = n.children.find((x) => x.text.startsWith(prefix));
  return c ? c.text.slice(prefix.length).trim() : undefined;
}

/** The number in the last `(n)` of a string, e.g. `IKE_SA_INIT (34)` → 34. */
export function paren(s: string | undefined): number {
  const m = s ? /\((\d+)\)(?!.*\(\d+\))/.exec(s) : null;
  if (!m) throw new Error(`no (n) in ${s}`);
  return Number(m[1]);
}

/** Name before the trailing ` (n)`. */
export function nameOf(s: string | undefined): string {
  return (s ?? "").replace(/\s*\(\d+\)\s*$/, "");
}

/** Payload type of a tshark "Payload: Name (n)[ - NOTIFY][ # k]" line: the first `(n)`. */
export function wsPayloadType(text: string): number {
  const m = /\((\d+)\)/.exec(text);
  if (!m) throw new Error(`no payload type in ${text}`);
  return Number(m[1]);
}
