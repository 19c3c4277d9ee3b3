/**
 * ESP for an unknown SPI against a real charon (RFC 7296 §2.21), namespaces vkq3 (charon,
 * 192.0.2.1) and vkq4 (vpnkit, 192.0.2.2): with the tunnel up (vpnkit initiator; charon's
 * connection has `encap = yes`, so ESP travels in UDP 4500), ESP-in-UDP datagrams with an SPI
 * nobody has are sent from vkq3 to vpnkit's 4500. vpnkit answers with one INFORMATIONAL
 * carrying N(INVAL_SPI) in the IKE SA (charon parses it: its log shows the notify), however
 * many such packets arrive (one per SPI per interval), counts them in `vpnkit status`, and
 * the tunnel stays up.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readStatus } from "../../lib/tunnel/control.ts";
import { BUN, type Charon, missingPrereq, nsx, PSK, startCharon, startVpnkit, swanctlConf, topoDownPair, topoUpPair, type Vpnkit } from "./harness.ts";

const reason = missingPrereq();
if (reason && process.env.CI === "true") throw new Error(`CI=true and an interop prerequisite is missing: ${reason}`);
const run = reason ? describe.skip : describe;
const A = "vkq3", B = "vkq4";

let dir = "";
let charon: Charon | null = null;
let v: Vpnkit | null = null;

run(`ESP with an unknown SPI: INVALID_SPI to charon (${A}/${B})`, () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vkq-invalid-spi-"));
    topoUpPair(A, B);
    charon = await startCharon(join(dir, "charon"), A);
  });
  afterAll(async () => {
    await v?.stop();
    await charon?.stop();
    topoDownPair(A, B);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("bogus-SPI ESP in UDP to vpnkit: one INFORMATIONAL N(INVAL_SPI) in the IKE SA, counted; tunnel unaffected", async () => {
    const conf = join(dir, "c.swanctl.conf");
    writeFileSync(conf, swanctlConf({ name: "vkq", ike: "aes256gcm16-prfsha256-x25519", esp: "aes256gcm16" }));
    const l = charon!.swanctl("--load-all", "--clear", "--file", conf);
    expect(l.status, l.out).toBe(0);
    const pskFile = join(dir, "psk");
    writeFileSync(pskFile, PSK + "\n", { mode: 0o600 });
    const sock = join(dir, "v.sock");
    v = startVpnkit([
      "--local", "192.0.2.2", "--peer", "192.0.2.1", "--psk-file", pskFile, "--local-ts", "10.1.0.0/24", "--remote-ts", "10.2.0.0/24", "--tun-addr", "10.1.0.1/24",
      "--tun-name", "vkqtun", "--local-id", "vk@example.org", "--remote-id", "sw@example.org", "--control", sock,
    ], {}, B);
    const dump = () => `--- vpnkit ---\n${v!.lines.join("\n")}\n--- charon ---\n${charon!.log().slice(-3000)}`;
    expect(await v.waitFor(/Child SA installed/, 20_000), dump()).not.toBeNull();
    expect(v.lines.some((l) => l.includes("ESP in UDP to 192.0.2.1:4500")), dump()).toBe(true);
    expect(nsx(B, "ping", ["-c", "2", "-W", "2", "10.2.0.1"], { allowFail: true })).toContain(" 0% packet loss");
    // 5 datagrams of ESP in UDP with SPI 0x0badf00d from charon's namespace to vpnkit's 4500
    const script = join(dir, "bogus.ts");
    writeFileSync(script, `import dgram from "node:dgram";
const s = dgram.createSocket("udp4");
const p = Buffer.alloc(64);
p.writeUInt32BE(0x0badf00d, 0);
let n = 0;
const next = () => { if (n === 5) { s.close(); return; } p.writeUInt32BE(++n, 4); s.send(p, 4500, "192.0.2.2", next); };
next();
`);
    nsx(A, BUN, [script]);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !/N\(INVAL_SPI\)/.test(charon!.log())) await Bun.sleep(100);
    expect(charon!.log(), dump()).toMatch(/parsed INFORMATIONAL request \d+ \[ N\(INVAL_SPI\) \]/);
    expect(await v.waitFor(/ESP with unknown SPI 0badf00d from 192\.0\.2\.1: INVALID_SPI sent/, 5000), dump()).not.toBeNull();
    await Bun.sleep(500);
    const st = await readStatus(sock, 2000);
    expect(st.ike!.invalidSpi.sent, JSON.stringify(st.ike!.invalidSpi)).toBe(1);
    expect(st.counters.drops.noSa).toBeGreaterThanOrEqual(5);
    expect((charon!.log().match(/N\(INVAL_SPI\)/g) ?? []).length).toBe(1);
    // the IKE SA and the tunnel are unaffected
    expect(st.ike!.ikeSas.filter((s) => s.state === "established").length).toBe(1);
    expect(nsx(B, "ping", ["-c", "2", "-W", "2", "10.2.0.1"], { allowFail: true })).toContain(" 0% packet loss");
  }, 120_000);
});
