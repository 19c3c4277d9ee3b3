/**
 * Interop harness: strongSwan charon (kernel-libipsec, own strongswan.conf, vici socket
 * and private /run) in namespace vk1, `vpnkit up` (IKEv2 mode) in vk2, joined by the
 * veth pair vk1e/vk2e. Every name starts with "vk"; one run at a time (lock file).
 *
 *   vk1: vk1e 192.0.2.1/24 (outer), vk1d 10.2.0.1/24 (inner, a namespace-local veth)
 *   vk2: vk2e 192.0.2.2/24 (outer), TUN vktun 10.1.0.1/24 (vpnkit)
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "../..");
export const BUN = process.execPath;
export const CHARON = "/usr/lib/ipsec/charon";
export const PSK = "vpnkit-interop-psk-0123456789";
const LOCK = "/run/vpnkit-vk-netns.lock";

/** Null when the interop tests can run, else why not. */
export function missingPrereq(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (process.getuid?.() !== 0) return "not root (needs network namespaces and a TUN device)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  if (!existsSync(CHARON)) return `no strongSwan charon at ${CHARON}`;
  for (const t of ["ip", "swanctl", "ping", "tcpdump", "unshare", "ethtool"]) {
    if (spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0) return `${t} not installed`;
  }
  return null;
}

export function sh(cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: opts.timeout ?? 30_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    if (opts.allowFail) return (err.stdout ?? "") + (err.stderr ?? "");
    throw new Error(`${cmd} ${args.join(" ")}: ${err.stderr || err.message}`);
  }
}

/** Like {@link nsx} but without blocking the event loop (child output keeps flowing meanwhile). */
export function nsxAsync(ns: string, cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve) => {
    const p = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout!.on("data", (b: Buffer) => (out += b.toString()));
    p.stderr!.on("data", (b: Buffer) => (out += b.toString()));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("exit", () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

export const nsx = (ns: string, cmd: string, args: string[], opts: { allowFail?: boolean; timeout?: number } = {}) =>
  sh("ip", ["netns", "exec", ns, cmd, ...args], opts);

let owned = false;

function lock(file: string = LOCK, what = "vk1/vk2"): void {
  takeNetnsLock(file, what);
  if (file === LOCK) owned = true;
}

/** Delete vk1/vk2 and release the lock, only when this run owns them (a run refused the lock must not tear down the owner's namespaces). */
export function topoDown(): void {
  if (!owned) return;
  for (const ns of ["vk1", "vk2"]) spawnSync("ip", ["netns", "del", ns]);
  releaseNetnsLock(LOCK);
  owned = false;
}

export function topoUp(): void {
  lock();
  for (const ns of ["vk1", "vk2"]) spawnSync("ip", ["netns", "del", ns]);
  sh("ip", ["netns", "add", "vk1"]);
  sh("ip", ["netns", "add", "vk2"]);
  sh("ip", ["link", "add", "vk1e", "netns", "vk1", "type", "veth", "peer", "name", "vk2e", "netns", "vk2"]);
  for (const [ns, a] of [["vk1", "192.0.2.1/24"], ["vk2", "192.0.2.2/24"]]) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "addr", "add", a, "dev", `${ns}e`]);
    sh("ip", ["-n", ns, "link", "set", `${ns}e`, "up"]);
  }
  // the kernel here has no "dummy": a veth pair local to vk1 holds charon's inner address
  sh("ip", ["-n", "vk1", "link", "add", "vk1d", "type", "veth", "peer", "name", "vk1dp"]);
  sh("ip", ["-n", "vk1", "link", "set", "vk1d", "up"]);
  sh("ip", ["-n", "vk1", "link", "set", "vk1dp", "up"]);
  sh("ip", ["-n", "vk1", "addr", "add", "10.2.0.1/24", "dev", "vk1d"]);
  captureSegmented("vk2", "vk2e");
}

/**
 * vpnkit sends runs of equal-size ESP datagrams with UDP GSO (UDP_SEGMENT). A veth offers
 * UDP segmentation offload, so the kernel hands it the whole run as one buffer and tcpdump on
 * either end sees one oversized "datagram" (the receiver's UDP stack splits it later), which
 * no decoder can take apart: its ICV "fails". With the offload off on vpnkit's side, the
 * kernel segments in software before the capture point, as for a NIC without USO, and the
 * capture holds the datagrams exactly as they travel. vpnkit's sends are the same either way.
 */
export function captureSegmented(ns: string, dev: string): void {
  sh("ip", ["netns", "exec", ns, "ethtool", "-K", dev, "tx-udp-segmentation", "off"]);
}

/**
 * The same topology as {@link topoUp} in namespaces `a` (charon side: `${a}e` 192.0.2.1/24,
 * `${a}d` 10.2.0.1/24) and `b` (vpnkit side: `${b}e` 192.0.2.2/24), for test files that run
 * next to the vk1/vk2 ones; names must start with "vk". Deleted again by {@link topoDownPair}.
 */
export function topoUpPair(a: string, b: string): void {
  if (!a.startsWith("vk") || !b.startsWith("vk")) throw new Error("namespace names must start with vk");
  lock(`/run/vpnkit-${a}-${b}-netns.lock`, `${a}/${b}`);
  for (const ns of [a, b]) spawnSync("ip", ["netns", "del", ns]);
  sh("ip", ["netns", "add", a]);
  sh("ip", ["netns", "add", b]);
  sh("ip", ["link", "add", `${a}e`, "netns", a, "type", "veth", "peer", "name", `${b}e`, "netns", b]);
  for (const [ns, addr] of [[a, "192.0.2.1/24"], [b, "192.0.2.2/24"]]) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "addr", "add", addr, "dev", `${ns}e`]);
    sh("ip", ["-n", ns, "link", "set", `${ns}e`, "up"]);
  }
  sh("ip", ["-n", a, "link", "add", `${a}d`, "type", "veth", "peer", "name", `${a}dp`]);
  sh("ip", ["-n", a, "link", "set", `${a}d`, "up"]);
  sh("ip", ["-n", a, "link", "set", `${a}dp`, "up"]);
  sh("ip", ["-n", a, "addr", "add", "10.2.0.1/24", "dev", `${a}d`]);
  captureSegmented(b, `${b}e`);
}

export function topoDownPair(a: string, b: string): void {
  const f = `/run/vpnkit-${a}-${b}-netns.lock`;
  let mine = false;
  try {
    mine = readFileSync(f, "utf8") === String(process.pid);
  } catch {
    // no lock: nobody else holds these namespaces
    mine = true;
  }
  if (!mine) return; // another run's namespaces: leave them alone
  for (const ns of [a, b]) if (ns.startsWith("vk")) spawnSync("ip", ["netns", "del", ns]);
  rmSync(f, { force: true });
}

export interface Charon {
  dir: string;
  proc: ChildProcess;
  swanctl(...args: string[]): { status: number | null; out: string };
  log(): string;
  stop(): Promise<void>;
}

/**
 * Start charon in vk1 with its own config, vici socket and /run; `dir` receives its log.
 * `plugins` adds to the default plugin list, `load` replaces it (a cheap client: few plugins);
 * `conf` goes into the plugins section.
 */
export async function startCharon(dir: string, ns = "vk1", extra: { plugins?: string; load?: string; conf?: string } = {}): Promise<Charon> {
  mkdirSync(dir, { recursive: true });
  const vici = join(dir, "charon.vici");
  writeFileSync(join(dir, "strongswan.conf"), `charon {
  load = ${extra.load ?? "random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici"}${extra.plugins ? " " + extra.plugins : ""}
  port = 500
  port_nat_t = 4500
  install_routes = yes
  retransmit_tries = 2
  retransmit_timeout = 1.0
  plugins { vici { socket = unix://${vici} }
    ${extra.conf ?? ""} }
  filelog { vk { path = ${dir}/charon.log
    flush_line = yes
    default = 1
    ike = 2
    chd = 2
    cfg = 2
    knl = 1
    enc = 1 } }
  syslog { daemon { default = -1 } }
}
`);
  const proc = spawn("ip", ["netns", "exec", ns, "unshare", "-m", "--propagation", "private", "sh", "-c",
    `mount -t tmpfs vkrun /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf ${CHARON}`], { stdio: "ignore" });
  for (let k = 0; k < 50 && !existsSync(vici); k++) await Bun.sleep(200);
  if (!existsSync(vici)) throw new Error("charon did not create its vici socket");
  const swanctl = (...args: string[]) => {
    const r = spawnSync("ip", ["netns", "exec", ns, "swanctl", ...args, "--uri", `unix://${vici}`], { timeout: 30_000, encoding: "utf8" });
    return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
  };
  return {
    dir, proc, swanctl,
    log: () => (existsSync(join(dir, "charon.log")) ? readFileSync(join(dir, "charon.log"), "utf8") : ""),
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      for (let k = 0; k < 50 && proc.exitCode === null; k++) await Bun.sleep(100);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}

/** swanctl.conf: one connection between charon (192.0.2.1, 10.2.0.0/24) and vpnkit (192.0.2.2, 10.1.0.0/24). */
export function swanctlConf(o: { name: string; ike: string; esp: string; localTs?: string; remoteTs?: string; psk?: string; initiator?: boolean; dpd?: number; rekey?: number; certs?: boolean; pool?: string }): string {
  if (o.certs) {
    // signature authentication: charon's cert sw.crt (x509/, key in private/), ours issued by the CA in x509ca/
    return baseConf(o, "auth = pubkey\n      certs = sw.crt\n      id = sw.example.org", "auth = pubkey\n      id = vk.example.org");
  }
  return baseConf(o, "auth = psk\n      id = sw@example.org", "auth = psk\n      id = vk@example.org") + `secrets { ike-vk { id-1 = sw@example.org
    id-2 = vk@example.org
    secret = "${o.psk ?? PSK}" } }
`;
}

function baseConf(o: Parameters<typeof swanctlConf>[0], local: string, remote: string): string {
  return `connections {
  ${o.name} {
    local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    local_port = 4500
    remote_port = 4500
    encap = yes
    version = 2
    proposals = ${o.ike}
    ${o.dpd ? `dpd_delay = ${o.dpd}s` : ""}
    ${o.pool ? "pools = vkpool" : ""}
    local { ${local} }
    remote { ${remote} }
    children { ${o.name}c {
      local_ts = ${o.localTs ?? "10.2.0.0/24"}
      remote_ts = ${o.remoteTs ?? "10.1.0.0/24"}
      esp_proposals = ${o.esp}
      ${o.rekey ? `rekey_time = ${o.rekey}s
      life_time = ${2 * o.rekey}s
      rand_time = 0s` : "rekey_time = 0"}
      ${o.initiator ? "" : "start_action = none"}
    } }
  }
}
${o.pool ? `pools { vkpool { addrs = ${o.pool} } }\n` : ""}`;
}

export interface Vpnkit {
  proc: ChildProcess;
  lines: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitFor(re: RegExp, ms: number): Promise<string | null>;
  stop(): Promise<number | null>;
}

/** `vpnkit up` in vk2 (through cli/main.ts), stderr collected line by line. */
export function startVpnkit(args: string[], env: Record<string, string> = {}, ns = "vk2"): Vpnkit {
  const proc = spawn("ip", ["netns", "exec", ns, BUN, join(ROOT, "cli/main.ts"), "up", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const lines: string[] = [];
  let wake: (() => void) | null = null;
  const onData = (b: Buffer) => {
    for (const l of b.toString("utf8").split("\n")) if (l.trim()) lines.push(l);
    wake?.();
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => proc.on("exit", (c) => {
    r(c);
    wake?.();
  }));
  return {
    proc, lines, exited,
    async waitFor(re, ms) {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        if (proc.exitCode !== null) return null;
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      return lines.find((l) => re.test(l)) ?? null;
    },
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.exitCode === null && proc.kill("SIGKILL"), 5000);
      const c = await exited;
      clearTimeout(t);
      return c;
    },
  };
}

export interface Capture {
  stop(): Promise<void>;
}

export async function capture(ns: string, iface: string, file: string): Promise<Capture> {
  // --immediate-mode: no TPACKET_V3 block timeout, so nothing is left in the ring at SIGINT
  const p = spawn("ip", ["netns", "exec", ns, "tcpdump", "--immediate-mode", "-Z", "root", "-n", "-U", "-s", "0", "-i", iface, "-w", file, "udp"], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = new Promise<void>((r) => p.on("exit", () => r()));
  let err = "";
  const listening = new Promise<void>((r) => p.stderr!.on("data", (b: Buffer) => {
    err += b.toString();
    if (err.includes("listening on")) r();
  }));
  await Promise.race([listening, exited, Bun.sleep(5000)]);
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      await Bun.sleep(200);
      p.kill("SIGINT");
      await Promise.race([exited, Bun.sleep(5000)]);
      if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
}

/** `vpnkit decode --json --keys KEYLOG`: counts of decrypted ESP / IKE and any failure. */
export function decodeWithKeys(pcap: string, keylog: string): { esp: number; espGood: number; ike: number; ikeGood: number; bad: string[] } {
  const out = execFileSync(BUN, [join(ROOT, "cli/main.ts"), "decode", "--json", "--keys", keylog, pcap], { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 29, stdio: ["ignore", "pipe", "pipe"] });
  const r = { esp: 0, espGood: 0, ike: 0, ikeGood: 0, bad: [] as string[] };
  for (const line of out.split("\n")) {
    if (!line.trim()) continue;
    const pkt = JSON.parse(line) as { no?: number; layers?: Record<string, unknown>[] };
    const walk = (o: unknown): void => {
      if (!o || typeof o !== "object") return;
      const x = o as Record<string, unknown>;
      if (x.layer === "esp") {
        r.esp++;
        const d = x.decrypt as { icv?: string } | undefined;
        if (d?.icv === "good") r.espGood++;
        else r.bad.push(`packet ${pkt.no}: ESP ${JSON.stringify(d ?? "not decrypted")}`);
      }
      if (x.kind === "sk" || x.kind === "skf") {
        r.ike++;
        const d = x.decrypted as { integrity?: string };
        if (d?.integrity === "good") r.ikeGood++;
        else r.bad.push(`packet ${pkt.no}: SK ${JSON.stringify(d)}`);
      }
      for (const v of Object.values(x)) if (v && typeof v === "object") walk(v);
    };
    walk(pkt);
  }
  return r;
}

/** tshark with a profile holding the key log's Wireshark tables: IKE messages decrypted, ESP ICVs good. Null without tshark. */
export function tsharkCheck(pcap: string, keylog: string): { ikeDecrypted: number; espGood: number; espBad: number; chacha: boolean } | null {
  if (spawnSync("sh", ["-c", "command -v tshark"]).status !== 0) return null;
  const prof = mkdtempSync(join(tmpdir(), "vkws-"));
  try {
    if (existsSync(keylog + ".ikev2_decryption_table")) copyFileSync(keylog + ".ikev2_decryption_table", join(prof, "ikev2_decryption_table"));
    if (existsSync(keylog + ".esp_sa")) copyFileSync(keylog + ".esp_sa", join(prof, "esp_sa"));
    writeFileSync(join(prof, "preferences"), "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n");
    const env = { ...process.env, WIRESHARK_CONFIG_DIR: prof };
    const v = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "isakmp", "-V"], { encoding: "utf8", env, stdio: ["ignore", "pipe", "ignore"], timeout: 60_000, maxBuffer: 1 << 26 });
    const ikeDecrypted = (v.match(/^\s+Decrypted Data \(/gm) ?? []).length;
    const f = execFileSync("tshark", ["-n", "-r", pcap, "-Y", "esp", "-T", "fields", "-e", "esp.icv_good", "-e", "esp.icv_bad"], { encoding: "utf8", env, stdio: ["ignore", "pipe", "ignore"], timeout: 60_000 });
    const rows = f.trim().split("\n").filter(Boolean);
    const m = /(\d+)\.(\d+)/.exec(execFileSync("tshark", ["--version"], { encoding: "utf8" }));
    const chacha = m !== null && (Number(m[1]) > 4 || (Number(m[1]) === 4 && Number(m[2]) >= 2));
    return { ikeDecrypted, espGood: rows.filter((r) => r.split("\t")[0] === "1").length, espBad: rows.filter((r) => r.split("\t")[1] === "1").length, chacha };
  } finally {
    rmSync(prof, { recursive: true, force: true });
  }
}
