/**
 * `vpnkit meltdown --html` output opens in headless Chromium: rendered by the same
 * function the command uses (renderHtml) from a stored real run
 * (bench/meltdown/results/20261125-full/*.json, the runs behind bench/meltdown/RESULTS.md),
 * so no long measurement is needed. Expected numbers come from the JSON, not the renderer:
 * one SVG plot per outer-loss level, one goodput line per run, one table row per run.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MeltdownRun } from "../../lib/meltdown/measure.ts";
import { type MeltdownMeta, renderHtml } from "../../lib/meltdown/report.ts";
import { pngStats, requireChromium, withPage } from "../helpers/chromium.ts";

const CHROMIUM = requireChromium();
const DIR = new URL("../../bench/meltdown/results/20261125-full/", import.meta.url).pathname;
const RESULTS = readdirSync(DIR).filter((f) => f.endsWith(".json")).sort();

test("stored meltdown results exist", () => {
  expect(RESULTS.length).toBeGreaterThan(0);
});

describe.skipIf(!CHROMIUM)("meltdown --html in headless Chromium", () => {
  // two stored runs keep the test short; every stored file renders the same way
  for (const file of RESULTS.slice(0, 2)) {
    test(file, async () => {
      const { meta, runs } = JSON.parse(readFileSync(DIR + file, "utf8")) as { meta: MeltdownMeta; runs: MeltdownRun[] };
      const losses = new Set(runs.map((r) => r.loss)).size;
      const tmp = mkdtempSync(join(tmpdir(), "vkd-meltdown-"));
      try {
        const out = join(tmp, "meltdown.html");
        writeFileSync(out, renderHtml(runs, meta));
        const W = 1100, H = 900;
        await withPage(out, async (page) => {
          const dom = await page.evaluate<{ svgs: number; lines: number; rows: number; points: number[]; h1: string; overflow: number }>(`(() => {
            const svgs = [...document.querySelectorAll("svg")];
            return {
              svgs: svgs.length,
              lines: document.querySelectorAll("svg polyline").length,
              rows: document.querySelectorAll("table tr").length - 1,
              points: [...document.querySelectorAll("svg polyline")].map((p) => p.points.numberOfItems),
              h1: document.querySelector("h1").textContent,
              overflow: svgs.filter((s) => { const b = s.getBBox(); return b.x < -0.5 || b.x + b.width > s.width.baseVal.value + 0.5; }).length,
            };
          })()`);
          expect(dom.svgs).toBe(losses);
          expect(dom.lines).toBe(runs.length);
          expect(dom.rows).toBe(runs.length);
          expect(dom.points.sort((a, b) => a - b)).toEqual(runs.map((r) => r.intervals.length).sort((a, b) => a - b));
          expect(dom.h1).toContain("TCP over TCP");
          expect(dom.overflow).toBe(0);
          expect(page.requests.filter((u) => !u.startsWith("file://"))).toEqual([]);
          const s = pngStats(await page.screenshot({ full: false }));
          expect([s.width, s.height]).toEqual([W, H]);
          expect(s.colours).toBeGreaterThan(16);
          expect(s.dominant).toBeLessThan(0.97);
        }, { width: W, height: H, chromium: CHROMIUM! });
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
