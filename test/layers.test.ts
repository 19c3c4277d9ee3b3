/**
 * Layering (CONTRIBUTING, project rules): every import in lib/ and cli/ runs
 * downwards or sideways, never to a higher layer. Ranks, from what imports what:
 *
 *   0 core
 *   1 net, capture, esp, link            (core only, and each other)
 *   2 ipsec, ike                          (protocol cores)
 *   3 keys, decrypt, tunnel, decode, diagnose, probe, meltdown
 *   4 platform                            (runtime adapters: bun:ffi, sockets)
 *   5 cli
 *
 * keys sits with decrypt: only decode and decrypt use it, and its KeyStore
 * makes the decryptors (lazily, so a decode without keys never loads them).
 * lib/core imports nothing else of lib/, lib/net only core. `bun:*` only in
 * lib/platform/bun/. Type-only and dynamic imports count too.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

const RANK: Record<string, number> = {
  core: 0,
  net: 1, capture: 1, esp: 1, link: 1,
  ipsec: 2, ike: 2,
  keys: 3, decrypt: 3, tunnel: 3, decode: 3, diagnose: 3, probe: 3, meltdown: 3,
  platform: 4,
  cli: 5,
};

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Layer of a repository path: "cli", a lib/ top-level directory, or null (e.g. mod.ts, node_modules). */
function layerOf(path: string): string | null {
  const rel = relative(ROOT, path).split(/[\\/]/);
  if (rel[0] === "cli") return "cli";
  if (rel[0] === "lib" && rel.length > 2) return rel[1];
  return null;
}

const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*["']([^"']+)["']|(?:^|[\s;])import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;

interface Edge { file: string; line: number; spec: string; from: string; to: string | null }

function edges(): Edge[] {
  const out: Edge[] = [];
  for (const f of [...files(join(ROOT, "lib")), ...files(join(ROOT, "cli"))]) {
    const src = readFileSync(f, "utf8");
    const from = layerOf(f)!;
    for (const m of src.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      const line = src.slice(0, m.index).split("\n").length;
      const to = spec.startsWith(".") ? layerOf(resolve(dirname(f), spec)) : null;
      out.push({ file: relative(ROOT, f), line, spec, from, to });
    }
  }
  return out;
}

describe("layers", () => {
  const all = edges();
  const show = (l: Edge[]) => l.map((e) => `${e.file}:${e.line} (${e.from}) imports ${e.spec} (${e.to})`);

  test("the import scan sees the code base", () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all.some((e) => e.from === "tunnel" && e.to === "ike")).toBe(true);
    expect(all.some((e) => e.from === "cli" && e.to === "decode")).toBe(true);
  });

  test("every lib/ top-level directory has a rank", () => {
    const dirs = readdirSync(join(ROOT, "lib")).filter((d) => statSync(join(ROOT, "lib", d)).isDirectory());
    expect(dirs.filter((d) => RANK[d] === undefined)).toEqual([]);
  });

  test("no import runs to a higher layer", () => {
    const up = all.filter((e) => e.to !== null && e.to !== e.from && (RANK[e.to] ?? 99) > (RANK[e.from] ?? -1));
    expect(show(up)).toEqual([]);
  });

  test("lib/ imports nothing from cli/ or outside lib/ (relative paths)", () => {
    const out = all.filter((e) => e.from !== "cli" && e.spec.startsWith(".") && e.to === null);
    expect(show(out)).toEqual([]);
  });

  test("lib/core imports nothing of lib/ above it; lib/net only lib/core", () => {
    const bad = all.filter((e) => e.to !== null && ((e.from === "core" && e.to !== "core") || (e.from === "net" && e.to !== "net" && e.to !== "core")));
    expect(show(bad)).toEqual([]);
  });

  test("bun:* only in lib/platform/bun/ (and cli/)", () => {
    const bad = all.filter((e) => e.spec.startsWith("bun:") && e.from !== "cli" && !e.file.startsWith("lib/platform/bun/"));
    expect(show(bad)).toEqual([]);
  });
});
