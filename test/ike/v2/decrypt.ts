/**
 * Test-only decryption of the SK/SKF payloads of the golden messages with
 * the keys stored next to each capture (Wireshark's ikev2_decryption_table):
 * AES-GCM (tag verified) or AES-CBC + HMAC-SHA2 (ICV verified); SKF
 * fragments reassembled (RFC 7383). The library never decrypts; it decodes
 * the plaintext this produces.
 */
import { expect } from "bun:test";
import { createDecipheriv, createHmac, type DecipherGCM } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { concat, fromHex, toHex } from "../../../lib/core/bytes.ts";
import { decodeIkev2, type Ikev2Message } from "../../../lib/ike/v2/message.ts";
import { bytesOf, loadGolden, ROOT } from "./helpers.ts";

export const CASES: [string, string][] = [
  ["strongswan_a_psk_gcm_natt", "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt"],
  ["strongswan_b_psk_cbc_sha256", "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256"],
  ["strongswan_f1_auth_failed", "fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed"],
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag/c_ikev2_cert_frag"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey/d_ikev2_rekey"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag/i_ikev2_ipfrag"],
];

export interface Keys { ei: Uint8Array; er: Uint8Array; ai: Uint8Array; ar: Uint8Array; encr: string; integ: string }

export function loadKeys(prefix: string): Map<string, Keys> {
  const dir = prefix.slice(0, prefix.lastIndexOf("/"));
  const m = new Map<string, Keys>();
  for (const line of readFileSync(`${ROOT}${dir}/ikev2_decryption_table`, "utf8").split("\n")) {
    if (!line.trim() || line.startsWith("#")) continue;
    const f = line.match(/("[^"]*"|[^,]*)(,|$)/g)!.map((x) => x.replace(/,$/, "").replace(/"/g, ""));
    m.set(f[0] + f[1], { ei: fromHex(f[2])!, er: fromHex(f[3])!, encr: f[4], ai: fromHex(f[5])!, ar: fromHex(f[6])!, integ: f[7] });
  }
  return m;
}

/** Decrypt the body of the SK/SKF payload `p` of `msg` (bytes `b`); returns plaintext without padding. */
export function decrypt(b: Uint8Array, msg: Ikev2Message, keys: Keys, enc: Uint8Array, payloadOff: number, hdrLen: number): Uint8Array {
  const init = msg.flags.initiator;
  const ek = init ? keys.ei : keys.er;
  const ak = init ? keys.ai : keys.ar;
  let pt: Uint8Array;
  if (keys.encr.startsWith("AES-GCM")) {
    const key = ek.subarray(0, ek.length - 4);
    const nonce = concat(ek.subarray(ek.length - 4), enc.subarray(0, 8));
    const tag = enc.subarray(enc.length - 16);
    const d = createDecipheriv(`aes-${key.length * 8}-gcm`, key, nonce) as DecipherGCM;
    d.setAAD(b.subarray(0, payloadOff + hdrLen));
    d.setAuthTag(tag);
    pt = new Uint8Array(Buffer.concat([d.update(enc.subarray(8, enc.length - 16)), d.final()]));
  } else {
    const icvLen = keys.integ.startsWith("HMAC_SHA2_384_192") ? 24 : 16;
    const hash = keys.integ.startsWith("HMAC_SHA2_384_192") ? "sha384" : "sha256";
    const mac = createHmac(hash, ak).update(b.subarray(0, b.length - icvLen)).digest().subarray(0, icvLen);
    expect(toHex(mac)).toBe(toHex(b.subarray(b.length - icvLen)));
    const d = createDecipheriv(`aes-${ek.length * 8}-cbc`, ek, enc.subarray(0, 16)).setAutoPadding(false);
    pt = new Uint8Array(Buffer.concat([d.update(enc.subarray(16, enc.length - icvLen)), d.final()]));
  }
  return pt.subarray(0, pt.length - 1 - pt[pt.length - 1]);
}


/** One decrypted SK message, or a reassembled SKF message (on its last fragment). */
export interface DecryptedMessage {
  golden: string;
  /** Capture prefix (without extension) of the source capture. */
  prefix: string;
  frame: number;
  msg: Ikev2Message;
  /** Plaintext (padding removed) and the type of its first payload. */
  plain: Uint8Array;
  firstType: number;
}

/** Decrypt every SK/SKF message of one golden file. */
export function decryptGolden(golden: string, prefix: string): DecryptedMessage[] {
  const keys = loadKeys(prefix);
  const frags = new Map<string, { parts: Uint8Array[]; first: number }>();
  const out: DecryptedMessage[] = [];
  for (const m of loadGolden(golden).messages) {
    const b = bytesOf(m);
    const an: Anomaly[] = [];
    const msg = decodeIkev2(b, 0, b.length, an)!;
    const p = msg.payloads[msg.payloads.length - 1];
    if (p.kind !== "sk" && p.kind !== "skf") continue;
    const k = keys.get(toHex(msg.ispi) + toHex(msg.rspi));
    expect(k, `${golden} frame ${m.frame}: keys`).toBeDefined();
    const pt = decrypt(b, msg, k!, p.encrypted, p.offset, p.kind === "sk" ? 4 : 8);
    if (p.kind === "sk") {
      out.push({ golden, prefix, frame: m.frame, msg, plain: pt, firstType: p.nextPayload });
      continue;
    }
    const id = `${toHex(msg.ispi)}/${msg.messageId}/${msg.flags.response}`;
    const f = frags.get(id) ?? { parts: [], first: -1 };
    f.parts[p.fragmentNumber - 1] = pt;
    if (p.fragmentNumber === 1) f.first = p.nextPayload;
    frags.set(id, f);
    if (p.fragmentNumber !== p.totalFragments) continue;
    expect(f.parts.filter(Boolean).length).toBe(p.totalFragments);
    out.push({ golden, prefix, frame: m.frame, msg, plain: concat(...f.parts), firstType: f.first });
  }
  return out;
}

/** Every decrypted message of every case. */
export function decryptAll(): DecryptedMessage[] {
  return CASES.flatMap(([g, p]) => decryptGolden(g, p));
}
