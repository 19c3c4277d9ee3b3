/**
 * Issue 14, secrets: the key log refuses files it must not write keys into (symlink, another
 * user's file, a 0644 file, any existing file without --keylog-append); secret files readable
 * by group/others get a warning (a refusal with `strict`); short PSKs are refused.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSecretFileMode, readSecretFile, SecretFileError } from "../../lib/core/secret.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { KeyLog, keylogAddIke, KeylogError, prepareKeylog } from "../../lib/tunnel/keylog.ts";
import { checkSecretFiles, secretFiles } from "../../lib/tunnel/ops-config.ts";

const ROOT = join(import.meta.dir, "../..");
const NOBODY = 65534;
const SA = { src: "192.0.2.1", dst: "192.0.2.2", spi: 0x1001, cipher: "aes256gcm16" as const, keyMaterial: new Uint8Array(36).fill(0xab), esn: false };
const KEYHEX = "ab".repeat(36);

function withDir(f: (d: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const d = mkdtempSync(join(tmpdir(), "vko-sec-"));
    chmodSync(d, 0o1777); // like /tmp: anyone may create files here
    try {
      await f(d);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  };
}

function refusal(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KeylogError);
    return (e as Error).message;
  }
  throw new Error("not refused");
}

describe("key log safety", () => {
  test("a new key log: three files created 0600, keys appended", withDir((d) => {
    const p = join(d, "keys");
    prepareKeylog(p, false);
    for (const f of [p, p + ".esp_sa", p + ".ikev2_decryption_table"]) {
      expect(statSync(f).mode & 0o777).toBe(0o600);
      expect(statSync(f).isFile()).toBe(true);
    }
    new KeyLog(p).add(SA);
    expect(readFileSync(p, "utf8")).toContain(KEYHEX);
    expect(readFileSync(p + ".esp_sa", "utf8")).toContain(KEYHEX);
  }));

  test("a symlinked key log is refused (even with append) and its target untouched", withDir((d) => {
    const target = join(d, "target");
    writeFileSync(target, "", { mode: 0o600 });
    const p = join(d, "keys");
    symlinkSync(target, p);
    expect(refusal(() => prepareKeylog(p, false))).toContain("is a symbolic link");
    expect(refusal(() => prepareKeylog(p, true))).toContain("symbolic link");
    expect(refusal(() => new KeyLog(p).add(SA))).toContain("symbolic link");
    expect(readFileSync(target, "utf8")).toBe("");
  }));

  test("a key log owned by another user is refused", withDir((d) => {
    const p = join(d, "keys");
    writeFileSync(p, "", { mode: 0o600 });
    chownSync(p, NOBODY, NOBODY);
    const m = refusal(() => prepareKeylog(p, true));
    expect(m).toContain(`owned by uid ${NOBODY}`);
    expect(refusal(() => new KeyLog(p).add(SA))).toContain("owned by uid");
    expect(readFileSync(p, "utf8")).toBe("");
  }));

  test("an existing 0644 key log is refused, also with append", withDir((d) => {
    const p = join(d, "keys");
    writeFileSync(p, "");
    chmodSync(p, 0o644);
    expect(refusal(() => prepareKeylog(p, false))).toContain("exists");
    expect(refusal(() => prepareKeylog(p, true))).toContain("mode 0644, not 0600");
    expect(refusal(() => new KeyLog(p).add(SA))).toContain("mode 0644");
    expect(readFileSync(p, "utf8")).toBe("");
  }));

  test("an existing key log of ours with mode 0600: refused without append, appended to with it", withDir((d) => {
    const p = join(d, "keys");
    writeFileSync(p, "old line\n", { mode: 0o600 });
    expect(refusal(() => prepareKeylog(p, false))).toContain("--keylog-append");
    prepareKeylog(p, true);
    new KeyLog(p).add(SA);
    expect(readFileSync(p, "utf8")).toMatch(/^old line\nESP /);
  }));

  test("a FIFO or device is not a key log", withDir((d) => {
    const p = join(d, "keys");
    spawnSync("mkfifo", [p]);
    expect(refusal(() => prepareKeylog(p, true))).toContain("not a regular file");
    expect(refusal(() => prepareKeylog("/dev/null", true))).toContain("/dev/null");
  }));

  test("IKE SA keys obey the same rules", withDir((d) => {
    const p = join(d, "keys");
    writeFileSync(p + ".ikev2_decryption_table", "", { mode: 0o644 });
    const k = { ispi: new Uint8Array(8).fill(1), rspi: new Uint8Array(8).fill(2), encr: "aes-gcm-16" as const, integ: "none" as const, encrKeyBits: 256, skei: new Uint8Array(36).fill(0xab), sker: new Uint8Array(36).fill(0xab), skai: new Uint8Array(0), skar: new Uint8Array(0) };
    expect(refusal(() => keylogAddIke(p, k))).toContain("mode 0644");
    expect(readFileSync(p + ".ikev2_decryption_table", "utf8")).toBe("");
  }));

  test("old behaviour: another user pre-creates the key log in a shared directory; `vpnkit up` refuses and writes no keys into it", withDir((d) => {
    const p = join(d, "vpnkit.keys");
    // what another local user could do in /tmp before we start: a world-writable file they own
    writeFileSync(p, "");
    chmodSync(p, 0o666);
    chownSync(p, NOBODY, NOBODY);
    writeFileSync(p + ".esp_sa", "");
    chmodSync(p + ".esp_sa", 0o666);
    chownSync(p + ".esp_sa", NOBODY, NOBODY);
    const kf = join(d, "k");
    writeFileSync(kf, KEYHEX + "\n", { mode: 0o600 });
    for (const extra of [[], ["--keylog-append"]]) {
      const r = spawnSync(process.execPath, [join(ROOT, "cli/main.ts"), "up", "--local", "192.0.2.1", "--remote", "192.0.2.2", "--tun-addr", "10.9.0.1/30", "--route", "10.9.0.2/32",
        "--cipher", "aes256gcm16", "--spi-out", "0x1001", "--spi-in", "0x1002", "--key-out-file", kf, "--key-in-file", kf, "--keylog", p, ...extra,
        "--control", join(d, "c.sock")], { encoding: "utf8", timeout: 60_000 });
      expect(r.status).toBe(2);
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(/^vpnkit up: key log .*vpnkit\.keys/);
      expect(readFileSync(p, "utf8")).toBe("");
      expect(readFileSync(p + ".esp_sa", "utf8")).toBe("");
      expect(existsSync(join(d, "c.sock"))).toBe(false);
    }
    // and the library refuses on its own too (defence in depth: the data path writes keys later)
    expect(refusal(() => new KeyLog(p).add(SA))).toContain("owned by uid");
    expect(readFileSync(p, "utf8")).toBe("");
  }));
});

describe("secret files and PSKs", () => {
  const pskRaw = (psk: Record<string, unknown>) =>
    mergeRawIke({ local: "192.0.2.2", remote: "192.0.2.1", tun_addr: ["10.1.0.1/24"] }, { local_ts: ["10.1.0.0/24"], remote_ts: ["10.2.0.0/24"], local_id: "a@b", ...psk });

  test("a short PSK is refused unless psk_allow_short = true", () => {
    const f: Record<string, Uint8Array> = { "/short": new TextEncoder().encode("fifteen-bytes!!\n"), "/ok": new TextEncoder().encode("sixteen-bytes!!!\n") };
    const rf = (p: string) => f[p].slice();
    expect(() => validateIkeConfig(pskRaw({ psk_file: "/short" }), rf)).toThrow("ike.psk_file: the pre-shared key is 15 bytes, at least 16 needed (or psk_allow_short = true in [ike])");
    expect(() => validateIkeConfig(pskRaw({ psk: "short" }), rf)).toThrow("ike.psk: the pre-shared key is 5 bytes");
    expect(validateIkeConfig(pskRaw({ psk_file: "/ok" }), rf).ike.psk.length).toBe(16);
    const raw = pskRaw({ psk_file: "/short" });
    raw.ike!.psk_allow_short = true;
    expect(validateIkeConfig(raw, rf).ike.psk.length).toBe(15);
    raw.ike!.psk_allow_short = "yes";
    expect(() => validateIkeConfig(raw, rf)).toThrow("ike.psk_allow_short: must be true or false");
  });

  test("a world-readable PSK file: a warning naming the file and its mode; strict refuses", withDir((d) => {
    const p = join(d, "peer.psk");
    writeFileSync(p, "a-long-enough-pre-shared-key\n");
    chmodSync(p, 0o644);
    const warns: string[] = [];
    checkSecretFiles(pskRaw({ psk_file: p }), undefined, { warn: (m) => warns.push(m) });
    expect(warns).toEqual([`warning: PSK file (ike.psk_file) ${p} has mode 0644: readable by group/others (chmod 600 ${p})`]);
    expect(() => checkSecretFiles(pskRaw({ psk_file: p }), undefined, { warn: () => {}, strict: true })).toThrow(SecretFileError);
    chmodSync(p, 0o600);
    const none: string[] = [];
    checkSecretFiles(pskRaw({ psk_file: p }), undefined, { warn: (m) => none.push(m), strict: true });
    expect(none).toEqual([]);
  }));

  test("the secret files of a configuration: key files, PSK, private key, probe secret, a config with inline keys", () => {
    const raw = { sa: { key_out_file: "/a", key_in: "00" }, ike: { psk_file: "/p", key: "/k.pem" }, mtu_responder: { secret_file: "/s" } } as never;
    expect(secretFiles(raw, "/etc/vpnkit/x.toml").map((f) => f.path)).toEqual(["/a", "/p", "/k.pem", "/s", "/etc/vpnkit/x.toml"]);
    expect(secretFiles({ sa: { key_out_file: "/a" } }, "/c.toml").map((f) => f.path)).toEqual(["/a"]);
  });

  test("readSecretFile: mode warning, strict refusal, minimum length; `vpnkit up --strict` refuses a 0640 key file in one line", withDir((d) => {
    const p = join(d, "s");
    writeFileSync(p, "0123456789abcdef\n");
    chmodSync(p, 0o640);
    const w: string[] = [];
    expect(readSecretFile(p, { warn: (m) => w.push(m), minLen: 16 }).length).toBe(16);
    expect(w[0]).toContain("mode 0640");
    expect(() => readSecretFile(p, { warn: () => {}, minLen: 16, strict: true })).toThrow("refusing secret file");
    expect(() => readSecretFile(p, { warn: () => {}, minLen: 17 })).toThrow("too short");
    checkSecretFileMode(join(d, "missing"), { warn: () => { throw new Error("no warning for a missing file"); }, strict: true });
    writeFileSync(join(d, "k"), KEYHEX + "\n");
    chmodSync(join(d, "k"), 0o640);
    const args = [join(ROOT, "cli/main.ts"), "up", "--local", "192.0.2.1", "--remote", "192.0.2.2", "--tun-addr", "10.9.0.1/30", "--route", "10.9.0.2/32",
      "--cipher", "aes256gcm16", "--spi-out", "0x1001", "--spi-in", "0x1002", "--key-out-file", join(d, "k"), "--key-in-file", join(d, "k"), "--control", join(d, "c.sock")];
    const r = spawnSync(process.execPath, [...args, "--strict"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`vpnkit up: refusing key file (sa.key_out_file) ${join(d, "k")} has mode 0640: readable by group/others (chmod 600 ${join(d, "k")}) (strict)\n`);
  }));
});

describe("ESN SAs in the key log", () => {
  test("FILE.esp_sa says that Wireshark cannot check ESN ICVs; both files still parse as key files", withDir(async (d) => {
    const p = join(d, "keys");
    prepareKeylog(p, false);
    new KeyLog(p).add({ ...SA, esn: true });
    new KeyLog(p).add({ ...SA, spi: 0x2002, esn: false });
    const ws = readFileSync(p + ".esp_sa", "utf8").split("\n");
    expect(ws[1]).toStartWith("# 0x00001001 uses ESN: Wireshark's esp_sa has no ESN setting");
    expect(ws.filter((l) => l.startsWith("#")).length).toBe(2); // header + one note (the non-ESN SA gets none)
    const { loadKeyFile } = await import("../../lib/keys/load.ts");
    const fromWs = loadKeyFile(p + ".esp_sa");
    const fromVk = loadKeyFile(p);
    expect(fromWs.esp.length).toBe(2);
    expect(fromVk.esp.map((e: { esn?: boolean }) => e.esn)).toEqual([true, false]);
  }));
});
