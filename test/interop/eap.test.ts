/**
 * EAP-MSCHAPv2 against a charon client set up as the IKEv2 clients built into Windows,
 * macOS, iOS and Android are (issue #15 Build 1): `auth = eap-mschapv2` with a user name and
 * password, the server checked by its certificate. The vpnkit responder (connection
 * `auth = "eap-mschapv2"`, users in [secrets]) authenticates with its certificate, runs
 * EAP-Identity and EAP-MSCHAPv2, hands out a virtual IP; ping and iperf3 both ways. A wrong
 * password and an unknown user are each refused with EAP-Failure + AUTHENTICATION_FAILED and
 * one log line naming the cause.
 *
 * Namespaces vkh1 (charon client, 192.0.2.1) and vkh2 (vpnkit server, 192.0.2.2).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makePki, type TestPki } from "../helpers/pki.ts";
import { type Charon, missingPrereq, nsx, startCharon, startVpnkit, topoDownPair, topoUpPair, type Vpnkit } from "./harness.ts";

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
const d = reason ? describe.skip : describe;

const C = "vkh1", S = "vkh2";
const SERVER = "192.0.2.2";

let dir = "";
let P: TestPki;
let charon: Charon | null = null;
let server: Vpnkit | null = null;

function client(name: string, user: string): string {
  return `  ${name} {
    remote_addrs = ${SERVER}
    version = 2
    vips = 0.0.0.0
    proposals = aes256gcm16-prfsha256-x25519
    local { auth = eap-mschapv2
      eap_id = ${user}
      id = ${user} }
    remote { auth = pubkey
      id = vpn.example.org }
    children { ${name}c {
      local_ts = dynamic
      remote_ts = 10.98.0.0/24
      esp_proposals = aes256gcm16
      start_action = none } }
  }
`;
}

function iperf(from: string, to: string, bindTo: string, target: string, reverse: boolean): string {
  const srv = spawn("ip", ["netns", "exec", to, "iperf3", "-s", "-1", "-B", target, "-p", "5299"], { stdio: "ignore" });
  try {
    Bun.sleepSync(300);
    return nsx(from, "iperf3", ["-c", target, "-B", bindTo, "-p", "5299", "-t", "2", "-b", "20M", ...(reverse ? ["-R"] : []), "--connect-timeout", "3000"], { allowFail: true, timeout: 20_000 });
  } finally {
    srv.kill("SIGKILL");
  }
}

d("EAP-MSCHAPv2: charon as a native client would be, against a vpnkit responder", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vk-eap-"));
    P = makePki(dir);
    P.issue("server", "root", "C=CH, O=vpnkit test, CN=vpn.example.org", ["--san", "vpn.example.org", "--flag", "serverAuth"]);
    topoUpPair(C, S);
    const cdir = join(dir, "charon");
    for (const sub of ["x509ca", "x509", "private"]) mkdirSync(join(cdir, sub), { recursive: true });
    copyFileSync(P.cert("root"), join(cdir, "x509ca", "root.crt"));
    // charon's own certificate, for the last test (charon as the EAP server)
    P.issue("sw", "root", "C=CH, O=vpnkit test, CN=sw.example.org", ["--san", "sw.example.org"]);
    copyFileSync(P.cert("sw"), join(cdir, "x509", "sw.crt"));
    copyFileSync(P.key("sw"), join(cdir, "private", "sw.key"));
    charon = await startCharon(cdir, C, { load: "random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints revocation kdf curve25519 eap-identity eap-mschapv2 kernel-libipsec kernel-netlink socket-default vici" });
    writeFileSync(join(cdir, "swanctl.conf"), `connections {\n${client("alice", "alice")}}
secrets {
  eap-alice { id = alice
    secret = "alice-secret-password" }
}
`);
    const r = charon.swanctl("--load-all", "--file", join(cdir, "swanctl.conf"));
    if (r.status !== 0) throw new Error(`swanctl --load-all: ${r.out}`);
    writeFileSync(join(dir, "server.toml"), `# vpnkit EAP server (test/interop/eap.test.ts)
tun_name = "vkhtun"
tun_addr = ["10.98.0.1/24"]
control = "${join(dir, "server.sock")}"

[secrets]
"alice" = { eap_password = "alice-secret-password" }

[connections.rweap]
local_id = "vpn.example.org"
auth = "eap-mschapv2"
certs = "${P.cert("server")}"
key = "${P.key("server")}"
pools = ["10.99.3.0/24"]
[connections.rweap.children.net]
local_ts = ["10.98.0.0/24"]
`);
    server = startVpnkit(["-c", join(dir, "server.toml")], {}, S);
    const up = await server.waitFor(/IKEv2 responder: waiting/, 15_000);
    if (!up) throw new Error(`vpnkit did not start:\n${server.lines.join("\n")}`);
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
    await charon?.stop();
    topoDownPair(C, S);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const dump = () => `\nvpnkit:\n${server?.lines.slice(-40).join("\n")}\ncharon:\n${charon?.log().slice(-4000)}`;

  test("alice connects with her password: virtual IP, ping and iperf3 both ways, her user name in the log", async () => {
    const r = charon!.swanctl("--initiate", "--child", "alicec", "--timeout", "20");
    expect(r.status, r.out + dump()).toBe(0);
    expect(charon!.log()).toContain("EAP method EAP_MSCHAPV2 succeeded");
    const sas = charon!.swanctl("--list-sas", "--ike", "alice").out;
    const vip = /\[(10\.99\.3\.\d+)\]/.exec(sas)?.[1];
    expect(vip, sas).toBeDefined();
    expect(await server!.waitFor(/IKE SA established with alice \(EAP user "alice"\)/, 5_000), dump()).not.toBeNull();
    const st = nsx(S, process.execPath, [join(import.meta.dir, "../../cli/main.ts"), "status", "-s", join(dir, "server.sock")], { allowFail: true });
    expect(st, st).toContain("EAP: 'alice'");
    const js = JSON.parse(nsx(S, process.execPath, [join(import.meta.dir, "../../cli/main.ts"), "status", "--json", "-s", join(dir, "server.sock")]));
    expect(js.ike.ikeSas.map((x: { eapUser: string | null }) => x.eapUser)).toContain("alice");
    expect(nsx(C, "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip!, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
    for (const rev of [false, true]) {
      const out = iperf(C, S, vip!, "10.98.0.1", rev);
      expect(out, out + dump()).toMatch(/receiver/);
    }
    charon!.swanctl("--terminate", "--ike", "alice", "--timeout", "5");
  }, 120_000);

  test("a wrong password and an unknown user: EAP-Failure and AUTHENTICATION_FAILED, one line each naming the cause", async () => {
    // charon's secret for alice is now a wrong one; mallory is no user of the server
    writeFileSync(join(charon!.dir, "swanctl.conf"), `connections {\n${client("bad", "alice")}${client("mallory", "mallory")}}
secrets {
  eap-alice { id = alice
    secret = "not-the-password" }
  eap-mallory { id = mallory
    secret = "whatever-password" }
}
`);
    const l = charon!.swanctl("--load-all", "--clear", "--file", join(charon!.dir, "swanctl.conf"));
    expect(l.status, l.out).toBe(0);
    for (const [conn, why] of [["bad", /wrong password for EAP user "alice"/], ["mallory", /unknown EAP user "mallory"/]] as const) {
      const mark = server!.lines.length;
      const r = charon!.swanctl("--initiate", "--child", `${conn}c`, "--timeout", "20");
      expect(r.status, r.out).not.toBe(0);
      await server!.waitFor(why, 5_000);
      const lines = server!.lines.slice(mark).filter((x) => /IKE_AUTH failed/.test(x));
      expect(lines.length, server!.lines.slice(mark).join("\n") + "\n" + charon!.log().slice(-3000)).toBe(1);
      expect(lines[0]).toMatch(why);
      expect(lines[0]).toContain("EAP-Failure and AUTHENTICATION_FAILED");
    }
    expect(charon!.log()).toMatch(/parsed IKE_AUTH response 3 \[ EAP\/FAIL N\(AUTH_FAILED\) \]/);
  }, 120_000);

  test("a vpnkit initiator (--eap-user) reaches a charon server that requires EAP-MSCHAPv2: virtual IP, ping", async () => {
    await server?.stop();
    server = null;
    writeFileSync(join(charon!.dir, "swanctl.conf"), `connections { eapsrv {
  local_addrs = 192.0.2.1
  version = 2
  proposals = aes256gcm16-prfsha256-x25519
  pools = eappool
  local { auth = pubkey
    certs = sw.crt
    id = sw.example.org }
  remote { auth = eap-mschapv2
    eap_id = %any }
  children { eapsrvc { local_ts = 10.2.0.0/24
    esp_proposals = aes256gcm16
    start_action = none } } } }
pools { eappool { addrs = 10.99.4.7/32 } }
secrets { eap-alice { id = alice
  secret = "alice-secret-password" } }
`);
    const l = charon!.swanctl("--load-all", "--clear", "--file", join(charon!.dir, "swanctl.conf"));
    expect(l.status, l.out).toBe(0);
    writeFileSync(join(dir, "alice.pw"), "alice-secret-password\n", { mode: 0o600 });
    const v = startVpnkit([
      "--local", SERVER, "--peer", "192.0.2.1", "--eap-user", "alice", "--eap-password-file", join(dir, "alice.pw"), "--ca", P.cert("root"),
      "--local-id", "alice", "--remote-id", "sw.example.org", "--virtual-ip", "--remote-ts", "10.2.0.0/24", "--tun-name", "vkhtun",
      "--control", join(dir, "client.sock"),
    ], {}, S);
    try {
      const hit = await v.waitFor(/Child SA installed|IKE_AUTH failed/, 20_000);
      expect(hit, v.lines.join("\n") + charon!.log().slice(-3000)).toMatch(/Child SA installed/);
      expect(charon!.log()).toMatch(/EAP method EAP_MSCHAPV2 succeeded/);
      expect(v.lines.some((x) => /IKE SA established with sw\.example\.org \(EAP user "alice"\)/.test(x)), v.lines.join("\n")).toBe(true);
      let ok = false;
      for (let k = 0; k < 20 && !ok; k++) {
        ok = nsx(S, "ping", ["-n", "-c", "1", "-W", "1", "-I", "10.99.4.7", "10.2.0.1"], { allowFail: true }).includes(" 0% packet loss");
        if (!ok) await Bun.sleep(200);
      }
      expect(ok, v.lines.join("\n")).toBe(true);
    } finally {
      await v.stop();
    }
  }, 120_000);
});
