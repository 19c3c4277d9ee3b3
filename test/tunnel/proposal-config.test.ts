/**
 * `vpnkit up` validates every proposal at start-up (lib/tunnel/config-proposals.ts):
 * each unsupported or malformed one exits 2 with the word named, before anything
 * starts (one spawned `up` per case, through test/tunnel/run-cli.ts). The accepted
 * forms are checked on validateIkeConfig: comma lists, `default`, the modp1024 opt-in
 * and its warning, the config-file keys.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";

const dir = mkdtempSync(join(tmpdir(), "vkaprop-"));
const pskFile = join(dir, "peer.psk");
writeFileSync(pskFile, "sixteen-bytes-psk-xx\n", { mode: 0o600 });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function up(args: string[]): { status: number | null; err: string } {
  const r = spawnSync(process.execPath, [join(import.meta.dir, "run-cli.ts"), "up", "--peer", "192.0.2.1", "--psk-file", pskFile, "--local-ts", "10.1.0.0/24", "--remote-ts", "10.2.0.0/24", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, err: r.stderr };
}

describe("vpnkit up: a bad proposal exits 2 at start-up, naming the word", () => {
  const cases: [string, string[], string][] = [
    ["unknown cipher", ["--ike-proposal", "aes512-sha256-ecp256"], 'ike.ike_proposal: IKE proposal "aes512-sha256-ecp256": "aes512" is not a known algorithm'],
    ["unknown group", ["--ike-proposal", "aes256gcm16-prfsha256-ecp999"], '"ecp999" is not a known algorithm'],
    ["unsupported cipher", ["--ike-proposal", "3des-sha256-modp2048"], '"3des" (3DES_CBC) is not supported'],
    ["unsupported integrity", ["--ike-proposal", "aes256-md5-modp2048"], '"md5" (HMAC_MD5_96) is not supported'],
    ["missing integrity, non-AEAD IKE", ["--ike-proposal", "aes256-prfsha256-ecp256"], '"aes256-prfsha256-ecp256": names no integrity algorithm'],
    ["missing PRF, AEAD IKE", ["--ike-proposal", "aes256gcm16-x25519"], '"aes256gcm16-x25519": names no PRF'],
    ["AEAD with integrity", ["--ike-proposal", "aes256gcm16-sha256-prfsha256-x25519"], '"sha256" is an integrity algorithm, which an AEAD cipher does not take'],
    ["missing key exchange", ["--ike-proposal", "aes256-sha256"], "names no key exchange method"],
    ["AEAD and non-AEAD mixed", ["--ike-proposal", "aes256-aes256gcm16-sha256-ecp256"], '"aes256gcm16" mixes AEAD and non-AEAD'],
    ["modp1024 without --allow-modp1024", ["--ike-proposal", "aes256-sha1-modp1024"], '"modp1024" (MODP_1024) is weak: accepted only when explicitly allowed'],
    ["empty proposal", ["--ike-proposal", ""], 'IKE proposal "": is empty'],
    ["empty word", ["--ike-proposal", "aes256--sha256-ecp256"], "empty algorithm name"],
    ["bad second of a comma list", ["--ike-proposal", "aes256gcm16-prfsha256-x25519,aes256-sha256-foo"], '"foo" is not a known algorithm'],
    ["esn in an IKE proposal", ["--ike-proposal", "aes256gcm16-prfsha256-x25519-esn"], '"esn" belongs in ESP proposals only'],
    ["ESP AES-CBC-192", ["--esp-proposal", "aes192-sha256"], 'ike.esp_proposal: ESP proposal "aes192-sha256": "aes192" is not supported by the ESP data plane'],
    ["ESP HMAC-MD5", ["--esp-proposal", "aes256-md5"], 'ike.esp_proposal: ESP proposal "aes256-md5": "md5" (HMAC_MD5_96) is not supported'],
    ["ESP AEAD with integrity", ["--esp-proposal", "aes256gcm16-sha256"], '"sha256" is an integrity algorithm'],
    ["ESP unknown group", ["--esp-proposal", "aes256gcm16-ecp999"], '"ecp999" is not a known algorithm'],
    ["ESP PRF word", ["--esp-proposal", "aes256gcm16-prfsha256"], '"prfsha256" is a PRF'],
    ["ESP modp1024 without the opt-in", ["--esp-proposal", "aes256gcm16-modp1024"], '"modp1024" (MODP_1024) is weak'],
    ["ESP empty proposal", ["--esp-proposal", "aes256gcm16,"], 'ESP proposal "": is empty'],
  ];
  for (const [what, args, msg] of cases) {
    test(`${what}: ${args.join(" ")}`, () => {
      const r = up(args);
      expect(r.err).toContain(msg);
      expect(r.status).toBe(2);
    });
  }
  test("--allow-modp1024: accepted, and the start-up warning says it is weak", () => {
    // stopped right after the proposal check by a key log that already exists (nothing starts)
    const existing = join(dir, "existing.keys");
    writeFileSync(existing, "", { mode: 0o600 });
    const r = up(["--ike-proposal", "aes256-sha1-modp1024", "--allow-modp1024", "--keylog", existing]);
    expect(r.err).toContain('vpnkit up: IKE proposal "aes256-sha1-modp1024": modp1024 (MODP_1024) is weak (about 80-bit security), use modp2048 or better');
    expect(r.err).not.toContain("ike.ike_proposal");
    expect(r.err).toContain("refusing to write keys into an existing file");
  });
  test("in a config file too", () => {
    const conf = join(dir, "bad.toml");
    writeFileSync(conf, `remote = "192.0.2.1"\n[ike]\npsk_file = "${pskFile}"\nlocal_ts = ["10.1.0.0/24"]\nremote_ts = ["10.2.0.0/24"]\nike_proposal = ["aes256gcm16-prfsha256-x25519", "aes256-sha1-ecp224"]\n`, { mode: 0o600 });
    const r = spawnSync(process.execPath, [join(import.meta.dir, "run-cli.ts"), "up", "--config", conf], { encoding: "utf8", timeout: 30_000 });
    expect(r.stderr).toContain('"ecp224" (ECP_224) is not supported');
    expect(r.status).toBe(2);
  });
});

describe("accepted proposals (validateIkeConfig)", () => {
  const raw = (ike: Record<string, unknown>) =>
    mergeRawIke({ local: "192.0.2.2", remote: "192.0.2.1", tun_addr: ["10.1.0.1/24"] }, { local_ts: ["10.1.0.0/24"], remote_ts: ["10.2.0.0/24"], psk: "sixteen-bytes-psk-xx", ...ike });
  test("comma lists, several items, default, esn: kept as written, no warnings", () => {
    const c = validateIkeConfig(raw({ ike_proposal: ["aes128-aes256-sha256-sha384-ecp256-ecp384,default", "aes192-sha1-prfaesxcbc-modp3072"], esp_proposal: "aes256gcm16-esn-noesn-x25519, chacha20poly1305" }));
    expect(c.ike.ikeProposals).toEqual(["aes128-aes256-sha256-sha384-ecp256-ecp384,default", "aes192-sha1-prfaesxcbc-modp3072"]);
    expect(c.ike.espProposals).toEqual(["aes256gcm16-esn-noesn-x25519, chacha20poly1305"]);
    expect(c.ike.proposalWarnings).toEqual([]);
  });
  test("modp1024 with allow_modp1024 = true: accepted, with a warning that it is weak", () => {
    const c = validateIkeConfig(raw({ ike_proposal: "aes256-sha1-modp1024", allow_modp1024: true }));
    expect(c.ike.proposalWarnings).toEqual(['IKE proposal "aes256-sha1-modp1024": modp1024 (MODP_1024) is weak (about 80-bit security), use modp2048 or better']);
    expect(() => validateIkeConfig(raw({ ike_proposal: "aes256-sha1-modp1024", allow_modp1024: "yes" }))).toThrow("ike.allow_modp1024: must be true or false");
  });
  test("an empty list is refused", () => {
    expect(() => validateIkeConfig(raw({ ike_proposal: [] }))).toThrow("ike.ike_proposal: is an empty list");
  });
  test("ESP AES-CBC + HMAC accepted (issue 15); the tunnel and TUN MTUs leave room for its IV, padding and ICV", () => {
    const gcm = validateIkeConfig(raw({ esp_proposal: "aes256gcm16" }));
    expect([gcm.tunnelMtu, gcm.tunMtu]).toEqual([1438, 1438]);
    const c = validateIkeConfig(raw({ esp_proposal: ["aes128-sha256", "aes256-sha512,aes256gcm16"] }));
    expect(c.ike.espProposals).toEqual(["aes128-sha256", "aes256-sha512,aes256gcm16"]);
    expect([c.tunnelMtu, c.tunMtu]).toEqual([1406, 1406]);
    // an explicit tun_mtu stays as given
    const t = validateIkeConfig({ ...raw({ esp_proposal: "aes128-sha1" }), tun_mtu: 1300 });
    expect([t.tunnelMtu, t.tunMtu]).toEqual([1422, 1300]);
  });
});
