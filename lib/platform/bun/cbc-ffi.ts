/**
 * The CBC+HMAC provider of the ESP data plane (lib/esp/cbc.ts `CbcHmacProvider`) on the
 * system's OpenSSL 3 libcrypto through bun:ffi, the same path as AES-GCM (aead-ffi.ts):
 *
 * - AES-CBC: one EVP_CIPHER_CTX per key and direction, keyed once, padding off (ESP pads
 *   itself); each packet sets the IV (`EVP_CipherInit_ex` with only the IV) and runs one
 *   `EVP_CipherUpdate` over the whole blocks into the caller's buffer.
 * - HMAC: one HMAC_CTX per key (libcrypto-cbc-hmac.ts `HmacContexts`, shared with decode).
 *
 * `forget(key)` frees the contexts (EVP_CIPHER_CTX_free / HMAC_CTX_free cleanse them).
 * Loaded lazily; {@link libcryptoCbcHmac} returns null when libcrypto.so.3 is missing or the
 * self-test against lib/esp's @noble provider fails, and the caller keeps the noble one.
 * @module
 */
import { type Pointer } from "bun:ffi";
import { cbcHmacSymbols, type CbcHmacSymbols, HmacContexts } from "./libcrypto-cbc-hmac.ts";
import { nobleCbcHmac } from "../../esp/cbc.ts";
import type { CbcHmacProvider, EspCipherName, EspHmacName } from "../../esp/types.ts";
import { isCbcCipher } from "../../esp/cbc.ts";

type Sym = CbcHmacSymbols;

class LibcryptoCbcHmac implements CbcHmacProvider {
  readonly kind = "cbc-hmac" as const;
  readonly name = "libcrypto-ffi-cbc-hmac";
  private readonly enc = new Map<Uint8Array, Pointer>();
  private readonly dec = new Map<Uint8Array, Pointer>();
  private readonly macs: HmacContexts<EspHmacName>;
  private readonly outl = new Int32Array(1);
  private readonly mds: Record<EspHmacName, Pointer | null>;
  private readonly cbc128: Pointer | null;
  private readonly cbc256: Pointer | null;

  constructor(private readonly s: Sym) {
    const p = (x: unknown) => x as Pointer | null;
    this.mds = { sha1: p(s.EVP_sha1()), sha256: p(s.EVP_sha256()), sha384: p(s.EVP_sha384()), sha512: p(s.EVP_sha512()) };
    this.macs = new HmacContexts(s, this.mds);
    this.cbc128 = p(s.EVP_aes_128_cbc());
    this.cbc256 = p(s.EVP_aes_256_cbc());
  }

  ok(): boolean {
    return this.cbc128 !== null && this.cbc256 !== null && Object.values(this.mds).every((m) => m !== null);
  }

  supports(cipher: EspCipherName): boolean {
    return isCbcCipher(cipher);
  }

  private ctx(key: Uint8Array, encrypt: boolean): Pointer | null {
    const m = encrypt ? this.enc : this.dec;
    let c = m.get(key);
    if (c !== undefined) return c;
    const cipher = key.length === 16 ? this.cbc128 : key.length === 32 ? this.cbc256 : null;
    if (cipher === null) return null;
    const s = this.s;
    const n = s.EVP_CIPHER_CTX_new() as Pointer | null;
    if (n === null) return null;
    if (s.EVP_CipherInit_ex(n, cipher, null, key, null, encrypt ? 1 : 0) !== 1 || s.EVP_CIPHER_CTX_set_padding(n, 0) !== 1) {
      s.EVP_CIPHER_CTX_free(n);
      return null;
    }
    m.set(key, n);
    c = n;
    return c;
  }

  private run(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array, encrypt: boolean): boolean {
    const n = data.length;
    if (n === 0 || (n & 15) !== 0 || out.length < n || iv.length !== 16) return false;
    const c = this.ctx(key, encrypt);
    if (c === null) return false;
    const s = this.s;
    // only the IV: the key schedule stays, the chaining state restarts from this IV
    if (s.EVP_CipherInit_ex(c, null, null, null, iv, -1) !== 1) return false;
    return s.EVP_CipherUpdate(c, out, this.outl, data, n) === 1 && this.outl[0] === n;
  }

  encrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): void {
    if (!this.run(key, iv, data, out, true)) throw new Error("AES-CBC encryption failed");
  }

  decrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): boolean {
    return this.run(key, iv, data, out, false);
  }

  mac(hash: EspHmacName, key: Uint8Array, data: Uint8Array, tail: Uint8Array | null, out: Uint8Array): number {
    return this.macs.mac(hash, key, data, tail, out);
  }

  forget(key: Uint8Array): void {
    const s = this.s;
    const e = this.enc.get(key), d = this.dec.get(key);
    if (e !== undefined) s.EVP_CIPHER_CTX_free(e);
    if (d !== undefined) s.EVP_CIPHER_CTX_free(d);
    this.enc.delete(key);
    this.dec.delete(key);
    this.macs.forget(key);
  }
}

let sym: Sym | null | undefined;
let provider: LibcryptoCbcHmac | null | undefined;

/** The libcrypto CBC+HMAC provider (one instance), or null when libcrypto cannot be used. */
export function libcryptoCbcHmac(): CbcHmacProvider | null {
  if (provider !== undefined) return provider;
  if (sym === undefined) {
    try {
      sym = cbcHmacSymbols();
    } catch {
      sym = null;
    }
  }
  if (sym === null) return (provider = null);
  try {
    const p = new LibcryptoCbcHmac(sym);
    provider = p.ok() && selfTest(p) ? p : null;
  } catch {
    provider = null;
  }
  return provider;
}

/** AES-CBC 128/256 both ways (two packets on one context) and the four HMACs against @noble. */
function selfTest(p: LibcryptoCbcHmac): boolean {
  const data = new Uint8Array(96).map((_, i) => (i * 7 + 3) & 0xff);
  const iv = new Uint8Array(16).map((_, i) => 0xa0 + i);
  const tail = new Uint8Array([1, 2, 3, 4]);
  const a = new Uint8Array(96), b = new Uint8Array(96), got = new Uint8Array(64), ref = new Uint8Array(64);
  const eq = (x: Uint8Array, y: Uint8Array) => x.length === y.length && x.every((v, i) => v === y[i]);
  let ok = true;
  for (const kl of [16, 32]) {
    const key = new Uint8Array(kl).map((_, i) => i * 11 + kl);
    for (let round = 0; round < 2 && ok; round++) {
      iv[0] = round;
      p.encrypt(key, iv, data, a);
      nobleCbcHmac.encrypt(key, iv, data, b);
      ok = eq(a, b) && p.decrypt(key, iv, a, b) && eq(b, data);
    }
    p.forget(key);
  }
  for (const h of ["sha1", "sha256", "sha384", "sha512"] as const) {
    const key = new Uint8Array(h === "sha1" ? 20 : 64).map((_, i) => i * 5 + 1);
    for (const t of [null, tail]) {
      const n = p.mac(h, key, data, t, got);
      const m = nobleCbcHmac.mac(h, key, data, t, ref);
      ok = ok && n === m && n > 0 && eq(got.subarray(0, n), ref.subarray(0, m));
    }
    p.forget(key);
    nobleCbcHmac.forget?.(key);
  }
  return ok;
}
