/**
 * Issue 6: `vpnkit mtu` through a vpnkit tunnel, answered by the responder that
 * `vpnkit up --mtu-responder-secret-file` serves on the tunnel's inner address.
 * Namespaces vr1/vr2 joined by a veth (outer IPv4, path MTU 1500), one `vpnkit up` per side
 * with manual keys (aes256gcm16), child processes (test/tunnel/run-cli.ts, test/probe/run-cli.ts).
 * Through the tunnel `vpnkit mtu` must report exactly tunnelMtu(1500, aes256gcm16, IPv4 + UDP
 * encap) = 1438 — with the TUN at that MTU (the kernel refuses bigger packets locally) and with
 * the TUN at 1500 (vpnkit's engine answers ICMP "fragmentation needed"); outside the tunnel
 * (a plain `vpnkit responder` on the outer address) it must report 1500.
 * Skips with a reason when not root / no TUN / tools missing, unless CI=true (then fails).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tunnelMtu } from "../../lib/esp/mtu.ts";
import { ConfigError, parseConfigText, validateMtuResponder } from "../../lib/tunnel/config.ts";

const ROOT = join(import.meta.dir, "../..");
const BUN = process.execPath;
const UP = join(ROOT, "test/tunnel/run-cli.ts");
const PROBE = join(ROOT, "test/probe/run-cli.ts");
const NS = ["vr1", "vr2"] as const;
const OUTER = { vr1: "192.0.2.1", vr2: "192.0.2.2" };
const INNER = { vr1: "10.96.0.1", vr2: "10.96.0.2" };
const TUNNEL_MTU = tunnelMtu(1500, "aes256gcm16", { outer: "ipv4", udpEncap: true });

function missingPrereq(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root (network namespaces and TUN need CAP_NET_ADMIN)";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  if (spawnSync("sh", ["-c", "command -v ip"]).status !== 0) return "ip not installed";
  return null;
}

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && !CI) console.warn(`[skip] test/probe/tunnel.test.ts: ${reason}`);
const run = reason && !CI ? describe.skip : describe;

function sh(...args: string[]): string {
  return execFileSync(args[0], args.slice(1), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 });
}

function nsDel(): void {
  for (const ns of NS) spawnSync("ip", ["netns", "del", ns], { timeout: 10_000 });
}

function topoUp(): void {
  nsDel();
  for (const ns of NS) sh("ip", "netns", "add", ns);
  sh("ip", "-n", "vr1", "link", "add", "vr1a", "mtu", "1500", "type", "veth", "peer", "name", "vr2a", "mtu", "1500", "netns", "vr2");
  for (const ns of NS) {
    sh("ip", "-n", ns, "link", "set", "lo", "up");
    sh("ip", "-n", ns, "addr", "add", `${OUTER[ns]}/24`, "dev", `${ns}a`);
    sh("ip", "-n", ns, "link", "set", `${ns}a`, "up");
  }
}

interface MtuJson {
  ok: boolean;
  pathMtu: number | null;
  bound: string | null;
  durationMs: number;
  probes: number;
  rounds: number;
  icmpErrors: number;
  localTooBig: number;
  timeouts: number;
  error?: string;
}

function mtu(peer: string, secretFile: string, extra: string[] = []): { status: number | null; json: MtuJson | null; stderr: string; wallMs: number } {
  const t0 = performance.now();
  const r = spawnSync("ip", ["netns", "exec", "vr1", BUN, PROBE, "mtu", peer, "--secret-file", secretFile, "--json", ...extra], { encoding: "utf8", timeout: 60_000 });
  const wallMs = performance.now() - t0;
  let json: MtuJson | null = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    // left null: the assertion shows stderr
  }
  return { status: r.status, json, stderr: r.stderr, wallMs };
}

interface Proc {
  p: ChildProcess;
  log: () => string;
}

function spawnLogged(args: string[]): Proc {
  const p = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout!.on("data", (d) => (out += d));
  p.stderr!.on("data", (d) => (out += d));
  return { p, log: () => out };
}

async function waitFor(pr: Proc, text: string, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!pr.log().includes(text)) {
    if (pr.p.exitCode !== null || pr.p.signalCode !== null) throw new Error(`${what} exited (${pr.p.exitCode ?? pr.p.signalCode}): ${pr.log()}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after 15 s: ${pr.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopProc(pr: Proc | null): Promise<void> {
  if (!pr || pr.p.exitCode !== null || pr.p.signalCode !== null) return;
  const exited = new Promise((r) => pr.p.once("exit", r));
  pr.p.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (pr.p.exitCode === null && pr.p.signalCode === null) {
    pr.p.kill("SIGKILL");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  }
}

describe("mtu_responder config (no namespaces)", () => {
  test("off unless a secret file is given; flags override the file; port defaults to 4501", () => {
    expect(validateMtuResponder({})).toBeNull();
    const raw = parseConfigText('[mtu_responder]\nsecret_file = "/etc/vpnkit/probe.secret"\n');
    expect(validateMtuResponder(raw)).toEqual({ secretFile: "/etc/vpnkit/probe.secret", port: 4501 });
    expect(validateMtuResponder(raw, { port: 4600 })).toEqual({ secretFile: "/etc/vpnkit/probe.secret", port: 4600 });
    expect(validateMtuResponder({}, { secret_file: "s", port: "4502" })).toEqual({ secretFile: "s", port: 4502 });
    expect(validateMtuResponder(parseConfigText("[mtu_responder]\nsecret_file = \"f\"\nport = 4503\n"))).toEqual({ secretFile: "f", port: 4503 });
  });
  test("errors name the key", () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof ConfigError ? e.key : `not a ConfigError: ${e}`;
      }
      return "no error";
    };
    expect(err(() => validateMtuResponder({}, { port: 4501 }))).toBe("mtu_responder.port");
    expect(err(() => validateMtuResponder({}, { secret_file: "s", port: 0 }))).toBe("mtu_responder.port");
    expect(err(() => validateMtuResponder({}, { secret_file: "s", port: "x" }))).toBe("mtu_responder.port");
    expect(err(() => validateMtuResponder({}, { secret_file: 3 }))).toBe("mtu_responder.secret_file");
    expect(err(() => validateMtuResponder(parseConfigText('mtu_responder = "x"\n')))).toBe("mtu_responder");
  });
  test("vpnkit up: a bad responder option is a usage error (exit 2, one line) before any tunnel is made", () => {
    const d = mkdtempSync(join(tmpdir(), "vr-cfg-"));
    try {
      const k = join(d, "k");
      writeFileSync(k, "12".repeat(36) + "\n", { mode: 0o600 });
      const base = ["up", "--local", "192.0.2.1", "--remote", "192.0.2.2", "--cipher", "aes256gcm16", "--spi-out", "0x1000", "--spi-in", "0x2000",
        "--key-out-file", k, "--key-in-file", k, "--tun-addr", "10.96.0.1/30", "--route", "10.96.0.2/32", "--tun-name", "vrcfg0", "--control", join(d, "c.sock")];
      const up = (...extra: string[]) => spawnSync(BUN, [UP, ...base, ...extra], { encoding: "utf8", timeout: 30_000 });
      const noSecret = up("--mtu-responder-port", "4600");
      expect({ status: noSecret.status, err: noSecret.stderr.trim() }).toEqual({
        status: 2, err: "vpnkit up: config: mtu_responder.port: needs mtu_responder.secret_file (--mtu-responder-secret-file)",
      });
      const missing = up("--mtu-responder-secret-file", join(d, "nope"));
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain("mtu_responder.secret_file: cannot read secret file");
      const short = join(d, "short");
      writeFileSync(short, "abc\n", { mode: 0o600 });
      const tooShort = up("--mtu-responder-secret-file", short);
      expect(tooShort.status).toBe(2);
      expect(tooShort.stderr).toContain("too short");
      expect(existsSync(join(d, "c.sock"))).toBe(false);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

const measured: string[] = [];

run("vpnkit mtu through a vpnkit tunnel (namespaces vr1/vr2)", () => {
  let dir = "";
  let secret = "";
  let k12 = "";
  let k21 = "";
  let outerResponder: Proc | null = null;
  const tunnels: Proc[] = [];

  /** vr1 <-> vr2 tunnel; vr2 serves MTU probes via --mtu-responder-secret-file. */
  async function startPair(tunMtu?: number): Promise<{ a: Proc; b: Proc }> {
    const mk = (ns: "vr1" | "vr2", peer: "vr1" | "vr2", kOut: string, kIn: string, spiOut: string, spiIn: string, extra: string[]) =>
      spawnLogged([
        "netns", "exec", ns, BUN, UP, "up", "--local", OUTER[ns], "--remote", OUTER[peer], "--cipher", "aes256gcm16",
        "--spi-out", spiOut, "--spi-in", spiIn, "--key-out-file", kOut, "--key-in-file", kIn,
        "--tun-name", `${ns}tun`, "--tun-addr", `${INNER[ns]}/30`, "--route", `${INNER[peer]}/32`,
        "--control", join(dir, `${ns}.sock`), "--mtu", "1500", ...(tunMtu ? ["--tun-mtu", String(tunMtu)] : []), ...extra,
      ]);
    const a = mk("vr1", "vr2", k12, k21, "0xc0de0601", "0xc0de0602", []);
    tunnels.push(a);
    const b = mk("vr2", "vr1", k21, k12, "0xc0de0602", "0xc0de0601", ["--mtu-responder-secret-file", secret]);
    tunnels.push(b);
    await waitFor(b, `answering MTU probes on ${INNER.vr2}:4501`, "vpnkit up in vr2");
    const deadline = Date.now() + 15_000;
    while (!existsSync(join(dir, "vr1.sock"))) {
      if (a.p.exitCode !== null || Date.now() > deadline) throw new Error(`vpnkit up in vr1 not ready: ${a.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { a, b };
  }

  async function stopPair(): Promise<void> {
    for (const t of tunnels.splice(0)) await stopProc(t);
    rmSync(join(dir, "vr1.sock"), { force: true });
    rmSync(join(dir, "vr2.sock"), { force: true });
  }

  beforeAll(async () => {
    if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
    dir = mkdtempSync(join(tmpdir(), "vr-mtu-"));
    secret = join(dir, "secret");
    writeFileSync(secret, "tunnel mtu test secret 0123456789\n", { mode: 0o600 });
    k12 = join(dir, "k12");
    k21 = join(dir, "k21");
    writeFileSync(k12, "12".repeat(36) + "\n", { mode: 0o600 });
    writeFileSync(k21, "21".repeat(36) + "\n", { mode: 0o600 });
    topoUp();
    outerResponder = spawnLogged(["netns", "exec", "vr2", BUN, PROBE, "responder", "--secret-file", secret, "--listen", OUTER.vr2, "--port", "4501"]);
    await waitFor(outerResponder, "answering MTU probes", "vpnkit responder in vr2");
  });

  afterAll(async () => {
    try {
      await stopPair();
      await stopProc(outerResponder);
    } finally {
      nsDel();
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (measured.length) console.log(`[measured] vpnkit mtu (tool's clock / wall clock incl. process start-up):\n  ${measured.join("\n  ")}`);
    }
  });

  test("the expected tunnel MTU is 1438", () => {
    expect(TUNNEL_MTU).toBe(1438);
  });

  test("outside the tunnel (outer address, plain responder): exactly 1500", () => {
    const r = mtu(OUTER.vr2, secret);
    expect(r.json, r.stderr).not.toBeNull();
    const j = r.json!;
    measured.push(`outer ${OUTER.vr2}: pathMtu ${j.pathMtu}, ${j.durationMs.toFixed(0)} ms / ${r.wallMs.toFixed(0)} ms wall, ${j.probes} probes, ${j.rounds} rounds, bound ${j.bound}`);
    expect({ status: r.status, ok: j.ok, pathMtu: j.pathMtu }).toEqual({ status: 0, ok: true, pathMtu: 1500 });
  });

  for (const tc of [
    // the kernel's path MTU to the peer is the TUN's 1438, the default upper end of the search
    { name: "TUN MTU = tunnel MTU", tunMtu: undefined, extra: [], bounds: ["max"], icmp: false },
    // probes up to 1500: the kernel refuses the bigger ones at the TUN (EMSGSIZE)
    { name: "TUN MTU = tunnel MTU, --max 1500", tunMtu: undefined, extra: ["--max", "1500"], bounds: ["local"], icmp: false },
    // the TUN takes 1500: vpnkit's engine answers ICMP fragmentation needed (1438); the kernel
    // learns it, so later big probes fail locally
    { name: "TUN MTU 1500 (vpnkit answers ICMP fragmentation needed)", tunMtu: 1500, extra: [], bounds: ["icmp", "local"], icmp: true },
  ]) {
    test(`through the tunnel, ${tc.name}: exactly ${TUNNEL_MTU}; responder served by vpnkit up on the inner address`, async () => {
      sh("ip", "netns", "exec", "vr1", "ip", "route", "flush", "cache");
      const { a, b } = await startPair(tc.tunMtu);
      try {
        const r = mtu(INNER.vr2, secret, tc.extra);
        expect(r.json, `${r.stderr}\nvr1:\n${a.log()}\nvr2:\n${b.log()}`).not.toBeNull();
        const j = r.json!;
        measured.push(`inner ${INNER.vr2}, ${tc.name}: pathMtu ${j.pathMtu}, ${j.durationMs.toFixed(0)} ms / ${r.wallMs.toFixed(0)} ms wall, ${j.probes} probes, ${j.rounds} rounds, bound ${j.bound}, icmp ${j.icmpErrors}, local ${j.localTooBig}, timeouts ${j.timeouts}`);
        expect({ status: r.status, ok: j.ok, pathMtu: j.pathMtu }).toEqual({ status: 0, ok: true, pathMtu: TUNNEL_MTU });
        expect(tc.bounds).toContain(j.bound!);
        if (tc.icmp) expect(j.icmpErrors).toBeGreaterThan(0);
      } finally {
        await stopPair();
      }
      // the responder went away with the tunnel: the TUN (and its address) is gone
      expect(sh("ip", "-n", "vr2", "link", "show")).not.toContain("vr2tun");
      expect(b.p.exitCode).toBe(0);
    }, 60_000);
  }

  test(`IKEv2 (PSK, aes256gcm16): the responder side serves MTU probes too; through the tunnel exactly ${TUNNEL_MTU}`, async () => {
    const psk = join(dir, "psk");
    writeFileSync(psk, "tunnel mtu test psk 0123456789\n", { mode: 0o600 });
    const mk = (ns: "vr1" | "vr2", peer: "vr1" | "vr2", extra: string[]) =>
      spawnLogged([
        "netns", "exec", ns, BUN, UP, "up", "--local", OUTER[ns], "--psk-file", psk, "--esp-proposal", "aes256gcm16",
        "--local-ts", `${INNER[ns]}/32`, "--remote-ts", `${INNER[peer]}/32`, "--tun-name", `${ns}tun`,
        "--control", join(dir, `${ns}.sock`), "--mtu", "1500", ...extra,
      ]);
    const b = mk("vr2", "vr1", ["--responder", "--remote", OUTER.vr1, "--mtu-responder-secret-file", secret]);
    tunnels.push(b);
    try {
      await waitFor(b, `answering MTU probes on ${INNER.vr2}:4501`, "vpnkit up --responder in vr2");
      const a = mk("vr1", "vr2", ["--peer", OUTER.vr2]);
      tunnels.push(a);
      await waitFor(a, "Child SA installed", "vpnkit up --peer in vr1");
      sh("ip", "netns", "exec", "vr1", "ip", "route", "flush", "cache");
      const r = mtu(INNER.vr2, secret, ["--max", "1500"]);
      expect(r.json, `${r.stderr}\nvr1:\n${a.log()}\nvr2:\n${b.log()}`).not.toBeNull();
      const j = r.json!;
      measured.push(`inner ${INNER.vr2}, IKEv2, --max 1500: pathMtu ${j.pathMtu}, ${j.durationMs.toFixed(0)} ms / ${r.wallMs.toFixed(0)} ms wall, ${j.probes} probes, ${j.rounds} rounds, bound ${j.bound}`);
      expect({ status: r.status, ok: j.ok, pathMtu: j.pathMtu }).toEqual({ status: 0, ok: true, pathMtu: TUNNEL_MTU });
    } finally {
      await stopPair();
    }
    expect(b.p.exitCode).toBe(0);
  }, 60_000);
});
