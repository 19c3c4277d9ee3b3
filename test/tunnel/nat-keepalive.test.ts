/**
 * Issue 12, Build 2: "switch to 4500 only when a NAT is detected; send keepalives only from
 * behind a NAT" (RFC 3948 §2.3, RFC 7296 §2.23), vpnkit ↔ vpnkit across a real NAT:
 *
 *   vks1 (client 10.77.5.2) ── vks2 (router: 10.77.5.1 inside, 192.0.2.100 outside,
 *   iptables MASQUERADE) ── vks3 (server 192.0.2.1)
 *
 * The client starts on UDP 500, NAT-D finds its own address translated, IKE and ESP move to
 * 4500 (ESP in UDP). With `--keepalive 1` on both ends, the client (behind the NAT) sends
 * 1-byte NAT-keepalives once a second and the server receives them; the server, which is
 * not behind a NAT, sends none. Ping passes both ways through the tunnel.
 * Every name starts with "vks"; the namespaces are deleted afterwards, also on failure.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { sh } from "./nsutil.ts";
import { startUp, stopUp, until, type VkoSide, waitControl } from "./vko-ns.ts";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";

const NS = ["vks1", "vks2", "vks3"] as const;
const LOCK = "/run/vpnkit-vks-netns.lock";
const dir = mkdtempSync(join(tmpdir(), "vks-natka-"));

function missing(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const t of ["ip", "ping", "iptables"]) if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  return null;
}
const why = missing();
if (why && process.env.CI === "true") throw new Error(`NAT keepalive namespace test: ${why}`);

function topoUp(): void {
  takeNetnsLock(LOCK, "vks1/vks2/vks3");
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  for (const n of NS) sh("ip", ["netns", "add", n]);
  sh("ip", ["link", "add", "vks1a", "netns", "vks1", "type", "veth", "peer", "name", "vks2i", "netns", "vks2"]);
  sh("ip", ["link", "add", "vks2o", "netns", "vks2", "type", "veth", "peer", "name", "vks3a", "netns", "vks3"]);
  for (const [ns, devs] of [["vks1", ["vks1a"]], ["vks2", ["vks2i", "vks2o"]], ["vks3", ["vks3a"]]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    for (const d of devs) sh("ip", ["-n", ns, "link", "set", d, "up"]);
  }
  sh("ip", ["-n", "vks1", "addr", "add", "10.77.5.2/24", "dev", "vks1a"]);
  sh("ip", ["-n", "vks1", "route", "add", "default", "via", "10.77.5.1"]);
  sh("ip", ["-n", "vks2", "addr", "add", "10.77.5.1/24", "dev", "vks2i"]);
  sh("ip", ["-n", "vks2", "addr", "add", "192.0.2.100/24", "dev", "vks2o"]);
  sh("ip", ["netns", "exec", "vks2", "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  sh("ip", ["netns", "exec", "vks2", "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "vks2o", "-j", "MASQUERADE"]);
  sh("ip", ["-n", "vks3", "addr", "add", "192.0.2.1/24", "dev", "vks3a"]);
  sh("ip", ["netns", "exec", "vks1", "ping", "-c", "1", "-W", "2", "192.0.2.1"]);
}

function topoDown(): void {
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
}

beforeAll(() => {
  if (!why) topoUp();
});
afterAll(() => {
  if (!why) topoDown();
  rmSync(dir, { recursive: true, force: true });
});

const psk = join(dir, "psk");
writeFileSync(psk, "vks nat keepalive test pre-shared key\n", { mode: 0o600 });

describe.skipIf(why !== null)(`NAT traversal and keepalives across a MASQUERADE router (vks1/vks2/vks3)${why ? ` [skipped: ${why}]` : ""}`, () => {
  test("behind the NAT: IKE and ESP move to 4500 and the client sends keepalives; the server, not behind a NAT, sends none; ping both ways", async () => {
    const sS = join(dir, "s.sock"), cS = join(dir, "c.sock");
    const s = startUp("vks3", ["--responder", "--psk-file", psk, "--local-ts", "10.78.2.1/32", "--remote-ts", "10.78.1.1/32", "--tun-name", "vks3t", "--keepalive", "1", "--control", sS]);
    let c: VkoSide | null = null;
    try {
      await waitControl(s, sS);
      c = startUp("vks1", ["--peer", "192.0.2.1", "--psk-file", psk, "--local-ts", "10.78.1.1/32", "--remote-ts", "10.78.2.1/32", "--tun-name", "vks1t", "--keepalive", "1", "--control", cS]);
      const cc = c;
      await until(() => /Child SA installed/.test(cc.log()) || cc.proc.exitCode !== null, 30_000, "the Child SA");
      expect(c.log(), c.log()).toContain("ESP in UDP to 192.0.2.1:4500");
      await until(() => /Child SA installed/.test(s.log()), 10_000, "the server's Child SA");
      // the server sees the client at the NAT's address, on a port the NAT chose for 4500
      expect(s.log(), s.log()).toMatch(/ESP in UDP to 192\.0\.2\.100:\d+/);
      await waitControl(c, cS);
      const ping = (ns: string, src: string, dst: string) => spawnSync("ip", ["netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst], { encoding: "utf8" });
      const p1 = ping("vks1", "10.78.1.1", "10.78.2.1");
      expect(p1.status, p1.stdout + c.log() + s.log()).toBe(0);
      const p2 = ping("vks3", "10.78.2.1", "10.78.1.1");
      expect(p2.status, p2.stdout + s.log()).toBe(0);

      const c0 = await readStatus(cS, 2000);
      const ike = c0.ike!.ikeSas.find((x) => x.state === "established")!;
      expect(ike.natt).toBe(true);
      expect(ike.local.endsWith(":4500"), ike.local).toBe(true);
      // keepalives are sent when nothing else went out for an interval: wait several intervals
      await Bun.sleep(4500);
      const cs = await readStatus(cS, 2000), ss = await readStatus(sS, 2000);
      expect(cs.counters.keepalivesSent, JSON.stringify(cs.counters)).toBeGreaterThanOrEqual(2);
      expect(ss.counters.keepalivesIn, JSON.stringify(ss.counters)).toBeGreaterThanOrEqual(2);
      expect(ss.counters.keepalivesSent, JSON.stringify(ss.counters)).toBe(0);
      expect(cs.counters.keepalivesIn, JSON.stringify(cs.counters)).toBe(0);
    } finally {
      if (c) await stopUp(c);
      await stopUp(s);
    }
  }, 120_000);
});
