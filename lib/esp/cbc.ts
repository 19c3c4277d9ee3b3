/**
 * ESP with AES-CBC (RFC 3602) and HMAC integrity (RFC 4868 HMAC-SHA2-256-128 / -384-192 /
 * -512-256, RFC 2404 HMAC-SHA1-96): the transform the SA objects (sa.ts) use for the
 * non-AEAD ciphers, and the portable provider on @noble (runs on Deno; the Bun data plane
 * injects lib/platform/bun/cbc-ffi.ts on the system's libcrypto instead).
 *
 * Wire format: SPI(4) | Seq(4) | IV(16) | ciphertext(payload | pad | padLen | nextHeader) | ICV
 * - IV: 16 random bytes per packet (RFC 3602 §2.3: unpredictable), from the runtime's CSPRNG.
 * - Padding 1,2,3,... so that payload + pad + 2 is a multiple of the 16-byte block.
 * - Encrypt-then-MAC: ICV = HMAC(integrity key, SPI | Seq | IV | ciphertext [| SeqHi with ESN,
 *   RFC 4303 §2.2.1]) truncated to 12/16/24/32 bytes; the receiver compares it in constant
 *   time BEFORE decrypting anything.
 *
 * Key material (RFC 7296 §2.17 KEYMAT order): encryption key, then integrity key.
 * @module
 */

import { cbc } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { putU32 } from "../core/bytes.ts";
import { selectAeadProvider } from "./aead.ts";
import type { CbcHmacProvider, EspCbcName, EspCipherName, EspCrypto, EspHmacName } from "./types.ts";

/** Lengths of one CBC+HMAC transform. */
export interface CbcSuite {
  cipher: EspCbcName;
  hash: EspHmacName;
  /** AES key bytes: 16 or 32. */
  encKeyLen: number;
  /** HMAC key bytes (RFC 4868 §2.1.1: the digest length; RFC 2404: 20). */
  integKeyLen: number;
  /** Truncated ICV bytes: 12, 16, 24 or 32. */
  icvLen: number;
  /** strongSwan's names, e.g. "AES_CBC_256/HMAC_SHA2_256_128". */
  strongswan: string;
}

const HMACS: Record<EspHmacName, { key: number; icv: number; name: string }> = {
  sha1: { key: 20, icv: 12, name: "HMAC_SHA1_96" },
  sha256: { key: 32, icv: 16, name: "HMAC_SHA2_256_128" },
  sha384: { key: 48, icv: 24, name: "HMAC_SHA2_384_192" },
  sha512: { key: 64, icv: 32, name: "HMAC_SHA2_512_256" },
};

/** Every CBC+HMAC transform the data plane implements. */
export const ESP_CBC_CIPHERS: readonly EspCbcName[] = (["aes128", "aes256"] as const).flatMap((a) =>
  (["sha1", "sha256", "sha384", "sha512"] as const).map((h) => `${a}-${h}` as EspCbcName)
);

/** True for the CBC+HMAC names ("aes128-sha256", ...). */
export function isCbcCipher(c: string): c is EspCbcName {
  return (ESP_CBC_CIPHERS as readonly string[]).includes(c);
}

/** The lengths of a CBC+HMAC transform. */
export function cbcSuite(c: EspCbcName): CbcSuite {
  const [a, h] = c.split("-") as ["aes128" | "aes256", EspHmacName];
  const m = HMACS[h];
  const bits = a === "aes128" ? 128 : 256;
  return { cipher: c, hash: h, encKeyLen: bits / 8, integKeyLen: m.key, icvLen: m.icv, strongswan: `AES_CBC_${bits}/${m.name}` };
}

/** The CBC+HMAC name of ENCR_AES_CBC `keyBits` with IKEv2 integrity transform `integ` (2, 12, 13, 14), or null. */
export function cbcCipherOf(keyBits: number | undefined, integ: number | undefined): EspCbcName | null {
  const a = keyBits === 128 ? "aes128" : keyBits === 256 ? "aes256" : null;
  const h = integ === 2 ? "sha1" : integ === 12 ? "sha256" : integ === 13 ? "sha384" : integ === 14 ? "sha512" : null;
  return a && h ? `${a}-${h}` : null;
}

/** Bytes of key material an SA of `c` takes: key || salt (AEAD) or encryption key || integrity key (CBC). */
export function espKeyMaterialLength(c: EspCipherName): number {
  if (isCbcCipher(c)) {
    const s = cbcSuite(c);
    return s.encKeyLen + s.integKeyLen;
  }
  return c === "aes128gcm16" ? 20 : 36;
}

/** True when `p` is a CBC+HMAC provider (not an AEAD). */
export function isCbcProvider(p: EspCrypto): p is CbcHmacProvider {
  return (p as CbcHmacProvider).kind === "cbc-hmac";
}

const NOBLE_HASH = { sha1, sha256, sha384, sha512 };
type NobleMac = ReturnType<typeof hmac.create>;

/** AES-CBC from @noble/ciphers and HMAC from @noble/hashes (pure JS, every runtime). */
class NobleCbcHmac implements CbcHmacProvider {
  readonly kind = "cbc-hmac" as const;
  readonly name = "noble-cbc-hmac";
  /** One keyed HMAC per key (its ipad/opad state), cloned for every packet. */
  private readonly macs = new WeakMap<Uint8Array, { hash: EspHmacName; h: NobleMac }>();

  supports(cipher: EspCipherName): boolean {
    return isCbcCipher(cipher);
  }

  encrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    out.set(cbc(key, iv, { disablePadding: true }).encrypt(data), 0);
  }

  decrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): boolean {
    try {
      out.set(cbc(key, iv, { disablePadding: true }).decrypt(data), 0);
      return true;
    } catch {
      return false;
    }
  }

  mac(hash: EspHmacName, key: Uint8Array, data: Uint8Array, tail: Uint8Array | null, out: Uint8Array): number {
    let e = this.macs.get(key);
    if (e === undefined || e.hash !== hash) {
      e?.h.destroy();
      e = { hash, h: hmac.create(NOBLE_HASH[hash], key) };
      this.macs.set(key, e);
    }
    const h = e.h.clone();
    h.update(data);
    if (tail !== null) h.update(tail);
    const d = h.digest();
    out.set(d, 0);
    d.fill(0);
    h.destroy();
    return d.length;
  }

  forget(key: Uint8Array): void {
    this.macs.get(key)?.h.destroy();
    this.macs.delete(key);
  }
}

/** The portable CBC+HMAC provider. */
export const nobleCbcHmac: CbcHmacProvider = new NobleCbcHmac();

/** The default provider of any data-plane cipher: {@link nobleCbcHmac} for CBC, else {@link selectAeadProvider}. */
export function selectEspCrypto(c: EspCipherName): EspCrypto {
  return isCbcCipher(c) ? nobleCbcHmac : selectAeadProvider(c);
}

// ------------------------------------------------------------------ random IVs

/** IVs are cut from one CSPRNG draw of this many bytes (256 IVs per getRandomValues call). */
const POOL = 4096;
const pool = new Uint8Array(POOL);
let poolOff = POOL;

/** Write 16 fresh random bytes to `out[at..at+16)`. */
function randomIv(out: Uint8Array, at: number): void {
  if (poolOff >= POOL) {
    globalThis.crypto.getRandomValues(pool);
    poolOff = 0;
  }
  for (let i = 0; i < 16; i++) out[at + i] = pool[poolOff + i];
  // an IV is used once: wipe it from the pool so nothing predicts or repeats it
  pool.fill(0, poolOff, poolOff + 16);
  poolOff += 16;
}

// ------------------------------------------------------------------ the transform

/** ESP header (8) + IV (16). */
export const CBC_HDR = 24;
const BLOCK = 16;

/** Padding so that payload + padding + 2 is a multiple of the AES block (RFC 3602 §2.4). */
export function cbcPadLength(innerLen: number): number {
  return (BLOCK - ((innerLen + 2) & 15)) & 15;
}

/**
 * The CBC+HMAC part of one SA: seals a payload into a whole ESP packet, and verifies then
 * decrypts one. Holds views of the SA's key material (zeroed by the SA).
 */
export class CbcTransform {
  readonly suite: CbcSuite;
  /** Shortest well-formed ESP packet: header, IV, one block, ICV. */
  readonly minLen: number;
  private readonly encKey: Uint8Array;
  private readonly integKey: Uint8Array;
  private readonly md = new Uint8Array(64);
  /** The ESN high bits (MAC input only, never sent). */
  private readonly tail: Uint8Array | null;
  private scratch: Uint8Array | null = null;

  constructor(cipher: EspCbcName, km: Uint8Array, private readonly p: CbcHmacProvider, esn: boolean) {
    this.suite = cbcSuite(cipher);
    const s = this.suite;
    this.encKey = km.subarray(0, s.encKeyLen);
    this.integKey = km.subarray(s.encKeyLen, s.encKeyLen + s.integKeyLen);
    this.tail = esn ? new Uint8Array(4) : null;
    this.minLen = CBC_HDR + BLOCK + s.icvLen;
  }

  /** Seal `inner` as packet `hi:lo` of SA `spi`; returns the ESP packet (SPI .. ICV). */
  seal(spi: number, hi: number, lo: number, inner: Uint8Array, nextHeader: number): Uint8Array {
    const n = inner.length, s = this.suite;
    const pad = cbcPadLength(n);
    const ptLen = n + pad + 2;
    const end = CBC_HDR + ptLen;
    const out = new Uint8Array(end + s.icvLen);
    putU32(out, 0, spi);
    putU32(out, 4, lo);
    randomIv(out, 8);
    const pt = out.subarray(CBC_HDR, end);
    pt.set(inner, 0);
    for (let i = 1; i <= pad; i++) pt[n + i - 1] = i;
    pt[ptLen - 2] = pad;
    pt[ptLen - 1] = nextHeader & 0xff;
    this.p.encrypt(this.encKey, out.subarray(8, CBC_HDR), pt, pt);
    if (this.tail !== null) putU32(this.tail, 0, hi);
    if (this.p.mac(s.hash, this.integKey, out.subarray(0, end), this.tail, this.md) < s.icvLen) throw new Error("HMAC failed");
    for (let i = 0; i < s.icvLen; i++) out[end + i] = this.md[i];
    return out;
  }

  /** True when `len` bytes can be an ESP packet of this transform (whole blocks between IV and ICV). */
  wellFormed(len: number): boolean {
    return len >= this.minLen && ((len - CBC_HDR - this.suite.icvLen) & 15) === 0;
  }

  /**
   * Verify the ICV of `esp` (already {@link wellFormed}; `hi` = the ESN high bits the replay
   * window inferred) in constant time, then decrypt. Returns the plaintext (payload | pad |
   * padLen | nextHeader), or null when the ICV does not verify (nothing is decrypted then).
   */
  open(esp: Uint8Array, hi: number): Uint8Array | null {
    const s = this.suite;
    const end = esp.length - s.icvLen;
    if (this.tail !== null) putU32(this.tail, 0, hi);
    const md = this.md;
    if (this.p.mac(s.hash, this.integKey, esp.subarray(0, end), this.tail, md) < s.icvLen) return null;
    let d = 0;
    for (let i = 0; i < s.icvLen; i++) d |= md[i] ^ esp[end + i];
    if (d !== 0) return null;
    const pt = new Uint8Array(end - CBC_HDR);
    if (!this.p.decrypt(this.encKey, esp.subarray(8, CBC_HDR), esp.subarray(CBC_HDR, end), pt)) return null;
    return pt;
  }

  /**
   * Run the cipher and the HMAC over 16 zero bytes of scratch (outbound: encrypt; inbound:
   * decrypt) so an idle SA's contexts stay warm. Touches no packet state.
   */
  warm(outbound: boolean): void {
    const b = (this.scratch ??= new Uint8Array(48));
    b.fill(0);
    const iv = b.subarray(0, 16), blk = b.subarray(16, 32), o = b.subarray(32, 48);
    if (outbound) this.p.encrypt(this.encKey, iv, blk, o);
    else this.p.decrypt(this.encKey, iv, blk, o);
    this.p.mac(this.suite.hash, this.integKey, blk, null, this.md);
    this.md.fill(0);
    b.fill(0);
  }

  /** Drop the provider's per-key state and wipe scratch (the SA zeroes the key material). */
  destroy(): void {
    this.p.forget?.(this.encKey);
    this.p.forget?.(this.integKey);
    this.md.fill(0);
    this.scratch?.fill(0);
  }
}
