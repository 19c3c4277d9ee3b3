/**
 * The meltdown lab: network namespaces `<p>a` — [`<p>d`: padelay, optional] — `<p>r` — `<p>b`,
 * a tbf rate limit on the router's egress, outer loss by iptables statistic on the tunnel's
 * outer port in the router, and tunnels (vpnkit over UDP / over TCP, optionally OpenVPN) between
 * a and b. Every name starts with the prefix ("vx..."), every command is bounded in time, and
 * {@link Lab.down} removes what {@link Lab.up} made (processes first, then namespaces).
 * Uses node:child_process only (runtime-neutral); needs root, ip, iptables, tc, ping, iperf3
 * (and ethtool with a delay).
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type MeltdownRun, parseIperfJson, parsePingAvg, parseSsCc, parseSsRetrans, toRun, type Transport } from "./measure.ts";

export interface LabOptions {
  /** Namespace prefix, must start with "vx" (default "vxm"). */
  prefix?: string;
  /** tbf rate on the router's egress, Mbit/s (null: none). */
  rateMbit: number | null;
  /** One-way delay (ms) added by padelay between a and the router (0: none). */
  delayMs: number;
  /** Path of a built padelay binary (needed when delayMs > 0). */
  padelay?: string | null;
  /** Command that runs vpnkit, e.g. [bun, cli/main.ts] or [dist/vpnkit]. */
  vpnkit: string[];
  /**
   * Outer TCP congestion control for the tunnel processes: an LD_PRELOAD shim that sets
   * TCP_CONGESTION=$PA_TCP_CC on every TCP socket (anchors-perf/src/pa_tcpcc.c). A namespace
   * cannot pick a default outside the host's tcp_allowed_congestion_control.
   */
  outerCc?: { shim: string; cc: string } | null;
  log?: (m: string) => void;
}

export const OUTER_A = "10.93.1.1", OUTER_B = "10.93.2.1", INNER_A = "10.94.0.1", INNER_B = "10.94.0.2";

export function run(cmd: string, args: string[], timeoutMs = 30_000, allowFail = false): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    if (allowFail) return (err.stdout ?? "") + (err.stderr ?? "");
    throw new Error(`${cmd} ${args.join(" ")}: ${(err.stderr || err.message).trim()}`);
  }
}

export interface Tunnel {
  name: string;
  transport: Transport;
  /** Outer port the loss rule matches. */
  port: number;
  stop(): Promise<void>;
  log(): string;
}

export class Lab {
  readonly p: string;
  readonly a: string;
  readonly r: string;
  readonly b: string;
  readonly d: string;
  readonly dir: string;
  private procs: ChildProcess[] = [];
  private readonly log: (m: string) => void;

  constructor(readonly o: LabOptions) {
    this.p = o.prefix ?? "vxm";
    if (!/^vx[a-z0-9]{0,6}$/.test(this.p)) throw new Error(`lab prefix must be "vx" + up to 6 letters/digits: ${this.p}`);
    this.a = this.p + "a";
    this.r = this.p + "r";
    this.b = this.p + "b";
    this.d = this.p + "d";
    this.dir = mkdtempSync(join(tmpdir(), `${this.p}-`));
    this.log = o.log ?? (() => {});
    if (o.delayMs > 0 && !o.padelay) throw new Error("a delay needs padelay (no netem on this kernel): build it and pass its path");
  }

  ns(ns: string, cmd: string, args: string[], timeoutMs = 30_000, allowFail = false): string {
    return run("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs, allowFail);
  }

  private tunnelEnv(): Record<string, string> | undefined {
    const c = this.o.outerCc;
    return c ? { LD_PRELOAD: c.shim, PA_TCP_CC: c.cc } : undefined;
  }

  spawnIn(ns: string, cmd: string, args: string[], env?: Record<string, string>): ChildProcess {
    const p = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    this.procs.push(p);
    return p;
  }

  up(): void {
    this.down();
    const { a, r, b, d, p } = this;
    for (const n of [a, r, b]) run("ip", ["netns", "add", n]);
    if (this.o.delayMs > 0) {
      run("ip", ["netns", "add", d]);
      run("ip", ["link", "add", `${p}a0`, "netns", a, "type", "veth", "peer", "name", `${p}dA`, "netns", d]);
      run("ip", ["link", "add", `${p}dB`, "netns", d, "type", "veth", "peer", "name", `${p}ra`, "netns", r]);
      for (const dev of [`${p}dA`, `${p}dB`]) run("ip", ["-n", d, "link", "set", dev, "up"]);
      run("ip", ["-n", d, "link", "set", "lo", "up"]);
      // padelay moves frames of up to 2048 bytes, and re-sent frames must carry real
      // checksums: no GSO super-frames and no checksum offload on the links around it
      for (const [n, dev] of [[a, `${p}a0`], [d, `${p}dA`], [d, `${p}dB`], [r, `${p}ra`]]) {
        this.ns(n, "ethtool", ["-K", dev, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"], 5000);
      }
    } else {
      run("ip", ["link", "add", `${p}a0`, "netns", a, "type", "veth", "peer", "name", `${p}ra`, "netns", r]);
    }
    run("ip", ["link", "add", `${p}b0`, "netns", b, "type", "veth", "peer", "name", `${p}rb`, "netns", r]);
    for (const n of [a, r, b]) run("ip", ["-n", n, "link", "set", "lo", "up"]);
    run("ip", ["-n", a, "link", "set", `${p}a0`, "up"]);
    run("ip", ["-n", r, "link", "set", `${p}ra`, "up"]);
    run("ip", ["-n", r, "link", "set", `${p}rb`, "up"]);
    run("ip", ["-n", b, "link", "set", `${p}b0`, "up"]);
    run("ip", ["-n", a, "addr", "add", `${OUTER_A}/24`, "dev", `${p}a0`]);
    run("ip", ["-n", r, "addr", "add", "10.93.1.254/24", "dev", `${p}ra`]);
    run("ip", ["-n", r, "addr", "add", "10.93.2.254/24", "dev", `${p}rb`]);
    run("ip", ["-n", b, "addr", "add", `${OUTER_B}/24`, "dev", `${p}b0`]);
    run("ip", ["-n", a, "route", "add", "default", "via", "10.93.1.254"]);
    run("ip", ["-n", b, "route", "add", "default", "via", "10.93.2.254"]);
    this.ns(r, "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
    if (this.o.rateMbit) {
      for (const dev of [`${p}ra`, `${p}rb`]) {
        this.ns(r, "tc", ["qdisc", "replace", "dev", dev, "root", "tbf", "rate", `${this.o.rateMbit}mbit`, "burst", "64kb", "latency", "20ms"]);
      }
    }
    if (this.o.delayMs > 0) {
      const pd = this.spawnIn(d, this.o.padelay!, [`${p}dA`, `${p}dB`, String(this.o.delayMs * 1000), "3600"]);
      pd.stderr!.on("data", (x) => this.log(`padelay: ${String(x).trim()}`));
      run("sleep", ["0.5"]);
    }
    let ok = false;
    for (let i = 0; i < 5 && !ok; i++) ok = this.ns(a, "ping", ["-c", "1", "-W", "1", OUTER_B], 5000, true).includes(" 0% packet loss");
    if (!ok) throw new Error("lab: outer path a -> b does not work");
  }

  /** Outer loss (each direction) on `proto`/`port` in the router; 0 removes it. */
  setLoss(proto: "udp" | "tcp", port: number, p: number): void {
    this.ns(this.r, "iptables", ["-F", "FORWARD"]);
    if (p > 0) {
      this.ns(this.r, "iptables", ["-A", "FORWARD", "-p", proto, "-m", "multiport", "--ports", String(port), "-m", "statistic", "--mode", "random", "--probability", String(p), "-j", "DROP"]);
    }
  }

  /** Start a vpnkit tunnel a <-> b over `transport` (TCP: b listens, a connects). */
  async vpnkit(transport: Transport): Promise<Tunnel> {
    const dir = mkdtempSync(join(this.dir, `vpnkit-${transport}-`));
    const key = (n: string) => {
      const f = join(dir, n);
      const k = new Uint8Array(36);
      crypto.getRandomValues(k);
      writeFileSync(f, Buffer.from(k).toString("hex") + "\n", { mode: 0o600 });
      return f;
    };
    const kab = key("kab"), kba = key("kba");
    const side = (ns: string, me: string, peer: string, meIn: string, peerIn: string, kOut: string, kIn: string, spiOut: string, spiIn: string, role: string) =>
      this.spawnIn(ns, this.o.vpnkit[0], [
        ...this.o.vpnkit.slice(1), "up", "--local", me, "--remote", peer, "--cipher", "aes256gcm16",
        "--spi-out", spiOut, "--spi-in", spiIn, "--key-out-file", kOut, "--key-in-file", kIn,
        "--tun-name", `${this.p}t${transport}`, "--tun-addr", `${meIn}/30`, "--route", `${peerIn}/32`,
        "--control", join(dir, `${ns}.sock`), "--keepalive", "0",
        ...(transport === "tcp" ? ["--transport", "tcp", "--tcp-role", role] : []),
      ], this.tunnelEnv());
    const pb = side(this.b, OUTER_B, OUTER_A, INNER_B, INNER_A, kba, kab, "0xc0de2002", "0xc0de2001", "server");
    const pa = side(this.a, OUTER_A, OUTER_B, INNER_A, INNER_B, kab, kba, "0xc0de2001", "0xc0de2002", "client");
    let out = "";
    for (const p of [pa, pb]) {
      p.stdout!.on("data", (x) => (out += x));
      p.stderr!.on("data", (x) => (out += x));
    }
    const t: Tunnel = {
      name: `vpnkit-${transport}`, transport, port: 4500, log: () => out,
      stop: async () => {
        for (const p of [pa, pb]) await stopProc(p);
      },
    };
    await this.waitInner(t);
    return t;
  }

  /** Start OpenVPN 2.6 (p2p TLS, AES-256-GCM, DCO off) a <-> b over `transport`. */
  async openvpn(transport: Transport): Promise<Tunnel> {
    const dir = mkdtempSync(join(this.dir, `ovpn-${transport}-`));
    for (const n of ["s", "c"]) {
      run("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", join(dir, `${n}.key`), "-out", join(dir, `${n}.crt`), "-days", "2", "-subj", `/CN=vx-${n}`]);
    }
    const fp = (f: string) => run("openssl", ["x509", "-in", f, "-noout", "-fingerprint", "-sha256"]).trim().split("=")[1];
    const common = ["--dev-type", "tun", "--disable-dco", "--data-ciphers", "AES-256-GCM", "--verb", "3", "--dh", "none", "--ping", "0"];
    const pb = this.spawnIn(this.b, "openvpn", [
      "--dev", `${this.p}o${transport}`, ...common,
      ...(transport === "udp" ? ["--proto", "udp", "--local", OUTER_B, "--lport", "1194", "--remote", OUTER_A, "1194"] : ["--proto", "tcp-server", "--local", OUTER_B, "--lport", "1194"]),
      "--ifconfig", INNER_B, INNER_A, "--tls-server", "--cert", join(dir, "s.crt"), "--key", join(dir, "s.key"), "--peer-fingerprint", fp(join(dir, "c.crt")),
    ], this.tunnelEnv());
    run("sleep", ["0.5"]);
    const pa = this.spawnIn(this.a, "openvpn", [
      "--dev", `${this.p}o${transport}`, ...common,
      ...(transport === "udp" ? ["--proto", "udp", "--local", OUTER_A, "--lport", "1194", "--remote", OUTER_B, "1194"] : ["--proto", "tcp-client", "--remote", OUTER_B, "1194", "--connect-retry", "1"]),
      "--ifconfig", INNER_A, INNER_B, "--tls-client", "--cert", join(dir, "c.crt"), "--key", join(dir, "c.key"), "--peer-fingerprint", fp(join(dir, "s.crt")),
    ], this.tunnelEnv());
    let out = "";
    for (const p of [pa, pb]) {
      p.stdout!.on("data", (x) => (out = (out + x).slice(-20000)));
      p.stderr!.on("data", (x) => (out = (out + x).slice(-20000)));
    }
    const t: Tunnel = {
      name: `openvpn-${transport}`, transport, port: 1194, log: () => out,
      stop: async () => {
        for (const p of [pa, pb]) await stopProc(p);
      },
    };
    await this.waitInner(t);
    return t;
  }

  private async waitInner(t: Tunnel): Promise<void> {
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      if (this.ns(this.a, "ping", ["-c", "1", "-W", "1", INNER_B], 5000, true).includes(" 0% packet loss")) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    await t.stop();
    throw new Error(`${t.name}: no ping through the tunnel within 20 s:\n${t.log().slice(-2000)}`);
  }

  /** One bounded inner TCP transfer a -> b through `t`, with `loss` set on its outer port. */
  async measure(t: Tunnel, loss: number, durationSec: number, cc: string | null, intervalSec = 0.5): Promise<MeltdownRun> {
    this.setLoss("udp", 1, 0);
    // let queues from the previous transfer drain before the idle RTT
    await new Promise((r) => setTimeout(r, 1500));
    const idle = parsePingAvg(this.ns(this.a, "ping", ["-c", "5", "-i", "0.2", "-q", "-W", "2", INNER_B], 10_000, true));
    this.setLoss(t.transport, t.port, loss);
    const ssArgs = ["-tin", "state", "established", "(", "dport", "=", `:${t.port}`, "or", "sport", "=", `:${t.port}`, ")"];
    const before = t.transport === "tcp" ? parseSsRetrans(this.ns(this.a, "ss", ssArgs, 5000, true)) : null;
    const port = 5201 + Math.floor(Math.random() * 500);
    const srv = this.spawnIn(this.b, "iperf3", ["-s", "-1", "-B", INNER_B, "-p", String(port)]);
    await new Promise((r) => setTimeout(r, 500));
    const out = await new Promise<string>((res) => {
      const c = this.spawnIn(this.a, "timeout", [String(durationSec + 20), "iperf3", "-c", INNER_B, "-p", String(port), "-t", String(durationSec), "-i", String(intervalSec), "-J", "--get-server-output", ...(cc ? ["-C", cc] : [])]);
      let s = "";
      c.stdout!.on("data", (x) => (s += x));
      c.once("exit", () => res(s));
    });
    const ssAfter = t.transport === "tcp" ? this.ns(this.a, "ss", ssArgs, 5000, true) : "";
    const after = t.transport === "tcp" ? parseSsRetrans(ssAfter) : null;
    await stopProc(srv);
    this.setLoss(t.transport, t.port, 0);
    const res = toRun({ tunnel: t.name, transport: t.transport, loss, idleRttMs: idle, outerBefore: before, outerAfter: after, r: parseIperfJson(out) });
    if (t.transport === "tcp") res.outerCc = parseSsCc(ssAfter);
    return res;
  }

  down(): void {
    for (const p of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
    this.procs = [];
    for (const n of [this.a, this.r, this.b, this.d]) run("ip", ["netns", "del", n], 10_000, true);
  }

  /** down() and remove the temporary directory (keys, certificates). */
  destroy(): void {
    this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function stopProc(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (p.exitCode === null && p.signalCode === null) {
    p.kill("SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  }
}
