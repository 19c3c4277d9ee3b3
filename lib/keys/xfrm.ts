/**
 * `ip xfrm state` output (iproute2): one state per `src A dst B` line followed by
 * indented lines; ESP states carry `proto esp spi 0x..`, `enc ALG 0xKEY`,
 * `auth ALG 0xKEY` / `auth-trunc ALG 0xKEY BITS`, or `aead ALG 0xKEY ICVBITS`, and
 * `flag ... esn` for extended sequence numbers. Non-ESP states (AH, IPcomp) are skipped.
 * @module
 */
import type { DecodeEncr, DecodeInteg } from "../esp/decrypt.ts";
import { espParams } from "./algorithms.ts";
import { canonAddr, emptyKeys, KeyFileError, keyHex, type ParsedKeys } from "./types.ts";

interface State {
  line: number;
  src: string;
  dst: string;
  proto?: string;
  spi?: number;
  esn: boolean;
  enc?: { alg: string; key: Uint8Array; line: number };
  auth?: { alg: string; key: Uint8Array; bits?: number; line: number };
  aead?: { alg: string; key: Uint8Array; bits: number; line: number };
}

const AUTH: Record<string, { integ: DecodeInteg; bits: number; dflt: number }> = {
  "hmac(md5)": { integ: "hmac-md5-96", bits: 96, dflt: 96 },
  "hmac(sha1)": { integ: "hmac-sha1-96", bits: 96, dflt: 96 },
  "hmac(sha256)": { integ: "hmac-sha256-128", bits: 128, dflt: 96 },
  "hmac(sha384)": { integ: "hmac-sha384-192", bits: 192, dflt: 192 },
  "hmac(sha512)": { integ: "hmac-sha512-256", bits: 256, dflt: 256 },
};

const ENC: Record<string, DecodeEncr> = {
  "cbc(aes)": "aes-cbc",
  "rfc3686(ctr(aes))": "aes-ctr",
  "cbc(des3_ede)": "3des-cbc",
  "ecb(cipher_null)": "null",
  "cipher_null": "null",
};

/** True when the text looks like `ip xfrm state` output. */
export function looksLikeXfrm(text: string): boolean {
  return /^src \S+ dst \S+\s*$/m.test(text) && /^\s+proto \w+ spi 0x/m.test(text);
}

/** Parse `ip xfrm state` text. */
export function parseXfrm(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  const states: State[] = [];
  const lines = text.split(/\r?\n/);
  let cur: State | null = null;
  for (let n = 1; n <= lines.length; n++) {
    const raw = lines[n - 1];
    const t = raw.trim();
    if (!t || t.startsWith("#")) continue;
    const err = (r: string) => new KeyFileError(file, n, r);
    const w = t.split(/\s+/);
    if (!/^\s/.test(raw) && w[0] === "src") {
      if (w[2] !== "dst" || w.length < 4) throw err("expected: src ADDR dst ADDR");
      const src = canonAddr(w[1]), dst = canonAddr(w[3]);
      if (!src || !dst) throw err("bad address in the src/dst line");
      cur = { line: n, src, dst, esn: false };
      states.push(cur);
      continue;
    }
    if (!cur) throw err("state line before any \"src ... dst ...\" line");
    switch (w[0]) {
      case "proto": {
        cur.proto = w[1];
        const i = w.indexOf("spi");
        if (i < 0 || !/^0x[0-9a-f]{1,8}$/i.test(w[i + 1] ?? "")) throw err("proto line without \"spi 0x...\"");
        cur.spi = parseInt(w[i + 1].slice(2), 16) >>> 0;
        break;
      }
      case "replay-window":
      case "flag": {
        const f = w.indexOf("flag");
        if (f >= 0 && w.slice(f + 1).includes("esn")) cur.esn = true;
        break;
      }
      case "enc":
      case "auth":
      case "auth-trunc":
      case "aead": {
        if (cur.proto !== undefined && cur.proto !== "esp") break;
        const alg = w[1];
        if (!alg) throw err(`${w[0]} without an algorithm`);
        const keyText = w[2] ?? "0x";
        const key = keyText === "0x" ? new Uint8Array(0) : keyHex(keyText);
        if (!key) throw err(`${w[0]} key is not hex`);
        if (w[0] === "enc") cur.enc = { alg, key, line: n };
        else if (w[0] === "aead") {
          const bits = Number(w[3]);
          if (!Number.isInteger(bits)) throw err("aead line needs the ICV length in bits");
          cur.aead = { alg, key, bits, line: n };
        } else {
          const bits = w[0] === "auth-trunc" ? Number(w[3]) : undefined;
          if (bits !== undefined && !Number.isInteger(bits)) throw err("auth-trunc line needs the truncation length in bits");
          cur.auth = { alg, key, bits, line: n };
        }
        break;
      }
    }
  }
  for (const s of states) {
    if (s.proto !== "esp") continue;
    if (s.spi === undefined) continue;
    const origin = { file, line: s.line, format: "xfrm" as const };
    let params: ReturnType<typeof espParams>;
    if (s.aead) {
      const err = (r: string) => new KeyFileError(file, s.aead!.line, r);
      if (s.aead.alg === "rfc4106(gcm(aes))") {
        if (![64, 96, 128].includes(s.aead.bits)) throw err(`GCM ICV of ${s.aead.bits} bits`);
        params = espParams("aes-gcm", s.aead.key, "none", undefined, s.aead.bits / 8);
      } else if (s.aead.alg === "rfc7539esp(chacha20,poly1305)") {
        if (s.aead.bits !== 128) throw err(`ChaCha20-Poly1305 ICV of ${s.aead.bits} bits`);
        params = espParams("chacha20-poly1305", s.aead.key, "none");
      } else throw err(`unsupported aead algorithm ${s.aead.alg}`);
      if (typeof params === "string") throw err(params);
    } else {
      const line = s.enc?.line ?? s.auth?.line ?? s.line;
      const err = (r: string) => new KeyFileError(file, line, r);
      if (!s.enc) throw err("ESP state without enc or aead line");
      const encr = ENC[s.enc.alg];
      if (!encr) throw err(`unsupported enc algorithm ${s.enc.alg}`);
      let integ: DecodeInteg = "none";
      if (s.auth) {
        const a = AUTH[s.auth.alg];
        if (!a) throw new KeyFileError(file, s.auth.line, `unsupported auth algorithm ${s.auth.alg}`);
        const bits = s.auth.bits ?? a.dflt;
        if (bits !== a.bits) throw new KeyFileError(file, s.auth.line, `${s.auth.alg} truncated to ${bits} bits is not supported (need ${a.bits})`);
        integ = a.integ;
      }
      params = espParams(encr, s.enc.key, integ, s.auth?.key);
      if (typeof params === "string") throw err(params);
    }
    out.esp.push({ spi: s.spi, src: s.src, dst: s.dst, params, esn: s.esn, origin });
  }
  return out;
}
