/**
 * Namespace helpers for the production tests (issue 14): namespaces vko1/vko2 joined by a
 * veth pair (192.0.2.1 <-> 192.0.2.2), `vpnkit up` started in one of them with any
 * arguments and environment. Every name starts with "vko"; topoDown removes everything.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, ROOT, sh } from "./nsutil.ts";

export { BUN, missingPrereq, nsx, PYTHON, ROOT, sh } from "./nsutil.ts";

const LOCK = "/run/vpnkit-vko-netns.lock";
export const VKO = ["vko1", "vko2"] as const;

export function vkoUp(): void {
  takeNetnsLock(LOCK, "vko1/vko2");
  for (const n of VKO) sh("ip", ["netns", "del", n], { allowFail: true });
  sh("ip", ["netns", "add", "vko1"]);
  sh("ip", ["netns", "add", "vko2"]);
  sh("ip", ["link", "add", "vko1a", "netns", "vko1", "type", "veth", "peer", "name", "vko2a", "netns", "vko2"]);
  for (const [ns, dev, n] of [["vko1", "vko1a", 1], ["vko2", "vko2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
    // see the datagrams as they travel (no UDP GSO runs in captures)
    sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tx-udp-segmentation", "off"], { allowFail: true });
  }
  sh("ip", ["netns", "exec", "vko1", "ping", "-c", "1", "-W", "2", "192.0.2.2"]);
}

export function vkoDown(): void {
  for (const n of VKO) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
}

export interface VkoSide {
  ns: string;
  proc: ChildProcess;
  log: () => string;
  exited: Promise<number | null>;
}

/** `vpnkit up ARGS` (from source, cli/main.ts) in `ns`. */
export function startUp(ns: string, args: string[], env: Record<string, string> = {}): VkoSide {
  const proc = spawn("ip", ["netns", "exec", ns, BUN, join(ROOT, "cli/main.ts"), "up", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
  return { ns, proc, log: () => out, exited };
}

/** Wait (bounded) until the control socket answers; throws with the log when the process exits first. */
export async function waitControl(s: VkoSide, control: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (s.proc.exitCode !== null) throw new Error(`vpnkit up in ${s.ns} exited ${s.proc.exitCode}: ${s.log()}`);
    if (existsSync(control)) {
      try {
        await readStatus(control, 1000);
        return;
      } catch { /* not yet */ }
    }
    if (Date.now() > deadline) throw new Error(`vpnkit up in ${s.ns} not ready: ${s.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait (bounded) until `pred()` holds. */
export async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGTERM, then SIGKILL after 3 s; resolves with the exit code. */
export async function stopUp(s: VkoSide): Promise<number | null> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return s.proc.exitCode;
  s.proc.kill("SIGTERM");
  const t = await Promise.race([s.exited, new Promise<"late">((r) => setTimeout(() => r("late"), 3000))]);
  if (t === "late") {
    s.proc.kill("SIGKILL");
    return await s.exited;
  }
  return t;
}

/** A hex key||salt of `len` bytes. */
export function hexKey(len: number, seed: number): string {
  return Array.from({ length: len }, (_, i) => ((seed * 31 + i * 7) & 0xff).toString(16).padStart(2, "0")).join("");
}
