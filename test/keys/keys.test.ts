/**
 * Key input: every format parsed from real files, auto-detection, KeyStore lookups, and bad
 * lines reported with file:line and a reason (never the key).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { toHex } from "../../lib/core/bytes.ts";
import {
  detectKeyFormat, KeyFileError, KeyStore, loadInlineKeys, loadKeyFile, loadKeyStore, parseKeyText, type EspKey, type ParsedKeys,
} from "../../lib/keys/mod.ts";
import { espSaLine, keylogLine } from "../../lib/tunnel/keylog.ts";
import { espKeyMaterialLength } from "../../lib/esp/cbc.ts";
import { decodeAll } from "../decrypt/helpers.ts";
import type { EspDecryptInfo } from "../../lib/decrypt/types.ts";
import type { LayerBase } from "../../lib/core/layer.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const T = `${ROOT}fixtures/tcpdump`;
const HERE = new URL("./", import.meta.url).pathname;
const DIRS = ["fixtures/strongswan", "fixtures/made"].flatMap((b) => readdirSync(ROOT + b).filter((d) => !d.includes(".")).map((d) => `${ROOT}${b}/${d}`));
const rows = (f: string) => readFileSync(f, "utf8").split("\n").filter((l) => l.trim() && !l.startsWith("#")).length;
const espId = (k: EspKey) => `${(k.spi! >>> 0).toString(16).padStart(8, "0")} ${k.src} ${k.dst} ${k.params.encr} ${toHex(k.params.encKey)} ${k.params.integ} ${k.params.authKey ? toHex(k.params.authKey) : ""}`;

function expectError(fn: () => unknown, file: string, line: number, reason: RegExp): KeyFileError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(KeyFileError);
  const k = err as KeyFileError;
  expect(k.file).toBe(file);
  expect(k.line).toBe(line);
  expect(k.reason).toMatch(reason);
  expect(k.message).toBe(line > 0 ? `${file}:${line}: ${k.reason}` : `${file}: ${k.reason}`);
  return k;
}

describe("Wireshark UAT files of every fixture", () => {
  for (const dir of DIRS) {
    for (const f of ["esp_sa", "ikev2_decryption_table", "ikev1_decryption_table"]) {
      if (!existsSync(`${dir}/${f}`)) continue;
      test(`${dir.slice(ROOT.length)}/${f}`, () => {
        const text = readFileSync(`${dir}/${f}`, "utf8");
        expect(detectKeyFormat(text) ?? (rows(`${dir}/${f}`) === 0 ? f : null)).toBe(f as never);
        const k = loadKeyFile(`${dir}/${f}`);
        const n = f === "esp_sa" ? k.esp.length : f === "ikev2_decryption_table" ? k.ikev2.length : k.ikev1.length;
        expect(n).toBe(rows(`${dir}/${f}`));
        for (const x of [...k.esp, ...k.ikev2, ...k.ikev1]) expect(x.origin.file).toBe(`${dir}/${f}`);
      });
    }
  }
});

describe("charon logs (ike=4, chd=4) give the same keys as the UAT files made from them", () => {
  for (const dir of DIRS) {
    if (!existsSync(`${dir}/charon-vf1.log.gz`)) continue;
    test(dir.slice(ROOT.length), () => {
      const logs = [1, 2].map((n) => loadKeyFile(`${dir}/charon-vf${n}.log.gz`));
      const v1 = logs[0];
      expect(detectKeyFormat(readFileSync(`${dir}/keys.json`, "utf8"))).toBeNull();
      const json = JSON.parse(readFileSync(`${dir}/keys.json`, "utf8"));
      // IKEv2: each SA in the table is found in the initiator's (vf1) log with the same keys.
      if (existsSync(`${dir}/ikev2_decryption_table`)) {
        const want = new KeyStore(loadKeyFile(`${dir}/ikev2_decryption_table`)).dump().map((l) => l.replace(/ # .*/, ""));
        const got = new KeyStore(logs).dump().filter((l) => l.startsWith("IKEv2")).map((l) => l.replace(/ # .*/, ""));
        for (const w of want) expect(got).toContain(w);
      }
      // ESP: every SA of keys.json (including ChaCha20, which has no esp_sa row), same keys.
      const esp = new Map(logs.flatMap((l) => l.esp).map((k) => [k.spi!, k]));
      for (const e of json.esp) {
        const k = esp.get(parseInt(e.spi, 16))!;
        expect(k, e.spi).toBeDefined();
        expect(toHex(k.params.encKey)).toBe(e.ekey);
        expect(k.params.authKey ? toHex(k.params.authKey) : "").toBe(e.ikey);
        expect(`${k.src} ${k.dst}`).toBe(`${e.src} ${e.dst}`);
      }
      for (const e of json.ikev1) expect(v1.ikev1.map((x) => `${x.icookie} ${toHex(x.encKey)}`)).toContain(`${e.icookie} ${e.Ka}`);
      for (const k of v1.esp) expect(k.origin.format).toBe("charon");
    });
  }
});

describe("tcpdump -E", () => {
  test("secrets files: esp-secrets.txt and ikev2pI2-secrets.txt", () => {
    const a = loadInlineKeys("file esp-secrets.txt", T);
    expect(a.esp.map((k) => `${k.spi!.toString(16)}@${k.dst} ${k.params.encr} ${k.params.encKey.length} skip ${k.icvSkip}`)).toEqual([
      "12345678@192.1.2.45 3des-cbc 24 skip 12", "abcdabcd@192.0.1.1 3des-cbc 24 skip 12", "d1234567@192.1.2.45 aes-cbc 32 skip 12",
    ]);
    expect(a.esp[0].origin).toEqual({ file: "esp-secrets.txt", line: 3, format: "tcpdump" });
    const b = loadKeyFile(`${T}/ikev2pI2-secrets.txt`);
    expect(b.ikev2.length).toBe(1);
    expect(b.ikev2[0]).toMatchObject({ ispi: "0001020304050607", rspi: "c02e7a3031a03188" });
    expect(b.ikev2[0].initiator).toMatchObject({ encr: "aes-cbc", integ: "hmac-sha1-96" });
    expect(toHex(b.ikev2[0].responder.encKey)).toBe("bedb67ec7dc3d00cccac42e70cd63bde");
  });

  test("inline: several SAs, default SA, ASCII secret", () => {
    const k = loadInlineKeys("0x12345678@192.1.2.45 3des-cbc-hmac96:0x43434545464649494a4a4c4c4f4f51515252545457575840,0xabcdabcd@192.0.1.1 3des-cbc-hmac96:0x434545464649494a4a4c4c4f4f5151525254545757584043");
    expect(k.esp.map((x) => x.spi)).toEqual([0x12345678, 0xabcdabcd]);
    const d = new KeyStore(loadInlineKeys("3des-cbc-hmac96:0x4043434545464649494a4a4c4c4f4f515152525454575758"));
    expect(d.esp(0x99, "1.2.3.4", "5.6.7.8")?.spi).toBeUndefined();
    expect(d.esp(0x99, "1.2.3.4", "5.6.7.8")?.params.encr).toBe("3des-cbc");
    expect(toHex(loadInlineKeys("aes128-cbc:abcdefghijklmnop").esp[0].params.encKey)).toBe(toHex(new TextEncoder().encode("abcdefghijklmnop")));
  });

  test("bad lines", () => {
    expectError(() => parseKeyText("# c\n0x1@1.2.3.4 3des-cbc:0x1234\n", "s.txt", "tcpdump"), "s.txt", 2, /3des-cbc encryption key is 2 bytes, expected 24/);
    expectError(() => parseKeyText("0x1@1.2.3.4 blowfish-cbc:0x1234\n", "s.txt", "tcpdump"), "s.txt", 1, /unsupported algorithm "blowfish-cbc"/);
    expectError(() => parseKeyText("\n\nikev2 X 0x0001020304050607 0xc02e7a3031a03188 sha1:0x00 aes128:0x00\n", "s.txt", "tcpdump"), "s.txt", 3, /direction must be I or R/);
    expectError(() => loadInlineKeys("0x1@nowhere aes128-cbc:0x00112233445566778899aabbccddeeff"), "<--keys-inline>", 1, /bad address/);
    expectError(() => loadInlineKeys("0x1@1.2.3.4 aes128-cbc:0x0011"), "<--keys-inline>", 1, /aes-cbc-128 key is 2 bytes, expected 16/);
  });
});

describe("ip xfrm state (iproute2 format, written from the fixtures' keys: no ESP in this kernel)", () => {
  const file = `${HERE}xfrm-state.txt`;
  test("parsed: ESP states only, algorithms, ESN flag, same keys as keys.json", () => {
    expect(detectKeyFormat(readFileSync(file, "utf8"))).toBe("xfrm");
    const k = loadKeyFile(file);
    expect(k.esp.length).toBe(13); // 6 captures x 2 directions + 1 ESN state; the AH state is skipped
    expect(k.esp.filter((x) => x.esn).map((x) => x.spi)).toEqual([0xc0ffee01]);
    expect([...new Set(k.esp.map((x) => `${x.params.encr}/${x.params.integ}`))].sort()).toEqual([
      "3des-cbc/hmac-sha1-96", "aes-cbc/hmac-sha256-128", "aes-gcm/none", "chacha20-poly1305/none", "null/hmac-sha256-128",
    ]);
  });
  for (const c of ["k_esp_3des_sha1", "k_esp_aes128_sha256", "k_esp_aes128gcm16", "k_esp_aes256gcm16", "k_esp_chacha20poly1305", "k_esp_null_sha256"]) {
    test(`decrypts ${c}`, async () => {
      const pkts = await decodeAll(`${ROOT}fixtures/made/${c}/${c}.pcap`, new KeyStore(loadKeyFile(file)));
      const v = pkts.flatMap((p) => p.layers.filter((l) => l.layer === "esp").map((l) => (l as LayerBase & { decrypt?: EspDecryptInfo }).decrypt?.icv));
      expect(v).toEqual(new Array(8).fill("good"));
    });
  }
  test("bad lines", () => {
    expectError(() => parseKeyText("src 1.2.3.4 dst 5.6.7.8\n\tproto esp spi 0x1 reqid 1 mode tunnel\n\tenc cbc(blowfish) 0x00\n", "x", "xfrm"), "x", 3, /unsupported enc algorithm cbc\(blowfish\)/);
    expectError(() => parseKeyText("src 1.2.3.4 dst 5.6.7.8\n\tproto esp spi 0x1 reqid 1 mode tunnel\n\tauth hmac(sha256) 0x" + "00".repeat(32) + "\n\tenc cbc(aes) 0x" + "00".repeat(16) + "\n", "x", "xfrm"), "x", 3, /truncated to 96 bits is not supported/);
    expectError(() => parseKeyText("\tproto esp spi 0x1\n", "x", "xfrm"), "x", 1, /before any "src/);
    expectError(() => parseKeyText("src 1.2.3.4 dst 5.6.7.8\n\tproto esp spi 0x1 reqid 1 mode tunnel\n\taead rfc4106(gcm(aes)) 0x0011 128\n", "x", "xfrm"), "x", 3, /aes-gcm encryption key is 2 bytes/);
  });
});

describe("vpnkit key log", () => {
  test("ESP lines written by lib/tunnel/keylog.ts, and IKEv2 lines", async () => {
    const d = `${ROOT}fixtures/made/k_esp_aes256gcm16`;
    const ws = loadKeyFile(`${d}/esp_sa`);
    const log = ws.esp.map((k) => keylogLine({ src: k.src!, dst: k.dst!, spi: k.spi!, cipher: "aes256gcm16", keyMaterial: k.params.encKey, esn: false })).join("\n");
    const t = readFileSync(`${d}/ikev2_decryption_table`, "utf8").split("\n").find((l) => /^[0-9a-f]{16},/.test(l))!.split(",");
    const ike = `IKEv2 ${t[0]} ${t[1]} aes256 0x${t[2]} 0x${t[3]} sha256 0x${t[5]} 0x${t[6]}`;
    expect(detectKeyFormat(log + "\n" + ike)).toBe("vpnkit-keylog");
    const k = parseKeyText(log + "\n" + ike + "\n", "keylog");
    expect(k.esp.map(espId)).toEqual(ws.esp.map(espId));
    expect(k.ikev2[0].initiator).toMatchObject({ encr: "aes-cbc", integ: "hmac-sha2-256-128" });
    const pkts = await decodeAll(`${d}/k_esp_aes256gcm16.pcap`, new KeyStore(k));
    for (const p of pkts) for (const l of p.layers) if (l.layer === "esp") expect((l as LayerBase & { decrypt?: EspDecryptInfo }).decrypt?.icv).toBe("good");
  });
  test("AES-CBC + HMAC ESP lines (aes128-sha256: encryption key then integrity key) and their esp_sa twins decrypt a strongSwan capture", async () => {
    const d = `${ROOT}fixtures/made/k_esp_aes128_sha256`;
    const ws = loadKeyFile(`${d}/esp_sa`);
    const sas = ws.esp.map((k) => ({ src: k.src!, dst: k.dst!, spi: k.spi!, cipher: "aes128-sha256" as const, keyMaterial: new Uint8Array([...k.params.encKey, ...k.params.authKey!]), esn: false }));
    const log = sas.map(keylogLine).join("\n");
    expect(log).toMatch(/^ESP \S+ \S+ 0x[0-9a-f]{8} aes128-sha256 0x[0-9a-f]{96} esn=0$/m);
    const wsText = sas.map(espSaLine).join("\n");
    expect(wsText).toContain('"AES-CBC [RFC3602]"');
    expect(wsText).toContain('"HMAC-SHA-256-128 [RFC4868]"');
    for (const [text, name] of [[log, "keylog"], [wsText, "esp_sa"]] as const) {
      const k = parseKeyText(text + "\n", name);
      expect(k.esp.map(espId)).toEqual(ws.esp.map(espId));
      expect(k.esp.map((e) => `${e.params.encr}/${e.params.integ}`)).toEqual(ws.esp.map(() => "aes-cbc/hmac-sha256-128"));
      const pkts = await decodeAll(`${d}/k_esp_aes128_sha256.pcap`, new KeyStore(k));
      const v = pkts.flatMap((p) => p.layers.filter((l) => l.layer === "esp").map((l) => (l as LayerBase & { decrypt?: EspDecryptInfo }).decrypt?.icv));
      expect(v).toEqual(new Array(8).fill("good"));
    }
    for (const c of ["aes128-sha1", "aes256-sha384", "aes256-sha512"] as const) {
      const km = new Uint8Array(espKeyMaterialLength(c)).fill(7);
      expect(parseKeyText(keylogLine({ ...sas[0], cipher: c, keyMaterial: km }) + "\n", "kl").esp[0].params.integ).toBe(c === "aes128-sha1" ? "hmac-sha1-96" : c === "aes256-sha384" ? "hmac-sha384-192" : "hmac-sha512-256");
    }
  });
  test("bad lines", () => {
    expectError(() => parseKeyText("ESP 1.2.3.4 5.6.7.8 0x00000001 aes128gcm16 0x00 esn=0\n", "kl", "vpnkit-keylog"), "kl", 1, /aes-gcm encryption key is 1 bytes/);
    expectError(() => parseKeyText("ESP 1.2.3.4 5.6.7.8 0x00000001 aes128gcm16 0x" + "00".repeat(20) + " esn=2\n", "kl", "vpnkit-keylog"), "kl", 1, /esn=0 or esn=1/);
    expectError(() => parseKeyText("\nESP 1.2.3.4 5.6.7.8 0x00000001 aes128 0x" + "00".repeat(16) + " esn=0\n", "kl", "vpnkit-keylog"), "kl", 2, /unsupported ESP cipher "aes128"/);
  });
});

describe("Wireshark bad lines", () => {
  test("esp_sa / ikev2 / ikev1 tables", () => {
    expectError(() => parseKeyText('"IPv4","1.2.3.4","5.6.7.8","0x1","Blowfish-CBC [RFC2451]","0x00","NULL",""\n', "esp_sa", "esp_sa"), "esp_sa", 1, /unsupported ESP encryption algorithm/);
    expectError(() => parseKeyText('# h\n"IPv4","1.2.3.4","5.6.7.8","0xzz","NULL","","NULL",""\n', "esp_sa", "esp_sa"), "esp_sa", 2, /bad SPI/);
    expectError(() => parseKeyText('"IPv4","1.2.3.4","5.6.7.8","0x1","AES-CBC [RFC3602]","0x0011","NULL",""\n', "esp_sa", "esp_sa"), "esp_sa", 1, /aes-cbc encryption key is 2 bytes/);
    expectError(() => parseKeyText('0011223344556677,8899aabbccddeeff,00,00,"AES-CBC-128 [RFC3602]",00,00,"HMAC_SHA2_256_128 [RFC4868]"\n', "t", "ikev2_decryption_table"), "t", 1, /SK_ei\/SK_ai: aes-cbc encryption key is 1 bytes/);
    expectError(() => parseKeyText('0011223344556677,8899aabbccddeeff,00,00,"AES-CBC-128 [RFC3602]",00,00,"HMAC_SHA2_256_96"\n', "t", "ikev2_decryption_table"), "t", 1, /unsupported IKEv2 integrity/);
    expectError(() => parseKeyText("00112233,00\n", "t1", "ikev1_decryption_table"), "t1", 1, /16 hex digits/);
    expectError(() => parseKeyText("hello world\n", "what"), "what", 1, /not a key format/);
    expectError(() => loadKeyStore(["/nonexistent/keys"]), "/nonexistent/keys", 0, /cannot read: ENOENT/);
  });
  test("errors never contain key material", () => {
    const key = "00112233445566778899aabbccddeeff0011223344556677";
    const e = expectError(() => parseKeyText(`"IPv4","1.2.3.4","5.6.7.8","0x1","TripleDES-CBC [RFC2451]","0x${key}","HMAC-SHA-1-96 [RFC2404]","0x${key}"\n`, "esp_sa", "esp_sa"), "esp_sa", 1, /integrity key is 24 bytes/);
    expect(e.message).not.toContain(key.slice(0, 16));
  });
});

describe("KeyStore", () => {
  const esp = (spi: number, src?: string, dst?: string, b = 1): ParsedKeys => ({ esp: [{ spi, src, dst, params: { encr: "aes-cbc", encKey: new Uint8Array(16).fill(b), integ: "none" }, esn: false, origin: { file: "f", line: b, format: "esp_sa" } }], ikev2: [], ikev1: [] });
  test("ESP lookup: exact addresses beat destination-only beat wildcard; default SA last", () => {
    const ks = new KeyStore([esp(7, undefined, undefined, 1), esp(7, undefined, "10.0.0.2", 2), esp(7, "10.0.0.1", "10.0.0.2", 3), loadInlineKeys("aes128-cbc:0x" + "44".repeat(16))]);
    expect(ks.esp(7, "10.0.0.1", "10.0.0.2")!.origin.line).toBe(3);
    expect(ks.esp(7, "10.0.0.9", "10.0.0.2")!.origin.line).toBe(2);
    expect(ks.esp(7, "10.0.0.9", "10.0.0.3")!.origin.line).toBe(1);
    expect(ks.esp(8, "10.0.0.9", "10.0.0.3")!.origin.format).toBe("tcpdump");
    expect(new KeyStore(esp(9, "2001:db8:0:0::1", "2001:DB8::2")).esp(9, "2001:db8::1", "2001:db8::2")).toBeDefined();
  });
  test("IKE lookups, dump prints keys only when asked, zero() wipes them", () => {
    const ks = new KeyStore([loadKeyFile(`${ROOT}fixtures/strongswan/b_ikev2_psk_cbc_sha256/ikev2_decryption_table`), loadKeyFile(`${ROOT}fixtures/strongswan/e1_ikev1_main_psk/ikev1_decryption_table`)]);
    const v2 = ks.ikev2("e9fd0fc9c3a3aab7", Uint8Array.from([0x19, 0x98, 0x76, 0xd1, 0xcd, 0xeb, 0x40, 0xbe]))!;
    expect(v2.initiator.encr).toBe("aes-cbc");
    expect(ks.ikev1("cbdf9cceda133203", "430fc958b0aa14d0")).toBeDefined();
    expect(ks.ikev1("0000000000000000")).toBeUndefined();
    expect(ks.dump().join("\n")).toContain("8d406d000258fa7667d27353d50623a9");
    expect(JSON.stringify(ks)).not.toContain("8d406d00");
    ks.zero();
    expect(v2.initiator.encKey.every((x) => x === 0)).toBe(true);
  });
});
