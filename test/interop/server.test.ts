/**
 * `vpnkit up` as a real IKEv2 server (issue #12), in namespaces vkv1 (192.0.2.1) and vkv2
 * (192.0.2.2) joined by a veth pair:
 *
 * - the README's two IKEv2 commands, extracted from README.md (so they cannot drift) and run
 *   exactly as written (cwd holds `psk`): a strongSwan charon with a default connection (no
 *   ports, no encap) reaches the vpnkit responder; the vpnkit initiator reaches a charon
 *   responder with a default connection; pings both ways between the inner networks
 *   (198.51.100.1 on vkv1's lo, 203.0.113.1 on vkv2's lo);
 * - a responder SIGKILLed and restarted: the initiator (default settings) is back with a new
 *   IKE SA once its first DPD gets INVALID_IKE_SPI.
 *
 * Skips without root/charon; fails instead under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, type Charon, missingPrereq, nsx, nsxAsync, ROOT, sh, startCharon } from "./harness.ts";

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
if (reason) console.warn(`[skip] test/interop/server.test.ts: ${reason}`);
const run = reason ? describe.skip : describe;

const A = "vkv1", B = "vkv2";
const LOCK = "/run/vpnkit-vkv-netns.lock";
const README_PSK = "vkv-readme-psk-0123456789abcdef";

/** The `vpnkit up` lines of the README's "IKEv2 (`vpnkit up --peer`)" section, continuation lines joined. */
export function readmeIkeCommands(): { initiator: string[]; responder: string[] } {
  const md = readFileSync(join(ROOT, "README.md"), "utf8");
  const sec = md.slice(md.indexOf("### IKEv2 (`vpnkit up --peer`)"));
  const block = sec.slice(sec.indexOf("```sh") + 5, sec.indexOf("```", sec.indexOf("```sh") + 5));
  const cmds = block.replace(/\\\n\s*/g, " ").split("\n").map((l) => l.trim()).filter((l) => l.startsWith("vpnkit up "));
  const argv = (l: string) => l.replace(/\s+#.*$/, "").split(/\s+/).slice(2);
  const initiator = cmds.find((c) => c.includes("--peer"));
  const responder = cmds.find((c) => c.includes("--responder"));
  if (!initiator || !responder) throw new Error(`README: IKEv2 section without an initiator and a responder command: ${JSON.stringify(cmds)}`);
  return { initiator: argv(initiator), responder: argv(responder) };
}

function topoUp(): void {
  takeNetnsLock(LOCK, `${A}/${B}`);
  for (const ns of [A, B]) spawnSync("ip", ["netns", "del", ns]);
  sh("ip", ["netns", "add", A]);
  sh("ip", ["netns", "add", B]);
  sh("ip", ["link", "add", `${A}e`, "netns", A, "type", "veth", "peer", "name", `${B}e`, "netns", B]);
  for (const [ns, outer, inner, outer6] of [[A, "192.0.2.1/24", "198.51.100.1/32", "2001:db8:1::1/64"], [B, "192.0.2.2/24", "203.0.113.1/32", "2001:db8:1::2/64"]]) {
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    sh("ip", ["-n", ns, "addr", "add", inner, "dev", "lo"]);
    sh("ip", ["-n", ns, "addr", "add", outer, "dev", `${ns}e`]);
    sh("ip", ["-n", ns, "addr", "add", outer6, "dev", `${ns}e`, "nodad"]);
    sh("ip", ["-n", ns, "link", "set", `${ns}e`, "up"]);
  }
}

function topoDown(): void {
  for (const ns of [A, B]) spawnSync("ip", ["netns", "del", ns]);
  releaseNetnsLock(LOCK);
}

interface Proc {
  proc: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, ms: number): Promise<string | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** `vpnkit up ARGS` in `ns` with cwd `dir` (through cli/main.ts, as `vpnkit`). */
function vpnkit(ns: string, dir: string, args: string[], env: Record<string, string> = {}): Proc {
  // each README run starts as in a fresh directory: vpnkit refuses to write keys into an existing key log
  const kl = args.indexOf("--keylog");
  if (kl >= 0) for (const ext of ["", ".esp_sa", ".ikev2_decryption_table"]) rmSync(join(dir, args[kl + 1] + ext), { force: true });
  const proc = spawn("ip", ["netns", "exec", ns, BUN, join(ROOT, "cli/main.ts"), "up", ...args], { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const l of b.toString("utf8").split("\n")) if (l.trim()) lines.push(l);
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  return {
    proc, lines,
    async waitFor(re, ms) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit || Date.now() > end || proc.exitCode !== null) return hit ?? null;
        await Bun.sleep(100);
      }
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** A default swanctl connection (no ports, no encap, default proposals), PSK for any identity. */
function charonConf(o: { initiator: boolean; localTs: string; remoteTs: string; remote?: string }): string {
  return `connections {
  vkv {
    ${o.initiator ? `remote_addrs = ${o.remote ?? "192.0.2.2"}` : ""}
    version = 2
    local { auth = psk }
    remote { auth = psk }
    children { vkvc {
      local_ts = ${o.localTs}
      remote_ts = ${o.remoteTs}
    } }
  }
}
secrets { ike-vkv { secret = "${README_PSK}" } }
`;
}

function ping(ns: string, src: string, dst: string): string {
  // -w: wait for every reply (with -W alone, once one reply came, ping waits only two RTTs for the rest: late replies under load count as lost)
  return nsx(ns, "ping", ["-c", "3", "-i", "0.2", "-W", "2", "-w", "10", "-I", src, dst], { allowFail: true, timeout: 20_000 });
}

const dump = (p: Proc, c?: Charon) => `vpnkit:\n${p.lines.slice(-40).join("\n")}\n${c ? `charon:\n${c.log().split("\n").slice(-40).join("\n")}` : ""}`;

run("README IKEv2 examples against strongSwan, and peer restart", () => {
  let dir = "";
  beforeAll(() => {
    topoUp();
    dir = mkdtempSync(join(tmpdir(), "vkv-server-"));
    writeFileSync(join(dir, "psk"), README_PSK + "\n");
  });
  afterAll(() => {
    topoDown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the README's commands are there and parse as expected", () => {
    const c = readmeIkeCommands();
    expect(c.initiator.slice(0, 2)).toEqual(["--peer", "192.0.2.2"]);
    expect(c.responder).toContain("--responder");
    expect(c.responder).not.toContain("--peer");
  });

  test("a charon client with a default connection reaches the README's vpnkit responder (ping both ways)", async () => {
    const { responder } = readmeIkeCommands();
    const v = vpnkit(B, dir, responder);
    const c = await startCharon(join(dir, "charon-i"), A);
    try {
      expect(await v.waitFor(/IKEv2 responder: waiting for any address on UDP 500 and 4500/, 15_000), dump(v)).not.toBeNull();
      writeFileSync(join(c.dir, "swanctl.conf"), charonConf({ initiator: true, localTs: "198.51.100.0/24", remoteTs: "203.0.113.0/24" }));
      expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
      const init = c.swanctl("--initiate", "--child", "vkvc", "--timeout", "20");
      expect(init.status, init.out + dump(v, c)).toBe(0);
      expect(await v.waitFor(/Child SA installed/, 10_000), dump(v, c)).not.toBeNull();
      // IKE_SA_INIT came on 500, the rest moved to 4500 after NAT-D (vpnkit announces a NAT: ESP in UDP)
      expect(c.log()).toMatch(/sending packet: from 192\.0\.2\.1\[500\] to 192\.0\.2\.2\[500\]/);
      expect(c.log()).toMatch(/sending packet: from 192\.0\.2\.1\[4500\] to 192\.0\.2\.2\[4500\]/);
      const ab = ping(A, "198.51.100.1", "203.0.113.1");
      expect(ab, dump(v, c)).toMatch(/ 0% packet loss/);
      const ba = ping(B, "203.0.113.1", "198.51.100.1");
      expect(ba, dump(v, c)).toMatch(/ 0% packet loss/);
    } finally {
      await v.stop();
      await c.stop();
    }
  }, 120_000);

  test("the README's responder under a flood of IKE_SA_INITs from 20 addresses: COOKIEs, bounded state, a charon client gets through", async () => {
    const { responder } = readmeIkeCommands();
    const v = vpnkit(B, dir, responder);
    const c = await startCharon(join(dir, "charon-flood"), A);
    const srcs = Array.from({ length: 20 }, (_, k) => `192.0.2.${10 + k}`);
    for (const a of srcs) sh("ip", ["-n", A, "addr", "add", `${a}/24`, "dev", `${A}e`]);
    try {
      expect(await v.waitFor(/IKEv2 responder: waiting/, 15_000), dump(v)).not.toBeNull();
      writeFileSync(join(c.dir, "swanctl.conf"), charonConf({ initiator: true, localTs: "198.51.100.0/24", remoteTs: "203.0.113.0/24" }));
      expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
      // 20,000 IKE_SA_INITs at 2,000/s (10 s)
      const flood = nsxAsync(A, BUN, [join(ROOT, "test/interop/ike-flood.ts"), "192.0.2.2", "20000", "2000", srcs.join(",")], 90_000);
      await Bun.sleep(2000);
      const during = await readStatus("/run/vpnkit-vpnkit0.sock");
      const init = c.swanctl("--initiate", "--child", "vkvc", "--timeout", "20");
      expect(init.status, init.out + dump(v, c)).toBe(0);
      expect(c.log()).toMatch(/received COOKIE notify/i);
      const out = await flood;
      const f = JSON.parse(out.trim().split("\n").pop()!) as { sent: number; cookie: number; init: number };
      const st = await readStatus("/run/vpnkit-vpnkit0.sock");
      const k = st.ike!;
      console.log(`[measured] flood: sent ${f.sent} in the flood, answered ${f.init} with IKE_SA_INIT and ${f.cookie} with COOKIE; vpnkit: ${JSON.stringify(k.manager.counters)}, drops ${JSON.stringify(k.drops)}, IKE SAs during the flood ${during.ike!.manager.sas}`);
      expect(f.sent).toBe(20_000);
      expect(f.init).toBeLessThanOrEqual(k.manager.limits.cookieThreshold);
      expect(f.cookie).toBeGreaterThan(15_000);
      expect(during.ike!.manager.sas).toBeLessThanOrEqual(k.manager.limits.cookieThreshold + 1);
      expect(k.ikeSas.filter((x) => x.state === "established").length).toBe(1);
      expect(k.ikeSas.find((x) => x.state === "established")!.remote).toBe("192.0.2.1:4500");
    } finally {
      await v.stop();
      await c.stop();
      for (const a of srcs) spawnSync("ip", ["-n", A, "addr", "del", `${a}/24`, "dev", `${A}e`]);
    }
  }, 180_000);

  test("the README's vpnkit initiator reaches a charon responder with a default connection (ping both ways)", async () => {
    const { initiator } = readmeIkeCommands();
    const c = await startCharon(join(dir, "charon-r"), B);
    writeFileSync(join(c.dir, "swanctl.conf"), charonConf({ initiator: false, localTs: "203.0.113.0/24", remoteTs: "198.51.100.0/24" }));
    expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
    const v = vpnkit(A, dir, initiator);
    try {
      expect(await v.waitFor(/Child SA installed/, 20_000), dump(v, c)).not.toBeNull();
      expect(v.lines.join("\n")).toMatch(/IKE_SA_INIT to 192\.0\.2\.2:500/);
      const ab = ping(A, "198.51.100.1", "203.0.113.1");
      expect(ab, dump(v, c)).toMatch(/ 0% packet loss/);
      const ba = ping(B, "203.0.113.1", "198.51.100.1");
      expect(ba, dump(v, c)).toMatch(/ 0% packet loss/);
      expect(readFileSync(join(dir, "keys.log"), "utf8").length).toBeGreaterThan(0);
    } finally {
      await v.stop();
      await c.stop();
    }
  }, 120_000);

  test("IPv6 outer: the README's initiator command toward charon's IPv6 address (IKE on [::]:500, then 4500)", async () => {
    const { initiator } = readmeIkeCommands();
    const args = initiator.map((x) => (x === "192.0.2.2" ? "2001:db8:1::2" : x));
    expect(args).toContain("2001:db8:1::2");
    const c = await startCharon(join(dir, "charon-r6"), B);
    writeFileSync(join(c.dir, "swanctl.conf"), charonConf({ initiator: false, localTs: "203.0.113.0/24", remoteTs: "198.51.100.0/24" }));
    expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
    const v = vpnkit(A, dir, args);
    try {
      expect(await v.waitFor(/Child SA installed/, 20_000), dump(v, c)).not.toBeNull();
      expect(c.log()).toMatch(/received packet: from 2001:db8:1::1\[500\] to 2001:db8:1::2\[500\]/);
      expect(c.log()).toMatch(/received packet: from 2001:db8:1::1\[4500\] to 2001:db8:1::2\[4500\]/);
      expect(ping(A, "198.51.100.1", "203.0.113.1"), dump(v, c)).toMatch(/ 0% packet loss/);
      expect(ping(B, "203.0.113.1", "198.51.100.1"), dump(v, c)).toMatch(/ 0% packet loss/);
    } finally {
      await v.stop();
      await c.stop();
    }
  }, 120_000);

  test("IPv6 outer: a charon client with a default connection reaches the README's responder at its IPv6 address (UDP 500 and 4500 bound on IPv4 and IPv6; ESP in UDP over IPv6)", async () => {
    const { responder } = readmeIkeCommands();
    const v = vpnkit(B, dir, responder);
    const c = await startCharon(join(dir, "charon-i6"), A);
    try {
      expect(await v.waitFor(/IKEv2 responder: waiting for any address on UDP 500 and 4500/, 15_000), dump(v)).not.toBeNull();
      // one wildcard socket of each family on both ports
      const ss = nsx(B, "ss", ["-H", "-uln"]);
      for (const a of ["0.0.0.0:500", "0.0.0.0:4500", "[::]:500", "[::]:4500"]) expect(ss.split("\n").some((l) => l.trim().split(/\s+/)[3] === a), `${a} not bound:\n${ss}`).toBe(true);
      expect(v.lines.join("\n")).toMatch(/IKE 0\.0\.0\.0:500 \[::\]:500, (plain ESP \(IP protocol 50\) IPv4\+IPv6 unless NAT or encap, )?0\.0\.0\.0:4500 \[::\]:4500 <->/);
      writeFileSync(join(c.dir, "swanctl.conf"), charonConf({ initiator: true, localTs: "198.51.100.0/24", remoteTs: "203.0.113.0/24", remote: "2001:db8:1::2" }));
      expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
      const init = c.swanctl("--initiate", "--child", "vkvc", "--timeout", "20");
      expect(init.status, init.out + dump(v, c)).toBe(0);
      expect(await v.waitFor(/Child SA installed/, 10_000), dump(v, c)).not.toBeNull();
      expect(c.log()).toMatch(/sending packet: from 2001:db8:1::1\[500\] to 2001:db8:1::2\[500\]/);
      expect(c.log()).toMatch(/sending packet: from 2001:db8:1::1\[4500\] to 2001:db8:1::2\[4500\]/);
      expect(c.log()).toMatch(/received packet: from 2001:db8:1::2\[4500\] to 2001:db8:1::1\[4500\]/);
      const st = await readStatus("/run/vpnkit-vpnkit0.sock");
      expect(st.ike!.ikeSas.find((x) => x.state === "established")?.remote, dump(v, c)).toBe("2001:db8:1::1:4500");
      expect(ping(A, "198.51.100.1", "203.0.113.1"), dump(v, c)).toMatch(/ 0% packet loss/);
      expect(ping(B, "203.0.113.1", "198.51.100.1"), dump(v, c)).toMatch(/ 0% packet loss/);
    } finally {
      await v.stop();
      await c.stop();
    }
  }, 120_000);

  test("charon responder SIGKILLed and restarted: the README's initiator (default settings) is back once its liveness check goes unanswered", async () => {
    const { initiator } = readmeIkeCommands();
    let c = await startCharon(join(dir, "charon-rs1"), B);
    const conf = charonConf({ initiator: false, localTs: "203.0.113.0/24", remoteTs: "198.51.100.0/24" });
    writeFileSync(join(c.dir, "swanctl.conf"), conf);
    expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
    const v = vpnkit(A, dir, initiator);
    try {
      expect(await v.waitFor(/Child SA installed/, 20_000), dump(v, c)).not.toBeNull();
      // a crash, not a shutdown (SIGTERM would delete the IKE SA first)
      c.proc.kill("SIGKILL");
      for (let k = 0; k < 50 && c.proc.exitCode === null && c.proc.signalCode === null; k++) await Bun.sleep(100);
      c = await startCharon(join(dir, "charon-rs2"), B);
      writeFileSync(join(c.dir, "swanctl.conf"), conf);
      expect(c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf")).status).toBe(0);
      const restarted = Date.now();
      const n = v.lines.filter((l) => /Child SA installed/.test(l)).length;
      for (let k = 0; k < 600 && v.lines.filter((l) => /Child SA installed/.test(l)).length === n; k++) await Bun.sleep(100);
      expect(v.lines.filter((l) => /Child SA installed/.test(l)).length, dump(v, c)).toBe(n + 1);
      console.log(`[measured] vpnkit initiator back ${((Date.now() - restarted) / 1000).toFixed(1)} s after charon restarted (default dpd 30 s; charon drops the DPD silently)`);
      expect(ping(A, "198.51.100.1", "203.0.113.1"), dump(v, c)).toMatch(/ 0% packet loss/);
    } finally {
      await v.stop();
      await c.stop();
    }
  }, 180_000);

  test("responder SIGKILLed and restarted: a default-settings initiator is back with a new IKE SA after its next DPD", async () => {
    const psk = join(dir, "psk");
    const rArgs = ["--responder", "--peer", "192.0.2.1", "--psk-file", psk, "--local-ts", "203.0.113.0/24", "--remote-ts", "198.51.100.0/24", "--tun-name", "vkvr", "--control", join(dir, "r.sock")];
    const iArgs = ["--peer", "192.0.2.2", "--psk-file", psk, "--local-ts", "198.51.100.0/24", "--remote-ts", "203.0.113.0/24", "--tun-name", "vkvi", "--control", join(dir, "i.sock")];
    let r = vpnkit(B, dir, rArgs);
    const i = vpnkit(A, dir, iArgs);
    try {
      expect(await r.waitFor(/Child SA installed/, 20_000), dump(r)).not.toBeNull();
      expect(await i.waitFor(/Child SA installed/, 20_000), dump(i)).not.toBeNull();
      expect(ping(A, "198.51.100.1", "203.0.113.1"), dump(i)).toMatch(/ 0% packet loss/);
      await r.stop("SIGKILL");
      spawnSync("ip", ["-n", B, "link", "del", "vkvr"]);
      rmSync(join(dir, "r.sock"), { force: true });
      r = vpnkit(B, dir, rArgs);
      expect(await r.waitFor(/IKEv2 responder: waiting/, 15_000), dump(r)).not.toBeNull();
      const restarted = Date.now();
      // default DPD (30 s after the last IKE message): INVALID_IKE_SPI, then a new IKE SA at once
      expect(await i.waitFor(/INVALID_IKE_SPI\): starting a new one/, 40_000), dump(i) + dump(r)).not.toBeNull();
      expect(await r.waitFor(/Child SA installed/, 10_000), dump(i) + dump(r)).not.toBeNull();
      const back = (Date.now() - restarted) / 1000;
      console.log(`[measured] tunnel back ${back.toFixed(1)} s after the responder restarted (default dpd 30 s)`);
      expect(ping(A, "198.51.100.1", "203.0.113.1"), dump(i) + dump(r)).toMatch(/ 0% packet loss/);
      expect(ping(B, "203.0.113.1", "198.51.100.1"), dump(i) + dump(r)).toMatch(/ 0% packet loss/);
    } finally {
      await i.stop();
      await r.stop();
    }
  }, 180_000);
});
