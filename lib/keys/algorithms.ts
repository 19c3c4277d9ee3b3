/**
 * Key-length rules shared by every key-file parser, and builders that turn
 * (cipher, key, integrity, key) into checked ESP / IKEv2 parameters.
 * @module
 */
import type { DecodeEncr, DecodeInteg, EspDecodeParams } from "../esp/decrypt.ts";
import type { SkEncr, SkInteg, SkParams } from "../ike/v2/sk-crypto.ts";
import { keyLenProblem } from "./types.ts";

const ENC_LENS: Record<DecodeEncr, number[]> = {
  "aes-gcm": [20, 28, 36],
  "chacha20-poly1305": [36],
  "aes-cbc": [16, 24, 32],
  "aes-ctr": [20, 28, 36],
  "3des-cbc": [24],
  "null": [0],
};

/** HMAC key lengths per integrity transform (ESP and IKEv2 names). */
const AUTH_LENS: Record<string, number> = {
  "hmac-md5-96": 16,
  "hmac-sha1-96": 20,
  "hmac-sha256-128": 32,
  "hmac-sha384-192": 48,
  "hmac-sha512-256": 64,
  "hmac-sha2-256-128": 32,
  "hmac-sha2-384-192": 48,
  "hmac-sha2-512-256": 64,
};

/** Checked ESP parameters, or a reason string (never containing key bytes). */
export function espParams(encr: DecodeEncr, encKey: Uint8Array, integ: DecodeInteg, authKey?: Uint8Array, icvLen?: number): Omit<EspDecodeParams, "esn"> | string {
  const p = keyLenProblem(`${encr} encryption`, encKey, ENC_LENS[encr]);
  if (p) return p;
  const aead = encr === "aes-gcm" || encr === "chacha20-poly1305";
  if (aead && integ !== "none") return `${encr} is combined mode: use no integrity algorithm`;
  if (integ !== "none") {
    if (!authKey) return `${integ} needs a key`;
    const q = keyLenProblem(`${integ} integrity`, authKey, [AUTH_LENS[integ]]);
    if (q) return q;
  }
  const out: Omit<EspDecodeParams, "esn"> = { encr, encKey, integ };
  if (integ !== "none") out.authKey = authKey;
  if (encr === "aes-gcm") out.icvLen = icvLen ?? 16;
  return out;
}

const SK_LENS: Record<SkEncr, number[]> = {
  "aes-gcm-8": [20, 28, 36], "aes-gcm-12": [20, 28, 36], "aes-gcm-16": [20, 28, 36],
  "chacha20-poly1305": [36], "aes-cbc": [16, 24, 32], "aes-ctr": [20, 28, 36], "3des-cbc": [24], "null": [0],
};

/** Checked IKEv2 SK parameters for one direction, or a reason. */
export function skParams(encr: SkEncr, encKey: Uint8Array, integ: SkInteg, integKey: Uint8Array | undefined, dir: string): SkParams | string {
  const p = keyLenProblem(`${dir} ${encr} encryption`, encKey, SK_LENS[encr]);
  if (p) return p;
  const aead = encr.startsWith("aes-gcm") || encr === "chacha20-poly1305";
  if (aead && integ !== "none") return `${encr} is combined mode: integrity must be NONE`;
  if (!aead && integ === "none") return `${encr} needs an integrity algorithm`;
  if (integ !== "none") {
    if (!integKey) return `${integ} needs a key`;
    const q = keyLenProblem(`${dir} ${integ} integrity`, integKey, [AUTH_LENS[integ]]);
    if (q) return q;
    return { encr, encKey, integ, integKey };
  }
  return { encr, encKey, integ };
}

/** strongSwan / IANA-style IKEv2 integrity names → SkInteg (HMAC_SHA2_256_128, AUTH_HMAC_SHA1_96, sha256, ...). */
export function skIntegFromName(s: string): SkInteg | null {
  const t = s.toUpperCase().replace(/^AUTH_/, "").replace(/\s*\[.*$/, "").trim();
  switch (t) {
    case "NONE": case "NULL": return "none";
    case "HMAC_MD5_96": case "MD5": return "hmac-md5-96";
    case "HMAC_SHA1_96": case "SHA1": return "hmac-sha1-96";
    case "HMAC_SHA2_256_128": case "SHA256": return "hmac-sha2-256-128";
    case "HMAC_SHA2_384_192": case "SHA384": return "hmac-sha2-384-192";
    case "HMAC_SHA2_512_256": case "SHA512": return "hmac-sha2-512-256";
  }
  return null;
}

/** ESP integrity with the same names → DecodeInteg. */
export function espIntegFromSk(i: SkInteg): DecodeInteg {
  return i === "none" ? "none" : i.replace("sha2-", "sha") as DecodeInteg;
}

/** strongSwan ESP/IKE encryption names (AES_GCM_16_128, AES_CBC_256, 3DES_CBC, CHACHA20_POLY1305, NULL, AES_CTR_128). */
export function strongswanEncr(s: string): { esp: DecodeEncr; sk: SkEncr; icvLen?: number } | null {
  const t = s.toUpperCase();
  let m = /^AES_GCM_(8|12|16)(?:_\d+)?$/.exec(t);
  if (m) return { esp: "aes-gcm", sk: `aes-gcm-${m[1]}` as SkEncr, icvLen: Number(m[1]) };
  if (/^AES_CBC(_\d+)?$/.test(t)) return { esp: "aes-cbc", sk: "aes-cbc" };
  if (/^AES_CTR(_\d+)?$/.test(t)) return { esp: "aes-ctr", sk: "aes-ctr" };
  if (t === "3DES_CBC" || t === "3DES") return { esp: "3des-cbc", sk: "3des-cbc" };
  if (t === "CHACHA20_POLY1305") return { esp: "chacha20-poly1305", sk: "chacha20-poly1305" };
  if (t === "NULL" || t === "ENCR_NULL") return { esp: "null", sk: "null" };
  m = null;
  return null;
}
