/**
 * tcpdump `-E` secrets: inline (`-E "spi@addr algo:secret,..."`, `-E "file NAME"`) and
 * the lines of a secrets file:
 *
 *     0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043...        ESP SA by SPI and destination
 *     3des-cbc-hmac96:0x4043...                              default SA (any SPI)
 *     ikev2 I 0x0001020304050607 0xc02e7a3031a03188 sha1:0x4ea8... aes128:0x3f44...
 *
 * Secrets are `0x` hex or ASCII text. `-hmac96` means a 12-byte ICV follows the
 * ciphertext; tcpdump does not know the authentication key, so the ICV is stripped
 * unchecked (the padding check still rejects wrong keys). `ikev2 I|R` lines give the
 * keys of the messages the initiator (I) or responder (R) sends: `authalg:key` and
 * `encalg:key` in either order.
 * @module
 */
import type { DecodeEncr } from "../esp/decrypt.ts";
import type { SkEncr, SkInteg, SkParams } from "../ike/v2/sk-crypto.ts";
import { espParams, skIntegFromName, skParams } from "./algorithms.ts";
import { canonAddr, emptyKeys, forEachKeyLine, KeyFileError, keyHex, type ParsedKeys, spiNumber } from "./types.ts";

function secret(s: string): Uint8Array | null {
  if (/^0x/i.test(s)) return keyHex(s);
  return new TextEncoder().encode(s);
}

/** tcpdump/OpenSSL cipher names → our transforms. */
function encAlgo(name: string): { esp: DecodeEncr; sk: SkEncr; bits?: number; icvLen?: number } | null {
  const n = name.toLowerCase();
  if (n === "none" || n === "null") return { esp: "null", sk: "null" };
  if (["3des-cbc", "3des", "des-ede3-cbc", "des3"].includes(n)) return { esp: "3des-cbc", sk: "3des-cbc" };
  const m = /^aes-?(128|192|256)(?:-(cbc|ctr|gcm))?$/.exec(n);
  if (m) {
    const mode = m[2] ?? "cbc";
    if (mode === "cbc") return { esp: "aes-cbc", sk: "aes-cbc", bits: Number(m[1]) };
    if (mode === "ctr") return { esp: "aes-ctr", sk: "aes-ctr", bits: Number(m[1]) };
    return { esp: "aes-gcm", sk: "aes-gcm-16", bits: Number(m[1]), icvLen: 16 };
  }
  return null;
}

function bitsProblem(bits: number | undefined, key: Uint8Array, encr: string): string | null {
  if (bits === undefined) return null;
  const want = bits / 8 + (encr === "aes-cbc" ? 0 : 4);
  return key.length === want ? null : `${encr}-${bits} key is ${key.length} bytes, expected ${want}`;
}

/** Parse one secrets line (file or inline element). Returns the keys it adds. */
function parseLine(line: string, file: string, n: number, out: ParsedKeys): void {
  const err = (r: string) => new KeyFileError(file, n, r);
  const words = line.trim().split(/\s+/);
  if (words[0] === "ikev2") {
    if (words.length !== 6) throw err("ikev2 line needs: ikev2 I|R 0xSPIi 0xSPIr authalg:0xkey encalg:0xkey");
    const [, dir, si, sr, a, b] = words;
    if (dir !== "I" && dir !== "R") throw err(`ikev2 direction must be I or R, not "${dir}"`);
    const spi = (s: string) => {
      const m = /^(?:0x)?([0-9a-f]{16})$/i.exec(s);
      if (!m) throw err("IKEv2 SPI must be 16 hex digits");
      return m[1].toLowerCase();
    };
    let integ: SkInteg | null = null, integKey: Uint8Array | undefined, encr: ReturnType<typeof encAlgo> = null, encKey: Uint8Array | null = null;
    for (const w of [a, b]) {
      const c = w.indexOf(":");
      if (c < 0) throw err(`"algo:secret" expected`);
      const alg = w.slice(0, c), key = secret(w.slice(c + 1));
      if (!key) throw err(`secret for ${alg} is not hex`);
      const i = skIntegFromName(alg);
      if (i !== null && integ === null) {
        integ = i;
        integKey = key;
        continue;
      }
      const e = encAlgo(alg);
      if (!e) throw err(`unknown algorithm "${alg}"`);
      encr = e;
      encKey = key;
    }
    if (!encr || !encKey) throw err("ikev2 line has no encryption algorithm");
    const bp = bitsProblem(encr.bits, encKey, encr.sk.startsWith("aes-gcm") ? "aes-gcm" : encr.sk);
    if (bp) throw err(bp);
    const p = skParams(encr.sk, encKey, integ ?? "none", integKey, dir === "I" ? "initiator" : "responder");
    if (typeof p === "string") throw err(p);
    const ispi = spi(si), rspi = spi(sr);
    let k = out.ikev2.find((x) => x.ispi === ispi && x.rspi === rspi);
    if (!k) {
      // The other direction may follow on a later line; an unset direction never verifies.
      const unset: SkParams = { encr: "null", encKey: new Uint8Array(0), integ: "none" };
      k = { ispi, rspi, initiator: unset, responder: unset, origin: { file, line: n, format: "tcpdump" } };
      out.ikev2.push(k);
    }
    if (dir === "I") k.initiator = p;
    else k.responder = p;
    return;
  }
  let spi: number | undefined, dst: string | undefined, spec: string;
  if (words.length === 2) {
    const at = words[0].indexOf("@");
    if (at < 0) throw err(`"spi@address" expected before the algorithm`);
    const s = spiNumber(words[0].slice(0, at));
    if (s === null) throw err(`bad SPI "${words[0].slice(0, at)}"`);
    const d = canonAddr(words[0].slice(at + 1));
    if (d === null) throw err(`bad address "${words[0].slice(at + 1)}"`);
    spi = s;
    dst = d;
    spec = words[1];
  } else if (words.length === 1) {
    spec = words[0];
  } else {
    throw err("expected [spi@address] algo:secret");
  }
  const c = spec.indexOf(":");
  if (c < 0) throw err(`"algo:secret" expected`);
  let alg = spec.slice(0, c);
  const key = secret(spec.slice(c + 1));
  if (!key) throw err(`secret for ${alg} is not hex`);
  let icvSkip: number | undefined;
  if (/-hmac96$/i.test(alg)) {
    icvSkip = 12;
    alg = alg.slice(0, -7);
  }
  const e = encAlgo(alg);
  if (!e) throw err(`unsupported algorithm "${alg}"`);
  const bp = bitsProblem(e.bits, key, e.esp);
  if (bp) throw err(bp);
  const p = espParams(e.esp, key, "none", undefined, e.icvLen);
  if (typeof p === "string") throw err(p);
  out.esp.push({ spi, dst, params: p, esn: false, ...(icvSkip ? { icvSkip } : {}), origin: { file, line: n, format: "tcpdump" } });
}

/** True when a line is tcpdump secrets syntax. */
export function looksLikeTcpdump(line: string): boolean {
  const t = line.trim();
  return /^ikev2\s+[IR]\s/.test(t) || /^(\S+@\S+\s+)?[a-z0-9-]+:\S+$/i.test(t);
}

/** Parse a tcpdump secrets file's text. */
export function parseTcpdumpFile(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  forEachKeyLine(text, file, (line, n) => parseLine(line, file, n, out));
  return out;
}

/**
 * Parse a tcpdump `-E` argument. `file NAME` reads NAME with `readText` (relative names
 * are the caller's business); otherwise comma-separated SAs. Errors name `<-E>:1`.
 */
export function parseTcpdumpInline(arg: string, readText: (name: string) => string): ParsedKeys {
  const t = arg.trim();
  const fm = /^file\s+(.+)$/.exec(t);
  if (fm) return parseTcpdumpFile(readText(fm[1].trim()), fm[1].trim());
  const out = emptyKeys();
  for (const part of t.split(",")) if (part.trim()) parseLine(part, "<--keys-inline>", 1, out);
  return out;
}
