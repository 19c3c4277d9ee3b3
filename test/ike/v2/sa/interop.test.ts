/**
 * Interop smoke test: our IkeSa initiator (driven by a tiny node:dgram loop,
 * interop-driver.ts) against a real strongSwan charon responder, over a veth pair
 * between network namespaces "vi4c<pid>" (charon) and "vi4u<pid>" (us), deleted afterwards. Establish with PSK,
 * check `swanctl --list-sas`, rekey the Child SA, DPD, delete. Then the other way round:
 * charon initiates to our IkeSa responder (interop-responder.ts), rekeys and terminates.
 * charon uses kernel-libipsec (the kernel here may lack XFRM); its TUN device lives in the namespace.
 * Needs root, ip(8), charon and swanctl; skips with a reason otherwise (fails with CI=true).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createInterface } from "node:readline";

const CHARON = "/usr/lib/ipsec/charon";
const NS = `vi4c${process.pid % 1000000}`; // charon
const NS2 = `vi4u${process.pid % 1000000}`; // our side (driver processes)
const why = process.getuid?.() !== 0 ? "not root" : !existsSync(CHARON) ? "no charon" : !existsSync("/usr/sbin/swanctl") && spawnSync("which", ["swanctl"]).status !== 0 ? "no swanctl" : spawnSync("ip", ["netns", "list"]).status !== 0 ? "no ip netns" : "";
if (why && process.env.CI === "true") throw new Error(`interop prerequisite missing: ${why}`);
const maybe = why ? test.skip : test;
if (why) console.warn(`skipping strongSwan interop: ${why}`);

const dir = why ? "" : mkdtempSync(`${tmpdir()}/vi4ike-`);
let charon: ChildProcess | null = null;

function sh(cmd: string[], timeout = 30000): { status: number | null; out: string } {
  const r = spawnSync(cmd[0], cmd.slice(1), { timeout, encoding: "utf8" });
  return { status: r.status, out: (r.stdout ?? "") + (r.stderr ?? "") };
}
const swanctl = (...args: string[]) => sh(["ip", "netns", "exec", NS, "swanctl", ...args, "--uri", `unix://${dir}/charon.vici`]);

function cleanup(): void {
  if (charon?.pid) {
    try { process.kill(charon.pid, "SIGTERM"); } catch { /* gone */ }
  }
  sh(["ip", "netns", "del", NS]);
  sh(["ip", "netns", "del", NS2]);
  if (dir && !process.env.VPNKIT_KEEP) rmSync(dir, { recursive: true, force: true });
}
afterAll(cleanup);

const PSK = "vpnkit-interop-psk-0123456789";

/** ESP keys charon logged (chd = 4: "encryption initiator/responder key" hex dumps), as hex, by direction. */
function charonEspKeys(log: string): { i2r: Set<string>; r2i: Set<string> } {
  const out = { i2r: new Set<string>(), r2i: new Set<string>() };
  const lines = log.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i].match(/\] encryption (initiator|responder) key => (\d+) bytes/);
    if (!m) continue;
    let hex = "";
    for (let j = i + 1; j < lines.length && hex.length < 2 * Number(m[2]); j++) {
      const d = lines[j].match(/\]\s+\d+: ((?:[0-9A-F]{2} ?)+)/);
      if (!d) break;
      hex += d[1].replace(/ /g, "").toLowerCase();
    }
    (m[1] === "initiator" ? out.i2r : out.r2i).add(hex);
  }
  return out;
}

/** swanctl.conf with one connection from charon (192.0.2.1, id vf2/sw) to us (192.0.2.2) and the PSK secret. */
function swanctlConf(o: { name: string; child: string; proposals: string; esp: string; auth: string; local: string; remote: string; psk?: boolean; localTs?: string }): string {
  return `connections {
  ${o.name} {
    local_addrs = 192.0.2.1
    remote_addrs = 192.0.2.2
    version = 2
    proposals = ${o.proposals}
    local { auth = ${o.auth}
      ${o.local} }
    remote { auth = ${o.auth}
      ${o.remote} }
    children { ${o.child} {
      local_ts = ${o.localTs ?? "10.2.0.0/24"}
      remote_ts = 10.1.0.0/24
      esp_proposals = ${o.esp}
    } }
  }
}
` + (o.psk === false ? "" : `secrets { ike-vi { id-1 = vf1@example.org
    id-2 = vf2@example.org
    secret = "${PSK}" } }
`);
}

describe("strongSwan interop", () => {
  maybe("IKE_SA_INIT + IKE_AUTH (PSK), Child SA rekey, DPD, delete", async () => {
    expect(sh(["ip", "netns", "add", NS]).status).toBe(0);
    expect(sh(["ip", "netns", "add", NS2]).status).toBe(0);
    expect(sh(["ip", "link", "add", `${NS}e`, "netns", NS, "type", "veth", "peer", "name", `${NS2}e`, "netns", NS2]).status).toBe(0);
    for (const [ns, a] of [[NS, "192.0.2.1/24"], [NS2, "192.0.2.2/24"]]) {
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
      sh(["ip", "-n", ns, "addr", "add", a, "dev", `${ns}e`]);
      sh(["ip", "-n", ns, "link", "set", `${ns}e`, "up"]);
    }
    // libipsec routes the remote subnet via its TUN with a local source address from our subnet
    sh(["ip", "-n", NS, "addr", "add", "10.2.0.1/24", "dev", "lo"]);
    mkdirSync(`${dir}/run`, { recursive: true });
    writeFileSync(`${dir}/strongswan.conf`, `charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey constraints revocation kernel-libipsec kernel-netlink socket-default vici
  port = 500
  port_nat_t = 4500
  install_routes = no
  fragment_size = 600
  plugins { vici { socket = unix://${dir}/charon.vici } }
  filelog { vi { path = ${dir}/charon.log
    flush_line = yes
    default = 1
    ike = 2
    chd = 4
    cfg = 2
    enc = 1 } }
  syslog { daemon { default = -1 } }
}
`);
    writeFileSync(`${dir}/swanctl.conf`, swanctlConf({ name: "vi", child: "net", proposals: "aes256gcm16-prfsha256-x25519", esp: "aes256gcm16,aes128gcm16-x25519", auth: "psk", local: "id = vf2@example.org", remote: "id = vf1@example.org" }));
    charon = spawn("ip", ["netns", "exec", NS, "unshare", "-m", "--propagation", "private", "sh", "-c",
      `mount -t tmpfs vi4run /run && exec env STRONGSWAN_CONF=${dir}/strongswan.conf ${CHARON}`], { stdio: "ignore" });
    for (let k = 0; k < 50 && !existsSync(`${dir}/charon.vici`); k++) await Bun.sleep(200);
    expect(existsSync(`${dir}/charon.vici`)).toBe(true);
    const load = swanctl("--load-all", "--file", `${dir}/swanctl.conf`);
    expect(load.status).toBe(0);

    const cfg = {
      local: { address: "192.0.2.2", port: 5500 }, remote: { address: "192.0.2.1", port: 500 },
      localId: "vf1@example.org", remoteId: "vf2@example.org", psk: PSK,
      ikeProposals: ["aes256gcm16-prfsha256-x25519"], espProposals: ["aes256gcm16"],
      localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"], retransmitTimeout: 1000, retransmitTries: 3,
    };
    const drv = spawn("ip", ["netns", "exec", NS2, process.execPath, new URL("./interop-driver.ts", import.meta.url).pathname, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    const rl = createInterface({ input: drv.stdout! });
    const steps: Record<string, unknown>[] = [];
    const logs: string[] = [];
    let wake: (() => void) | null = null;
    rl.on("line", (l) => {
      const o = JSON.parse(l);
      if (o.step) steps.push(o);
      else logs.push(l);
      wake?.();
    });
    const step = async (name: string) => {
      for (let k = 0; k < 300 && !steps.find((s) => s.step === name); k++) await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
      const s = steps.find((x) => x.step === name);
      if (!s || !s.ok) console.error(logs.join("\n") + "\n" + (existsSync(`${dir}/charon.log`) ? readFileSync(`${dir}/charon.log`, "utf8").slice(-4000) : ""));
      return s as { ok: boolean; spiIn?: number; spiOut?: number } | undefined;
    };
    try {
      const est = await step("established") as { ok: boolean; natt?: boolean; natDetected?: number; localBehindNat?: boolean; remoteBehindNat?: boolean; spiIn?: number; spiOut?: number } | undefined;
      expect(est?.ok).toBe(true);
      // NAT-D (RFC 7296 §2.23) against charon's own hashes: charon on kernel-libipsec (ESP in UDP
      // only) fakes its source hash, so we see the "peer behind a NAT" and move to 4500; its
      // destination hash over our real endpoint (192.0.2.2:5500) matches ours, and charon finds
      // both of our hashes right (no "host is behind NAT" line)
      expect(est).toMatchObject({ natDetected: 1, localBehindNat: false, remoteBehindNat: true, natt: true });
      const clog = readFileSync(`${dir}/charon.log`, "utf8");
      expect(clog).toContain("faking NAT situation");
      expect(clog).not.toMatch(/host is behind NAT/);
      const sas = swanctl("--list-sas").out;
      expect(sas).toContain("ESTABLISHED");
      expect(sas).toContain("INSTALLED");
      expect(sas).toContain((est!.spiOut! >>> 0).toString(16).padStart(8, "0"));
      expect(sas).toContain("AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519");
      drv.stdin!.write("go\n");
      const rk = await step("rekeyed");
      expect(rk?.ok).toBe(true);
      expect((rk as { dpdAnswered?: boolean }).dpdAnswered).toBe(true);
      const sas2 = swanctl("--list-sas").out;
      expect(sas2).toContain((rk!.spiOut! >>> 0).toString(16).padStart(8, "0"));
      // the old Child SA is gone or (strongSwan keeps it a moment) marked DELETED
      const oldBlock = sas2.split("  net: #").find((x) => x.includes((est!.spiOut! >>> 0).toString(16).padStart(8, "0")));
      if (oldBlock) expect(oldBlock).not.toContain("INSTALLED");
      const newBlock = sas2.split("  net: #").find((x) => x.includes((rk!.spiOut! >>> 0).toString(16).padStart(8, "0")))!;
      expect(newBlock).toContain("INSTALLED");
      expect(newBlock).toContain((rk!.spiIn! >>> 0).toString(16).padStart(8, "0"));
      // we initiated both exchanges: charon's initiator→responder key is our outbound key
      const theirs = charonEspKeys(readFileSync(`${dir}/charon.log`, "utf8"));
      for (const x of [est, rk] as unknown as { keyIn: string; keyOut: string }[]) {
        expect(theirs.i2r.has(x.keyOut)).toBe(true);
        expect(theirs.r2i.has(x.keyIn)).toBe(true);
      }
      drv.stdin!.write("go\n");
      const del = await step("deleted");
      expect(del?.ok).toBe(true);
      expect(swanctl("--list-sas").out).not.toContain("ESTABLISHED");
    } finally {
      drv.kill();
    }
  }, 90000);
  maybe("charon initiator → our responder: establish, Child SA rekey, IKE SA rekey, terminate", async () => {
    expect(existsSync(`${dir}/charon.vici`)).toBe(true); // charon from the first test
    writeFileSync(`${dir}/swanctl-i.conf`, swanctlConf({ name: "vir", child: "netr", proposals: "aes128gcm16-prfsha256-ecp256", esp: "chacha20poly1305-x25519", auth: "psk", local: "id = vf2@example.org", remote: "id = vf1@example.org" }));
    expect(swanctl("--load-all", "--file", `${dir}/swanctl-i.conf`).status).toBe(0);
    const cfg = {
      local: { address: "192.0.2.2", port: 500 }, remote: { address: "192.0.2.1", port: 500 },
      localId: "vf1@example.org", remoteId: "vf2@example.org", psk: PSK,
      ikeProposals: ["aes256gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"], espProposals: ["aes256gcm16-x25519", "chacha20poly1305-x25519"],
      localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"], dpdDelay: 0,
    };
    const drv = spawn("ip", ["netns", "exec", NS2, process.execPath, new URL("./interop-responder.ts", import.meta.url).pathname, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    const events: Record<string, unknown>[] = [];
    createInterface({ input: drv.stdout! }).on("line", (l) => events.push(JSON.parse(l)));
    const wait = async (pred: () => boolean) => {
      for (let k = 0; k < 200 && !pred(); k++) await Bun.sleep(100);
      if (!pred()) console.error(JSON.stringify(events, null, 1) + "\n" + readFileSync(`${dir}/charon.log`, "utf8").slice(-3000));
      return pred();
    };
    const n = (t: string) => events.filter((e) => e.event === t).length;
    try {
      expect(await wait(() => n("ready") === 1)).toBe(true);
      const init = sh(["ip", "netns", "exec", NS, "swanctl", "--initiate", "--child", "netr", "--timeout", "20", "--uri", `unix://${dir}/charon.vici`]);
      expect(init.out).toContain("initiate completed successfully");
      expect(await wait(() => n("install-child") === 1 && n("established") === 1)).toBe(true);
      const first = events.find((e) => e.event === "install-child") as { spiIn: number; spiOut: number; cipher: string };
      expect(first.cipher).toBe("chacha20poly1305");
      const sas = swanctl("--list-sas", "--ike", "vir").out;
      expect(sas).toContain("AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256");
      expect(sas).toContain((first.spiIn >>> 0).toString(16).padStart(8, "0"));
      // charon rekeys the Child SA (PFS with x25519) ...
      expect(swanctl("--rekey", "--child", "netr").status).toBe(0);
      expect(await wait(() => n("install-child") === 2 && n("remove-child") === 1)).toBe(true);
      const second = events.filter((e) => e.event === "install-child")[1] as { rekeyOf: { spiIn: number } };
      expect(second.rekeyOf.spiIn).toBe(first.spiIn);
      // our KEYMAT (first Child SA, and the PFS rekey) equals the keys charon installed; charon
      // initiated both exchanges, so its initiator→responder key is our inbound key
      const theirs = charonEspKeys(readFileSync(`${dir}/charon.log`, "utf8"));
      const ours = events.filter((x) => x.event === "install-child") as { keyIn: string; keyOut: string }[];
      expect(ours.length).toBe(2);
      for (const e of ours) {
        expect(theirs.i2r.has(e.keyIn)).toBe(true);
        expect(theirs.r2i.has(e.keyOut)).toBe(true);
      }
      // ... and the IKE SA
      expect(swanctl("--rekey", "--ike", "vir").status).toBe(0);
      expect(await wait(() => n("ike-rekeyed") === 1)).toBe(true);
      expect(swanctl("--list-sas", "--ike", "vir").out).toContain("ESTABLISHED");
      expect(n("failed")).toBe(0);
      expect(swanctl("--terminate", "--ike", "vir", "--timeout", "20").status).toBe(0);
      expect(await wait(() => n("closed") === 1)).toBe(true);
    } finally {
      drv.stdin!.write("quit\n");
      drv.kill();
    }
  }, 90000);
  maybe("certificates: our initiator (Ed25519 cert) ↔ charon (RSA cert, PKCS#1 signature), one CA", async () => {
    expect(existsSync(`${dir}/charon.vici`)).toBe(true);
    if (!existsSync("/usr/bin/pki")) throw new Error("strongSwan pki missing");
    const c = `${dir}/cert`;
    for (const sub of ["x509", "x509ca", "private"]) mkdirSync(`${c}/${sub}`, { recursive: true });
    const pki = (cmd: string) => expect(sh(["sh", "-c", cmd]).status).toBe(0);
    pki(`pki --gen --type ecdsa --size 256 --outform pem > ${c}/ca.key`);
    pki(`pki --self --ca --lifetime 30 --in ${c}/ca.key --type ecdsa --dn "C=XX, O=vpnkit, CN=interop CA" --outform pem > ${c}/x509ca/ca.crt`);
    pki(`pki --gen --type rsa --size 2048 --outform pem > ${c}/private/sw.key`);
    pki(`pki --pub --in ${c}/private/sw.key --type rsa | pki --issue --lifetime 30 --cacert ${c}/x509ca/ca.crt --cakey ${c}/ca.key --dn "C=XX, O=vpnkit, CN=sw.example.org" --san sw.example.org --outform pem > ${c}/x509/sw.crt`);
    pki(`pki --gen --type ed25519 --outform pem > ${c}/us.key`);
    pki(`pki --pub --in ${c}/us.key --type priv | pki --issue --lifetime 30 --cacert ${c}/x509ca/ca.crt --cakey ${c}/ca.key --dn "C=XX, O=vpnkit, CN=us.example.org" --san us.example.org --outform pem > ${c}/us.crt`);
    writeFileSync(`${c}/swanctl.conf`, swanctlConf({ name: "vic", child: "netc", proposals: "aes256gcm16-prfsha256-x25519", esp: "aes256gcm16", auth: "pubkey", local: "certs = sw.crt\n      id = sw.example.org", remote: "id = us.example.org", psk: false }));
    expect(swanctl("--load-all", "--file", `${c}/swanctl.conf`).status).toBe(0);
    const f = (p: string) => readFileSync(p, "utf8");
    const cfg = {
      local: { address: "192.0.2.2", port: 5502 }, remote: { address: "192.0.2.1", port: 500 },
      localId: "us.example.org", remoteId: "sw.example.org", privateKey: f(`${c}/us.key`), certificate: f(`${c}/us.crt`), peerCa: [f(`${c}/x509ca/ca.crt`)],
      fragmentSize: 600, // IKE_AUTH both ways in RFC 7383 fragments
      ikeProposals: ["aes256gcm16-prfsha256-x25519"], espProposals: ["aes256gcm16"],
      localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"], retransmitTimeout: 1000, retransmitTries: 3,
    };
    const drv = spawn("ip", ["netns", "exec", NS2, process.execPath, new URL("./interop-driver.ts", import.meta.url).pathname, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: drv.stdout! }).on("line", (l) => lines.push(JSON.parse(l)));
    try {
      for (let k = 0; k < 200 && !lines.some((x) => x.step === "established"); k++) await Bun.sleep(100);
      const est = lines.find((x) => x.step === "established");
      if (!est?.ok) console.error(JSON.stringify(lines, null, 1) + "\n" + f(`${dir}/charon.log`).slice(-3000));
      expect(est?.ok).toBe(true);
      const sas = swanctl("--list-sas", "--ike", "vic").out;
      expect(sas).toContain("ESTABLISHED");
      expect(sas).toContain("us.example.org");
      const log = f(`${dir}/charon.log`);
      expect(log).toContain("authentication of 'us.example.org' with ED25519 successful");
      expect(log).toMatch(/IKE_AUTH request 1 \[ EF\(1\/\d\) \]/); // we sent fragments
      expect(log).toMatch(/IKE_AUTH response 1 \[ EF\(1\/\d\) \]/); // and reassembled charon's
    } finally {
      drv.stdin!.write("go\ngo\n");
      await Bun.sleep(500);
      drv.kill();
    }
  }, 90000);
  /** Run interop-driver.ts (our initiator) until its "established" step; returns its output lines. */
  async function initiate(cfg: object): Promise<Record<string, unknown>[]> {
    const drv = spawn("ip", ["netns", "exec", NS2, process.execPath, new URL("./interop-driver.ts", import.meta.url).pathname, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    const lines: Record<string, unknown>[] = [];
    createInterface({ input: drv.stdout! }).on("line", (l) => lines.push(JSON.parse(l)));
    for (let k = 0; k < 200 && !lines.some((x) => x.step === "established"); k++) await Bun.sleep(100);
    drv.kill();
    return lines;
  }

  maybe("failures against charon: INVALID_KE retry, wrong PSK, no proposal, TS mismatch — one clear line each", async () => {
    expect(existsSync(`${dir}/charon.vici`)).toBe(true);
    writeFileSync(`${dir}/swanctl-f.conf`, swanctlConf({ name: "vif", child: "netf", proposals: "aes256gcm16-prfsha256-ecp256", esp: "aes256gcm16", auth: "psk", local: "id = vf2@example.org", remote: "id = vf1@example.org" }));
    expect(swanctl("--load-all", "--file", `${dir}/swanctl-f.conf`).status).toBe(0);
    let port = 5600;
    const cfg = (over: object) => ({
      local: { address: "192.0.2.2", port: port++ }, remote: { address: "192.0.2.1", port: 500 },
      localId: "vf1@example.org", remoteId: "vf2@example.org", psk: PSK,
      ikeProposals: ["aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-ecp256"], espProposals: ["aes256gcm16"],
      localTs: ["10.1.0.0/24"], remoteTs: ["10.2.0.0/24"], retransmitTimeout: 1000, retransmitTries: 2, ...over,
    });
    const errors = (l: Record<string, unknown>[]) => l.filter((x) => typeof x.log === "string" && / (IKE_AUTH|IKE_SA_INIT) failed|not established/.test(x.log as string));
    // INVALID_KE_PAYLOAD: we lead with x25519, charon wants ECP-256
    let l = await initiate(cfg({}));
    expect(l.find((x) => x.step === "established")?.ok).toBe(true);
    expect(l.some((x) => String(x.log).includes("responder wants group 19 (INVALID_KE_PAYLOAD)"))).toBe(true);
    // wrong PSK
    l = await initiate(cfg({ psk: "not the psk" }));
    expect(l.find((x) => x.failed)?.notify).toBe("AUTHENTICATION_FAILED");
    expect(errors(l).length).toBe(1);
    // no common IKE proposal
    l = await initiate(cfg({ ikeProposals: ["aes128-sha256-modp2048"] }));
    expect(l.find((x) => x.failed)?.notify).toBe("NO_PROPOSAL_CHOSEN");
    expect(errors(l).length).toBe(1);
    // traffic selectors charon does not accept: the IKE SA comes up, the Child SA does not
    l = await initiate(cfg({ remoteTs: ["10.99.0.0/24"] }));
    expect(l.find((x) => x.failed)?.notify).toBe("TS_UNACCEPTABLE");
    expect(l.some((x) => String(x.log).includes("IKE SA established"))).toBe(true);
    expect(errors(l).length).toBe(1);
  }, 90000);

  maybe("charon initiator asks for a virtual IP: our responder assigns it (CP) and narrows TSi", async () => {
    expect(existsSync(`${dir}/charon.vici`)).toBe(true);
    writeFileSync(`${dir}/swanctl-v.conf`, swanctlConf({ name: "viv", child: "netv", proposals: "aes256gcm16-prfsha256-x25519", esp: "aes256gcm16", auth: "psk", local: "id = vf2@example.org", remote: "id = vf1@example.org", localTs: "dynamic" })
      .replace("    local { auth", "    vips = 0.0.0.0\n    local { auth"));
    expect(swanctl("--load-all", "--file", `${dir}/swanctl-v.conf`).status).toBe(0);
    const cfg = {
      local: { address: "192.0.2.2", port: 500 }, remote: { address: "192.0.2.1", port: 500 },
      localId: "vf1@example.org", remoteId: "vf2@example.org", psk: PSK, localTs: ["10.1.0.0/24"], remoteTs: ["10.77.0.0/24"],
      virtualIpPool: ["10.77.0.9"], dns: ["10.77.0.1"], dpdDelay: 0,
    };
    const drv = spawn("ip", ["netns", "exec", NS2, process.execPath, new URL("./interop-responder.ts", import.meta.url).pathname, JSON.stringify(cfg)], { stdio: ["pipe", "pipe", "inherit"] });
    const events: Record<string, unknown>[] = [];
    createInterface({ input: drv.stdout! }).on("line", (l) => events.push(JSON.parse(l)));
    try {
      for (let k = 0; k < 100 && !events.some((e) => e.event === "ready"); k++) await Bun.sleep(100);
      const init = sh(["ip", "netns", "exec", NS, "swanctl", "--initiate", "--child", "netv", "--timeout", "20", "--uri", `unix://${dir}/charon.vici`]);
      expect(init.out).toContain("installing new virtual IP 10.77.0.9");
      expect(init.out).toContain("initiate completed successfully");
      const sas = swanctl("--list-sas", "--ike", "viv").out;
      expect(sas).toContain("10.77.0.9/32");
      for (let k = 0; k < 50 && !events.some((e) => e.event === "install-child"); k++) await Bun.sleep(100);
      expect(events.some((e) => e.event === "install-child")).toBe(true);
    } finally {
      drv.stdin!.write("quit\n");
      drv.kill();
    }
  }, 90000);
});
