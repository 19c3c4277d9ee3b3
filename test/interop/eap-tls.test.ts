/**
 * EAP-TLS (RFC 5216) against a charon client set up as a native client would be (issue #15
 * Build 1): `local { auth = eap-tls; certs = client cert; eap_id }`, `remote { auth = pubkey }`.
 * The vpnkit responder (connection `auth = "eap-tls"`, the client CA in `cacerts`) signs
 * with its certificate, runs EAP-Identity and the TLS handshake in EAP-TLS (the client's
 * certificate chain checked with lib/ike/pki), keys AUTH with the MSK and hands out a
 * virtual IP; ping and iperf3 both ways. Client certificates from another CA, revoked by the
 * CA's CRL, or expired are each refused with one log line naming the cause and a fatal TLS
 * alert certificate_unknown in EAP-TLS, as charon's own EAP-TLS server does (RFC 5216
 * §2.1.3; charon's client then gives up without an answer; a client that acknowledges the
 * alert gets EAP-Failure + AUTHENTICATION_FAILED: test/ike/v2/sa/eap-tls.test.ts).
 *
 * Namespaces vke1 (charon client, 192.0.2.1) and vke2 (vpnkit server, 192.0.2.2).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makePki, type TestPki } from "../helpers/pki.ts";
import { type Charon, missingPrereq, nsx, startCharon, startVpnkit, topoDownPair, topoUpPair, type Vpnkit } from "./harness.ts";

const reason = missingPrereq();
const CI = process.env.CI === "true";
if (reason && CI) throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
const d = reason ? describe.skip : describe;

const C = "vke1", S = "vke2";
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
    local { auth = eap-tls
      certs = ${name}.crt
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
  const srv = spawn("ip", ["netns", "exec", to, "iperf3", "-s", "-1", "-B", target, "-p", "5298"], { stdio: "ignore" });
  try {
    Bun.sleepSync(300);
    return nsx(from, "iperf3", ["-c", target, "-B", bindTo, "-p", "5298", "-t", "2", "-b", "20M", ...(reverse ? ["-R"] : []), "--connect-timeout", "3000"], { allowFail: true, timeout: 20_000 });
  } finally {
    srv.kill("SIGKILL");
  }
}

/** A client certificate `name` for `user` (an rfc822 subjectAltName), its key in charon's store. */
function clientCert(cdir: string, name: string, issuer: string, user: string, args: string[] = []): void {
  P.issue(name, issuer, `C=CH, O=vpnkit test, CN=${user}`, ["--san", user, "--flag", "clientAuth", ...args]);
  copyFileSync(P.cert(name), join(cdir, "x509", `${name}.crt`));
  copyFileSync(P.key(name), join(cdir, "private", `${name}.key`));
}

d("EAP-TLS: charon as a native client would be, against a vpnkit responder", () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vke-eaptls-"));
    P = makePki(dir);
    P.issue("server", "root", "C=CH, O=vpnkit test, CN=vpn.example.org", ["--san", "vpn.example.org", "--flag", "serverAuth"]);
    // another CA the server does not trust, with the same kind of client certificate
    execFileSync("sh", ["-c", `pki --gen --type ecdsa --size 256 --outform pem > ${P.key("other")} && pki --self --ca --in ${P.key("other")} --dn "C=CH, O=elsewhere, CN=Other CA" --outform pem > ${P.cert("other")}`]);
    topoUpPair(C, S);
    const cdir = join(dir, "charon");
    for (const sub of ["x509ca", "x509", "private"]) mkdirSync(join(cdir, sub), { recursive: true });
    copyFileSync(P.cert("root"), join(cdir, "x509ca", "root.crt"));
    // carol's certificate comes from the intermediate CA: charon sends the chain, and with
    // fragment_size = 400 its flights arrive in EAP-TLS fragments that we acknowledge
    copyFileSync(P.cert("inter"), join(cdir, "x509ca", "inter.crt"));
    clientCert(cdir, "carol", "inter", "carol@example.org");
    clientCert(cdir, "mallory", "other", "mallory@example.org");
    clientCert(cdir, "revoked", "root", "rita@example.org");
    clientCert(cdir, "expired", "root", "ed@example.org", ["--not-before", "01.01.20 00:00:00", "--not-after", "01.01.21 00:00:00"]);
    mkdirSync(join(dir, "crl"));
    P.crl("root", ["revoked"], join(dir, "crl", "root.crl"));
    charon = await startCharon(cdir, C, { load: "random nonce openssl pem pkcs1 pkcs8 x509 pubkey constraints revocation kdf curve25519 eap-identity eap-tls kernel-libipsec kernel-netlink socket-default vici", conf: "eap-tls { fragment_size = 400 }" });
    writeFileSync(join(cdir, "swanctl.conf"), `connections {\n${client("carol", "carol@example.org")}${client("mallory", "mallory@example.org")}${client("revoked", "rita@example.org")}${client("expired", "ed@example.org")}}\n`);
    const r = charon.swanctl("--load-all", "--file", join(cdir, "swanctl.conf"));
    if (r.status !== 0) throw new Error(`swanctl --load-all: ${r.out}`);
    writeFileSync(join(dir, "server.toml"), `# vpnkit EAP-TLS server (test/interop/eap-tls.test.ts)
tun_name = "vketun"
tun_addr = ["10.98.0.1/24"]
control = "${join(dir, "server.sock")}"

[ike]
crl = ["${join(dir, "crl")}"]

[connections.rwtls]
local_id = "vpn.example.org"
auth = "eap-tls"
cacerts = ["${P.cert("root")}"]
certs = "${P.cert("server")}"
key = "${P.key("server")}"
pools = ["10.99.5.0/24"]
[connections.rwtls.children.net]
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

  const dump = () => `\nvpnkit:\n${server?.lines.slice(-40).join("\n")}\ncharon:\n${charon?.log().slice(-5000)}`;

  test("carol connects with her certificate: virtual IP, ping and iperf3 both ways, her identity as the EAP user", async () => {
    const r = charon!.swanctl("--initiate", "--child", "carolc", "--timeout", "20");
    expect(r.status, r.out + dump()).toBe(0);
    expect(charon!.log()).toContain("EAP method EAP_TLS succeeded");
    expect(charon!.log()).toContain("sending TLS intermediate certificate 'C=CH, O=vpnkit test, CN=vk Intermediate CA'");
    const sas = charon!.swanctl("--list-sas", "--ike", "carol").out;
    const vip = /\[(10\.99\.5\.\d+)\]/.exec(sas)?.[1];
    expect(vip, sas).toBeDefined();
    expect(await server!.waitFor(/EAP-TLS: "carol@example.org" authenticated with certificate "C=CH, O=vpnkit test, CN=carol@example.org" \(TLSv1\.2/, 5_000), dump()).not.toBeNull();
    expect(await server!.waitFor(/IKE SA established with carol@example.org \(EAP user "carol@example.org"\)/, 5_000), dump()).not.toBeNull();
    const st = nsx(S, process.execPath, [join(import.meta.dir, "../../cli/main.ts"), "status", "-s", join(dir, "server.sock")], { allowFail: true });
    expect(st, st).toContain("EAP: 'carol@example.org'");
    expect(nsx(C, "ping", ["-n", "-c", "3", "-i", "0.2", "-W", "2", "-I", vip!, "10.98.0.1"], { allowFail: true }), dump()).toContain(" 0% packet loss");
    for (const rev of [false, true]) {
      const out = iperf(C, S, vip!, "10.98.0.1", rev);
      expect(out, out + dump()).toMatch(/receiver/);
    }
    charon!.swanctl("--terminate", "--ike", "carol", "--timeout", "5");
  }, 120_000);

  test("client certificates from another CA, revoked, expired: a TLS alert as strongSwan's server sends (the client gives up on it), one line each naming the cause", async () => {
    const cases = [
      ["mallory", /EAP-TLS for "mallory@example.org": client certificate not trusted: .*(no trusted|issuer|chain)/i],
      ["revoked", /EAP-TLS for "rita@example.org": client certificate not trusted: .*revoked/],
      ["expired", /EAP-TLS for "ed@example.org": client certificate not trusted: .*expired on 2021-01-01/],
    ] as const;
    for (const [conn, why] of cases) {
      const mark = server!.lines.length;
      const r = charon!.swanctl("--initiate", "--child", `${conn}c`, "--timeout", "20");
      expect(r.status, r.out).not.toBe(0);
      await server!.waitFor(why, 5_000);
      const lines = server!.lines.slice(mark).filter((x) => /IKE_AUTH failed/.test(x));
      expect(lines.length, server!.lines.slice(mark).join("\n") + "\n" + charon!.log().slice(-3000)).toBe(1);
      expect(lines[0]).toMatch(why);
      expect(lines[0]).toContain("; sent TLS alert certificate_unknown");
    }
    expect(charon!.log().match(/received fatal TLS alert 'certificate unknown'/g)?.length).toBe(3);
  }, 120_000);
});
