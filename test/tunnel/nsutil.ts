/**
 * Helpers for the namespace tests: prerequisites, the vt1/vt2(/vt3) topology,
 * starting a pair of `vpnkit up` child processes, captures. Every name starts with "vt".
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { readStatus, type TunnelStatus } from "../../lib/tunnel/control.ts";

export const ROOT = join(import.meta.dir, "../..");
export const BUN = process.execPath;

/** Null when the namespace tests can run, else the reason they cannot. */
export function missingPrereq(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (needs CAP_NET_ADMIN for netns/TUN)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  for (const t of ["ip", "ping", "iperf3", "tcpdump", "tshark", "python3", "ethtool"]) {
    if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  }
  if (PYTHON === null) return "python3 with the cryptography module not installed (Debian: python3-cryptography)";
  return null;
}

/** A python3 that has the `cryptography` module (the ESP oracle): PATH's first, else Debian's. */
export const PYTHON: string | null = (() => {
  for (const py of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(py, ["-c", "import cryptography.hazmat.primitives.ciphers.aead"]).status === 0) return py;
  }
  return null;
})();

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeout ?? 30_000 });
  } catch (e) {
    if (opts.allowFail) {
      const err = e as { stdout?: string; stderr?: string };
      return (err.stdout ?? "") + (err.stderr ?? "");
    }
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr || err.message}`);
  }
}

export function nsx(ns: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
  return sh("ip", ["netns", "exec", ns, cmd, ...args], opts);
}

export const NS = ["vt1", "vt2", "vt3"];

const LOCK = "/run/vpnkit-vt-netns.lock";
let owned = false;

/** One test run at a time owns vt1/vt2/vt3 (test/netns-lock.ts). */
function lock(): void {
  takeNetnsLock(LOCK, "vt1/vt2");
  owned = true;
}

/** Delete vt1/vt2/vt3 and release the lock, only when this process owns them. */
export function topoDown(): void {
  if (!owned) return;
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  releaseNetnsLock(LOCK);
  owned = false;
}

/** vt1 (vt1a) <-> vt2 (vt2a): 192.0.2.1/24, 2001:db8::1/64 <-> .2 / ::2; link MTU `mtu`. */
export function topoUp(mtu = 1500): void {
  lock();
  for (const n of NS) sh("ip", ["netns", "del", n], { allowFail: true });
  sh("ip", ["netns", "add", "vt1"]);
  sh("ip", ["netns", "add", "vt2"]);
  sh("ip", ["link", "add", "vt1a", "netns", "vt1", "type", "veth", "peer", "name", "vt2a", "netns", "vt2"]);
  for (const [ns, dev, n] of [["vt1", "vt1a", 1], ["vt2", "vt2a", 2]] as const) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "link", "set", dev, "mtu", String(mtu), "up"]);
    sh("ip", ["-n", ns, "addr", "add", `192.0.2.${n}/24`, "dev", dev]);
    sh("ip", ["-n", ns, "-6", "addr", "add", `2001:db8::${n}/64`, "dev", dev, "nodad"]);
  }
  sh("ip", ["netns", "exec", "vt1", "ping", "-c", "1", "-W", "2", "192.0.2.2"]);
}

/**
 * UDP segmentation offload of the vt veths. vpnkit sends runs of equal-size ESP datagrams with
 * UDP GSO; with the offload on, a veth passes the whole run as one buffer and tcpdump sees one
 * oversized "datagram" (the receiver splits it later). Off, the kernel segments in software
 * before the capture point, as for a NIC without USO, and a capture holds the datagrams as
 * they travel. vpnkit's sends are the same either way.
 */
export function setUdpSegmentationOffload(on: boolean): void {
  for (const [ns, dev] of [["vt1", "vt1a"], ["vt2", "vt2a"]]) sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tx-udp-segmentation", on ? "on" : "off"]);
}

export function setLinkMtu(mtu: number): void {
  sh("ip", ["-n", "vt1", "link", "set", "vt1a", "mtu", String(mtu)]);
  sh("ip", ["-n", "vt2", "link", "set", "vt2a", "mtu", String(mtu)]);
}

export interface Side {
  ns: string;
  proc: ChildProcess;
  control: string;
  keylog: string;
  log: () => string;
}

export interface PairOptions {
  cipher: string;
  outer: 4 | 6;
  mtu?: number;
  tunMtu?: number;
  dir: string;
}

function hexKey(n: number, seed: number): string {
  const b = new Uint8Array(n);
  crypto.getRandomValues(b);
  b[0] = seed;
  return Buffer.from(b).toString("hex");
}

export const SPI_12 = 0xc0de0001; // vt1 -> vt2
export const SPI_21 = 0xc0de0002; // vt2 -> vt1

/** Start `vpnkit up` in vt1 and vt2 and wait until both control sockets answer. */
export async function startPair(o: PairOptions): Promise<{ a: Side; b: Side; stop: () => Promise<void> }> {
  const klen = o.cipher === "aes128gcm16" ? 20 : 36;
  const k12 = join(o.dir, "k12"), k21 = join(o.dir, "k21");
  writeFileSync(k12, hexKey(klen, 0x12) + "\n", { mode: 0o600 });
  writeFileSync(k21, hexKey(klen, 0x21) + "\n", { mode: 0o600 });
  const addr = (n: number) => (o.outer === 4 ? `192.0.2.${n}` : `2001:db8::${n}`);
  const mk = (ns: string, me: number, peer: number, spiOut: number, spiIn: number, kOut: string, kIn: string): Side => {
    const control = join(o.dir, `${ns}.sock`);
    const keylog = join(o.dir, `${ns}.keys`);
    const args = [
      "netns", "exec", ns, BUN, join(ROOT, "test/tunnel/run-cli.ts"), "up",
      "--local", addr(me), "--remote", addr(peer),
      "--cipher", o.cipher, "--spi-out", "0x" + spiOut.toString(16), "--spi-in", "0x" + spiIn.toString(16),
      "--key-out-file", kOut, "--key-in-file", kIn,
      "--tun-name", `${ns}tun`, "--tun-addr", `10.9.0.${me}/30`, "--tun-addr", `fd00:9::${me}/126`,
      "--route", `10.9.0.${peer}/32`, "--route", `fd00:9::${peer}/128`,
      "--keylog", keylog, "--control", control, "--keepalive", "1",
      ...(o.mtu ? ["--mtu", String(o.mtu)] : []), ...(o.tunMtu ? ["--tun-mtu", String(o.tunMtu)] : []),
    ];
    const proc = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout!.on("data", (d) => (out += d));
    proc.stderr!.on("data", (d) => (out += d));
    return { ns, proc, control, keylog, log: () => out };
  };
  const a = mk("vt1", 1, 2, SPI_12, SPI_21, k12, k21);
  const b = mk("vt2", 2, 1, SPI_21, SPI_12, k21, k12);
  const stop = async () => {
    for (const s of [a, b]) if (s.proc.exitCode === null) s.proc.kill("SIGTERM");
    for (const s of [a, b]) {
      if (s.proc.exitCode !== null || s.proc.signalCode !== null) continue;
      const exited = new Promise((r) => s.proc.once("exit", r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (s.proc.exitCode === null && s.proc.signalCode === null) {
        console.warn(`[warn] vpnkit up in ${s.ns} did not exit within 3 s of SIGTERM: SIGKILL`);
        s.proc.kill("SIGKILL");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      }
    }
  };
  const deadline = Date.now() + 15_000;
  for (const s of [a, b]) {
    for (;;) {
      if (s.proc.exitCode !== null) {
        await stop();
        throw new Error(`vpnkit up in ${s.ns} exited ${s.proc.exitCode}: ${s.log()}`);
      }
      if (existsSync(s.control)) {
        try {
          await readStatus(s.control, 1000);
          break;
        } catch {
          // not yet
        }
      }
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`vpnkit up in ${s.ns} not ready: ${s.log()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { a, b, stop };
}

export function status(s: Side): Promise<TunnelStatus> {
  return readStatus(s.control);
}

/**
 * Start tcpdump in `ns` on `dev` (`filter`: a pcap filter, "" for everything; `snaplen` 0: whole
 * packets); resolves once it listens. `stop()` ends it and waits for the file; calling it again
 * does nothing.
 */
export async function capture(ns: string, dev: string, file: string, filter = "", snaplen = 0): Promise<{ stop: () => Promise<void> }> {
  const p = spawn("ip", ["netns", "exec", ns, "tcpdump", "--immediate-mode", "-i", dev, "-U", "-n", "-s", String(snaplen), "-w", file, ...filter.split(" ").filter(Boolean)], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  await new Promise<void>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`tcpdump did not start: ${err}`)), 5000);
    p.stderr!.on("data", (d) => {
      err += d;
      if (err.includes("listening on")) {
        clearTimeout(t);
        res();
      }
    });
    p.once("exit", () => {
      clearTimeout(t);
      rej(new Error(`tcpdump exited: ${err}`));
    });
  });
  let stopped = false;
  return {
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await new Promise((r) => setTimeout(r, 200));
      p.kill("SIGINT");
      await Promise.race([new Promise((r) => p.once("exit", r)), new Promise((r) => setTimeout(r, 3000))]);
      if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
}

/**
 * Decrypt `pcap` with tshark, the key log's esp_sa installed in a temporary Wireshark
 * profile (as scripts/capture/decode.sh does). Returns one row per ESP packet.
 */
export function tsharkEsp(pcap: string, espSa: string): { spi: string; good: string; bad: string; inner: string }[] {
  const prof = mkdtempSync(join(tmpdir(), "vtws-"));
  try {
    sh("cp", [espSa, join(prof, "esp_sa")]);
    writeFileSync(join(prof, "preferences"), "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n");
    const out = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "esp", "-T", "fields", "-E", "separator=|", "-e", "esp.spi", "-e", "esp.icv_good", "-e", "esp.icv_bad", "-e", "ip.proto"], {
      encoding: "utf8", env: { ...process.env, WIRESHARK_CONFIG_DIR: prof }, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000,
    });
    return out.trim().split("\n").filter(Boolean).map((l) => {
      const [spi, good, bad, inner] = l.split("|");
      return { spi, good, bad, inner };
    });
  } finally {
    rmSync(prof, { recursive: true, force: true });
  }
}

/** RX/TX packet counters of a link in a namespace (from `ip -s -j link`). */
export function linkStats(ns: string, dev: string): { rx: number; tx: number } {
  const j = JSON.parse(nsx(ns, "ip", ["-s", "-j", "link", "show", "dev", dev]));
  return { rx: j[0].stats64.rx.packets, tx: j[0].stats64.tx.packets };
}
