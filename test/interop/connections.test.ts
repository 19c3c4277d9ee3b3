/**
 * Issue #12 Build 3 and issue #14 Build 4 against real charon clients: a vpnkit responder
 * configured with named connections ([connections.NAME], [secrets]) and reloaded on SIGHUP.
 *
 * Namespaces (all "vkg*", deleted afterwards, also on failure):
 *   vkgr  a bridge (vkgbr) for the outer segment 192.0.2.0/24
 *   vkgs  vpnkit responder 192.0.2.1; TUN vkgtun 10.98.0.1/24
 *   vkga  charon "alice@psk.example" (PSK), 192.0.2.11; also "mallory@evil.example"
 *   vkgb  charon "bob.example.org" (certificate from a CA made with pki here), 192.0.2.12
 *
 * Connections: rwpsk (remote_id *@psk.example, PSK from [secrets], pool 10.99.1.0/24) and
 * rwcert (auth pubkey, cacerts, pool 10.99.2.0/24). Each client lands on its connection,
 * gets an address from that connection's pool and pings the server; an unknown ID is
 * refused with AUTHENTICATION_FAILED and one log line.
 *
 * Reload (#14 acceptance): a ping runs through connection A (rwpsk) while SIGHUP adds
 * connection B (rwcert) and changes an unrelated key (ike.dpd): A loses nothing and keeps
 * its IKE SA, B comes up. Then an invalid config on SIGHUP (and through `vpnkit reload`)
 * leaves everything as it was and logs why.
 *
 * Skips without root/charon/pki; fails instead under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { BUN, type Charon, missingPrereq, nsx, nsxAsync, ROOT, sh, startCharon } from "./harness.ts";
import type { IkeStatus } from "../../lib/tunnel/ike-driver.ts";

let reason = missingPrereq();
if (!reason && !existsSync("/usr/bin/pki")) reason = "strongSwan pki not installed";
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
if (reason) console.warn(`[skip] test/interop/connections.test.ts: ${reason}`);
const run = reason ? describe.skip : describe;

const LOCK = "/run/vpnkit-vkg-netns.lock";
const ALL_NS = ["vkgr", "vkgs", "vkga", "vkgb"];
const SERVER = "192.0.2.1";
const PSK_ALICE = "vkg-alice-pre-shared-key-0123456789";
const PSK_MALLORY = "vkg-mallory-pre-shared-key-0123456789";

function cleanNs(): void {
  for (const ns of ALL_NS) spawnSync("ip", ["netns", "del", ns]);
}

function topoUp(): void {
  takeNetnsLock(LOCK, "vkg*");
  cleanNs();
  for (const ns of ALL_NS) {
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }
  sh("ip", ["-n", "vkgr", "link", "add", "vkgbr", "type", "bridge"]);
  sh("ip", ["-n", "vkgr", "link", "set", "vkgbr", "up"]);
  for (const [ns, addr] of [["vkgs", SERVER], ["vkga", "192.0.2.11"], ["vkgb", "192.0.2.12"]]) {
    const port = `vkgr-${ns.slice(3)}`;
    sh("ip", ["link", "add", port, "netns", "vkgr", "type", "veth", "peer", "name", "vkge", "netns", ns]);
    sh("ip", ["-n", "vkgr", "link", "set", port, "master", "vkgbr"]);
    sh("ip", ["-n", "vkgr", "link", "set", port, "up"]);
    sh("ip", ["-n", ns, "addr", "add", `${addr}/24`, "dev", "vkge"]);
    sh("ip", ["-n", ns, "link", "set", "vkge", "up"]);
  }
}

function topoDown(): void {
  cleanNs();
  releaseNetnsLock(LOCK);
}

interface Proc {
  proc: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, ms: number, from?: number): Promise<string | null>;
  stop(): Promise<void>;
}

function vpnkit(args: string[]): Proc {
  const proc = spawn("ip", ["netns", "exec", "vkgs", BUN, join(ROOT, "cli/main.ts"), "up", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  const onData = (b: Buffer) => {
    for (const l of b.toString("utf8").split("\n")) if (l.trim()) lines.push(l);
  };
  proc.stdout!.on("data", onData);
  proc.stderr!.on("data", onData);
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  return {
    proc, lines,
    async waitFor(re, ms, from = 0) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = lines.slice(from).find((l) => re.test(l));
        if (hit || Date.now() > end || proc.exitCode !== null) return hit ?? null;
        await Bun.sleep(100);
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** The server's configuration: connection A (PSK) always, B (certificates) when asked. */
function serverToml(dir: string, o: { withB: boolean; dpd: number; broken?: boolean }): string {
  return `# vpnkit server with named connections (test/interop/connections.test.ts)
tun_name = "vkgtun"
tun_addr = ["10.98.0.1/24"]
control = "${join(dir, "server.sock")}"

[ike]
dpd = ${o.dpd}

[secrets]
"*@psk.example" = { psk_file = "${join(dir, "alice.psk")}" }
"mallory@evil.example" = { psk = "${PSK_MALLORY}" }

[connections.rwpsk]
local_id = "vpn.example.org"
remote_id = "*@psk.example"
auth = "psk"
pools = ["10.99.1.0/24"]
[connections.rwpsk.children.net]
local_ts = ["10.98.0.0/24"]
${o.withB ? `
[connections.rwcert]
local_id = "vpn.example.org"
remote_id = "*.example.org"
auth = "pubkey"
certs = "${join(dir, "pki/server.crt")}"
key = "${join(dir, "pki/server.key")}"
cacerts = ["${join(dir, "pki/ca.crt")}"]
pools = ["10.99.2.0/24"]
[connections.rwcert.children.net]
local_ts = ["10.98.0.0/24"]
` : ""}${o.broken ? `
[connections.broken]
auth = "eap"
[connections.broken.children.net]
local_ts = ["10.98.0.0/24"]
` : ""}`;
}

function charonA(): string {
  const conn = (name: string, id: string) => `  ${name} {
    remote_addrs = ${SERVER}
    version = 2
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    local { auth = psk
      id = ${id} }
    remote { auth = psk
      id = vpn.example.org }
    children { ${name}c {
      local_ts = dynamic
      remote_ts = 10.98.0.0/24
      esp_proposals = aes256gcm16
      start_action = none
    } }
  }
`;
  return `connections {\n${conn("alice", "alice@psk.example")}${conn("mallory", "mallory@evil.example")}}
secrets {
  ike-alice { id = alice@psk.example
    secret = "${PSK_ALICE}" }
  ike-mallory { id = mallory@evil.example
    secret = "${PSK_MALLORY}" }
}
`;
}

function charonB(): string {
  return `connections {
  bob {
    remote_addrs = ${SERVER}
    version = 2
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    local { auth = pubkey
      certs = bob.crt
      id = bob.example.org }
    remote { auth = pubkey
      id = vpn.example.org }
    children { bobc {
      local_ts = dynamic
      remote_ts = 10.98.0.0/24
      esp_proposals = aes256gcm16
      start_action = none
    } }
  }
}
`;
}

async function load(c: Charon, conf: string): Promise<void> {
  writeFileSync(join(c.dir, "swanctl.conf"), conf);
  let r = { status: -1 as number | null, out: "" };
  for (let k = 0; k < 10; k++) {
    r = c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf"));
    if (r.status === 0) return;
    await Bun.sleep(300);
  }
  throw new Error(`swanctl --load-all failed: ${r.out}`);
}

/** The virtual IP charon got for connection `name`, and its IKE SA's SPIs. */
function saOf(c: Charon, name: string): { vip: string | null; spi: string | null } {
  const out = c.swanctl("--list-sas", "--ike", name).out;
  const vip = /local\s+'[^']*' @ \S+ \[(10\.99\.\d+\.\d+)\]/.exec(out)?.[1] ?? null;
  const spi = /ESTABLISHED, IKEv2, (\S+)/.exec(out)?.[1] ?? null;
  return { vip, spi };
}

async function status(sock: string): Promise<{ ike: IkeStatus }> {
  return JSON.parse(await nsxAsync("vkgs", BUN, [join(ROOT, "cli/main.ts"), "status", "--json", "-s", sock], 30_000));
}

function makePki(dir: string): void {
  const pki = (cmd: string) => sh("sh", ["-c", cmd]);
  const p = join(dir, "pki");
  mkdirSync(p, { recursive: true });
  pki(`pki --gen --type ecdsa --size 256 --outform pem > ${p}/ca.key`);
  pki(`pki --self --ca --lifetime 30 --in ${p}/ca.key --type ecdsa --dn "C=XX, O=vpnkit, CN=vkg test CA" --outform pem > ${p}/ca.crt`);
  pki(`pki --gen --type ed25519 --outform pem > ${p}/server.key`);
  pki(`pki --pub --in ${p}/server.key --type priv | pki --issue --lifetime 30 --cacert ${p}/ca.crt --cakey ${p}/ca.key --dn "C=XX, O=vpnkit, CN=vpn.example.org" --san vpn.example.org --outform pem > ${p}/server.crt`);
  // charon B's credentials where swanctl --load-all finds them (next to its swanctl.conf)
  const b = join(dir, "vkgb");
  for (const sub of ["x509", "x509ca", "private"]) mkdirSync(join(b, sub), { recursive: true });
  pki(`pki --gen --type ecdsa --size 256 --outform pem > ${b}/private/bob.key`);
  pki(`pki --pub --in ${b}/private/bob.key --type ecdsa | pki --issue --lifetime 30 --cacert ${p}/ca.crt --cakey ${p}/ca.key --dn "C=XX, O=vpnkit, CN=bob.example.org" --san bob.example.org --outform pem > ${b}/x509/bob.crt`);
  pki(`cp ${p}/ca.crt ${b}/x509ca/ca.crt && chmod 600 ${p}/server.key ${p}/ca.key ${b}/private/bob.key`);
}

run("named connections and reload against charon clients (issues #12, #14)", () => {
  let dir = "";
  let a: Charon | null = null, b: Charon | null = null;
  let server: Proc | null = null;
  const cfgFile = () => join(dir, "server.toml");
  const dump = () => `\nvpnkit:\n${server?.lines.slice(-60).join("\n") ?? ""}\ncharon A:\n${a?.log().slice(-3000) ?? ""}\ncharon B:\n${b?.log().slice(-3000) ?? ""}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vkg-conn-"));
    topoUp();
    makePki(dir);
    writeFileSync(join(dir, "alice.psk"), PSK_ALICE + "\n", { mode: 0o600 });
    const plugins = "random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints kdf curve25519 kernel-libipsec kernel-netlink socket-default vici";
    a = await startCharon(join(dir, "vkga"), "vkga", { load: plugins });
    b = await startCharon(join(dir, "vkgb"), "vkgb", { load: plugins });
    await load(a, charonA());
    await load(b, charonB());
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await a?.stop();
    await b?.stop();
    topoDown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("two clients land on their own connection (PSK from [secrets], certificate with a CA) with their own pool; an unknown ID is refused", async () => {
    writeFileSync(cfgFile(), serverToml(dir, { withB: true, dpd: 30 }), { mode: 0o600 });
    server = vpnkit(["-c", cfgFile()]);
    try {
      expect(await server.waitFor(/IKEv2 responder: waiting/, 15_000), dump()).not.toBeNull();
      expect(server.lines.filter((l) => /warn/.test(l)), dump()).toEqual([]);
      expect(server.lines.some((l) => /connection rwpsk: \*@psk\.example \(psk\)/.test(l)), dump()).toBe(true);
      const [ra, rb] = await Promise.all([
        nsxAsync("vkga", "swanctl", ["--initiate", "--child", "alicec", "--timeout", "20", "--uri", `unix://${join(a!.dir, "charon.vici")}`]),
        nsxAsync("vkgb", "swanctl", ["--initiate", "--child", "bobc", "--timeout", "20", "--uri", `unix://${join(b!.dir, "charon.vici")}`]),
      ]);
      expect(ra, dump()).toContain("initiate completed successfully");
      expect(rb, dump()).toContain("initiate completed successfully");
      const va = saOf(a!, "alice").vip, vb = saOf(b!, "bob").vip;
      expect(va, dump()).toMatch(/^10\.99\.1\.\d+$/);
      expect(vb, dump()).toMatch(/^10\.99\.2\.\d+$/);
      expect(b!.log()).toContain("authentication of 'vpn.example.org' with ED25519 successful");
      for (const [ns, vip] of [["vkga", va!], ["vkgb", vb!]]) {
        expect(nsx(ns, "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
      }
      const st = await status(join(dir, "server.sock"));
      const byConn = new Map(st.ike.ikeSas.map((s) => [s.remoteId, s]));
      expect(byConn.get("alice@psk.example")?.connection, dump()).toBe("rwpsk");
      expect(byConn.get("bob.example.org")?.connection, dump()).toBe("rwcert");
      expect(byConn.get("alice@psk.example")?.name).toMatch(/^rwpsk#\d+$/);

      // mallory has a PSK in [secrets] but no connection takes "*@evil.example"
      const mark = server.lines.length;
      const rm = nsx("vkga", "swanctl", ["--initiate", "--child", "malloryc", "--timeout", "15", "--uri", `unix://${join(a!.dir, "charon.vici")}`], { allowFail: true });
      expect(rm).not.toContain("initiate completed successfully");
      expect(a!.log()).toContain("received AUTHENTICATION_FAILED notify error");
      await server.waitFor(/no connection matches/, 5000, mark);
      const why = server.lines.slice(mark).filter((l) => /mallory/.test(l));
      expect(why.length, dump()).toBe(1);
      expect(why[0]).toContain('IKE SA failed: IKE_AUTH failed: no connection matches peer "mallory@evil.example" from 192.0.2.11; sent AUTHENTICATION_FAILED');
      for (const c of [["vkga", a!, "alice"], ["vkgb", b!, "bob"]] as const) c[1].swanctl("--terminate", "--ike", c[2], "--timeout", "10");
    } finally {
      await server.stop();
      server = null;
    }
  }, 120_000);

  test("SIGHUP adds connection B and changes ike.dpd while A pings: A loses nothing, keeps its IKE SA, B comes up; an invalid config is refused and changes nothing", async () => {
    writeFileSync(cfgFile(), serverToml(dir, { withB: false, dpd: 30 }), { mode: 0o600 });
    server = vpnkit(["-c", cfgFile()]);
    try {
      expect(await server.waitFor(/IKEv2 responder: waiting/, 15_000), dump()).not.toBeNull();
      const ra = await nsxAsync("vkga", "swanctl", ["--initiate", "--child", "alicec", "--timeout", "20", "--uri", `unix://${join(a!.dir, "charon.vici")}`]);
      expect(ra, dump()).toContain("initiate completed successfully");
      const before = saOf(a!, "alice");
      expect(before.vip, dump()).toMatch(/^10\.99\.1\.\d+$/);
      // B is not configured yet: refused
      const rb0 = nsx("vkgb", "swanctl", ["--initiate", "--child", "bobc", "--timeout", "10", "--uri", `unix://${join(b!.dir, "charon.vici")}`], { allowFail: true });
      expect(rb0).not.toContain("initiate completed successfully");

      // 600 echoes, one every 20 ms (12 s), through connection A while the config is reloaded
      const ping = nsxAsync("vkga", "ping", ["-n", "-q", "-c", "600", "-i", "0.02", "-W", "2", "-I", before.vip!, "10.98.0.1"], 60_000);
      await Bun.sleep(2000);
      const mark = server.lines.length;
      writeFileSync(cfgFile(), serverToml(dir, { withB: true, dpd: 25 }), { mode: 0o600 });
      server.proc.kill("SIGHUP");
      expect(await server.waitFor(/reload: /, 10_000, mark), dump()).toBe(server.lines.slice(mark).find((l) => /reload: /.test(l))!);
      const applied = server.lines.slice(mark).find((l) => /reload: added/.test(l));
      expect(applied, dump()).toContain("reload: added rwcert; unchanged rwpsk; applied ike.dpd, routes");
      const rb = await nsxAsync("vkgb", "swanctl", ["--initiate", "--child", "bobc", "--timeout", "20", "--uri", `unix://${join(b!.dir, "charon.vici")}`]);
      expect(rb, dump()).toContain("initiate completed successfully");
      const vb = saOf(b!, "bob").vip;
      expect(vb, dump()).toMatch(/^10\.99\.2\.\d+$/);
      expect(nsx("vkgb", "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vb!, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
      const out = await ping;
      expect(out, dump()).toContain("600 packets transmitted, 600 received, 0% packet loss");
      // A's IKE SA is the one from before (not deleted, not renegotiated)
      expect(saOf(a!, "alice"), dump()).toEqual(before);
      expect(server.lines.slice(mark).filter((l) => /deleting it|IKE SA closed/.test(l)), dump()).toEqual([]);

      // an invalid configuration: refused with the reason, everything stays
      const st0 = await status(join(dir, "server.sock"));
      const mark2 = server.lines.length;
      writeFileSync(cfgFile(), serverToml(dir, { withB: false, dpd: 10, broken: true }), { mode: 0o600 });
      server.proc.kill("SIGHUP");
      const refused = await server.waitFor(/reload refused/, 10_000, mark2);
      expect(refused, dump()).toContain('reload refused: config: connections.broken.auth: must be "psk", "pubkey", "eap-mschapv2" or "eap-tls", not "eap"; the running configuration stays');
      // the same through the control socket: exit 1 and the reason
      const r = spawnSync("ip", ["netns", "exec", "vkgs", BUN, join(ROOT, "cli/main.ts"), "reload", "--control", join(dir, "server.sock")], { encoding: "utf8", timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('vpnkit reload: reload refused: config: connections.broken.auth: must be "psk", "pubkey", "eap-mschapv2" or "eap-tls"');
      const st1 = await status(join(dir, "server.sock"));
      const sas = (s: { ike: IkeStatus }) => s.ike.ikeSas.map((x) => `${x.connection} ${x.spi} ${x.state} ${x.childSas.map((c) => c.spiIn).join(",")}`).sort();
      expect(sas(st1)).toEqual(sas(st0));
      expect(st1.ike.ikeSas.length).toBe(2);
      expect(saOf(a!, "alice")).toEqual(before);
      expect(nsx("vkga", "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", before.vip!, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
      expect(nsx("vkgb", "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vb!, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
      // and a valid reload through `vpnkit reload`: B removed → its IKE SA is deleted, A stays
      writeFileSync(cfgFile(), serverToml(dir, { withB: false, dpd: 25 }), { mode: 0o600 });
      const r2 = spawnSync("ip", ["netns", "exec", "vkgs", BUN, join(ROOT, "cli/main.ts"), "reload", "--control", join(dir, "server.sock")], { encoding: "utf8", timeout: 30_000 });
      expect(r2.stdout, r2.stderr + dump()).toContain("vpnkit reload: reload: removed rwcert; unchanged rwpsk");
      expect(r2.status).toBe(0);
      expect(await server.waitFor(/connection rwcert\) removed: deleting it/, 5000, mark2), dump()).not.toBeNull();
      for (let k = 0; k < 50 && saOf(b!, "bob").spi !== null; k++) await Bun.sleep(100);
      expect(saOf(b!, "bob").spi, dump()).toBeNull();
      expect(saOf(a!, "alice")).toEqual(before);
    } finally {
      await server.stop();
      server = null;
    }
  }, 180_000);
});
