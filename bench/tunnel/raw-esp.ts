/**
 * Plain ESP (IP protocol 50) against ESP in UDP (4500), vpnkit ↔ vpnkit, same run: namespaces
 * vkqb1/vkqb2 on a veth pair (no NAT); each round starts both tunnels once with the default
 * flags (no NAT: raw ESP) and once with `--encap` (ESP in UDP), interleaved, and runs one
 * iperf3 TCP stream for SECS seconds vkqb1 → vkqb2. Prints every run and min/median per mode
 * and the ratio raw/UDP. Everything it creates is removed at the end (also on failure).
 *
 *   ROUNDS=5 SECS=5 bun bench/tunnel/raw-esp.ts
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECS = Number(process.env.SECS ?? 5);
const dir = mkdtempSync(join(tmpdir(), "vkqb-"));
const psk = join(dir, "psk");
writeFileSync(psk, "vkqb raw esp bench pre-shared key\n", { mode: 0o600 });

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout ?? "";
}

function up(): void {
  for (const n of ["vkqb1", "vkqb2"]) sh("ip", ["netns", "del", n], true);
  sh("ip", ["netns", "add", "vkqb1"]);
  sh("ip", ["netns", "add", "vkqb2"]);
  sh("ip", ["link", "add", "vkqb1a", "netns", "vkqb1", "type", "veth", "peer", "name", "vkqb2a", "netns", "vkqb2"]);
  for (const [ns, dev, n] of [["vkqb1", "vkqb1a", 1], ["vkqb2", "vkqb2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
  }
}

function down(): void {
  for (const n of ["vkqb1", "vkqb2"]) sh("ip", ["netns", "del", n], true);
  rmSync(dir, { recursive: true, force: true });
}

function start(ns: string, args: string[]): { p: ChildProcess; log: () => string } {
  const p = spawn("ip", ["netns", "exec", ns, process.execPath, join(ROOT, "cli/main.ts"), "up", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout!.on("data", (d) => (out += d));
  p.stderr!.on("data", (d) => (out += d));
  return { p, log: () => out };
}

async function stop(x: { p: ChildProcess }): Promise<void> {
  if (x.p.exitCode !== null) return;
  const done = new Promise((r) => x.p.once("exit", r));
  x.p.kill("SIGTERM");
  await Promise.race([done, Bun.sleep(3000)]);
  if (x.p.exitCode === null) x.p.kill("SIGKILL");
}

async function run(mode: "raw" | "udp"): Promise<number> {
  const s = start("vkqb2", ["--responder", "--psk-file", psk, "--local-ts", "10.72.2.1/32", "--remote-ts", "10.72.1.1/32", "--tun-name", "vkqb2t", "--control", join(dir, "s.sock")]);
  for (let k = 0; k < 100 && !/IKEv2 responder: waiting/.test(s.log()); k++) await Bun.sleep(100);
  const c = start("vkqb1", ["--peer", "192.0.2.2", ...(mode === "udp" ? ["--encap"] : []), "--psk-file", psk, "--local-ts", "10.72.1.1/32", "--remote-ts", "10.72.2.1/32", "--tun-name", "vkqb1t", "--control", join(dir, "c.sock")]);
  const srv = spawn("ip", ["netns", "exec", "vkqb2", "iperf3", "-s", "-1", "-B", "10.72.2.1", "-p", "5272"], { stdio: "ignore" });
  try {
    for (let k = 0; k < 300 && !/Child SA installed/.test(c.log()); k++) await Bun.sleep(100);
    const want = mode === "raw" ? "ESP (IP protocol 50)" : "ESP in UDP";
    if (!c.log().includes(want)) throw new Error(`${mode}: no "${want}" Child SA: ${c.log()}`);
    // the path works before the measurement starts
    for (let k = 0; k < 20 && spawnSync("ip", ["netns", "exec", "vkqb1", "ping", "-c", "1", "-W", "1", "-I", "10.72.1.1", "10.72.2.1"]).status !== 0; k++) await Bun.sleep(200);
    const r = spawnSync("ip", ["netns", "exec", "vkqb1", "iperf3", "-c", "10.72.2.1", "-B", "10.72.1.1", "-p", "5272", "-t", String(SECS), "-J"], { encoding: "utf8", timeout: (SECS + 30) * 1000 });
    const j = JSON.parse(r.stdout || "{}");
    const mbit = Number(j?.end?.sum_received?.bits_per_second ?? 0) / 1e6;
    if (!(mbit > 0)) throw new Error(`${mode}: iperf3 failed: ${j?.error ?? r.stderr}\n${c.log()}\n${s.log()}`);
    return mbit;
  } finally {
    srv.kill();
    await stop(c);
    await stop(s);
  }
}

const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
up();
try {
  const res = { raw: [] as number[], udp: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    for (const mode of (i % 2 ? ["udp", "raw"] : ["raw", "udp"]) as ("raw" | "udp")[]) {
      const mbit = await run(mode);
      res[mode].push(mbit);
      console.log(`round ${i + 1} ${mode}: ${mbit.toFixed(0)} Mbit/s`);
    }
  }
  const line = (m: "raw" | "udp") => `${m === "raw" ? "plain ESP (proto 50)" : "ESP in UDP (4500)  "}  min ${Math.min(...res[m]).toFixed(0)}  median ${med(res[m]).toFixed(0)} Mbit/s`;
  console.log(line("raw"));
  console.log(line("udp"));
  console.log(`ratio raw/udp: min ${(Math.min(...res.raw) / Math.min(...res.udp)).toFixed(2)}x, median ${(med(res.raw) / med(res.udp)).toFixed(2)}x`);
} finally {
  down();
}
