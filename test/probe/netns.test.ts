/**
 * `vpnkit mtu` against `vpnkit responder` through a router whose far link has MTU 1380
 * (scripts/lab.sh, namespaces vmt-a / vmt-r / vmt-b), IPv4 and IPv6, with ICMP too-big
 * allowed and with it dropped at the router (black hole). Both commands run as child
 * processes (test/probe/run-cli.ts) inside the namespaces.
 * Skips with a reason when not root / tools missing, unless CI=true (then fails).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const BUN = process.execPath;
const LAB = join(ROOT, "scripts/lab.sh");
const CLI = join(ROOT, "test/probe/run-cli.ts");
const PREFIX = "vmt";

function missingPrereq(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (network namespaces need CAP_NET_ADMIN)";
  for (const t of ["ip", "iptables", "ip6tables", "ping", "bash", "awk"]) {
    if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  }
  return null;
}

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/probe/netns.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

function lab(...args: string[]): string {
  return execFileSync("bash", [LAB, "--prefix", PREFIX, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

interface MtuJson {
  ok: boolean;
  pathMtu: number | null;
  bound: string | null;
  family: number;
  durationMs: number;
  probes: number;
  rounds: number;
  icmpErrors: number;
  localTooBig: number;
  timeouts: number;
  kernelPmtuBefore: number | null;
  error?: string;
  report: { clamp: { udp: { innerMtu: number; mssIpv4: number; mssIpv6: number } } } | null;
}

function mtu(peer: string, secretFile: string, extra: string[] = []): { status: number | null; json: MtuJson | null; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", `${PREFIX}-a`, BUN, CLI, "mtu", peer, "--secret-file", secretFile, "--json", ...extra], {
    encoding: "utf8", timeout: 60_000,
  });
  let json: MtuJson | null = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    // left null: the assertion below shows stderr
  }
  return { status: r.status, json, stderr: r.stderr };
}

const measured: string[] = [];

run("vpnkit mtu through a 1380-byte link (namespaces)", () => {
  let dir = "";
  let secret = "";
  let responder: ChildProcess | null = null;
  let responderLog = "";

  beforeAll(async () => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), "vmt-mtu-"));
    secret = join(dir, "secret");
    writeFileSync(secret, "netns test secret 0123456789\n", { mode: 0o600 });
    lab("up", "--mtu", "1380");
    responder = spawn("ip", ["netns", "exec", `${PREFIX}-b`, BUN, CLI, "responder", "--secret-file", secret], { stdio: ["ignore", "ignore", "pipe"] });
    responder.stderr!.on("data", (d) => (responderLog += d));
    const deadline = Date.now() + 15_000;
    while (!responderLog.includes("answering MTU probes")) {
      if (responder.exitCode !== null || Date.now() > deadline) throw new Error(`responder did not start: ${responderLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    if (responder && responder.exitCode === null) {
      responder.kill("SIGTERM");
      await Promise.race([new Promise((r) => responder!.once("exit", r)), new Promise((r) => setTimeout(r, 3000))]);
      if (responder.exitCode === null) responder.kill("SIGKILL");
    }
    try {
      lab("down");
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (measured.length) console.log(`[measured] vpnkit mtu durations (tool's own clock):\n  ${measured.join("\n  ")}`);
    }
  });

  const cases = [
    { name: "IPv4", peer: "10.91.2.1", inner: 1318 },
    { name: "IPv6", peer: "fd91:2::1", inner: 1298 },
  ];

  for (const c of cases) {
    test(`${c.name}, ICMP too-big allowed: exactly 1380`, () => {
      const r = mtu(c.peer, secret);
      expect(r.json, r.stderr).not.toBeNull();
      const j = r.json!;
      measured.push(`${c.name} ICMP allowed: ${j.durationMs.toFixed(0)} ms, ${j.probes} probes, ${j.rounds} rounds, bound ${j.bound}`);
      expect({ status: r.status, ok: j.ok, pathMtu: j.pathMtu }).toEqual({ status: 0, ok: true, pathMtu: 1380 });
      expect(["local", "icmp"]).toContain(j.bound!);
      expect(j.icmpErrors + j.localTooBig).toBeGreaterThan(0);
      expect(j.report!.clamp.udp).toEqual({ innerMtu: c.inner, mssIpv4: c.inner - 40, mssIpv6: c.inner - 60 });
    });
  }

  test("ICMP dropped at the router; kernel PMTU cache flushed", () => {
    lab("icmp", "off");
    execFileSync("ip", ["netns", "exec", `${PREFIX}-a`, "ip", "route", "flush", "cache"]);
    execFileSync("ip", ["netns", "exec", `${PREFIX}-a`, "ip", "-6", "route", "flush", "cache"]);
  });

  for (const c of cases) {
    test(`${c.name}, black hole (no ICMP): exactly 1380`, () => {
      const r = mtu(c.peer, secret);
      expect(r.json, r.stderr).not.toBeNull();
      const j = r.json!;
      measured.push(`${c.name} black hole: ${j.durationMs.toFixed(0)} ms, ${j.probes} probes, ${j.rounds} rounds, bound ${j.bound}`);
      expect(j.kernelPmtuBefore).toBe(1500); // nothing learnt from the earlier ICMP run
      expect({ status: r.status, ok: j.ok, pathMtu: j.pathMtu, bound: j.bound, icmp: j.icmpErrors }).toEqual({ status: 0, ok: true, pathMtu: 1380, bound: "timeout", icmp: 0 });
      expect(j.timeouts).toBeGreaterThan(0);
    });
  }

  test("black hole plus 5% random loss each way on the router (--tries 5): still exactly 1380", () => {
    for (const t of ["iptables", "ip6tables"]) {
      execFileSync("ip", ["netns", "exec", `${PREFIX}-r`, t, "-A", "FORWARD", "-m", "statistic", "--mode", "random", "--probability", "0.05", "-j", "DROP"]);
    }
    try {
      for (const c of cases) {
        const r = mtu(c.peer, secret, ["--tries", "5"]);
        expect(r.json, r.stderr).not.toBeNull();
        const j = r.json!;
        measured.push(`${c.name} black hole + 5% loss, --tries 5: ${j.durationMs.toFixed(0)} ms, ${j.probes} probes, ${j.rounds} rounds`);
        expect({ ok: j.ok, pathMtu: j.pathMtu }).toEqual({ ok: true, pathMtu: 1380 });
      }
    } finally {
      for (const t of ["iptables", "ip6tables"]) execFileSync("ip", ["netns", "exec", `${PREFIX}-r`, t, "-F", "FORWARD"]);
    }
  });

  test("wrong secret: no answer, exit 4 with a reason", () => {
    const bad = join(dir, "bad");
    writeFileSync(bad, "not the right secret at all\n", { mode: 0o600 });
    const r = mtu("10.91.2.1", bad);
    expect(r.status).toBe(4);
    expect(r.json!.ok).toBe(false);
    expect(r.json!.error).toContain("no authenticated answer");
  });

  test("no responder on the port: exit 4, ICMP port unreachable reported", () => {
    const r = mtu("10.91.2.1", secret, ["--port", "4599"]);
    expect(r.status).toBe(4);
    expect(r.json!.error).toContain("no responder is listening");
  });
});
