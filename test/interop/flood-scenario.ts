/**
 * The spoofed IKE_SA_INIT flood of issue #12, shared by test/interop/flood.test.ts and
 * bench/ike/flood.ts. Namespaces (prefix vkf2), created and deleted here:
 *
 * - vkf2a: the responder, 192.0.2.2 (vpnkit `up` as the README's one-line responder, or charon
 *   with a default connection and default strongswan.conf limits);
 * - vkf2b: the flooder (scripts/flood/ike-flood.c, raw socket, random sources in 198.18.0.0/15,
 *   one request in 10 from 192.0.2.1) and the legitimate charon client at 192.0.2.1 (default
 *   connection, default retransmits);
 * - vkf2c: the legitimate vpnkit initiator at 192.0.2.3 (the README's initiator command).
 *
 * The answers to spoofed sources leave vkf2a through a TUN device that nobody holds open
 * (FLOOD_SINK=tun, the default): counted there by iptables (raw OUTPUT, by size: a COOKIE answer
 * is under 160 bytes, an IKE_SA_INIT response over it) and freed by the kernel, as a NIC would
 * send them away. FLOOD_SINK=raw routes them into vkf2b instead and counts and drops them in its
 * raw PREROUTING; FLOOD_SINK=route lets them reach vkf2b's routing (which does not forward).
 * Those two put the answers' receive path (veth runs it in softirq on the sending CPU) on the
 * responder's CPU, which a real gateway's answers never cost it. Nothing leaves these
 * namespaces; the flood is bounded by -t and -n.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, CHARON, ROOT, sh } from "./harness.ts";

export const NS = { r: "vkf2a", f: "vkf2b", c: "vkf2c" } as const;
const PSK = "vkf2-flood-psk-0123456789abcdef";
const SPOOF = "198.18.0.0/15";

export interface FloodOptions {
  responder: "vpnkit" | "charon";
  /** Flood duration (s) and packet cap. */
  seconds: number;
  maxPackets: number;
  /** Packets per second (0 = as fast as the sender goes). */
  rate?: number;
  /** One request in this many from the legitimate charon client's address. */
  legitEvery?: number;
  /** Seconds into the flood when the charon client, then the vpnkit initiator, start. */
  charonAt?: number;
  vpnkitAt?: number;
  /** Extra `[ike.limits]` lines for the vpnkit responder (none: the README command as is). */
  vpnkitLimits?: string;
  /** Max seconds to wait after the flood for the half-open SAs to time out. */
  settleMax?: number;
  dir: string;
  log?: (s: string) => void;
}

export interface FloodResult {
  responder: string;
  flood: { sent: number; seconds: number; pps: number; line: string };
  answers: { cookie: number; init: number; toLegit: number };
  /** VmRSS (KiB); `parts`: RssAnon / RssFile at the baseline, at the peak and after (the file part is the mapped executable and libraries). */
  rssKb: { baseline: number; max: number; after: number; samples: number; parts?: { baseline: string; max: string; after: string } };
  charonClient: { ok: boolean; ms: number | null; startedAtS: number; floodRunningWhenUp: boolean; cookieSeen: boolean; out: string };
  vpnkitInitiator: { ok: boolean; msFromSpawn: number | null; msFromFirstInit: number | null; startedAtS: number; floodRunningWhenUp: boolean; cookieSeen: boolean };
  during: { sas: number | null; halfOpen: number | null };
  after: { sas: number | null; halfOpen: number | null; settleS: number; ikeSas: string };
  counters: Record<string, unknown>;
  /** The responder namespace's UDP counters after the flood (nstat): datagrams read, and dropped because the receive / send buffer was full. */
  udp: Record<string, number>;
  /** The same counters in the charon client's namespace (vkf2b). */
  udpClient: Record<string, number>;
  loadavg: string;
}

function ns(n: string, ...args: string[]): string {
  return sh("ip", ["netns", "exec", n, ...args]);
}

/** The `vpnkit up` lines of the README's IKEv2 section (as test/interop/server.test.ts reads them). */
export function readmeIkeCommands(): { initiator: string[]; responder: string[] } {
  const md = readFileSync(join(ROOT, "README.md"), "utf8");
  const sec = md.slice(md.indexOf("### IKEv2 (`vpnkit up --peer`)"));
  const block = sec.slice(sec.indexOf("```sh") + 5, sec.indexOf("```", sec.indexOf("```sh") + 5));
  const cmds = block.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l.startsWith("vpnkit up "));
  const argv = (l: string) => l.replace(/\s+#.*$/, "").split(/\s+/).slice(2);
  const initiator = cmds.find((c) => c.includes("--peer"));
  const responder = cmds.find((c) => c.includes("--responder"));
  if (!initiator || !responder) throw new Error(`README: IKEv2 section without an initiator and a responder command`);
  return { initiator: argv(initiator), responder: argv(responder) };
}

export function floodTopoDown(): void {
  for (const n of Object.values(NS)) spawnSync("ip", ["netns", "del", n]);
}

export function floodTopoUp(): void {
  floodTopoDown();
  for (const n of Object.values(NS)) sh("ip", ["netns", "add", n]);
  sh("ip", ["link", "add", "vkf2ab", "netns", NS.r, "type", "veth", "peer", "name", "vkf2ba", "netns", NS.f]);
  sh("ip", ["link", "add", "vkf2ac", "netns", NS.r, "type", "veth", "peer", "name", "vkf2ca", "netns", NS.c]);
  for (const n of Object.values(NS)) sh("ip", ["-n", n, "link", "set", "lo", "up"]);
  for (const [n, d] of [[NS.r, "vkf2ab"], [NS.r, "vkf2ac"], [NS.f, "vkf2ba"], [NS.c, "vkf2ca"]]) sh("ip", ["-n", n, "link", "set", d, "up"]);
  sh("ip", ["-n", NS.r, "addr", "add", "192.0.2.2/25", "dev", "vkf2ab"]);
  // inner addresses inside the selectors (charon's kernel-libipsec installs its routes with them)
  sh("ip", ["-n", NS.r, "addr", "add", "203.0.113.1/32", "dev", "lo"]);
  sh("ip", ["-n", NS.f, "addr", "add", "198.51.100.1/32", "dev", "lo"]);
  sh("ip", ["-n", NS.f, "addr", "add", "192.0.2.1/25", "dev", "vkf2ba"]);
  // vkf2c: 192.0.2.3 behind its own link, so the README's `--peer 192.0.2.2` works as written
  sh("ip", ["-n", NS.c, "addr", "add", "192.0.2.3/32", "dev", "vkf2ca"]);
  sh("ip", ["-n", NS.c, "route", "add", "192.0.2.2/32", "dev", "vkf2ca", "src", "192.0.2.3"]);
  sh("ip", ["-n", NS.r, "route", "add", "192.0.2.3/32", "dev", "vkf2ac", "src", "192.0.2.2"]);
  const sink = floodSink();
  if (sink === "tun") {
    // answers to spoofed sources leave through a TUN device nobody holds open: no carrier, so
    // its queue discipline is the kernel's no-op one, which frees them; point-to-point, so no
    // neighbour entry per destination (this kernel has no "dummy" module). Measured: the
    // vpnkit gate read 74 % of a 161k/s flood this way, 64 % of 150k/s with FLOOD_SINK=raw; a
    // TUN held open by a process that never reads it was dearer (55 %: a wake-up per packet).
    ns(NS.r, "ip", "tuntap", "add", "dev", "vkf2d", "mode", "tun");
    sh("ip", ["-n", NS.r, "link", "set", "vkf2d", "up"]);
    sh("ip", ["-n", NS.r, "route", "add", SPOOF, "dev", "vkf2d"]);
    for (const [len, tag] of [["0:159", "vkf2-cookie"], ["160:65535", "vkf2-init"]]) {
      ns(NS.r, "iptables", "-t", "raw", "-A", "OUTPUT", "-d", SPOOF, "-p", "udp", "--sport", "500", "-m", "length", "--length", len, "-m", "comment", "--comment", tag);
    }
  } else {
    // answers to spoofed sources go to vkf2b, which does not forward them
    sh("ip", ["-n", NS.r, "route", "add", SPOOF, "via", "192.0.2.1"]);
  }
  ns(NS.f, "sysctl", "-qw", "net.ipv4.ip_forward=0");
  for (const [len, tag] of sink === "tun" ? [] : [["0:159", "vkf2-cookie"], ["160:65535", "vkf2-init"]]) {
    ns(NS.f, "iptables", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.2", "-d", SPOOF, "-p", "udp", "--sport", "500", "-m", "length", "--length", len, "-m", "comment", "--comment", tag);
  }
  ns(NS.f, "iptables", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.2", "-d", "192.0.2.1", "-p", "udp", "--sport", "500", "-m", "comment", "--comment", "vkf2-legit");
  // Counted answers to spoofed sources are dropped right there. Without it each one also took a
  // route lookup and an ICMP error attempt in vkf2b, work a real gateway's answers never cause
  // (they leave through its NIC), and veth runs that receive path on the sender's CPU: the
  // responder's own. FLOOD_SINK=route keeps the old way (to compare).
  if (sink === "raw") ns(NS.f, "iptables", "-t", "raw", "-A", "PREROUTING", "-s", "192.0.2.2", "-d", SPOOF, "-j", "DROP");
}

/** Where answers to spoofed sources go: FLOOD_SINK=tun (default), raw or route (see the module's comment). */
export function floodSink(): "tun" | "raw" | "route" {
  const v = process.env.FLOOD_SINK ?? "tun";
  if (v !== "tun" && v !== "raw" && v !== "route") throw new Error(`FLOOD_SINK=${v}: tun, raw or route`);
  return v;
}

function answerCounts(): { cookie: number; init: number; toLegit: number } {
  const out = ns(NS.f, "iptables", "-t", "raw", "-L", "PREROUTING", "-n", "-v", "-x") +
    (floodSink() === "tun" ? ns(NS.r, "iptables", "-t", "raw", "-L", "OUTPUT", "-n", "-v", "-x") : "");
  const get = (tag: string) => Number(out.split("\n").find((l) => l.includes(tag))?.trim().split(/\s+/)[0] ?? NaN);
  return { cookie: get("vkf2-cookie"), init: get("vkf2-init"), toLegit: get("vkf2-legit") };
}

/** gcc -O2 scripts/flood/ike-flood.c into `dir`. */
export function buildFlooder(dir: string): string {
  const bin = join(dir, "ike-flood");
  execFileSync("gcc", ["-O2", "-Wall", "-o", bin, join(ROOT, "scripts/flood/ike-flood.c")], { stdio: "pipe" });
  return bin;
}

/** "RssAnon+RssFile" of `pid` in KiB, e.g. "27000+46000". */
export function rssParts(pid: number): string {
  try {
    const t = readFileSync(`/proc/${pid}/status`, "utf8");
    const g = (k: string) => /(\d+) kB/.exec(t.split("\n").find((l) => l.startsWith(k)) ?? "")?.[1] ?? "?";
    return `${g("RssAnon:")}+${g("RssFile:")}`;
  } catch {
    return "?";
  }
}

export function rssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface Proc {
  proc: ChildProcess;
  lines: string[];
  stop(): Promise<void>;
}

function spawnLogged(cmd: string, args: string[], cwd: string, logFile: string): Proc {
  const proc = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const on = (b: Buffer) => {
    for (const l of b.toString("utf8").split("\n")) if (l.trim()) lines.push(`${Date.now()} ${l}`);
  };
  proc.stdout!.on("data", on);
  proc.stderr!.on("data", on);
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  return {
    proc, lines,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
      writeFileSync(logFile, lines.join("\n") + "\n");
    },
  };
}

/** charon in `n` with its own strongswan.conf (default limits and retransmits), /run and vici socket. */
function charon(n: string, dir: string, conn: string): Proc & { swanctl(...a: string[]): { status: number | null; out: string } } {
  mkdirSync(dir, { recursive: true });
  const vici = join(dir, "vici");
  writeFileSync(join(dir, "strongswan.conf"), `charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  plugins { vici { socket = unix://${vici} } }
  filelog { f { path = ${dir}/charon.log
    flush_line = yes
    default = 1 } }
  syslog { daemon { default = -1 } }
}
`);
  writeFileSync(join(dir, "swanctl.conf"), `${conn}\nsecrets { ike-f { secret = "${PSK}" } }\n`);
  const p = spawnLogged("ip", ["netns", "exec", n, "unshare", "-m", "--propagation", "private", "sh", "-c",
    `mount -t tmpfs vkf2run /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf ${CHARON}`], dir, join(dir, "stdout.log"));
  const swanctl = (...a: string[]) => {
    const r = spawnSync("ip", ["netns", "exec", n, "swanctl", ...a, "--uri", `unix://${vici}`], { timeout: 30_000, encoding: "utf8" });
    return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
  };
  return { ...p, swanctl };
}

async function until(f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return true;
    await Bun.sleep(100);
  }
  return f();
}

const CLIENT_CONN = `connections { f {
  remote_addrs = 192.0.2.2
  version = 2
  local { auth = psk }
  remote { auth = psk }
  children { fc { local_ts = 198.51.100.0/24
    remote_ts = 203.0.113.0/24 } }
} }`;
const RESPONDER_CONN = `connections { f {
  version = 2
  local { auth = psk }
  remote { auth = psk }
  children { fc { local_ts = 203.0.113.0/24
    remote_ts = 198.51.100.0/24 } }
} }`;

/** Runs the whole scenario in namespaces that already exist ({@link floodTopoUp}). */
export async function runFlood(o: FloodOptions): Promise<FloodResult> {
  const log = o.log ?? (() => {});
  const dir = o.dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "psk"), PSK + "\n", { mode: 0o600 });
  const flooder = buildFlooder(dir);
  const { responder, initiator } = readmeIkeCommands();
  const rSock = join(dir, "r.sock");
  const procs: Proc[] = [];
  try {
    // ---- the responder
    let rPid: number;
    let charonR: ReturnType<typeof charon> | null = null;
    if (o.responder === "vpnkit") {
      const extra = ["--control", rSock];
      if (o.vpnkitLimits) {
        writeFileSync(join(dir, "limits.toml"), `[ike.limits]\n${o.vpnkitLimits}\n`);
        extra.push("--config", join(dir, "limits.toml"));
      }
      const v = spawnLogged("ip", ["netns", "exec", NS.r, BUN, ...(process.env.VKF2_BUN_ARGS ? process.env.VKF2_BUN_ARGS.split(" ") : []), join(ROOT, "cli/main.ts"), "up", ...responder, ...extra], dir, join(dir, "responder.log"));
      procs.push(v);
      if (!(await until(() => v.lines.some((l) => /IKEv2 responder: waiting/.test(l)), 20_000))) throw new Error(`vpnkit responder not up:\n${v.lines.join("\n")}`);
      rPid = v.proc.pid!;
    } else {
      charonR = charon(NS.r, join(dir, "charon-r"), RESPONDER_CONN);
      procs.push(charonR);
      if (!(await until(() => existsSync(join(dir, "charon-r", "vici")), 10_000))) throw new Error("charon responder: no vici socket");
      const l = charonR.swanctl("--load-all", "--file", join(dir, "charon-r", "swanctl.conf"));
      if (l.status !== 0) throw new Error(`swanctl --load-all: ${l.out}`);
      rPid = charonR.proc.pid!;
    }
    // ---- the legitimate charon client (default connection, default retransmits)
    const cc = charon(NS.f, join(dir, "charon-i"), CLIENT_CONN);
    procs.push(cc);
    if (!(await until(() => existsSync(join(dir, "charon-i", "vici")), 10_000))) throw new Error("charon client: no vici socket");
    const lc = cc.swanctl("--load-all", "--file", join(dir, "charon-i", "swanctl.conf"));
    if (lc.status !== 0) throw new Error(`client swanctl --load-all: ${lc.out}`);
    await Bun.sleep(1000);
    const baseline = rssKb(rPid) ?? NaN;
    const baseParts = rssParts(rPid);
    const samples: number[] = [];
    let maxParts = "?";
    const sampler = setInterval(() => {
      const r = rssKb(rPid);
      if (r !== null) {
        if (!samples.length || r > Math.max(...samples)) maxParts = rssParts(rPid);
        samples.push(r);
      }
    }, 500);
    // ---- the flood
    const t0 = Date.now();
    const floodArgs = ["-d", "192.0.2.2", "-s", SPOOF, "-S", "192.0.2.1", "-f", String(o.legitEvery ?? 10), "-r", String(o.rate ?? 0), "-t", String(o.seconds), "-n", String(o.maxPackets)];
    log(`flood: ike-flood ${floodArgs.join(" ")}`);
    const fl = spawnLogged("ip", ["netns", "exec", NS.f, flooder, ...floodArgs], dir, join(dir, "flooder.log"));
    procs.push(fl);
    let floodRunning = true, floodEndAt = Infinity;
    const floodDone = new Promise<void>((r) => fl.proc.on("exit", () => r())).then(() => {
      floodRunning = false;
      floodEndAt = Date.now();
    });
    // ---- charon client during the flood
    const charonAt = o.charonAt ?? 3, vpnkitAt = o.vpnkitAt ?? 8;
    await Bun.sleep(charonAt * 1000);
    let during: FloodResult["during"] = { sas: null, halfOpen: null };
    if (o.responder === "vpnkit") {
      const st = await readStatus(rSock, 5000).catch(() => null);
      if (st?.ike) during = { sas: st.ike.manager.sas, halfOpen: st.ike.manager.halfOpen };
    } else {
      during = charonStats(charonR!);
    }
    const ci0 = Date.now();
    const ciP = new Promise<{ status: number | null; out: string }>((resolve) => {
      const p = spawn("ip", ["netns", "exec", NS.f, "swanctl", "--initiate", "--child", "fc", "--timeout", "60", "--uri", `unix://${join(dir, "charon-i", "vici")}`], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      p.stdout!.on("data", (b: Buffer) => (out += b));
      p.stderr!.on("data", (b: Buffer) => (out += b));
      p.on("exit", (status) => resolve({ status, out }));
    });
    const charonClient: FloodResult["charonClient"] = { ok: false, ms: null, startedAtS: charonAt, floodRunningWhenUp: false, cookieSeen: false, out: "" };
    ciP.then((r) => {
      charonClient.ok = r.status === 0;
      charonClient.ms = Date.now() - ci0;
      charonClient.floodRunningWhenUp = floodRunning;
      charonClient.out = r.out.split("\n").slice(-6).join("\n");
    });
    // ---- vpnkit initiator during the flood (the README's command, own control socket)
    await Bun.sleep(Math.max(0, vpnkitAt - charonAt) * 1000);
    const vi0 = Date.now();
    const vi = spawnLogged("ip", ["netns", "exec", NS.c, BUN, join(ROOT, "cli/main.ts"), "up", ...initiator, "--control", join(dir, "i.sock")], dir, join(dir, "initiator.log"));
    procs.push(vi);
    const vpnkitInitiator: FloodResult["vpnkitInitiator"] = { ok: false, msFromSpawn: null, msFromFirstInit: null, startedAtS: vpnkitAt, floodRunningWhenUp: false, cookieSeen: false };
    const viUp = until(() => vi.lines.some((l) => /Child SA installed/.test(l)), 60_000).then((ok) => {
      const up = vi.lines.find((l) => /Child SA installed/.test(l));
      const first = vi.lines.find((l) => /IKE_SA_INIT to/.test(l));
      vpnkitInitiator.ok = ok && !!up;
      vpnkitInitiator.cookieSeen = vi.lines.some((l) => /responder demands a COOKIE/.test(l));
      if (up) {
        const at = Number(up.split(" ")[0]);
        vpnkitInitiator.msFromSpawn = at - vi0;
        if (first) vpnkitInitiator.msFromFirstInit = at - Number(first.split(" ")[0]);
        vpnkitInitiator.floodRunningWhenUp = at < floodEndAt;
      }
    });
    await floodDone;
    await Promise.all([ciP, viUp]);
    charonClient.cookieSeen = /parsed IKE_SA_INIT response 0 \[ N\(COOKIE\) \]/.test(readFileSync(join(dir, "charon-i", "charon.log"), "utf8"));
    const m = /sent (\d+) packets in ([\d.]+) s: (\d+) packets\/s/.exec(fl.lines.join("\n"));
    const flood = { sent: m ? Number(m[1]) : 0, seconds: m ? Number(m[2]) : 0, pps: m ? Number(m[3]) : 0, line: fl.lines.join(" | ") };
    log(`flood done: ${flood.line}`);
    const answers = answerCounts();
    const udpOf = (n: string) => {
      const u: Record<string, number> = {};
      for (const l of ns(n, "nstat", "-az", "UdpInDatagrams", "UdpRcvbufErrors", "UdpSndbufErrors", "UdpOutDatagrams").split("\n")) {
        const [k, v] = l.trim().split(/\s+/);
        if (k?.startsWith("Udp")) u[k] = Number(v);
      }
      return u;
    };
    const udp = udpOf(NS.r);
    // the charon client's namespace: the answers to the flood's requests from its address reach it too
    const udpClient = udpOf(NS.f);
    const loadavg = readFileSync("/proc/loadavg", "utf8").trim();
    // ---- after: wait for the flood's half-open SAs to time out
    const s0 = Date.now();
    let after: FloodResult["after"] = { sas: null, halfOpen: null, settleS: 0, ikeSas: "" };
    let counters: Record<string, unknown> = {};
    for (;;) {
      if (o.responder === "vpnkit") {
        const st = await readStatus(rSock, 5000).catch(() => null);
        if (st?.ike) {
          after = { sas: st.ike.manager.sas, halfOpen: st.ike.manager.halfOpen, settleS: 0, ikeSas: st.ike.ikeSas.map((x) => `${x.remote} ${x.state}`).join(", ") };
          const io = st.io as Record<string, number> | undefined;
          const steer = io?.ikeGatePrioReceived !== undefined
            ? { steer: { prioReceived: io.ikeGatePrioReceived, prioInits: io.ikeGatePrioInits, misrouted: io.ikeGateMisrouted, bulkKernelDrops: io.ikeGateBulkKernelDrops, prioKernelDrops: io.ikeGatePrioKernelDrops } }
            : {};
          counters = { ...st.ike.manager.counters, drops: st.ike.drops, ...(io?.ikeGateReceived !== undefined ? { gate: { received: io.ikeGateReceived, forwarded: io.ikeGateForwarded, cookiesValid: io.ikeGateCookiesValid, ...steer } } : {}) };
        }
      } else {
        const s = charonStats(charonR!);
        after = { ...s, settleS: 0, ikeSas: charonR!.swanctl("--list-sas").out.split("\n").filter((l) => /: #\d+, ESTABLISHED|CONNECTING/.test(l)).map((l) => l.trim()).join(", ") };
      }
      if (after.halfOpen === 0 || Date.now() - s0 > (o.settleMax ?? 40) * 1000) break;
      await Bun.sleep(500);
    }
    after.settleS = (Date.now() - s0) / 1000;
    await Bun.sleep(1500);
    clearInterval(sampler);
    const rss = { baseline, max: Math.max(...samples), after: rssKb(rPid) ?? NaN, samples: samples.length, parts: { baseline: baseParts, max: maxParts, after: rssParts(rPid) } };
    return { responder: o.responder, flood, answers, rssKb: rss, charonClient, vpnkitInitiator, during, after, counters, udp, udpClient, loadavg };
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
}

/** charon's IKE SA counts from `swanctl --stats` ("IKE_SAs: N total, M half-open"). */
function charonStats(c: ReturnType<typeof charon>): { sas: number | null; halfOpen: number | null } {
  const m = /IKE_SAs: (\d+) total, (\d+) half-open/.exec(c.swanctl("--stats").out);
  return m ? { sas: Number(m[1]), halfOpen: Number(m[2]) } : { sas: null, halfOpen: null };
}
