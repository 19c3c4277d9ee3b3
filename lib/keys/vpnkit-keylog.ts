/**
 * vpnkit's own key log (`vpnkit up --keylog FILE`, lib/tunnel/keylog.ts):
 *
 *     ESP <src> <dst> 0x<spi> <cipher> 0x<key||salt> esn=<0|1>
 *
 * plus an IKEv2 line (proposed for the key log writer; parsed here already):
 *
 *     IKEv2 <ispi:16 hex> <rspi:16 hex> <encr> 0x<SK_ei> 0x<SK_er> <integ> <0x<SK_ai>|-> <0x<SK_ar>|->
 *
 * Cipher names are strongSwan proposal keywords: aes128gcm16, aes256gcm16 (also gcm8/gcm12),
 * chacha20poly1305, and for ESP AES-CBC with HMAC as one word, aes128-sha256 / aes256-sha512 /
 * aes128-sha1 ... (key material: encryption key then integrity key); for IKEv2 also
 * aes128/aes192/aes256 (CBC) with integ sha1, sha256, sha384, sha512 or md5; `none` for the
 * AEAD ciphers.
 * @module
 */
import type { SkEncr, SkInteg } from "../ike/v2/sk-crypto.ts";
import type { DecodeInteg } from "../esp/decrypt.ts";
import { espParams, skParams } from "./algorithms.ts";
import { canonAddr, emptyKeys, forEachKeyLine, keyHex, type ParsedKeys, spiNumber } from "./types.ts";

function cipher(name: string): { sk: SkEncr; icv?: number } | null {
  const n = name.toLowerCase();
  let m = /^aes(128|192|256)gcm(8|12|16)$/.exec(n);
  if (m) return { sk: `aes-gcm-${m[2]}` as SkEncr, icv: Number(m[2]) };
  if (n === "chacha20poly1305") return { sk: "chacha20-poly1305" };
  m = /^aes(128|192|256)(cbc)?$/.exec(n);
  if (m) return { sk: "aes-cbc" };
  if (/^aes(128|192|256)ctr$/.test(n)) return { sk: "aes-ctr" };
  if (n === "3des") return { sk: "3des-cbc" };
  return null;
}

const INTEG: Record<string, SkInteg> = {
  none: "none", md5: "hmac-md5-96", sha1: "hmac-sha1-96", sha256: "hmac-sha2-256-128", sha384: "hmac-sha2-384-192", sha512: "hmac-sha2-512-256",
};

/** ESP integrity of the CBC key-log words (lib/esp/decrypt.ts names). */
const CBC_INTEG: Record<string, DecodeInteg> = { sha1: "hmac-sha1-96", sha256: "hmac-sha256-128", sha384: "hmac-sha384-192", sha512: "hmac-sha512-256" };

/** True when a line is a vpnkit key log line. */
export function looksLikeKeylog(line: string): boolean {
  return /^(ESP|IKEv2) \S+ \S+ /.test(line.trim());
}

/** Parse vpnkit key log text. */
export function parseVpnkitKeylog(text: string, file: string): ParsedKeys {
  const out = emptyKeys();
  forEachKeyLine(text, file, (t, n, err) => {
    const w = t.split(/\s+/);
    const origin = { file, line: n, format: "vpnkit-keylog" as const };
    if (w[0] === "ESP") {
      if (w.length !== 7) throw err("ESP line needs: ESP src dst 0xSPI cipher 0xKEY esn=0|1");
      const src = canonAddr(w[1]), dst = canonAddr(w[2]);
      if (!src || !dst) throw err("bad address");
      if (!/^0x/i.test(w[3])) throw err("SPI must be 0x-prefixed hex");
      const spi = spiNumber(w[3]);
      if (spi === null) throw err(`bad SPI "${w[3]}"`);
      const cbcm = /^aes(128|192|256)-(sha1|sha256|sha384|sha512)$/.exec(w[4].toLowerCase());
      const c = cbcm ? null : cipher(w[4]);
      if (!cbcm && (!c || (c.sk !== "chacha20-poly1305" && !c.sk.startsWith("aes-gcm")))) throw err(`unsupported ESP cipher "${w[4]}" (AEAD, or aesNNN-shaNNN for AES-CBC with HMAC)`);
      const key = keyHex(w[5]);
      if (!key || !/^0x/i.test(w[5])) throw err("key material must be 0x-prefixed hex");
      const em = /^esn=([01])$/.exec(w[6]);
      if (!em) throw err("last field must be esn=0 or esn=1");
      const p = cbcm
        ? espParams("aes-cbc", key.subarray(0, Number(cbcm[1]) / 8), CBC_INTEG[cbcm[2]], key.subarray(Number(cbcm[1]) / 8))
        : espParams(c!.sk === "chacha20-poly1305" ? "chacha20-poly1305" : "aes-gcm", key, "none", undefined, c!.icv);
      if (typeof p === "string") throw err(p);
      out.esp.push({ spi, src, dst, params: p, esn: em[1] === "1", origin });
    } else if (w[0] === "IKEv2") {
      if (w.length !== 9) throw err("IKEv2 line needs: IKEv2 ispi rspi encr 0xSK_ei 0xSK_er integ 0xSK_ai|- 0xSK_ar|-");
      if (!/^[0-9a-f]{16}$/i.test(w[1]) || !/^[0-9a-f]{16}$/i.test(w[2])) throw err("SPIs must be 16 hex digits");
      const c = cipher(w[3]);
      if (!c) throw err(`unsupported IKEv2 cipher "${w[3]}"`);
      const integ = INTEG[w[6].toLowerCase()];
      if (!integ) throw err(`unsupported IKEv2 integrity "${w[6]}"`);
      const hex = (s: string, what: string) => {
        if (s === "-") return undefined;
        const k = keyHex(s);
        if (!k) throw err(`${what} is not hex`);
        return k;
      };
      const i = skParams(c.sk, hex(w[4], "SK_ei") ?? new Uint8Array(0), integ, hex(w[7], "SK_ai"), "SK_ei/SK_ai:");
      if (typeof i === "string") throw err(i);
      const r = skParams(c.sk, hex(w[5], "SK_er") ?? new Uint8Array(0), integ, hex(w[8], "SK_ar"), "SK_er/SK_ar:");
      if (typeof r === "string") throw err(r);
      out.ikev2.push({ ispi: w[1].toLowerCase(), rspi: w[2].toLowerCase(), initiator: i, responder: r, origin });
    } else {
      throw err(`unknown key log record "${w[0]}"`);
    }
  });
  return out;
}
