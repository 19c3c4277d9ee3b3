/**
 * `vpnkit up --transport tcp` end to end: namespaces vxt1 (client) / vxt2 (server) joined by a
 * veth, manual keys, ESP carried over one TCP connection with RFC 9329 framing.
 * Checks: ping and iperf3 both ways; a capture of the outer TCP stream decodes in
 * `vpnkit decode` as RFC 9329 (IKETCP prefix, ESP frames with both SPIs, no anomalies);
 * no ICV/replay/SPI drops on either side; the client reconnects
 * after the connection is killed (ss -K). Skips with a reason when not root / tools missing, unless CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, capture, missingPrereq, nsx, ROOT, sh } from "../tunnel/nsutil.ts";
import { type Side, SPI_12, SPI_21, startSide, stopSide, topoDown, topoUp, waitReady, writeKeys } from "./nsutil.ts";

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/meltdown/tcp-transport.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

async function iperf(from: string, to: string, dst: string, secs: number): Promise<number> {
  const srv = spawn("ip", ["netns", "exec", to, "iperf3", "-s", "-1", "-p", "5298"], { stdio: "ignore" });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const out = nsx(from, "timeout", [String(secs + 15), "iperf3", "-c", dst, "-p", "5298", "-t", String(secs), "-J"], { timeout: (secs + 20) * 1000 });
    return JSON.parse(out).end.sum_received.bits_per_second as number;
  } finally {
    if (srv.exitCode === null) srv.kill("SIGTERM");
  }
}

/** Ping until one reply (the client connects in the background), at most `ms`. */
async function waitPath(ns: string, dst: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (nsx(ns, "ping", ["-c", "1", "-W", "1", dst], { allowFail: true }).includes(" 0% packet loss")) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

run("vpnkit up --transport tcp (RFC 9329) in namespaces", () => {
  let dir = "";
  let a: Side | null = null, b: Side | null = null;
  let keys: { k12: string; k21: string };
  beforeAll(() => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), "vxt-up-"));
    topoUp();
    keys = writeKeys(dir);
  });
  afterAll(async () => {
    for (const s of [a, b]) if (s) await stopSide(s);
    topoDown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("ping and iperf3 both ways; the capture decodes as RFC 9329; reconnect after the connection is killed", async () => {
    const pcap = join(dir, "tcp4500.pcap");
    const cap = await capture("vxt2", "vxt2a", pcap, "tcp port 4500");
    b = startSide(dir, "vxt2", 2, 1, "server", { out: keys.k21, in: keys.k12 }, SPI_21, SPI_12);
    await waitReady(b);
    a = startSide(dir, "vxt1", 1, 2, "client", { out: keys.k12, in: keys.k21 }, SPI_12, SPI_21);
    try {
      await waitReady(a);
      expect(await waitPath("vxt1", "10.9.0.2", 10_000)).toBe(true);
      expect(nsx("vxt1", "ping", ["-c", "5", "-i", "0.2", "-W", "2", "10.9.0.2"])).toContain(" 0% packet loss");
      expect(nsx("vxt2", "ping", ["-c", "3", "-i", "0.2", "-W", "2", "10.9.0.1"])).toContain(" 0% packet loss");
      // bursts of large packets (preload), so frames share and straddle TCP segments
      expect(nsx("vxt1", "ping", ["-c", "400", "-i", "0.002", "-l", "40", "-s", "1300", "-W", "2", "10.9.0.2"])).toMatch(/ 0(\.\d+)?% packet loss/);
      await cap.stop();
      // the outer socket really is TCP, with TCP_NODELAY's effect not visible to ss: check the connection
      const ss = nsx("vxt1", "ss", ["-tn", "state", "established", "dst", "192.0.2.2:4500"]);
      expect(ss).toContain("192.0.2.2:4500");
      const up = await iperf("vxt1", "vxt2", "10.9.0.2", 2);
      const down = await iperf("vxt2", "vxt1", "10.9.0.1", 2);
      console.log(`[info] TCP transport: iperf3 vxt1->vxt2 ${(up / 1e6).toFixed(0)} Mbit/s, vxt2->vxt1 ${(down / 1e6).toFixed(0)} Mbit/s`);
      expect(up).toBeGreaterThan(0);
      expect(down).toBeGreaterThan(0);
      const sa = await readStatus(a.control), sb = await readStatus(b.control);
      for (const s of [sa, sb]) {
        expect(s.counters.drops.icv + s.counters.drops.replay + s.counters.drops.noSa + s.counters.drops.malformed).toBe(0);
        expect(s.counters.packetsIn).toBeGreaterThan(100);
        // 1-byte NAT-keepalives are not sent over TCP
        expect(s.counters.keepalivesIn).toBe(0);
      }

      // vpnkit decode: RFC 9329 frames, ESP with both SPIs, no anomaly
      const out = sh(BUN, [join(ROOT, "cli/main.ts"), "decode", "--json", pcap], { timeout: 120_000 });
      const pkts = out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      const frames = pkts.flatMap((p) => (p.layers as { layer: string; kind?: string }[]).filter((l) => l.layer === "tcpencap"));
      const spis = new Set(pkts.flatMap((p) => (p.layers as { layer: string; spi?: number | string }[]).filter((l) => l.layer === "esp").map((l) => Number(l.spi))));
      const anomalies = pkts.flatMap((p) => p.anomalies ?? []);
      expect(anomalies).toEqual([]);
      expect(frames.length).toBeGreaterThanOrEqual(816);
      expect(frames.every((f) => f.kind === "esp")).toBe(true);
      expect(spis.has(SPI_12)).toBe(true);
      expect(spis.has(SPI_21)).toBe(true);
      // the stream starts with the "IKETCP" prefix (client to server)
      const raw = sh("tcpdump", ["-r", pcap, "-nn", "-X", "-c", "6", "tcp[tcpflags] & tcp-push != 0 and src host 192.0.2.1"], { allowFail: true });
      expect(raw).toContain("IKETCP");

      // the connection is torn down under the tunnel (ss -K in the server's namespace, else
      // a server restart would also reset its ESP sequence numbers): the client reconnects
      const killed = nsx("vxt2", "ss", ["-K", "-tn", "state", "established", "src", "192.0.2.2:4500"], { allowFail: true });
      if (!killed.includes("192.0.2.1")) {
        console.warn(`[note] ss -K is not supported by this kernel (no INET_DIAG_DESTROY): reconnect not exercised: ${killed.trim()}`);
      } else {
        expect(await waitPath("vxt1", "10.9.0.2", 15_000)).toBe(true);
        expect(a.log()).toMatch(/connected to 192\.0\.2\.2:4500[\s\S]*closed[\s\S]*connected to 192\.0\.2\.2:4500/);
        expect(nsx("vxt2", "ping", ["-c", "3", "-i", "0.2", "-W", "2", "10.9.0.1"])).toContain(" 0% packet loss");
      }
    } catch (e) {
      console.error(`vxt1 log:\n${a?.log()}\nvxt2 log:\n${b?.log()}`);
      throw e;
    }
  }, 120_000);
});
