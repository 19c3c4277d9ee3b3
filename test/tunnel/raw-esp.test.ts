/**
 * Issue 12, "directly connected: IKE stays on 500, ESP is not encapsulated unless
 * configured": vpnkit ↔ vpnkit in namespaces vkq1/vkq2 joined by a veth pair (no NAT), over
 * IPv4 and IPv6 outer addresses. The tunnel comes up with the default flags; a capture on the
 * veth (tcpdump, read back with tshark) shows IKE on UDP 500 only (nothing on 4500) and the
 * tunnel's traffic as IP protocol 50 with the Child SA's SPIs; ping and iperf3 pass both ways;
 * `vpnkit status` (JSON and text) says the Child SA uses plain ESP and shows its bytes, packets
 * and last-received time. ESP with an SPI nobody knows, sent from vkq1, makes the responder
 * send one INVALID_SPI in the IKE SA (RFC 7296 §2.21; once per SPI per interval), which the
 * initiator logs. `--encap` moves ESP into UDP 4500 instead.
 *
 * (strongSwan 5.9.8's kernel-libipsec can only do ESP in UDP, so this is vpnkit ↔ vpnkit;
 * test/interop covers charon, which announces a NAT and gets ESP in UDP.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus, type TunnelStatus } from "../../lib/tunnel/control.ts";
import { BUN, capture, ROOT, sh } from "./nsutil.ts";
import { startUp, stopUp, until, type VkoSide, waitControl } from "./vko-ns.ts";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";

const NS = ["vkq1", "vkq2"] as const;
const LOCK = "/run/vpnkit-vkq-netns.lock";
const dir = mkdtempSync(join(tmpdir(), "vkq-rawesp-"));

function missing(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const t of ["ip", "ping", "iperf3", "tcpdump", "tshark"]) if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  return null;
}
const why = missing();
if (why && process.env.CI === "true") throw new Error(`raw ESP namespace test: ${why}`);

function topoUp(): void {
  takeNetnsLock(LOCK, "vkq1/vkq2");
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  for (const n of NS) sh("ip", ["netns", "add", n]);
  sh("ip", ["link", "add", "vkq1a", "netns", "vkq1", "type", "veth", "peer", "name", "vkq2a", "netns", "vkq2"]);
  for (const [ns, dev, n] of [["vkq1", "vkq1a", 1], ["vkq2", "vkq2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
    sh("ip", ["-n", ns, "addr", "add", `2001:db8:71::${n}/64`, "dev", dev, "nodad"]);
    sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tx-udp-segmentation", "off"], { allowFail: true });
  }
  sh("ip", ["netns", "exec", "vkq1", "ping", "-c", "1", "-W", "2", "192.0.2.2"]);
  sh("ip", ["netns", "exec", "vkq1", "ping", "-c", "1", "-W", "2", "2001:db8:71::2"]);
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
writeFileSync(psk, "vkq raw esp test pre-shared key\n", { mode: 0o600 });

/** Packets of the capture: IP protocol, UDP ports, ESP SPI (tshark fields). */
function packets(file: string): { proto: number; sport: number; dport: number; spi: string }[] {
  // a capture stopped by SIGINT may end inside a packet: tshark then exits 2 after printing the rest;
  // iperf3 at full speed makes megabytes of lines (spawnSync keeps only 1 MiB by default)
  const r = spawnSync("tshark", ["-r", file, "-n", "-T", "fields", "-E", "separator=,", "-e", "ip.proto", "-e", "ipv6.nxt", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "esp.spi"], { encoding: "utf8", timeout: 60_000, maxBuffer: 512 << 20 });
  const out = r.stdout ?? "";
  return out.trim().split("\n").filter(Boolean).map((l) => {
    const [p4, p6, sp, dp, spi] = l.split(",");
    return { proto: Number(p4 || p6), sport: Number(sp || 0), dport: Number(dp || 0), spi: spi ?? "" };
  });
}

/** Send `n` ESP packets with SPI `spi` from vkq1 to `to` (a raw socket, like a peer that lost its SAs). */
function sendBogusEsp(to: string, spi: number, n: number): void {
  const script = join(dir, "bogus.ts");
  writeFileSync(script, `import { EspRawSocket, openRawEsp } from ${JSON.stringify(join(ROOT, "lib/platform/bun/raw-esp.ts"))};
const fam = ${to.includes(":") ? 6 : 4};
const s = new EspRawSocket(openRawEsp(fam), fam);
const p = new Uint8Array(64);
new DataView(p.buffer).setUint32(0, ${spi >>> 0});
for (let i = 0; i < ${n}; i++) { new DataView(p.buffer).setUint32(4, i + 1); s.send(p, ${JSON.stringify(to)}); }
if (s.stats.sentPackets !== ${n}) { console.error("sent", s.stats); process.exit(1); }
s.close();
`);
  sh("ip", ["netns", "exec", "vkq1", BUN, script]);
}

async function statusOf(sock: string): Promise<TunnelStatus> {
  return await readStatus(sock, 2000);
}

/** iperf3 for 2 s from vkq1 (10.71.1.1) to a server in vkq2 (10.71.2.1); `reverse`: vkq2 sends. Bytes received. */
function iperf(reverse: boolean): number {
  const srv = spawn("ip", ["netns", "exec", "vkq2", "iperf3", "-s", "-1", "-B", "10.71.2.1", "-p", "5271"], { stdio: "ignore" });
  try {
    spawnSync("sleep", ["0.5"]);
    const r = spawnSync("ip", ["netns", "exec", "vkq1", "iperf3", "-c", "10.71.2.1", "-B", "10.71.1.1", "-p", "5271", "-t", "2", "-J", ...(reverse ? ["-R"] : [])], { encoding: "utf8", timeout: 30_000 });
    const j = JSON.parse(r.stdout || "{}");
    return Number(j?.end?.sum_received?.bytes ?? 0);
  } finally {
    srv.kill();
  }
}

describe.skipIf(why !== null)(`raw ESP between directly connected vpnkits (vkq1/vkq2)${why ? ` [skipped: ${why}]` : ""}`, () => {
  for (const outer of [4, 6] as const) {
    const peer = outer === 4 ? "192.0.2.2" : "2001:db8:71::2";
    test(`IPv${outer} outer: IKE stays on UDP 500, ESP is IP protocol 50; ping and iperf3 both ways; status shows encap and per-Child-SA traffic; unknown SPI -> one INVALID_SPI`, async () => {
      const pcap = join(dir, `raw${outer}.pcap`);
      const cap = await capture("vkq1", "vkq1a", pcap, "", 200);
      const sS = join(dir, `s${outer}.sock`), cS = join(dir, `c${outer}.sock`);
      const s = startUp("vkq2", ["--responder", "--psk-file", psk, "--local-ts", "10.71.2.1/32", "--remote-ts", "10.71.1.1/32", "--tun-name", "vkq2t", "--control", sS]);
      let c: VkoSide | null = null;
      try {
        await waitControl(s, sS);
        c = startUp("vkq1", ["--peer", peer, "--psk-file", psk, "--local-ts", "10.71.1.1/32", "--remote-ts", "10.71.2.1/32", "--tun-name", "vkq1t", "--control", cS]);
        const cc = c;
        await until(() => /Child SA installed/.test(cc.log()) || cc.proc.exitCode !== null, 30_000, "the Child SA");
        await waitControl(c, cS);
        expect(c.log(), c.log()).toContain(`Child SA installed`);
        expect(c.log()).toContain(`ESP (IP protocol 50) to ${peer}`);
        expect(c.log()).not.toContain("NAT detected");
        await until(() => /Child SA installed/.test(s.log()), 10_000, "the responder's Child SA");
        expect(s.log()).toContain("ESP (IP protocol 50) to ");

        // ping both ways
        const ping = (ns: string, src: string, dst: string) => spawnSync("ip", ["netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", src, dst], { encoding: "utf8" });
        const p1 = ping("vkq1", "10.71.1.1", "10.71.2.1");
        expect(p1.status, p1.stdout + c.log() + s.log()).toBe(0);
        const p2 = ping("vkq2", "10.71.2.1", "10.71.1.1");
        expect(p2.status, p2.stdout + s.log()).toBe(0);
        // iperf3 both ways (client in vkq1: upload, then -R download)
        const up = iperf(false);
        const down = iperf(true);
        console.log(`[measured] raw ESP IPv${outer}: iperf3 2 s vkq1->vkq2 ${(up * 8 / 2e6).toFixed(0)} Mbit/s, vkq2->vkq1 ${(down * 8 / 2e6).toFixed(0)} Mbit/s (shared VM)`);
        expect(up).toBeGreaterThan(0);
        expect(down).toBeGreaterThan(0);

        // status: the Child SA is plain ESP, with traffic both ways and a last-received time
        const st = await statusOf(cS);
        const sa = st.ike!.ikeSas.find((x) => x.state === "established")!;
        expect(sa.natt).toBe(false);
        expect(sa.local.endsWith(":500")).toBe(true);
        const child = sa.childSas[0];
        expect(child.encap).toBe("none");
        expect(child.peer).toBe(peer);
        expect(child.traffic, JSON.stringify(sa)).not.toBeNull();
        expect(child.traffic!.packetsIn).toBeGreaterThan(3);
        expect(child.traffic!.packetsOut).toBeGreaterThan(3);
        expect(child.traffic!.bytesIn).toBeGreaterThan(1000);
        expect(child.traffic!.bytesOut).toBeGreaterThan(1000);
        expect(child.traffic!.lastReceivedSec).not.toBeNull();
        expect(st.io!.rawEspIn).toBeGreaterThan(0);
        expect(st.io!.rawEspOut).toBeGreaterThan(0);
        const text = spawnSync(BUN, [join(ROOT, "cli/main.ts"), "status", "--socket", cS], { encoding: "utf8" }).stdout;
        expect(text).toContain("child: INSTALLED, ESP (IP protocol 50) SPIs:");
        expect(text).toMatch(/ {4}in \d[\d.]* [kMG]?B \(\d+ pkts, last \d+s ago\), out \d[\d.]* [kMG]?B \(\d+ pkts\)/);

        // ESP for an SPI nobody has: the responder answers with one INVALID_SPI in the IKE SA
        sendBogusEsp(peer, 0x0badf00d, 5);
        await until(() => /INVALID_SPI/.test(cc.log()) || cc.proc.exitCode !== null, 10_000, "the initiator to log the INVALID_SPI notify");
        expect(c.log()).toContain("peer reported INVALID_SPI");
        await Bun.sleep(500);
        const ss = await statusOf(sS);
        expect(ss.ike!.invalidSpi.sent, JSON.stringify(ss.ike!.invalidSpi)).toBe(1);
        expect(ss.counters.drops.noSa).toBeGreaterThanOrEqual(5);
        expect(s.log()).toContain("ESP with unknown SPI 0badf00d from");
        // the tunnel is unaffected
        expect(ping("vkq1", "10.71.1.1", "10.71.2.1").status).toBe(0);

        await cap.stop();
        const pk = packets(pcap);
        const esp = pk.filter((x) => x.proto === 50);
        const udp = pk.filter((x) => x.proto === 17);
        const spis = new Set(esp.map((x) => x.spi));
        // the Child SA's SPIs and the bogus one, all as IP protocol 50
        expect(spis.has(child.spiOut), [...spis].join(" ")).toBe(true);
        expect(spis.has(child.spiIn)).toBe(true);
        expect(spis.has("0x0badf00d"), [...spis].join(" ")).toBe(true);
        expect(esp.length).toBeGreaterThan(100);
        // IKE on 500 only: nothing on 4500, no ESP in UDP
        expect(udp.length).toBeGreaterThan(3);
        expect(udp.every((x) => x.sport === 500 && x.dport === 500), JSON.stringify(udp.filter((x) => x.sport !== 500 || x.dport !== 500).slice(0, 5))).toBe(true);
        console.log(`[measured] raw ESP IPv${outer}: capture ${esp.length} ESP (proto 50) packets, ${udp.length} UDP (all 500<->500)`);
      } finally {
        await cap.stop();
        if (c) await stopUp(c);
        await stopUp(s);
      }
    }, 120_000);
  }

  test("forced: --encap gives the same pair with ESP in UDP 4500 (NAT announced), status says udp", async () => {
    const pcap = join(dir, "encap.pcap");
    const cap = await capture("vkq1", "vkq1a", pcap, "", 200);
    const sS = join(dir, "se.sock"), cS = join(dir, "ce.sock");
    const s = startUp("vkq2", ["--responder", "--psk-file", psk, "--local-ts", "10.71.2.1/32", "--remote-ts", "10.71.1.1/32", "--tun-name", "vkq2t", "--control", sS]);
    let c: VkoSide | null = null;
    try {
      await waitControl(s, sS);
      c = startUp("vkq1", ["--peer", "192.0.2.2", "--encap", "--psk-file", psk, "--local-ts", "10.71.1.1/32", "--remote-ts", "10.71.2.1/32", "--tun-name", "vkq1t", "--control", cS]);
      const cc = c;
      await until(() => /Child SA installed/.test(cc.log()) || cc.proc.exitCode !== null, 30_000, "the Child SA");
      expect(c.log(), c.log()).toContain("ESP in UDP to 192.0.2.2:4500");
      await until(() => /Child SA installed/.test(s.log()), 10_000, "the responder's Child SA");
      expect(s.log()).toContain("ESP in UDP to 192.0.2.1:4500");
      const p = spawnSync("ip", ["netns", "exec", "vkq1", "ping", "-c", "3", "-i", "0.2", "-W", "2", "-I", "10.71.1.1", "10.71.2.1"], { encoding: "utf8" });
      expect(p.status, p.stdout + c.log() + s.log()).toBe(0);
      await waitControl(c, cS);
      const st = await statusOf(cS);
      const sa = st.ike!.ikeSas.find((x) => x.state === "established")!;
      expect(sa.natt).toBe(true);
      expect(sa.childSas[0].encap).toBe("udp");
      await cap.stop();
      const pk = packets(pcap);
      expect(pk.filter((x) => x.proto === 50).length).toBe(0);
      expect(pk.filter((x) => x.proto === 17 && x.dport === 4500 && x.spi !== "").length).toBeGreaterThan(5);
    } finally {
      await cap.stop();
      if (c) await stopUp(c);
      await stopUp(s);
    }
  }, 120_000);
});
