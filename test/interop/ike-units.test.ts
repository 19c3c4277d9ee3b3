/**
 * Unit tests (no root, no strongSwan) for the IKEv2 mode of `vpnkit up`: the `[ike]`
 * configuration, the IKE key-log lines (read back by lib/keys), selector → prefix
 * conversion, and two IkeDrivers (initiator ↔ responder) over in-memory sockets:
 * establish, ESP between the installed SAs, make-before-break Child SA rekey, failure
 * lines, delete.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { parseVpnkitKeylog } from "../../lib/keys/vpnkit-keylog.ts";
import { parseIkev2Table } from "../../lib/keys/wireshark.ts";
import { tsFromText } from "../../lib/ike/v2/sa/ts.ts";
import { ConfigError, type IkeTunnelConfig, isIkeConfig, mergeRawIke, type RawConfig, validateIkeConfig } from "../../lib/tunnel/config.ts";
import type { TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver, PrefixPool, tsToCidrs, VipPools } from "../../lib/tunnel/ike-driver.ts";
import { POOL_MAX } from "../../lib/tunnel/ike-pool.ts";
import { renderIke } from "../../cli/status.ts";
import { ikeKeylogLine, ikev2TableLine, type KeylogIke } from "../../lib/tunnel/keylog.ts";

const enc = new TextEncoder();
const files: Record<string, Uint8Array> = { "/psk": enc.encode("secret-psk-1234-abcdef\n"), "/empty": new Uint8Array(0) };
const readFile = (p: string) => {
  const f = files[p];
  if (!f) throw new Error("ENOENT");
  return new Uint8Array(f); // a copy, as readFileSync gives
};

function raw(over: Partial<RawConfig["ike"]> = {}, top: RawConfig = {}): RawConfig {
  return mergeRawIke({ local: "192.0.2.2", remote: "192.0.2.1", tun_addr: ["10.1.0.1/24"], ...top }, {
    psk_file: "/psk", local_ts: ["10.1.0.0/24"], remote_ts: ["10.2.0.0/24"], local_id: "vk@example.org", remote_id: "sw@example.org", ...over,
  });
}

describe("[ike] configuration", () => {
  test("defaults and derived keys", () => {
    const c = validateIkeConfig(raw(), readFile);
    expect(new TextDecoder().decode(c.ike.psk)).toBe("secret-psk-1234-abcdef"); // trailing newline dropped
    expect(c.ike.ikeProposals).toEqual(["aes256gcm16-prfsha256-x25519"]);
    expect(c.ike.espProposals).toEqual(["aes256gcm16", "chacha20poly1305"]);
    expect(c.ike.responder).toBe(false);
    expect(c.ike.dpdSec).toBe(30);
    expect(c.ike.retransmitSec).toBe(4);
    expect(c.ike.retransmitTries).toBe(5);
    expect(c.routes.map((r) => r.text)).toEqual(["10.2.0.0/24"]);
    expect(c.localSubnets.map((r) => r.text)).toEqual(["10.1.0.0/24"]);
    expect(c.localPort).toBe(4500); // NAT-T socket (ESP, and IKE after NAT-D)
    expect(c.remotePort).toBe(500); // IKE_SA_INIT goes to the peer's plain IKE port
    expect(c.ike.ikePort).toBe(500);
    expect(c.ike.remoteAny).toBe(false);
    expect(c.ike.limits).toEqual({});
    expect("sa" in c).toBe(false);
  });
  test("flags override the file; a host local_ts gives tun_addr; the wildcard local defaults the id to the SA's address", () => {
    const r = mergeRawIke({ remote: "192.0.2.1", ike: { psk: "x-long-enough-psk-0123", local_ts: ["10.9.9.9/32"], remote_ts: ["0.0.0.0/0"], local_id: "me@x" } }, { responder: true, dpd: 5, esp_proposal: ["chacha20poly1305"] });
    expect(isIkeConfig(r)).toBe(true);
    const c = validateIkeConfig(r, readFile);
    expect(c.local).toBe("0.0.0.0");
    expect(c.tunAddr).toEqual(["10.9.9.9/32"]);
    expect(c.ike.responder).toBe(true);
    expect(c.ike.dpdSec).toBe(5);
    expect(c.ike.espProposals).toEqual(["chacha20poly1305"]);
    expect(() => validateIkeConfig(mergeRawIke(r, { local_id: undefined }), readFile)).not.toThrow(); // file value kept
    const noId = { ...r, ike: { ...r.ike, local_id: undefined } };
    expect(validateIkeConfig(noId, readFile).ike.localId).toBeUndefined(); // the driver uses the address the IKE SA uses
    // a responder without a peer accepts any address
    const any = validateIkeConfig({ ...r, remote: undefined }, readFile);
    expect(any.ike.remoteAny).toBe(true);
    expect(any.remote).toBe("0.0.0.0");
    expect(() => validateIkeConfig({ ...r, remote: undefined, ike: { ...r.ike, responder: false } }, readFile)).toThrow(/remote/);
    const lim = validateIkeConfig({ ...r, ike: { ...r.ike, limits: { cookie_threshold: 3, half_open_timeout: 2.5, unique_ids: "never" }, port: 1500 } }, readFile);
    expect(lim.ike.limits).toEqual({ cookieThreshold: 3, halfOpenTimeoutMs: 2500, uniqueIds: "never" });
    expect(lim.ike.ikePort).toBe(1500);
    expect(() => validateIkeConfig({ ...r, ike: { ...r.ike, limits: { cookie_treshold: 3 } } }, readFile)).toThrow(/ike.limits.cookie_treshold: unknown key/);
    expect(() => validateIkeConfig({ ...r, ike: { ...r.ike, limits: { init_rate: -1 } } }, readFile)).toThrow(/ike.limits.init_rate/);
  });
  test("errors name the key", () => {
    const err = (r: RawConfig) => {
      try {
        validateIkeConfig(r, readFile);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(err(raw({ psk_file: "/nope" }))).toContain("ike.psk_file: cannot read /nope");
    expect(err(raw({ psk_file: "/empty" }))).toContain("empty");
    expect(err({ ...raw(), ike: { ...raw().ike, psk_file: undefined } })).toContain("ike.psk_file: missing");
    expect(err({ ...raw(), ike: { ...raw().ike, local_ts: undefined } })).toContain("ike.local_ts: missing");
    expect(err({ ...raw(), ike: { ...raw().ike, remote_ts: undefined } })).toContain("ike.remote_ts: missing");
    expect(err(raw({ remote_ts: ["10.2.0.0/33"] }))).toContain("ike.remote_ts: not a prefix");
    expect(err(raw({ esp_proposal: ["aes192-sha256"] }))).toContain('"aes192" is not supported by the ESP data plane');
    expect(err({ ...raw(), sa: { cipher: "aes256gcm16" } })).toContain("exclusive");
    expect(err({ ...raw(), remote: undefined })).toContain("remote (--peer): missing");
    expect(err(raw({ dpd: -1 }))).toContain("ike.dpd");
    expect(err(raw({ responder: "yes" }))).toContain("ike.responder");
  });
  test("certificates instead of the PSK", () => {
    files["/c.pem"] = enc.encode("-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n");
    files["/k.pem"] = enc.encode("-----BEGIN PRIVATE KEY-----\nMA==\n-----END PRIVATE KEY-----\n");
    const noPsk = { ...raw(), ike: { ...raw().ike, psk_file: undefined } };
    const c = validateIkeConfig(mergeRawIke(noPsk, { cert: "/c.pem", key: "/k.pem", ca: ["/c.pem"] }), readFile);
    expect(c.ike.psk.length).toBe(0);
    expect(c.ike.certificate).toContain("BEGIN CERTIFICATE");
    expect(c.ike.privateKey).toContain("BEGIN PRIVATE KEY");
    expect(c.ike.peerCa?.length).toBe(1);
    expect(() => validateIkeConfig(mergeRawIke(noPsk, { cert: "/c.pem" }), readFile)).toThrow("ike.key: give both");
    expect(() => validateIkeConfig(mergeRawIke(noPsk, { cert: "/psk", key: "/k.pem" }), readFile)).toThrow("ike.cert: /psk is not PEM");
  });
  test("road warrior: virtual_ip makes tun_addr and local_ts optional; responder refuses it", () => {
    const rw = mergeRawIke({ local: "192.0.2.2", remote: "192.0.2.1" }, { psk: "x-long-enough-psk-0123", remote_ts: ["10.2.0.0/24"], virtual_ip: true });
    const c = validateIkeConfig(rw, readFile);
    expect(c.ike.virtualIp).toBe(true);
    expect(c.tunAddr).toEqual([]);
    expect(c.localSubnets).toEqual([]);
    expect(c.ike.localTs).toEqual([]);
    expect(() => validateIkeConfig(mergeRawIke(rw, { responder: true }), readFile)).toThrow("only an initiator");
  });
  test("the manual-key files stay manual", () => {
    expect(isIkeConfig({ local: "a", sa: { cipher: "aes256gcm16" } })).toBe(false);
    expect(isIkeConfig(mergeRawIke({}, { psk_file: undefined }))).toBe(false);
  });
});

describe("IKE key log lines", () => {
  const gcm: KeylogIke = {
    ispi: Uint8Array.from({ length: 8 }, (_, i) => i + 1), rspi: Uint8Array.from({ length: 8 }, (_, i) => 0xf0 + i),
    encr: "aes-gcm-16", integ: "none", encrKeyBits: 256,
    skei: new Uint8Array(36).fill(0x11), sker: new Uint8Array(36).fill(0x22), skai: new Uint8Array(0), skar: new Uint8Array(0),
  };
  const cbc: KeylogIke = { ...gcm, encr: "aes-cbc", integ: "hmac-sha2-256-128", encrKeyBits: 128, skei: new Uint8Array(16).fill(1), sker: new Uint8Array(16).fill(2), skai: new Uint8Array(32).fill(3), skar: new Uint8Array(32).fill(4) };
  test("vpnkit format, read back by lib/keys", () => {
    expect(ikeKeylogLine(gcm)).toBe(`IKEv2 0102030405060708 f0f1f2f3f4f5f6f7 aes256gcm16 0x${"11".repeat(36)} 0x${"22".repeat(36)} none - -`);
    for (const k of [gcm, cbc]) {
      const p = parseVpnkitKeylog(ikeKeylogLine(k)!, "k");
      expect(p.ikev2.length).toBe(1);
      expect(p.ikev2[0].ispi).toBe("0102030405060708");
      expect(p.ikev2[0].initiator.encKey).toEqual(k.skei);
      expect(p.ikev2[0].responder.encKey).toEqual(k.sker);
      if (k.integ !== "none") expect(p.ikev2[0].responder.integKey).toEqual(k.skar);
    }
  });
  test("Wireshark ikev2_decryption_table (hex unquoted, names quoted), read back by lib/keys", () => {
    expect(ikev2TableLine(cbc)).toBe(`0102030405060708,f0f1f2f3f4f5f6f7,${"01".repeat(16)},${"02".repeat(16)},"AES-CBC-128 [RFC3602]",${"03".repeat(32)},${"04".repeat(32)},"HMAC_SHA2_256_128 [RFC4868]"`);
    for (const k of [gcm, cbc]) {
      const p = parseIkev2Table(ikev2TableLine(k)!, "t");
      expect(p.ikev2.length).toBe(1);
      expect(p.ikev2[0].initiator.encKey).toEqual(k.skei);
      expect(p.ikev2[0].initiator.encr).toBe(k.encr);
    }
  });
  test("an algorithm without a key-log name gives null", () => {
    expect(ikeKeylogLine({ ...gcm, encr: "3des-cbc" })).toBeNull();
  });
});

describe("traffic selector → prefixes", () => {
  const t = (s: string) => tsToCidrs(tsFromText(s)).map((c) => c.text);
  test("exact prefixes and ranges", () => {
    expect(t("10.2.0.0/24")).toEqual(["10.2.0.0/24"]);
    expect(t("0.0.0.0/0")).toEqual(["0.0.0.0/0"]);
    expect(t("10.2.0.7")).toEqual(["10.2.0.7/32"]);
    expect(t("2001:db8::/32")).toEqual(["2001:db8::/32"]);
    expect(t("::/0")).toEqual(["::/0"]);
    const r = tsFromText("10.0.0.1/32");
    r.end = Uint8Array.from([10, 0, 0, 6]);
    expect(tsToCidrs(r).map((c) => c.text)).toEqual(["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]);
  });
});

// ------------------------------------------------------------------ two drivers in memory

interface Side {
  driver: IkeDriver;
  db: SaDatabase;
  child: TunnelChild;
  logs: { level: string; msg: string }[];
  fatal: string[];
}

function pair(o: { psk2?: string; remoteTs2?: string[] } = {}): { i: Side; r: Side; settle: () => Promise<void>; step: () => Promise<void> } {
  const cfg = (me: string, peer: string, responder: boolean, psk: string, lts: string[], rts: string[]): IkeTunnelConfig =>
    validateIkeConfig(mergeRawIke({ local: me, remote: peer, tun_addr: ["10.1.0.1/24"] }, {
      psk: psk, local_ts: lts, remote_ts: rts, local_id: me, remote_id: peer, responder, ike_proposal: ["aes128-sha256-ecp256"], esp_proposal: ["chacha20poly1305"],
    }), readFile);
  const queue: (() => void)[] = [];
  const mk = (c: IkeTunnelConfig, deliver: (b: Uint8Array) => void): Side => {
    const db = new SaDatabase();
    const child: TunnelChild = { name: "t", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
    const logs: Side["logs"] = [];
    const fatal: string[] = [];
    const driver = new IkeDriver({
      cfg: c, db, child, reindex: () => {}, send: (b) => queue.push(() => deliver(b.slice())),
      log: (level, msg) => logs.push({ level, msg }), onFatal: (r) => fatal.push(r),
      setInterval: () => 0, clearInterval: () => {},
    });
    return { driver, db, child, logs, fatal };
  };
  // eslint-disable-next-line prefer-const
  let i: Side, r: Side;
  i = mk(cfg("192.0.2.2", "192.0.2.1", false, "psk-one-0123456789", ["10.1.0.0/24"], ["10.2.0.0/24"]), (b) => r.driver.onDatagram(b, "192.0.2.2", 4500));
  r = mk(cfg("192.0.2.1", "192.0.2.2", true, o.psk2 ?? "psk-one-0123456789", ["10.2.0.0/24"], o.remoteTs2 ?? ["10.1.0.0/24"]), (b) => i.driver.onDatagram(b, "192.0.2.1", 4500));
  const settle = async () => {
    for (let k = 0; k < 1000 && queue.length; k++) {
      queue.shift()!();
      await Promise.resolve();
    }
  };
  const step = async () => {
    queue.shift()?.();
    await Promise.resolve();
  };
  return { i, r, settle, step };
}

describe("IkeDriver ↔ IkeDriver (in memory)", () => {
  test("establish, ESP both ways, make-before-break Child SA rekey, delete", async () => {
    const { i, r, settle } = pair();
    r.driver.start();
    i.driver.start();
    await settle();
    expect(i.child.outbound, JSON.stringify([i.logs, r.logs], null, 1)).not.toBeNull();
    expect(r.child.outbound).not.toBeNull();
    expect(i.child.outbound!.spi).toBe(r.child.inbound[0].spi);
    expect(r.child.outbound!.spi).toBe(i.child.inbound[0].spi);
    expect(i.child.remote.map((c) => c.text)).toEqual(["10.2.0.0/24"]);
    const inner = Uint8Array.from({ length: 40 }, (_, k) => (k === 0 ? 0x45 : k));
    const esp = i.child.outbound!.seal(inner, 4)!;
    const opened = r.child.inbound[0].open(esp);
    expect(opened.ok).toBe(true);

    const oldIn = i.child.inbound[0].spi;
    i.driver.rekeyChild(oldIn, "test");
    // CREATE_CHILD_SA, then the Delete of the old SA: one inbound SA left on each side
    await settle();
    expect(i.child.inbound.length).toBe(1);
    expect(r.child.inbound.length).toBe(1);
    expect(i.child.inbound[0].spi).not.toBe(oldIn);
    expect(i.db.lookupInbound(oldIn)).toBeUndefined(); // destroyed
    expect(i.child.outbound!.spi).toBe(r.child.inbound[0].spi);
    expect(r.child.inbound[0].open(i.child.outbound!.seal(inner, 4)!).ok).toBe(true);
    expect(i.logs.some((l) => l.msg.startsWith("Child SA rekeyed"))).toBe(true);

    await i.driver.stop(200);
    await settle();
    expect(i.child.outbound).toBeNull();
    expect(r.child.outbound).toBeNull();
    expect(r.child.inbound.length).toBe(0);
    expect(i.logs.filter((l) => l.level === "error")).toEqual([]);
    expect(r.logs.filter((l) => l.level === "error")).toEqual([]);
    expect(i.fatal).toEqual([]);
    await r.driver.stop(0);
  });

  test("the initiator's rekey keeps the old inbound SA until the Delete (make before break)", async () => {
    const { i, r, settle, step } = pair();
    r.driver.start();
    i.driver.start();
    await settle();
    const oldIn = i.child.inbound[0].spi;
    const oldOut = i.child.outbound!.spi;
    const inner = Uint8Array.from({ length: 40 }, (_, k) => (k === 0 ? 0x45 : k));
    const fromPeerOld = r.child.outbound!.seal(inner, 4)!; // sealed by the old SA, arrives late
    i.driver.rekeyChild(oldIn, "test");
    await step(); // CREATE_CHILD_SA request → responder installs the new SA
    expect(r.child.inbound.length).toBe(2);
    await step(); // response → initiator installs the new SA, keeps the old inbound one
    expect(i.child.inbound.length).toBe(2);
    expect(i.child.outbound!.spi).not.toBe(oldOut);
    expect(i.child.inbound.find((sa) => sa.spi === oldIn)!.open(fromPeerOld).ok).toBe(true);
    await step(); // INFORMATIONAL Delete of the old SA → responder removes it
    expect(r.child.inbound.length).toBe(1);
    await step(); // its answer → initiator removes it
    expect(i.child.inbound.length).toBe(1);
    expect(i.child.inbound[0].spi).not.toBe(oldIn);
    expect(i.db.lookupInbound(oldIn)).toBeUndefined();
    await i.driver.stop(0);
    await r.driver.stop(0);
  });

  test("wrong PSK: one error line at each end, the initiator gives up (fatal)", async () => {
    const { i, r, settle } = pair({ psk2: "psk-two-0123456789" });
    r.driver.start();
    i.driver.start();
    await settle();
    const ie = i.logs.filter((l) => l.level === "error");
    const re = r.logs.filter((l) => l.level === "error");
    expect(ie.length).toBe(1);
    expect(re.length).toBe(1);
    expect(ie[0].msg).toContain("AUTHENTICATION_FAILED");
    expect(i.fatal.length).toBe(1);
    expect(r.fatal).toEqual([]); // the responder keeps waiting
    expect(i.child.outbound).toBeNull();
  });

  test("TS mismatch: one error line each; the initiator deletes the IKE SA and gives up", async () => {
    const { i, r, settle } = pair({ remoteTs2: ["10.9.0.0/24"] });
    r.driver.start();
    i.driver.start();
    await settle();
    const ie = i.logs.filter((l) => l.level === "error");
    expect(ie.length).toBe(1);
    expect(ie[0].msg).toContain("TS_UNACCEPTABLE");
    expect(r.logs.filter((l) => l.level === "error").length, JSON.stringify(r.logs)).toBe(1);
    expect(i.fatal.length).toBe(1);
  });
});

describe("[ike.limits]", () => {
  test("example.toml documents every limit with its default", async () => {
    const { readFileSync } = await import("node:fs");
    const { parse } = await import("smol-toml");
    const { validateIkeLimits } = await import("../../lib/tunnel/config-limits.ts");
    const { DEFAULT_IKE_LIMITS } = await import("../../lib/ike/v2/sa/limits.ts");
    const text = readFileSync(join(import.meta.dir, "../../lib/tunnel/example.toml"), "utf8");
    const part = text.slice(text.indexOf("# [ike.limits]")).split("\n").filter((l) => /^# ([a-z_]+ = .*)$/.test(l)).map((l) => l.slice(2)).join("\n");
    expect(validateIkeLimits(parse(part))).toEqual({ ...DEFAULT_IKE_LIMITS });
  });
});

describe("IkeDriver: status and drops", () => {
  test("status lists the IKE SA with its Child SA (swanctl --list-sas style); the human output names both", async () => {
    const { i, r, settle } = pair();
    r.driver.start();
    i.driver.start();
    await settle();
    const st = r.driver.status();
    expect(st.state).toBe("up");
    expect(st.ikeSas.length).toBe(1);
    const sa = st.ikeSas[0];
    expect(sa).toMatchObject({ role: "responder", state: "established", localId: "192.0.2.1", remoteId: "192.0.2.2", remote: "192.0.2.2:4500", natt: true });
    expect(sa.proposal).toContain("AES_CBC_128");
    expect(sa.childSas.length).toBe(1);
    expect(sa.childSas[0]).toMatchObject({ cipher: "chacha20poly1305", local: "10.2.0.0/24", remote: "10.1.0.0/24" });
    expect(st.manager).toMatchObject({ sas: 1, halfOpen: 0, bySpi: 1 });
    const text = renderIke(st);
    expect(text).toContain("ESTABLISHED");
    expect(text).toContain("child: INSTALLED");
    expect(text).toContain("10.2.0.0/24 === 10.1.0.0/24");
    await i.driver.stop(0);
    await r.driver.stop(0);
  });

  test("every dropped datagram is counted by reason: no marker, unexpected address, wrong port, queue full, unknown SPI", () => {
    const c = validateIkeConfig(mergeRawIke({ local: "192.0.2.1", remote: "192.0.2.2", tun_addr: ["10.1.0.1/24"] }, {
      psk: "x-long-enough-psk-0123", local_ts: ["10.2.0.0/24"], remote_ts: ["10.1.0.0/24"], responder: true, limits: { queue: 4 },
    }), readFile);
    const logs: string[] = [];
    const sent: Uint8Array[] = [];
    const later: (() => void)[] = [];
    const child: TunnelChild = { name: "t", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
    const d = new IkeDriver({
      cfg: c, db: new SaDatabase(), child, send: (b) => sent.push(b), log: (_l, m) => logs.push(m),
      setInterval: () => 0, clearInterval: () => {}, schedule: (fn) => later.push(fn),
    });
    const ike = new Uint8Array(4 + 28);
    ike.set([1, 2, 3, 4, 5, 6, 7, 8, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0x20, 37, 0x08, 0, 0, 0, 1, 0, 0, 0, 28], 4);
    d.onDatagram(ike.subarray(4), "192.0.2.2", 4500); // no marker
    d.onDatagram(ike, "192.0.2.99", 4500); // not the configured peer
    d.onDatagram(ike, "192.0.2.2", 500, "ike"); // the marker on the plain IKE port
    for (let k = 0; k < 6; k++) d.onDatagram(ike, "192.0.2.2", 4500); // 4 queued, 2 dropped
    expect(d.drops).toEqual({ "no-marker": 1, "unexpected-address": 1, "wrong-port": 1, "queue-full": 2 });
    expect(logs.filter((m) => m.includes("dropped: queue-full")).length).toBe(2);
    later.shift()!();
    const st = d.status();
    expect(st.drops["unknown-spi"]).toBe(4);
    // INVALID_IKE_SPI answers (rate-limited to 10/s), with the marker on the NAT-T socket
    expect(sent.length).toBe(4);
    expect([...sent[0].subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect(logs.some((m) => m.includes("dropped: unknown-spi"))).toBe(true);
  });
});

describe("vpnkit up (IKEv2 flags / [ike] file): configuration errors exit 2 with one line, before any privilege is needed", () => {
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [join(import.meta.dir, "../../cli/main.ts"), "up", ...args], { encoding: "utf8", timeout: 30_000 });
    return { code: r.status, err: r.stderr.trim() };
  };
  test("flags", () => {
    const r = cli(["--peer", "192.0.2.1", "--local", "192.0.2.2", "--local-ts", "10.1.0.0/24", "--remote-ts", "10.2.0.0/24", "--tun-addr", "10.1.0.1/24"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("vpnkit up: config: ike.psk_file: missing (--psk-file, or ike.psk / ike.psk_file in the file, or --eap-user with --eap-password-file)");
    const m = cli(["--peer", "192.0.2.1", "--psk-file", "/nonexistent/psk", "--local-ts", "10.1.0.0/24", "--remote-ts", "10.2.0.0/24", "--spi-out", "0x1000"]);
    expect(m.code).toBe(2);
    expect(m.err).toContain("exclusive");
  });
  test("[ike] section in a TOML file", () => {
    const d = mkdtempSync(join(tmpdir(), "vk-units-"));
    try {
      const f = join(d, "c.toml");
      writeFileSync(f, 'local = "192.0.2.2"\nremote = "192.0.2.1"\ntun_addr = ["10.1.0.1/24"]\n[ike]\npsk = "x-long-enough-psk-0123"\nlocal_ts = ["10.1.0.0/24"]\n', { mode: 0o600 }); // it holds a PSK
      const r = cli(["-c", f]);
      expect(r.code).toBe(2);
      expect(r.err).toBe("vpnkit up: config: ike.remote_ts: missing (the peer's inner prefixes, e.g. 10.2.0.0/24)");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe("road-warrior server: ike.pool / ike.dns", () => {
  test("config: pool and DNS on a responder; remote_ts defaults to the pool; rejected elsewhere", () => {
    const c = validateIkeConfig(raw({ responder: true, pool: "10.3.0.0/28", dns: ["10.3.0.53"], remote_ts: undefined }), readFile);
    expect(c.ike.pool).toBe("10.3.0.0/28");
    expect(c.ike.dns).toEqual(["10.3.0.53"]);
    expect(c.ike.remoteTs).toEqual(["10.3.0.0/28"]);
    expect(c.routes.map((r) => r.text)).toEqual(["10.3.0.0/28"]);
    expect(validateIkeConfig(raw(), readFile).ike.pool).toBeUndefined();
    expect(() => validateIkeConfig(raw({ pool: "10.3.0.0/28" }), readFile)).toThrow(/ike.pool: only a responder/);
    // one IPv4 and one IPv6 prefix (INTERNAL_IP6_ADDRESS); remote_ts defaults to both
    const dual = validateIkeConfig(raw({ responder: true, pool: ["10.3.0.0/28", "2001:db8:3::/64"], remote_ts: undefined }), readFile);
    expect([dual.ike.pool, dual.ike.pool6]).toEqual(["10.3.0.0/28", "2001:db8:3::/64"]);
    expect(dual.ike.remoteTs).toEqual(["10.3.0.0/28", "2001:db8:3::/64"]);
    expect(validateIkeConfig(raw({ responder: true, pool: "2001:db8:3::/64", remote_ts: undefined }), readFile).ike.pool6).toBe("2001:db8:3::/64");
    expect(() => validateIkeConfig(raw({ responder: true, pool: ["10.3.0.0/28", "10.4.0.0/28"] }), readFile)).toThrow(/ike.pool: one IPv4 and one IPv6 prefix at most/);
    expect(() => validateIkeConfig(raw({ responder: true, pool: "nope" }), readFile)).toThrow(/ike.pool: not a prefix/);
    expect(() => validateIkeConfig(raw({ responder: true, pool: "2001:db8:3::/64", dns: ["10.3.0.53"] }), readFile)).toThrow(/ike.dns: .*IPv4 ike.pool/);
    expect(() => validateIkeConfig(raw({ responder: true, pool: "10.3.0.0/28", dns: ["nope"] }), readFile)).toThrow(/ike.dns: not an IPv4 address/);
    expect(() => validateIkeConfig(raw({ responder: true, dns: ["10.3.0.53"] }), readFile)).toThrow(/ike.dns: .*ike.pool/);
  });

  test("PrefixPool: hosts without network/broadcast, exclusions, exhaustion, release, same peer same address", () => {
    const p = new PrefixPool("10.3.0.0/29", ["10.3.0.2"]);
    expect(p.size).toBe(5); // .1 .3 .4 .5 .6
    expect(p.allocate("a")).toBe("10.3.0.1");
    expect(p.allocate("b")).toBe("10.3.0.3");
    for (const x of ["c", "d", "e"]) expect(p.allocate(x)).not.toBeNull();
    expect(p.allocate("f")).toBeNull();
    p.release("10.3.0.1");
    p.release("10.3.0.3");
    expect(p.allocate("b")).toBe("10.3.0.3"); // its previous address again
    expect(p.allocate("f")).toBe("10.3.0.1");
    expect(new PrefixPool("10.3.0.4/31").size).toBe(2);
    expect(new PrefixPool("10.3.0.9/32").allocate("x")).toBe("10.3.0.9");
  });
});

describe("road-warrior server: IPv6 pool", () => {
  test("PrefixPool (IPv6): from prefix::1 in order, bounded, the lowest given-back address first, exclusions, same peer same address, other family null", () => {
    const p = new PrefixPool("2001:db8:3::/64", ["2001:db8:3::2"]);
    expect(p.family).toBe(6);
    expect(p.size).toBe(POOL_MAX); // a /64 is handed out from the start, at most 65,536
    expect(p.allocate("a")).toBe("2001:db8:3::1");
    expect(p.allocate("b")).toBe("2001:db8:3::3"); // ::2 excluded
    expect(p.allocate("c")).toBe("2001:db8:3::4");
    expect(p.allocate("d", 4)).toBeNull();
    expect(p.allocate("e")).toBe("2001:db8:3::5");
    p.release("2001:db8:3::4");
    p.release("2001:db8:3::1");
    expect(p.allocate("f")).toBe("2001:db8:3::1"); // the lowest given back
    expect(p.allocate("c")).toBe("2001:db8:3::4"); // its previous address
    expect(p.allocate("g")).toBe("2001:db8:3::6");
    expect(p.inUse().sort()).toEqual(["2001:db8:3::1", "2001:db8:3::3", "2001:db8:3::4", "2001:db8:3::5", "2001:db8:3::6"]);
    const small = new PrefixPool("2001:db8:4::/126");
    expect(small.size).toBe(3);
    expect(["x", "y", "z", "w"].map((k) => small.allocate(k))).toEqual(["2001:db8:4::1", "2001:db8:4::2", "2001:db8:4::3", null]);
    small.release("2001:db8:4::2");
    expect(small.allocate("w")).toBe("2001:db8:4::2");
    expect(new PrefixPool("2001:db8:5::ffff:0/112").allocate("q")).toBe("2001:db8:5::ffff:1");
  });

  test("VipPools: one pool per family, released to its own", () => {
    const v = new VipPools(["10.3.0.0/30", "2001:db8:3::/120"]);
    expect(v.size).toBe(2 + 255);
    expect(v.allocate("a")).toBe("10.3.0.1");
    expect(v.allocate("a", 6)).toBe("2001:db8:3::1");
    expect(v.allocate("b", 4)).toBe("10.3.0.2");
    expect(v.allocate("c", 4)).toBeNull();
    v.release("10.3.0.1");
    v.release("2001:db8:3::1");
    expect(v.inUse()).toEqual(["10.3.0.2"]);
    expect(new VipPools(["2001:db8:3::/120"]).allocate("a")).toBeNull(); // no IPv4 pool
  });
});
