import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromHex } from "../../lib/core/bytes.ts";
import { ConfigError, loadConfigFile, mergeRaw, parseConfigText, type RawConfig, validateConfig } from "../../lib/tunnel/config.ts";
import { espSaLine, KeyLog, keylogLine } from "../../lib/tunnel/keylog.ts";
import { parseCidr } from "../../lib/net/cidr.ts";

const K36 = "0x" + "11".repeat(36);
const K20 = "0x" + "22".repeat(20);

function base(): RawConfig {
  return {
    local: "192.0.2.1", remote: "192.0.2.2", tun_addr: ["10.9.0.1/30"], routes: ["10.9.0.2/32"],
    sa: { cipher: "aes256gcm16", spi_out: "0xc4ba5861", spi_in: "0x5fba82be", key_out: K36, key_in: K36 },
  };
}

function errKey(raw: RawConfig, readFile?: (p: string) => Uint8Array): string {
  try {
    validateConfig(raw, readFile);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).key;
  }
  throw new Error("validated");
}

describe("config", () => {
  test("example.toml parses and validates (key files stubbed)", () => {
    const raw = loadConfigFile(join(import.meta.dir, "../../lib/tunnel/example.toml"));
    const files: Record<string, string> = { "/etc/vpnkit/out.key": K36 + "\n", "/etc/vpnkit/in.key": "ab".repeat(36) };
    const cfg = validateConfig(raw, (p) => new TextEncoder().encode(files[p]));
    expect(cfg.local).toBe("192.0.2.1");
    expect(cfg.localPort).toBe(4500);
    expect(cfg.sa.cipher).toBe("aes256gcm16");
    expect(cfg.sa.spiOut).toBe(0xc4ba5861);
    expect(cfg.sa.spiIn).toBe(0x5fba82be);
    expect(cfg.sa.keyOut).toEqual(new Uint8Array(36).fill(0x11));
    expect(cfg.sa.keyIn).toEqual(new Uint8Array(36).fill(0xab));
    expect(cfg.tunnelMtu).toBe(1438);
    expect(cfg.tunMtu).toBe(1438);
    expect(cfg.keepaliveSec).toBe(20);
    expect(cfg.keepWarmMs).toBe(2);
    expect(cfg.control).toBe("/run/vpnkit-vpnkit0.sock");
    expect(cfg.routes.map((r) => r.text)).toEqual(["10.9.0.2/32"]);
    expect(cfg.localSubnets.map((r) => r.text)).toEqual(["10.9.0.1/32"]);
  });

  test("tunnel MTU is derived from the path MTU, cipher and outer family", () => {
    expect(validateConfig({ ...base(), mtu: 1280 }).tunnelMtu).toBe(1218);
    const v6 = validateConfig({ ...base(), local: "2001:db8::1", remote: "2001:db8::2" });
    expect(v6.outer).toBe("ipv6");
    expect(v6.tunnelMtu).toBe(1418);
    expect(validateConfig({ ...base(), tun_mtu: 1500 }).tunMtu).toBe(1500);
  });

  test("raw key files of the exact length are accepted", () => {
    const raw = base();
    delete raw.sa!.key_out;
    raw.sa!.key_out_file = "k";
    raw.sa!.cipher = "aes128gcm16";
    raw.sa!.key_in = K20;
    const cfg = validateConfig(raw, () => new Uint8Array(20).fill(0xfe));
    expect(cfg.sa.keyOut).toEqual(new Uint8Array(20).fill(0xfe));
  });

  test("validation errors name the key", () => {
    expect(errKey({ ...base(), remote: undefined })).toBe("remote");
    expect(errKey({ ...base(), local: "300.1.1.1" })).toBe("local");
    expect(errKey({ ...base(), remote: "2001:db8::2" })).toBe("remote");
    expect(errKey({ ...base(), local_port: 70000 })).toBe("local_port");
    expect(errKey({ ...base(), mtu: "big" })).toBe("mtu");
    expect(errKey({ ...base(), tun_addr: ["10.9.0.1"] })).toBe("tun_addr");
    expect(errKey({ ...base(), routes: [] })).toBe("routes");
    expect(errKey({ ...base(), routes: ["10.9.0.0/33"] })).toBe("routes");
    expect(errKey({ ...base(), keepalive: -1 })).toBe("keepalive");
    expect(errKey({ ...base(), keep_warm: -1 })).toBe("keep_warm");
    expect(errKey({ ...base(), keep_warm: "2" })).toBe("keep_warm");
    expect(errKey({ ...base(), tun_name: "a-very-long-interface-name" })).toBe("tun_name");
    expect(errKey({ ...base(), sa: { ...base().sa, cipher: "aes-cbc" } })).toBe("sa.cipher");
    expect(errKey({ ...base(), sa: { ...base().sa, spi_out: "0x10" } })).toBe("sa.spi_out");
    expect(errKey({ ...base(), sa: { ...base().sa, spi_in: "zz" } })).toBe("sa.spi_in");
    expect(errKey({ ...base(), sa: { ...base().sa, key_out: K20 } })).toBe("sa.key_out");
    expect(errKey({ ...base(), sa: { ...base().sa, key_in: undefined } })).toBe("sa.key_in");
    expect(errKey({ ...base(), sa: { ...base().sa, key_in: "0xnothex" } })).toBe("sa.key_in");
    expect(errKey({ ...base(), sa: { ...base().sa, key_out_file: "x" } })).toBe("sa.key_out");
    const r = base();
    delete r.sa!.key_out;
    r.sa!.key_out_file = "/nonexistent";
    expect(errKey(r, () => {
      throw new Error("ENOENT");
    })).toBe("sa.key_out_file");
    expect(errKey({ ...base(), sa: { ...base().sa, esn: "yes" } })).toBe("sa.esn");
  });

  test("errors never contain key bytes", () => {
    try {
      validateConfig({ ...base(), sa: { ...base().sa, key_out: "0x" + "ab".repeat(35) } });
      throw new Error("validated");
    } catch (e) {
      expect((e as Error).message).not.toContain("abab");
    }
  });

  test("TOML syntax errors are ConfigErrors", () => {
    expect(() => parseConfigText("local = ")).toThrow(ConfigError);
  });

  test("CLI flags override the file; a key file flag replaces an inline key", () => {
    const m = mergeRaw(base(), { remote: "192.0.2.9", routes: ["10.8.0.0/16"], sa: { key_out_file: "f", spi_in: undefined } });
    expect(m.remote).toBe("192.0.2.9");
    expect(m.routes).toEqual(["10.8.0.0/16"]);
    expect(m.sa!.key_out).toBeUndefined();
    expect(m.sa!.key_out_file).toBe("f");
    expect(m.sa!.spi_in).toBe("0x5fba82be");
    expect(m.local).toBe("192.0.2.1");
  });
});

describe("selectors", () => {
  test("parse and canonicalise prefixes", () => {
    expect(parseCidr("10.9.0.1/30")!.text).toBe("10.9.0.0/30");
    expect(parseCidr("10.9.0.1/30", true)!.text).toBe("10.9.0.1/30");
    expect(parseCidr("fd00:9::1/126")!.text).toBe("fd00:9::/126");
    expect(parseCidr("::ffff:192.0.2.1")!.addr.subarray(12)).toEqual(Uint8Array.of(192, 0, 2, 1));
    expect(parseCidr("1.2.3")).toBeNull();
    expect(parseCidr("fd00::1::2")).toBeNull();
    expect(parseCidr("10.0.0.0/8x")).toBeNull();
  });
});

describe("key log", () => {
  // strongSwan fixture a: its esp_sa lines, rebuilt from keys.json values
  const fixture = readFileSync(join(import.meta.dir, "../../fixtures/strongswan/a_ikev2_psk_gcm_natt/esp_sa"), "utf8")
    .split("\n").filter((l) => l.startsWith('"'));

  test("esp_sa lines match Wireshark's UAT format byte for byte", () => {
    for (const line of fixture) {
      const f = line.split(",").map((x) => x.replace(/"/g, ""));
      const sa = { src: f[1], dst: f[2], spi: parseInt(f[3], 16), cipher: "aes256gcm16" as const, keyMaterial: fromHex(f[5])!, esn: false };
      expect(espSaLine(sa)).toBe(line);
    }
  });

  test("vpnkit line format, IPv6 esp_sa, file modes", () => {
    const d = mkdtempSync(join(tmpdir(), "vt-keylog-"));
    try {
      const kl = new KeyLog(join(d, "keys"));
      const sa = { src: "2001:db8::1", dst: "2001:db8::2", spi: 0x1001, cipher: "chacha20poly1305" as const, keyMaterial: new Uint8Array(36).fill(0xaa), esn: true };
      kl.add(sa);
      expect(keylogLine(sa)).toBe(`ESP 2001:db8::1 2001:db8::2 0x00001001 chacha20poly1305 0x${"aa".repeat(36)} esn=1`);
      expect(readFileSync(join(d, "keys"), "utf8")).toBe(keylogLine(sa) + "\n");
      const ws = readFileSync(join(d, "keys.esp_sa"), "utf8").split("\n");
      expect(ws[1]).toStartWith("# 0x00001001 uses ESN"); // the SA has esn: true (Wireshark cannot check its ICVs)
      expect(ws[2]).toBe(`"IPv6","2001:db8::1","2001:db8::2","0x00001001","ChaCha20 with Poly1305 [RFC7634]","0x${"aa".repeat(36)}","NULL",""`);
      expect(statSync(join(d, "keys")).mode & 0o777).toBe(0o600);
      expect(statSync(join(d, "keys.esp_sa")).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
