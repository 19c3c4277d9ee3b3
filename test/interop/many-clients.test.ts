/**
 * Issue #12 acceptance: one `vpnkit up --responder --pool` serving many strongSwan road
 * warriors at once, some behind one NAT address.
 *
 * Namespaces (all "vkc*", deleted afterwards, also on failure):
 *   vkcr  a bridge (vkcbr) for the outer segment 192.0.2.0/24
 *   vkcs  vpnkit responder 192.0.2.1; TUN vkctun 10.98.0.1/24 + fd98::1/64, pools 10.99.0.0/24 + fd99::/64
 *   vkcp1..P  public clients 192.0.2.1x, one charon each
 *   vkcn  NAT router: outside 192.0.2.100 (iptables MASQUERADE), inside bridge 10.77.0.1/24
 *   vkcq1..Q  clients behind the NAT (10.77.0.1x), one charon each: the NAT maps their
 *             UDP 500/4500 to distinct ports of 192.0.2.100
 * Each charon (few plugins) runs PER_CHARON connections to the server with distinct IDs and
 * `vips = 0.0.0.0`: distinct IKE SAs from one address:port, each with its own virtual IP and
 * Child SA. All connections are initiated at the same time.
 *
 * Checks: every client gets a distinct virtual IP (charon's list-sas and vpnkit's status
 * agree); `vpnkit status --json` lists every IKE SA with its Child SA (selector = its virtual
 * IP) and the NATed clients' distinct ports on the NAT address; all clients at once ping the
 * server and every client of the other namespaces (client → vpnkit → client: the server's
 * kernel routes the pool back into the TUN and the engine picks the destination's child):
 * every pair answers and vpnkit loses nothing (no drop of any kind; the ESP packets
 * strongSwan's Child SAs sent = those vpnkit decrypted, and the other way round; echoes lost
 * inside the loaded clients, between ping and strongSwan's kernel-libipsec, are reported);
 * a client that disconnects (swanctl --terminate) frees its address (logged, gone from
 * status) and a new client gets it; a client that reconnects gets its address back; a
 * client asking for IPv4 and IPv6 (`vips = 0.0.0.0, ::`) gets one of each (CP
 * INTERNAL_IP6_ADDRESS) and pings the server over both.
 *
 * Skips without root/charon/iptables; fails instead under CI=true.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseNetnsLock, takeNetnsLock } from "../netns-lock.ts";
import { BUN, type Charon, missingPrereq, nsx, nsxAsync, ROOT, sh, startCharon } from "./harness.ts";
import type { IkeStatus } from "../../lib/tunnel/ike-driver.ts";

let reason = missingPrereq();
if (!reason && spawnSync("sh", ["-c", "command -v iptables"]).status !== 0) reason = "iptables not installed";
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
if (reason) console.warn(`[skip] test/interop/many-clients.test.ts: ${reason}`);
const run = reason ? describe.skip : describe;

const LOCK = "/run/vpnkit-vkc-netns.lock";
const PSK = "vkc-many-clients-psk-0123456789";
const PUBLIC = 3; // charon namespaces on the outer segment
const NATTED = 5; // charon namespaces behind the NAT router
const PER_CHARON = 3; // connections (IKE SAs) per charon
const SERVER = "192.0.2.1", NAT_OUT = "192.0.2.100", SERVER_INNER = "10.98.0.1", POOL = "10.99.0.0/24";
const SERVER_INNER6 = "fd98::1", POOL6 = "fd99::/64";

interface ClientNs {
  ns: string;
  addr: string;
  natted: boolean;
}

const clientNs: ClientNs[] = [
  ...Array.from({ length: PUBLIC }, (_, i) => ({ ns: `vkcp${i + 1}`, addr: `192.0.2.${11 + i}`, natted: false })),
  ...Array.from({ length: NATTED }, (_, i) => ({ ns: `vkcq${i + 1}`, addr: `10.77.0.${11 + i}`, natted: true })),
];
const ALL_NS = ["vkcr", "vkcs", "vkcn", ...clientNs.map((c) => c.ns)];

function cleanNs(): void {
  for (const ns of ALL_NS) spawnSync("ip", ["netns", "del", ns]);
}

function topoUp(): void {
  takeNetnsLock(LOCK, "vkc*");
  cleanNs();
  for (const ns of ALL_NS) {
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }
  sh("ip", ["-n", "vkcr", "link", "add", "vkcbr", "type", "bridge"]);
  sh("ip", ["-n", "vkcr", "link", "set", "vkcbr", "up"]);
  const plug = (ns: string, port: string, addr: string, bridgeNs: string, bridge: string) => {
    sh("ip", ["link", "add", port, "netns", bridgeNs, "type", "veth", "peer", "name", "vkce", "netns", ns]);
    sh("ip", ["-n", bridgeNs, "link", "set", port, "master", bridge]);
    sh("ip", ["-n", bridgeNs, "link", "set", port, "up"]);
    sh("ip", ["-n", ns, "addr", "add", addr, "dev", "vkce"]);
    sh("ip", ["-n", ns, "link", "set", "vkce", "up"]);
  };
  plug("vkcs", "vkcr-s", `${SERVER}/24`, "vkcr", "vkcbr");
  plug("vkcn", "vkcr-n", `${NAT_OUT}/24`, "vkcr", "vkcbr");
  // the NAT router: inside bridge, forwarding, MASQUERADE on the outside
  sh("ip", ["-n", "vkcn", "link", "add", "vkcnbr", "type", "bridge"]);
  sh("ip", ["-n", "vkcn", "addr", "add", "10.77.0.1/24", "dev", "vkcnbr"]);
  sh("ip", ["-n", "vkcn", "link", "set", "vkcnbr", "up"]);
  nsx("vkcn", "sysctl", ["-qw", "net.ipv4.ip_forward=1"]);
  nsx("vkcn", "iptables", ["-t", "nat", "-A", "POSTROUTING", "-o", "vkce", "-j", "MASQUERADE"]);
  clientNs.forEach((c, i) => {
    if (c.natted) {
      plug(c.ns, `vkcn-q${i}`, `${c.addr}/24`, "vkcn", "vkcnbr");
      sh("ip", ["-n", c.ns, "route", "add", "default", "via", "10.77.0.1"]);
    } else plug(c.ns, `vkcr-p${i}`, `${c.addr}/24`, "vkcr", "vkcbr");
    // charon puts IPv6 virtual IPs on vkce: usable at once (no duplicate address detection)
    for (const k of ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.vkce.accept_dad=0"]) nsx(c.ns, "sysctl", ["-qw", k]);
  });
  // the server forwards client → client back into the TUN (same interface in and out)
  for (const k of ["net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.default.send_redirects=0", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]) {
    nsx("vkcs", "sysctl", ["-qw", k]);
  }
}

function topoDown(): void {
  cleanNs();
  releaseNetnsLock(LOCK);
}

interface Proc {
  proc: ChildProcess;
  lines: string[];
  waitFor(re: RegExp, ms: number): Promise<string | null>;
  stop(): Promise<void>;
}

function vpnkit(ns: string, args: string[]): Proc {
  const proc = spawn("ip", ["netns", "exec", ns, BUN, join(ROOT, "cli/main.ts"), "up", ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** One connection (road warrior) of a charon. */
interface Client {
  ns: ClientNs;
  charon: Charon;
  conn: string;
  id: string;
  vip?: string;
}

function connConf(conn: string, id: string, v6 = false): string {
  return `  ${conn} {
    remote_addrs = ${SERVER}
    version = 2
    vips = 0.0.0.0${v6 ? ", ::" : ""}
    proposals = aes256gcm16-prfsha256-x25519
    local { auth = psk
      id = ${id} }
    remote { auth = psk }
    children { ${conn}c {
      local_ts = dynamic
      remote_ts = 10.98.0.0/24,${POOL}${v6 ? ",fd98::/64" : ""}
      esp_proposals = aes256gcm16
      start_action = none
    } }
  }
`;
}

function charonConf(conns: { conn: string; id: string; v6?: boolean }[]): string {
  return `connections {\n${conns.map((c) => connConf(c.conn, c.id, c.v6)).join("")}}\nsecrets { ike-vkc { secret = "${PSK}" } }\n`;
}

/** `swanctl ARGS` against `c` without blocking (many run at once). */
function swanctlAsync(c: Charon, ns: string, args: string[], ms = 60_000): Promise<string> {
  return nsxAsync(ns, "swanctl", [...args, "--uri", `unix://${join(c.dir, "charon.vici")}`], ms);
}

/** Load a swanctl.conf; a charon that made its vici socket may not listen yet: a few tries. */
async function load(c: Charon, conf: string): Promise<string> {
  writeFileSync(join(c.dir, "swanctl.conf"), conf);
  let r = { status: -1 as number | null, out: "" };
  for (let k = 0; k < 10; k++) {
    r = c.swanctl("--load-all", "--file", join(c.dir, "swanctl.conf"));
    if (r.status === 0) return r.out;
    await Bun.sleep(300);
  }
  throw new Error(`swanctl --load-all failed: ${r.out}`);
}

/** Each connection's virtual IP as charon lists it (`name: #n, ESTABLISHED ... local ... [vip]`). */
function vipsOf(c: Charon): Map<string, string> {
  const out = c.swanctl("--list-sas").out;
  const m = new Map<string, string>();
  let cur: string | null = null;
  for (const line of out.split("\n")) {
    const h = /^(\S+): #\d+, ESTABLISHED/.exec(line);
    if (h) cur = h[1];
    else if (/^\S/.test(line)) cur = null;
    const v = /^\s+local\s+'[^']*' @ \S+ \[(10\.99\.\d+\.\d+)\]/.exec(line);
    if (cur && v) m.set(cur, v[1]);
  }
  return m;
}

async function status(sock: string): Promise<{ ike: IkeStatus; counters?: unknown; io?: unknown }> {
  const out = await nsxAsync("vkcs", BUN, [join(ROOT, "cli/main.ts"), "status", "--json", "-s", sock], 30_000);
  return JSON.parse(out);
}

run("many road-warrior clients on one vpnkit responder (issue #12)", () => {
  let dir = "";
  let server: Proc | null = null;
  const charons: Charon[] = [];
  const clients: Client[] = [];
  const sock = () => join(dir, "server.sock");
  const dump = (extra = "") => `${extra}\nvpnkit:\n${server?.lines.slice(-60).join("\n") ?? ""}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vkc-many-"));
    topoUp();
    writeFileSync(join(dir, "psk"), PSK + "\n", { mode: 0o600 });
    server = vpnkit("vkcs", [
      "--responder", "--psk-file", join(dir, "psk"), "--pool", POOL, "--pool", POOL6, "--local-ts", "10.98.0.0/24", "--local-ts", POOL, "--local-ts", "fd98::/64",
      "--tun-addr", `${SERVER_INNER}/24`, "--tun-addr", `${SERVER_INNER6}/64`, "--tun-name", "vkctun", "--control", sock(),
    ]);
    // cheap charons: only the plugins a PSK + x25519 + AES-GCM client needs (8 of its
    // default 16 threads stay busy with kernel-libipsec, netlink, sockets and vici: keep 16)
    const started = await Promise.all(clientNs.map((ns) =>
      startCharon(join(dir, ns.ns), ns.ns, { load: "random nonce openssl kdf kernel-libipsec kernel-netlink socket-default vici" })
    ));
    charons.push(...started);
    await Promise.all(clientNs.map(async (ns, i) => {
      const conns = Array.from({ length: PER_CHARON }, (_, k) => ({ conn: `${ns.ns}k${k}`, id: `${ns.ns}k${k}@vkc.example` }));
      await load(started[i], charonConf(conns));
      for (const c of conns) clients.push({ ns, charon: started[i], conn: c.conn, id: c.id });
    }));
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await Promise.all(charons.map((c) => c.stop()));
    topoDown();
    if (dir && !process.env.VPNKIT_KEEP) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  test(`${(PUBLIC + NATTED) * PER_CHARON} clients (${NATTED * PER_CHARON} behind one NAT address) at once: distinct virtual IPs, status lists all, everyone pings the server and each other, vpnkit loses no packet`, async () => {
    expect(await server!.waitFor(/IKEv2 responder: waiting for any address/, 20_000), dump()).toMatch(/virtual IPs from 10\.99\.0\.0\/24 and fd99::\/64 \(65790 addresses\)/);
    const n = clients.length;
    expect(n).toBeGreaterThanOrEqual(20);
    // all at the same time
    const t0 = Date.now();
    const outs = await Promise.all(clients.map((c) => swanctlAsync(c.charon, c.ns.ns, ["--initiate", "--child", `${c.conn}c`, "--timeout", "60"], 70_000)));
    const upMs = Date.now() - t0;
    const failed = clients.filter((_, i) => !/completed successfully/.test(outs[i]));
    expect(failed.map((c) => c.conn), dump(failed.map((c) => outs[clients.indexOf(c)].split("\n").slice(-5).join("\n")).join("\n---\n"))).toEqual([]);
    for (const ch of charons) {
      const v = vipsOf(ch);
      for (const c of clients.filter((x) => x.charon === ch)) c.vip = v.get(c.conn);
    }
    const vips = clients.map((c) => c.vip);
    expect(vips.every((v) => v !== undefined), dump(JSON.stringify(vips))).toBe(true);
    expect(new Set(vips).size).toBe(n);

    // vpnkit status --json: every IKE SA, each with its Child SA and the client's virtual IP
    const st = (await status(sock())).ike;
    const est = st.ikeSas.filter((s) => s.state === "established");
    expect(est.length, JSON.stringify(st.ikeSas.map((s) => [s.remoteId, s.state]))).toBe(n);
    for (const c of clients) {
      const sa = est.find((s) => s.remoteId === c.id);
      expect(sa, c.id).toBeDefined();
      expect(sa!.virtualIp).toBe(c.vip!);
      expect(sa!.childSas.length).toBe(1);
      expect(sa!.childSas[0].remote).toBe(`${c.vip}/32`);
      if (c.ns.natted) expect(sa!.remote).toMatch(/^192\.0\.2\.100:\d+$/);
      else expect(sa!.remote).toBe(`${c.ns.addr}:4500`);
    }
    const natPorts = new Set(est.filter((s) => s.remote.startsWith(`${NAT_OUT}:`)).map((s) => s.remote));
    expect(natPorts.size).toBe(NATTED); // one NAT mapping per charon behind the NAT
    console.log(`[measured] ${n} clients initiated at once, all established in ${(upMs / 1000).toFixed(1)} s; NAT ${NAT_OUT} ports ${[...natPorts].map((p) => p.split(":")[1]).join(",")}; manager ${JSON.stringify(st.manager.counters)}`);

    // everyone at once: the server, then every client in another namespace (same-namespace
    // virtual IPs are local addresses there and would not cross the tunnel). `-c 2 -w 10`:
    // ping sends until 2 echoes are answered (at most 10 s); it prints any echo that went
    // unanswered as loss. With -W alone it would wait only two RTTs for the last reply once
    // one came, and a late reply on this loaded VM would count as lost.
    const script = (c: Client) => {
      const dests = [SERVER_INNER, ...clients.filter((x) => x.ns !== c.ns).map((x) => x.vip!)];
      return `for d in ${dests.join(" ")}; do r=$(ping -n -c 2 -i 0.2 -w 10 -I ${c.vip} $d 2>&1); rc=$?; s=$(echo "$r" | grep 'packets transmitted'); ` +
        `if [ $rc -ne 0 ]; then echo "FAIL $d: $s"; else case "$s" in *" 0% packet loss"*) echo "ok $d";; *) echo "LOSS $d: $s";; esac; fi; done`;
    };
    const t1 = Date.now();
    const results = await Promise.all(clients.map((c) => nsxAsync(c.ns.ns, "sh", ["-c", script(c)], 120_000)));
    const pingMs = Date.now() - t1;
    const lines = (tag: string) => results.flatMap((r, i) => r.split("\n").filter((l) => l.startsWith(tag)).map((l) => `${clients[i].conn} (${clients[i].vip}): ${l}`));
    const oks = lines("ok ").length, lossy = lines("LOSS "), unanswered = lines("FAIL ");
    const expected = clients.reduce((a, c) => a + 1 + clients.filter((x) => x.ns !== c.ns).length, 0);
    const after = await status(sock());
    const k = after.counters as { packetsIn: number; packetsOut: number; drops: Record<string, number> };
    // strongSwan's side (kernel-libipsec): ESP packets its Child SAs sent and received
    let swIn = 0, swOut = 0;
    for (const ch of charons) {
      for (const m of ch.swanctl("--list-sas").out.matchAll(/^\s+(in|out)\s+[0-9a-f]+(?:\s*\([^)]*\))?,\s+\d+ bytes,\s+(\d+) packets/gm)) {
        if (m[1] === "in") swIn += Number(m[2]);
        else swOut += Number(m[2]);
      }
    }
    const lostEchoes = lossy.reduce((a, l) => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(l);
      return a + (m ? Number(m[1]) - Number(m[2]) : 0);
    }, 0);
    console.log(`[measured] ${expected} ping pairs, all clients at once, in ${(pingMs / 1000).toFixed(1)} s: ${oks} without loss, ${lossy.length} answered after ${lostEchoes} lost echo(es), ${unanswered.length} unanswered; ESP: strongSwan sent ${swOut} / vpnkit decrypted ${k.packetsIn}, vpnkit sent ${k.packetsOut} / strongSwan received ${swIn}; vpnkit drops ${JSON.stringify(k.drops)}`);
    const diag = `${lossy.join("\n")}\n${unanswered.join("\n")}\nstrongSwan Child SAs: in ${swIn} packets, out ${swOut} packets\n${JSON.stringify({ counters: after.counters, io: after.io })}`;
    // every pair reachable through vpnkit
    expect(unanswered, dump(diag)).toEqual([]);
    expect(oks + lossy.length).toBe(expected);
    // vpnkit lost nothing: every ESP packet strongSwan's Child SAs sent was decrypted and
    // passed on, every packet vpnkit sent reached strongSwan's Child SAs, no drop of any kind
    expect(Object.values(k.drops).every((n) => n === 0), dump(diag)).toBe(true);
    expect([k.packetsIn, k.packetsOut], dump(diag)).toEqual([swOut, swIn]);
    // echoes lost end to end must then have been lost inside the clients, between ping and
    // strongSwan's kernel-libipsec (its TUN), which this VM under load does now and then
    // (seen: up to 20 of ~2,100 echoes at load 15 with both ESP counts equal): reported above
    expect(after.ike.drops["unknown-spi"] ?? 0).toBe(0);
  }, 150_000);

  test("a client that disconnects frees its address (logged, gone from status); a new client gets it; a reconnecting client keeps its own", async () => {
    expect(clients.every((c) => c.vip), "the first test established every client").toBe(true);
    // the client holding the lowest address: the pool hands out the lowest free one next
    const byAddr = [...clients].sort((a, b) => Number(a.vip!.split(".")[3]) - Number(b.vip!.split(".")[3]));
    const gone = byAddr.find((c) => c.ns.natted)!;
    const term = await swanctlAsync(gone.charon, gone.ns.ns, ["--terminate", "--ike", gone.conn, "--timeout", "20"], 30_000);
    expect(term, dump()).toMatch(/terminate completed successfully/);
    expect(await server!.waitFor(new RegExp(`virtual IP ${gone.vip!.replace(/\./g, "\\.")} released`), 10_000), dump()).not.toBeNull();
    const st = (await status(sock())).ike;
    expect(st.ikeSas.some((s) => s.remoteId === gone.id && s.state !== "dead")).toBe(false);
    expect(st.ikeSas.filter((s) => s.state === "established").length).toBe(clients.length - 1);
    // a new client (a new identity, in a public namespace) gets the freed address
    const host = clients.find((c) => !c.ns.natted)!;
    const fresh = { conn: "vkcnew", id: "vkcnew@vkc.example" };
    const conns = [...clients.filter((c) => c.charon === host.charon).map((c) => ({ conn: c.conn, id: c.id })), fresh];
    await load(host.charon, charonConf(conns));
    const init = await swanctlAsync(host.charon, host.ns.ns, ["--initiate", "--child", `${fresh.conn}c`, "--timeout", "30"], 40_000);
    expect(init, dump()).toMatch(/completed successfully/);
    const vNew = vipsOf(host.charon).get(fresh.conn);
    expect(vNew).toBe(gone.vip!);
    expect(server!.lines.some((l) => l.includes(`virtual IP ${gone.vip} assigned to "${fresh.id}"`)), dump()).toBe(true);
    const p = nsx(host.ns.ns, "ping", ["-n", "-c", "2", "-i", "0.2", "-w", "10", "-I", vNew!, SERVER_INNER], { allowFail: true, timeout: 20_000 });
    expect(p, dump(p)).toContain(" 0% packet loss");
    // the disconnected client comes back while its old address is taken: it gets another one
    const again = await swanctlAsync(gone.charon, gone.ns.ns, ["--initiate", "--child", `${gone.conn}c`, "--timeout", "30"], 40_000);
    expect(again, dump()).toMatch(/completed successfully/);
    const back = vipsOf(gone.charon).get(gone.conn);
    expect(back).toBeDefined();
    expect(back).not.toBe(gone.vip); // its old address went to the new client
    // a client that reconnects while its address is free gets it back
    const other = byAddr.find((c) => c.ns.natted && c !== gone && c.ns !== gone.ns)!;
    const term2 = await swanctlAsync(other.charon, other.ns.ns, ["--terminate", "--ike", other.conn, "--timeout", "20"], 30_000);
    expect(term2, dump()).toMatch(/terminate completed successfully/);
    expect(await server!.waitFor(new RegExp(`virtual IP ${other.vip!.replace(/\./g, "\\.")} released`), 10_000), dump()).not.toBeNull();
    const re = await swanctlAsync(other.charon, other.ns.ns, ["--initiate", "--child", `${other.conn}c`, "--timeout", "30"], 40_000);
    expect(re, dump()).toMatch(/completed successfully/);
    expect(vipsOf(other.charon).get(other.conn)).toBe(other.vip!); // reconnecting: the same address
    const p2 = nsx(other.ns.ns, "ping", ["-n", "-c", "2", "-i", "0.2", "-w", "10", "-I", other.vip!, back!], { allowFail: true, timeout: 20_000 });
    expect(p2, dump(p2)).toContain(" 0% packet loss");
    expect(server!.lines.filter((l) => /\berror: /.test(l)), dump()).toEqual([]);
  }, 120_000);

  test("a client asking for IPv4 and IPv6 (vips = 0.0.0.0, ::) gets one address of each pool and pings the server over both", async () => {
    const host = clients.find((c) => !c.ns.natted && c.ns !== clients.find((x) => !x.ns.natted)!.ns)!;
    const dual = { conn: "vkcdual", id: "vkcdual@vkc.example", v6: true };
    const conns = [...clients.filter((c) => c.charon === host.charon).map((c) => ({ conn: c.conn, id: c.id })), dual];
    await load(host.charon, charonConf(conns));
    const init = await swanctlAsync(host.charon, host.ns.ns, ["--initiate", "--child", `${dual.conn}c`, "--timeout", "30"], 40_000);
    expect(init, dump()).toMatch(/completed successfully/);
    const sas = host.charon.swanctl("--list-sas", "--ike", dual.conn).out;
    const m = /local\s+'vkcdual@vkc\.example' @ \S+ \[(10\.99\.\d+\.\d+) (fd99::[0-9a-f:]+)\]/.exec(sas);
    expect(m, sas + dump()).not.toBeNull();
    const [, v4, v6] = m!;
    expect(v6).toBe("fd99::1"); // the first address of the IPv6 pool
    expect(server!.lines.some((l) => l.includes(`virtual IP ${v6} assigned to "${dual.id}"`)), dump()).toBe(true);
    const st = (await status(sock())).ike;
    const sa = st.ikeSas.find((s) => s.remoteId === dual.id && s.state === "established")!;
    expect(sa).toBeDefined();
    expect([sa.virtualIp, sa.virtualIp6]).toEqual([v4, v6]);
    expect(sa.childSas[0].remote.split(",").sort()).toEqual([`${v4}/32`, `${v6}/128`]);
    const p6 = nsx(host.ns.ns, "ping", ["-6", "-n", "-c", "3", "-i", "0.2", "-w", "10", "-I", v6, SERVER_INNER6], { allowFail: true, timeout: 20_000 });
    expect(p6, p6 + dump()).toContain(" 0% packet loss");
    const p4 = nsx(host.ns.ns, "ping", ["-n", "-c", "3", "-i", "0.2", "-w", "10", "-I", v4, SERVER_INNER], { allowFail: true, timeout: 20_000 });
    expect(p4, p4 + dump()).toContain(" 0% packet loss");
    // terminated: both addresses go back to their pools
    const term = await swanctlAsync(host.charon, host.ns.ns, ["--terminate", "--ike", dual.conn, "--timeout", "20"], 30_000);
    expect(term, dump()).toMatch(/terminate completed successfully/);
    expect(await server!.waitFor(/virtual IP fd99::1 released/, 10_000), dump()).not.toBeNull();
  }, 90_000);
});
