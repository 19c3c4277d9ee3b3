/**
 * AES-based IKEv2 PRFs with a 128-bit key: PRF_AES128_XCBC (RFC 4434, over the
 * AES-XCBC-MAC-96 construction of RFC 3566, untruncated) and PRF_AES128_CMAC
 * (RFC 4615, over AES-CMAC of RFC 4493). Both take keys of any length: a
 * 16-byte key is used as is; otherwise XCBC pads a shorter key with zeros and
 * MACs a longer one under the all-zero key, CMAC MACs any other length under
 * the all-zero key. Pure functions over bytes (AES blocks through node:crypto,
 * CMAC from @noble/ciphers).
 * @module
 */
import { createCipheriv } from "node:crypto";
import { cmac } from "@noble/ciphers/aes.js";

const ZERO_KEY = new Uint8Array(16);

function constBlock(c: number): Uint8Array {
  return new Uint8Array(16).fill(c);
}

/** AES-128 in ECB mode without padding: `encrypt(block)` of one 16-byte block. */
function aesBlock(key: Uint8Array): { encrypt(b: Uint8Array): Uint8Array } {
  const c = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
  return { encrypt: (b) => new Uint8Array(c.update(b)) };
}

/** AES-XCBC-MAC (RFC 3566 §4), full 128-bit output, with a 16-byte key. */
export function aesXcbcMac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const c0 = aesBlock(key);
  const k1 = c0.encrypt(constBlock(0x01));
  const k2 = c0.encrypt(constBlock(0x02));
  const k3 = c0.encrypt(constBlock(0x03));
  const c1 = aesBlock(k1);
  let e: Uint8Array = new Uint8Array(16);
  const n = Math.max(1, Math.ceil(msg.length / 16));
  const x = new Uint8Array(16);
  for (let i = 0; i < n - 1; i++) {
    for (let j = 0; j < 16; j++) x[j] = e[j] ^ msg[i * 16 + j];
    e = c1.encrypt(x);
  }
  const last = msg.subarray((n - 1) * 16);
  if (msg.length > 0 && last.length === 16) {
    for (let j = 0; j < 16; j++) x[j] = e[j] ^ last[j] ^ k2[j];
  } else {
    const pad = new Uint8Array(16);
    pad.set(last);
    pad[last.length] = 0x80;
    for (let j = 0; j < 16; j++) x[j] = e[j] ^ pad[j] ^ k3[j];
  }
  const out = c1.encrypt(x);
  for (const b of [k1, k2, k3, x, e]) b.fill(0);
  return out;
}

/** PRF_AES128_XCBC (RFC 4434 §2): any key length. */
export function prfAesXcbc(key: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.length === 16) return aesXcbcMac(key, msg);
  if (key.length < 16) {
    const k = new Uint8Array(16);
    k.set(key);
    const r = aesXcbcMac(k, msg);
    k.fill(0);
    return r;
  }
  const k = aesXcbcMac(ZERO_KEY, key);
  const r = aesXcbcMac(k, msg);
  k.fill(0);
  return r;
}

/** PRF_AES128_CMAC (RFC 4615 §3): any key length. */
export function prfAesCmac(key: Uint8Array, msg: Uint8Array): Uint8Array {
  if (key.length === 16) return cmac(msg, key); // noble: cmac(message, key)
  const k = cmac(key, ZERO_KEY);
  const r = cmac(msg, k);
  k.fill(0);
  return r;
}
