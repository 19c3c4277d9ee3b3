/**
 * `vpnkit meltdown --lab` end to end (namespaces vxmt*): both vpnkit tunnels come up, every run
 * has a measured transfer, the JSON has the fields the report needs, the HTML has its plots, and
 * the lab is gone afterwards. No throughput is asserted (that is bench/meltdown's job).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, missingPrereq, ROOT } from "../tunnel/nsutil.ts";

const reason = missingPrereq() ?? (spawnSync("sh", ["-c", "command -v iptables && command -v tc"]).status !== 0 ? "iptables/tc not installed" : null);
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/meltdown/lab-cli.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

run("vpnkit meltdown --lab", () => {
  test("UDP and TCP transport runs, with and without outer loss; lab removed", () => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    const dir = mkdtempSync(join(tmpdir(), "vxmt-"));
    try {
      const html = join(dir, "r.html");
      const r = spawnSync(BUN, [join(ROOT, "cli/main.ts"), "meltdown", "--lab", "--prefix", "vxmt", "--loss", "0,5", "-t", "2", "--json", "--html", html], { encoding: "utf8", timeout: 120_000 });
      expect(r.status).toBe(0);
      const { meta, runs } = JSON.parse(r.stdout);
      expect(meta.path).toContain("tbf 100 Mbit/s");
      expect(runs.map((x: { tunnel: string; loss: number }) => `${x.tunnel}@${x.loss}`)).toEqual(["vpnkit-udp@0", "vpnkit-udp@0.05", "vpnkit-tcp@0", "vpnkit-tcp@0.05"]);
      for (const x of runs) {
        expect(x.error).toBeUndefined();
        expect(x.goodputMbps).toBeGreaterThan(0);
        expect(x.intervals.length).toBeGreaterThanOrEqual(3);
        expect(x.idleRttMs).toBeGreaterThan(0);
        if (x.transport === "tcp") expect(typeof x.outerRetr).toBe("number");
        else expect(x.outerRetr).toBeNull();
      }
      const h = readFileSync(html, "utf8");
      expect(h.match(/<svg/g)?.length).toBe(2);
      const ns = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout;
      expect(ns).not.toMatch(/^vxmt/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      for (const n of ["vxmta", "vxmtr", "vxmtb", "vxmtd"]) spawnSync("ip", ["netns", "del", n]);
    }
  }, 150_000);
});
