/**
 * Wireshark UAT key files: `esp_sa`, `ikev2_decryption_table`, `ikev1_decryption_table`
 * (the files a Wireshark profile directory holds). One record per line, comma-separated,
 * strings in double quotes, `#` comments.
 * @module
 */
import type { DecodeEncr, DecodeInteg } from "../esp/decrypt.ts";
import type { SkEncr } from "../ike/v2/sk-crypto.ts";
import { espParams, skIntegFromName, skParams } from "./algorithms.ts";
import { canonAddr, emptyKeys, forEachKeyLine, type KeyFileError, keyHex, type KeyFormat, type ParsedKeys, spiNumber } from "./types.ts";

/** Split one UAT line into fields (quotes removed, `\"` and `\\` unescaped). */
export function uatFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let s = "";
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === "\\" && i + 1 < line.length) i++;
        s += line[i++];
      }
      i++; // closing quote
      out.push(s);
      while (i < line.length && line[i] !== ",") i++;
      i++;
    } else {
      const j = line.indexOf(",", i);
      const e = j < 0 ? line.length : j;
      out.push(line.slice(i, e).trim());
      i = e + 1;
    }
  }
  return out;
}

/** Each UAT record of `text` as fields, checked to have `count` of them. */
function forEachRecord(text: string, file: string, format: KeyFormat, count: number, fn: (f: string[], n: number, err: (reason: string) => KeyFileError) => void): void {
  forEachKeyLine(text, file, (line, n, err) => {
    const f = uatFields(line);
    if (f.length !== count) throw err(`${format} record needs ${count} fields, has ${f.length}`);
    fn(f, n, err);
  });
}

/** True when `line` looks like a record of `format`. */
export function looksLike(format: KeyFormat, line: string): boolean {
  const f = uatFields(line);
  switch (format) {
    case "esp_sa": return f.length === 8 && /^(IPv4|IPv6|Any|\*)$/i.test(f[0]);
    case "ikev2_decryption_table": return f.length === 8 && /^[0-9a-f]{16}$/i.test(f[0]) && /^[0-9a-f]{16}$/i.test(f[1]);
    case "ikev1_decryption_table": return f.length === 2 && /^[0-9a-f]{16}$/i.test(f[0]) && /^[0-9a-f]+$/i.test(f[1]);
    default: return false;
  }
}

function espEncr(name: string): { encr: DecodeEncr; icvLen?: number } | string {
  if (/^NULL$/i.test(name) || /^NULL\s*\[/i.test(name)) return { encr: "null" };
  if (/^TripleDES-CBC/i.test(name)) return { encr: "3des-cbc" };
  if (/^AES-CBC/i.test(name)) return { encr: "aes-cbc" };
  if (/^AES-CTR/i.test(name)) return { encr: "aes-ctr" };
  const m = /^AES-GCM with (8|12|16) octet ICV/i.exec(name);
  if (m) return { encr: "aes-gcm", icvLen: Number(m[1]) };
  if (/^ChaCha20 with Poly1305/i.test(name)) return { encr: "chacha20-poly1305" };
  return `unsupported ESP encryption algorithm "${name}"`;
}

function espAuth(name: string): { integ: DecodeInteg; skip?: number } | string {
  if (/^NULL$/i.test(name) || name === "") return { integ: "none" };
  const any = /^ANY (\d+) bit authentication/i.exec(name);
  if (any) return { integ: "none", skip: Number(any[1]) / 8 };
  const t: Record<string, DecodeInteg> = {
    "HMAC-SHA-1-96": "hmac-sha1-96", "HMAC-MD5-96": "hmac-md5-96", "HMAC-SHA-256-128": "hmac-sha256-128",
    "HMAC-SHA-384-192": "hmac-sha384-192", "HMAC-SHA-512-256": "hmac-sha512-256",
  };
  const k = name.replace(/\s*\[.*$/, "").trim().toUpperCase();
  const integ = t[k];
  return integ ? { integ } : `unsupported ESP authentication algorithm "${name}"`;
}

function ikev2Encr(name: string): SkEncr | string {
  if (/^NONE/i.test(name)) return "null";
  if (/^3DES/i.test(name)) return "3des-cbc";
  if (/^AES-CBC/i.test(name)) return "aes-cbc";
  if (/^AES-CTR/i.test(name)) return "aes-ctr";
  const m = /^AES-GCM-\d+ with (8|12|16) octet ICV/i.exec(name);
  if (m) return `aes-gcm-${m[1]}` as SkEncr;
  if (/^CHACHA20/i.test(name)) return "chacha20-poly1305";
  return `unsupported IKEv2 encryption algorithm "${name}"`;
}

/** Parse Wireshark `esp_sa` text. */
export function parseEspSa(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  forEachRecord(text, file, "esp_sa", 8, (f, n, err) => {
    const [, src, dst, spiText, encName, encKeyText, authName, authKeyText] = f;
    let spi: number | undefined;
    if (spiText !== "*" && spiText !== "") {
      const s = spiNumber(spiText);
      if (s === null) throw err(`bad SPI "${spiText}"`);
      spi = s;
    }
    const addr = (a: string, what: string): string | undefined => {
      if (a === "*" || a === "") return undefined;
      const c = canonAddr(a);
      if (c === null) throw err(`bad ${what} address "${a}" (wildcards other than "*" are not supported)`);
      return c;
    };
    const e = espEncr(encName);
    if (typeof e === "string") throw err(e);
    const a = espAuth(authName);
    if (typeof a === "string") throw err(a);
    const encKey = encKeyText === "" ? new Uint8Array(0) : keyHex(encKeyText);
    if (!encKey) throw err("encryption key is not hex");
    const authKey = authKeyText === "" ? undefined : keyHex(authKeyText) ?? undefined;
    if (authKeyText !== "" && !authKey) throw err("authentication key is not hex");
    const p = espParams(e.encr, encKey, a.integ, authKey, e.icvLen);
    if (typeof p === "string") throw err(p);
    out.esp.push({
      spi, src: addr(src, "source"), dst: addr(dst, "destination"), params: p, esn: false,
      ...(a.skip ? { icvSkip: a.skip } : {}),
      origin: { file, line: n, format: "esp_sa" },
    });
  });
  return out;
}

/** Parse Wireshark `ikev2_decryption_table` text. */
export function parseIkev2Table(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  forEachRecord(text, file, "ikev2_decryption_table", 8, (f, n, err) => {
    const [ispi, rspi, ei, er, encName, ai, ar, integName] = f;
    if (!/^[0-9a-f]{16}$/i.test(ispi)) throw err("initiator SPI must be 16 hex digits");
    if (!/^[0-9a-f]{16}$/i.test(rspi)) throw err("responder SPI must be 16 hex digits");
    const encr = ikev2Encr(encName);
    if (encr.includes(" ")) throw err(encr);
    const integ = skIntegFromName(integName);
    if (integ === null) throw err(`unsupported IKEv2 integrity algorithm "${integName}"`);
    const hex = (s: string, what: string) => {
      const k = s === "" ? new Uint8Array(0) : keyHex(s);
      if (!k) throw err(`${what} is not hex`);
      return k;
    };
    const i = skParams(encr as SkEncr, hex(ei, "SK_ei"), integ, integ === "none" ? undefined : hex(ai, "SK_ai"), "SK_ei/SK_ai:");
    if (typeof i === "string") throw err(i);
    const r = skParams(encr as SkEncr, hex(er, "SK_er"), integ, integ === "none" ? undefined : hex(ar, "SK_ar"), "SK_er/SK_ar:");
    if (typeof r === "string") throw err(r);
    out.ikev2.push({ ispi: ispi.toLowerCase(), rspi: rspi.toLowerCase(), initiator: i, responder: r, origin: { file, line: n, format: "ikev2_decryption_table" } });
  });
  return out;
}

/** Parse Wireshark `ikev1_decryption_table` text (initiator cookie, encryption key). */
export function parseIkev1Table(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  forEachRecord(text, file, "ikev1_decryption_table", 2, (f, n, err) => {
    if (!/^[0-9a-f]{16}$/i.test(f[0])) throw err("initiator cookie must be 16 hex digits");
    const k = keyHex(f[1]);
    if (!k || k.length === 0) throw err("encryption key is not hex");
    if (![8, 16, 24, 32].includes(k.length) && k.length < 8) throw err(`encryption key is ${k.length} bytes`);
    out.ikev1.push({ icookie: f[0].toLowerCase(), encKey: k, origin: { file, line: n, format: "ikev1_decryption_table" } });
  });
  return out;
}
