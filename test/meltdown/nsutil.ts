/**
 * Namespace helpers for the TCP-transport tests: vxt1 <-> vxt2 (veth), one `vpnkit up`
 * per side. Names start with "vxt"; a lock file keeps two runs apart (as test/tunnel does).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { BUN, ROOT, sh } from "../tunnel/nsutil.ts";

export const NS = ["vxt1", "vxt2"];
const LOCK = "/run/vpnkit-vxt-netns.lock";
let owned = false;

function lock(): void {
  takeNetnsLock(LOCK, "vxt1/vxt2");
  owned = true;
}

export function topoDown(): void {
  if (!owned) return;
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
  owned = false;
}

/** vxt1 (vxt1a, 192.0.2.1/24) <-> vxt2 (vxt2a, 192.0.2.2/24). */
export function topoUp(): void {
  lock();
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  sh("ip", ["netns", "add", "vxt1"]);
  sh("ip", ["netns", "add", "vxt2"]);
  sh("ip", ["link", "add", "vxt1a", "netns", "vxt1", "type", "veth", "peer", "name", "vxt2a", "netns", "vxt2"]);
  for (const [ns, dev, n] of [["vxt1", "vxt1a", 1], ["vxt2", "vxt2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
  }
  sh("ip", ["netns", "exec", "vxt1", "ping", "-c", "1", "-W", "2", "192.0.2.2"]);
}

export interface Side {
  ns: string;
  proc: ChildProcess;
  control: string;
  keylog: string;
  log: () => string;
}

function hexKey(n: number): string {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  return Buffer.from(b).toString("hex");
}

export const SPI_12 = 0xc0de1001;
export const SPI_21 = 0xc0de1002;

/** Start one `vpnkit up` process (TCP transport, `role`) in `ns`. */
export function startSide(dir: string, ns: string, me: number, peer: number, role: "client" | "server", k: { out: string; in: string }, spiOut: number, spiIn: number): Side {
  const control = join(dir, `${ns}.sock`);
  const keylog = join(dir, `${ns}.keys`);
  const args = [
    "netns", "exec", ns, BUN, join(ROOT, "test/tunnel/run-cli.ts"), "up",
    "--local", `192.0.2.${me}`, "--remote", `192.0.2.${peer}`, "--transport", "tcp", "--tcp-role", role,
    "--cipher", "aes256gcm16", "--spi-out", "0x" + spiOut.toString(16), "--spi-in", "0x" + spiIn.toString(16),
    "--key-out-file", k.out, "--key-in-file", k.in,
    "--tun-name", `${ns}tun`, "--tun-addr", `10.9.0.${me}/30`, "--route", `10.9.0.${peer}/32`,
    "--keylog", keylog, "--control", control, "--keepalive", "1",
  ];
  const proc = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  return { ns, proc, control, keylog, log: () => out };
}

export async function stopSide(s: Side): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once("exit", r));
  s.proc.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (s.proc.exitCode === null && s.proc.signalCode === null) {
    s.proc.kill("SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
}

export async function waitReady(s: Side, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (s.proc.exitCode !== null) throw new Error(`vpnkit up in ${s.ns} exited ${s.proc.exitCode}: ${s.log()}`);
    if (existsSync(s.control)) {
      try {
        await readStatus(s.control, 1000);
        return;
      } catch {
        // not yet
      }
    }
    if (Date.now() > deadline) throw new Error(`vpnkit up in ${s.ns} not ready: ${s.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Keys for both directions, written under `dir`. */
export function writeKeys(dir: string): { k12: string; k21: string } {
  const k12 = join(dir, "k12"), k21 = join(dir, "k21");
  writeFileSync(k12, hexKey(36) + "\n", { mode: 0o600 });
  writeFileSync(k21, hexKey(36) + "\n", { mode: 0o600 });
  return { k12, k21 };
}
