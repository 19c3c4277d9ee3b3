/**
 * IKEv2 over TCP (RFC 9329), vpnkit initiator <-> vpnkit responder, in namespaces vkj1 / vkj2
 * joined by a veth: the two `vpnkit up --transport tcp` commands of README.md ("Over TCP"), as
 * written, plus this test's control sockets, TUN names, log level and short lifetimes. IKE (behind the
 * non-ESP marker) and ESP share one TCP connection to port 4500. Checks: the tunnel comes
 * up, ping and iperf3 both ways, Child SA and IKE SA rekeys (short lifetimes on the
 * initiator) under a continuous ping, the status document (transport, the real ephemeral
 * port), then the connection is reset under the tunnel (`ss -K`) and the tunnel recovers
 * with the same IKE SA (the initiator reconnects, its liveness check moves the responder's
 * SAs to the new connection), then a black hole (iptables DROP, no RST) until the initiator
 * gives the connection up, and the tunnel recovers once the path is back. Skips with a reason when not root / tools missing, unless CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus, type TunnelStatus } from "../../lib/tunnel/control.ts";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { BUN, missingPrereq, nsx, ROOT, sh } from "./nsutil.ts";

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/tunnel/ike-tcp.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

const NS = ["vkj1", "vkj2"];
const LOCK = "/run/vpnkit-vkj-netns.lock";
let owned = false;

function topoDown(): void {
  if (!owned) return;
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
  owned = false;
}

function topoUp(): void {
  takeNetnsLock(LOCK, "vkj1/vkj2");
  owned = true;
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  for (const n of NS) sh("ip", ["netns", "add", n]);
  sh("ip", ["link", "add", "vkj1a", "netns", "vkj1", "type", "veth", "peer", "name", "vkj2a", "netns", "vkj2"]);
  for (const [ns, dev, n] of [["vkj1", "vkj1a", 1], ["vkj2", "vkj2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
  }
  nsx("vkj1", "ping", ["-c", "1", "-W", "2", "192.0.2.2"]);
}

interface Vk {
  proc: ChildProcess;
  control: string;
  log: () => string;
}

/** The `vpnkit up` commands of README.md's "Over TCP (RFC 9329)" block: initiator and responder argv. */
function readmeTcpCommands(): { initiator: string[]; responder: string[] } {
  const md = readFileSync(join(ROOT, "README.md"), "utf8");
  const sec = md.slice(md.indexOf("**Over TCP (RFC 9329)**"));
  const start = sec.indexOf("```sh") + 5;
  const cmds = sec.slice(start, sec.indexOf("```", start)).split("\n").map((l) => l.trim()).filter((l) => l.startsWith("vpnkit up "));
  const argv = (l: string | undefined) => (l ?? "").split(/\s+/).slice(2);
  return { initiator: argv(cmds.find((c) => c.includes("--peer"))), responder: argv(cmds.find((c) => c.includes("--responder"))) };
}

function vpnkit(ns: string, dir: string, control: string, args: string[]): Vk {
  const proc = spawn("ip", ["netns", "exec", ns, BUN, join(ROOT, "test/tunnel/run-cli.ts"), "up", ...args, "--control", control, "--log-level", "debug"], { stdio: ["ignore", "pipe", "pipe"], cwd: dir });
  let out = "";
  proc.stdout!.on("data", (d) => (out += d));
  proc.stderr!.on("data", (d) => (out += d));
  return { proc, control, log: () => out };
}

async function stop(v: Vk | null): Promise<void> {
  if (!v || v.proc.exitCode !== null || v.proc.signalCode !== null) return;
  const exited = new Promise((r) => v.proc.once("exit", r));
  v.proc.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (v.proc.exitCode === null && v.proc.signalCode === null) {
    v.proc.kill("SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
}

async function waitLog(v: Vk, re: RegExp, ms: number, count = 1): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((v.log().match(new RegExp(re.source, "g")) ?? []).length >= count) return true;
    if (v.proc.exitCode !== null) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Ping until one reply, at most `ms`. */
async function waitPath(ns: string, src: string, dst: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (nsx(ns, "ping", ["-c", "1", "-W", "1", "-I", src, dst], { allowFail: true }).includes(" 0% packet loss")) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function iperf(from: string, to: string, dst: string, secs: number): Promise<number> {
  const srv = spawn("ip", ["netns", "exec", to, "iperf3", "-s", "-1", "-p", "5297"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = nsx(from, "timeout", [String(secs + 15), "iperf3", "-c", dst, "-p", "5297", "-t", String(secs), "-J"], { timeout: (secs + 20) * 1000 });
    return JSON.parse(out).end.sum_received.bits_per_second as number;
  } finally {
    if (srv.exitCode === null) srv.kill("SIGTERM");
  }
}

// inside the README's selectors, on each side's loopback (a gateway's LAN addresses)
const I_IN = "198.51.100.1", R_IN = "203.0.113.1";

run("IKEv2 over TCP (RFC 9329): vpnkit initiator <-> vpnkit responder in namespaces", () => {
  let dir = "";
  let i: Vk | null = null, r: Vk | null = null;
  beforeAll(() => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), "vkj-ike-tcp-"));
    topoUp();
  });
  afterAll(async () => {
    await stop(i);
    await stop(r);
    topoDown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("up over TCP 4500; ping and iperf3 both ways; Child and IKE SA rekeys under traffic; status; the connection reset (ss -K) and the tunnel recovers", async () => {
    writeFileSync(join(dir, "psk"), "vkj-ike-over-tcp-test-psk\n", { mode: 0o600 });
    const readme = readmeTcpCommands();
    expect(readme.initiator.slice(0, 4)).toEqual(["--transport", "tcp", "--peer", "192.0.2.2"]);
    expect(readme.responder.slice(0, 3)).toEqual(["--transport", "tcp", "--responder"]);
    nsx("vkj1", "ip", ["addr", "add", `${I_IN}/32`, "dev", "lo"]);
    nsx("vkj2", "ip", ["addr", "add", `${R_IN}/32`, "dev", "lo"]);
    // the README's responder takes any address (no --peer)
    r = vpnkit("vkj2", dir, join(dir, "r.sock"), [...readme.responder, "--local", "192.0.2.2", "--dpd", "3", "--rekey", "0", "--ike-rekey", "0", "--tun-name", "vkj2tun"]);
    try {
      expect(await waitLog(r, /IKEv2 responder: waiting for any address on TCP 4500/, 15_000)).toBe(true);
      // the initiator rekeys: Child SA every 5 s, IKE SA every 8 s
      i = vpnkit("vkj1", dir, join(dir, "i.sock"), [...readme.initiator, "--local", "192.0.2.1", "--dpd", "3", "--rekey", "5", "--ike-rekey", "8", "--tun-name", "vkj1tun"]);
      expect(await waitLog(i, /Child SA installed/, 20_000)).toBe(true);
      expect(await waitLog(r, /Child SA installed/, 5_000)).toBe(true);
      expect(i.log()).toMatch(/tcp: connected to 192\.0\.2\.2:4500 \(local 192\.0\.2\.1:\d+\)/);
      expect(r.log()).toMatch(/tcp: accepted 192\.0\.2\.1:\d+ \(local 192\.0\.2\.2:4500\)/);
      expect(await waitPath("vkj1", I_IN, R_IN, 10_000)).toBe(true);
      expect(nsx("vkj1", "ping", ["-c", "3", "-i", "0.2", "-W", "2", "-I", I_IN, R_IN])).toContain(" 0% packet loss");
      expect(nsx("vkj2", "ping", ["-c", "3", "-i", "0.2", "-W", "2", "-I", R_IN, I_IN])).toContain(" 0% packet loss");

      // status: the transport and the real ports (the initiator's local port is ephemeral)
      const si = await readStatus(i.control) as TunnelStatus;
      const sr = await readStatus(r.control) as TunnelStatus;
      expect(si.transport).toBe("tcp");
      expect(sr.transport).toBe("tcp");
      const port = Number(si.local.split(":")[1]);
      expect(port).toBeGreaterThan(0);
      expect(port).not.toBe(4500);
      expect(si.remote).toBe("192.0.2.2:4500");
      expect(sr.local).toBe("192.0.2.2:4500");
      expect(sr.remote).toBe(`192.0.2.1:${port}`);
      expect(sr.ike!.ikeSas[0].remote).toBe(`192.0.2.1:${port}`);
      expect(si.io!.tcpConnections).toBe(1);
      const text = sh(BUN, [join(ROOT, "test/tunnel/run-cli.ts"), "status", "--socket", i.control]);
      expect(text).toContain(`vkj1tun  192.0.2.1:${port} -> 192.0.2.2:4500 over TCP`);
      expect(sr.io!.tcpConnections).toBe(1);

      const up = await iperf("vkj1", "vkj2", R_IN, 2);
      const down = await iperf("vkj2", "vkj1", I_IN, 2);
      console.log(`[info] IKEv2 over TCP: iperf3 vkj1->vkj2 ${(up / 1e6).toFixed(0)} Mbit/s, vkj2->vkj1 ${(down / 1e6).toFixed(0)} Mbit/s`);
      expect(up).toBeGreaterThan(0);
      expect(down).toBeGreaterThan(0);

      // rekeys under a continuous ping (12 s: two Child SA rekeys, one IKE SA rekey at least)
      const childRekeys = (i.log().match(/Child SA rekeyed/g) ?? []).length;
      const pinged = nsx("vkj1", "ping", ["-c", "60", "-i", "0.2", "-W", "2", "-I", I_IN, R_IN], { timeout: 60_000 });
      expect(pinged).toContain(" 0% packet loss");
      expect(await waitLog(i, /IKE SA rekeyed/, 10_000)).toBe(true);
      expect(await waitLog(r, /IKE SA rekeyed/, 5_000)).toBe(true);
      expect((i.log().match(/Child SA rekeyed/g) ?? []).length).toBeGreaterThanOrEqual(childRekeys + 2);
      expect(r.log()).toMatch(/Child SA rekeyed/);
      // no IKE retransmission over TCP
      expect(i.log()).not.toMatch(/retransmit \d+ of request/);
      expect(r.log()).not.toMatch(/retransmit \d+ of request/);

      // the connection is reset under the tunnel: the initiator reconnects, the SAs survive
      const ikeBefore = (await readStatus(i.control) as TunnelStatus).ike!.ikeSas.filter((s) => s.state === "established").map((s) => s.id);
      const killed = nsx("vkj1", "ss", ["-K", "-tn", "state", "established", "dst", "192.0.2.2:4500"], { allowFail: true });
      expect(killed).toContain("192.0.2.2:4500");
      expect(await waitLog(i, /tcp: connected to 192\.0\.2\.2:4500/, 15_000, 2)).toBe(true);
      expect(await waitPath("vkj1", I_IN, R_IN, 15_000)).toBe(true);
      expect(await waitPath("vkj2", R_IN, I_IN, 15_000)).toBe(true);
      expect(nsx("vkj1", "ping", ["-c", "5", "-i", "0.2", "-W", "2", "-I", I_IN, R_IN])).toContain(" 0% packet loss");
      expect(nsx("vkj2", "ping", ["-c", "5", "-i", "0.2", "-W", "2", "-I", R_IN, I_IN])).toContain(" 0% packet loss");
      const si2 = await readStatus(i.control) as TunnelStatus;
      const sr2 = await readStatus(r.control) as TunnelStatus;
      const port2 = Number(si2.local.split(":")[1]);
      expect(port2).not.toBe(port);
      expect(sr2.remote).toBe(`192.0.2.1:${port2}`);
      expect(sr2.io!.tcpConnections).toBe(1);
      // no new IKE_SA_INIT: the IKE SA that was up is still up (or its own rekey)
      expect((i.log().match(/IKE_SA_INIT to/g) ?? []).length).toBe(1);
      expect(ikeBefore.length).toBeGreaterThan(0);
      expect(r.log()).toMatch(/peer moved to 192\.0\.2\.1:\d+/);
      for (const s of [si2, sr2]) {
        // no ESP without its SA either: IKE and ESP come off one ordered stream, so a rekey's new SAs are in place first
        expect(s.counters.drops.icv + s.counters.drops.replay + s.counters.drops.malformed + s.counters.drops.noSa).toBe(0);
        expect(s.counters.keepalivesIn + s.counters.keepalivesSent).toBe(0);
      }
      // a black hole (no FIN, no RST: packets on TCP 4500 dropped in vkj2 for a while): the
      // initiator's liveness check goes unanswered, it gives the connection up and connects
      // again; once the path is back the tunnel recovers
      const rule = ["-p", "tcp", "--dport", "4500", "-j", "DROP"], out = ["-p", "tcp", "--sport", "4500", "-j", "DROP"];
      nsx("vkj2", "iptables", ["-I", "INPUT", ...rule]);
      nsx("vkj2", "iptables", ["-I", "OUTPUT", ...out]);
      try {
        expect(await waitLog(i, /no IKE message from the peer for \d+ s: closing the connection and connecting again/, 20_000)).toBe(true);
      } finally {
        nsx("vkj2", "iptables", ["-D", "INPUT", ...rule], { allowFail: true });
        nsx("vkj2", "iptables", ["-D", "OUTPUT", ...out], { allowFail: true });
      }
      expect(await waitPath("vkj1", I_IN, R_IN, 30_000)).toBe(true);
      expect(await waitPath("vkj2", R_IN, I_IN, 15_000)).toBe(true);
      expect(nsx("vkj1", "ping", ["-c", "5", "-i", "0.2", "-W", "2", "-I", I_IN, R_IN])).toContain(" 0% packet loss");
      // a clean stop: the initiator deletes the IKE SA over the connection
      await stop(i);
      expect(i.proc.exitCode ?? i.proc.signalCode).toBe(0);
      expect(await waitLog(r, /IKE SA closed|deleted/, 5_000)).toBe(true);
      expect(existsSync(join(dir, "i.sock"))).toBe(false);
    } catch (e) {
      console.error(`initiator log:\n${i?.log()}\nresponder log:\n${r?.log()}`);
      throw e;
    }
  }, 180_000);
});
