/**
 * The decode crypto backend (lib/esp/decode-crypto.ts) on the system's OpenSSL 3 libcrypto
 * through bun:ffi: HMAC (MD5, SHA-1, SHA-2) and AES-CBC decryption for `vpnkit decode --keys`.
 *
 * - HMAC: one HMAC_CTX per key, set up once (the ipad/opad states); each packet resets it
 *   from the saved inner state (`HMAC_Init_ex` without a key), updates and finalises into
 *   the caller's buffer: 3 native calls (libcrypto-cbc-hmac.ts `HmacContexts`, shared with
 *   the data plane's CBC provider). node:crypto builds an Hmac object and a Buffer per
 *   packet (1.3 KB ESP packet: ~1.9 -> ~1.1 us on the shared VM).
 * - AES-CBC: one EVP_CIPHER_CTX per key, padding off, fed `IV ‖ ciphertext` with one
 *   `EVP_CipherUpdate`: the output block after each ciphertext block depends only on that
 *   block and the one before, so everything after the first 16 bytes is the plaintext under
 *   this IV whatever the context's chaining state was (the same trick as
 *   aesCbcDecryptCached in lib/esp/decrypt.ts). ~1.5 -> ~0.3 us per 1.3 KB packet.
 *
 * Loaded lazily; {@link libcryptoDecodeCrypto} returns null when libcrypto.so.3 (or one of
 * these symbols) is missing or the self-test against node:crypto fails: decode then keeps
 * node:crypto. `close()` frees every context (HMAC_CTX_free / EVP_CIPHER_CTX_free cleanse
 * the key schedules).
 * @module
 */
import { type Pointer } from "bun:ffi";
import { cbcHmacSymbols, type CbcHmacSymbols, HmacContexts } from "./libcrypto-cbc-hmac.ts";
import * as nodeCrypto from "node:crypto";
import type { DecodeCrypto, DecodeHash } from "../../esp/decode-crypto.ts";

type Sym = CbcHmacSymbols;

/** Most contexts kept (one per key; a capture's key files hold a few thousand SAs at most). */
const MAX_CTX = 65536;

class LibcryptoDecodeCrypto implements DecodeCrypto {
  readonly name = "libcrypto-ffi";
  private readonly mds: Record<DecodeHash, Pointer | null>;
  private readonly cbcs: (Pointer | null)[];
  private readonly hmacs: HmacContexts<DecodeHash>;
  private readonly ciphers = new Map<Uint8Array, Pointer>();
  private readonly outl = new Int32Array(1);
  private readonly zeroIv = new Uint8Array(16);

  constructor(private readonly s: Sym) {
    const p = (x: unknown) => x as Pointer | null;
    this.mds = { md5: p(s.EVP_md5()), sha1: p(s.EVP_sha1()), sha256: p(s.EVP_sha256()), sha384: p(s.EVP_sha384()), sha512: p(s.EVP_sha512()) };
    this.hmacs = new HmacContexts(s, this.mds, MAX_CTX);
    this.cbcs = [p(s.EVP_aes_128_cbc()), p(s.EVP_aes_192_cbc()), p(s.EVP_aes_256_cbc())];
  }

  hmac(hash: DecodeHash, key: Uint8Array, data: Uint8Array, out: Uint8Array): number {
    return this.hmacs.mac(hash, key, data, null, out);
  }

  aesCbcDecrypt(key: Uint8Array, ivct: Uint8Array, out?: Uint8Array): Uint8Array | null {
    const n = ivct.length;
    if (n < 32 || (n & 15) !== 0 || (out !== undefined && out.length < n)) return null;
    const s = this.s;
    let ctx = this.ciphers.get(key);
    if (ctx === undefined) {
      const cipher = key.length === 16 ? this.cbcs[0] : key.length === 24 ? this.cbcs[1] : key.length === 32 ? this.cbcs[2] : null;
      if (cipher === null) return null;
      if (this.ciphers.size >= MAX_CTX) this.closeCiphers();
      const c = s.EVP_CIPHER_CTX_new() as Pointer | null;
      if (c === null) return null;
      if (s.EVP_CipherInit_ex(c, cipher, null, key, this.zeroIv, 0) !== 1 || s.EVP_CIPHER_CTX_set_padding(c, 0) !== 1) {
        s.EVP_CIPHER_CTX_free(c);
        return null;
      }
      this.ciphers.set(key, c);
      ctx = c;
    }
    const o = out ?? new Uint8Array(n);
    // whole blocks, no padding: exactly n bytes out (checked: anything else is not trusted)
    if (s.EVP_CipherUpdate(ctx, o, this.outl, ivct, n) !== 1 || this.outl[0] !== n) return null;
    return o.subarray(16, n);
  }

  private closeCiphers(): void {
    for (const c of this.ciphers.values()) this.s.EVP_CIPHER_CTX_free(c);
    this.ciphers.clear();
  }

  close(): void {
    this.hmacs.close();
    this.closeCiphers();
  }
}

let sym: Sym | null | undefined;

/**
 * A fresh libcrypto decode backend, or null when libcrypto cannot be loaded or fails its
 * self-test (the caller then keeps node:crypto).
 */
export function libcryptoDecodeCrypto(): DecodeCrypto | null {
  if (sym === undefined) {
    try {
      sym = cbcHmacSymbols();
    } catch {
      sym = null;
    }
  }
  if (sym === null) return null;
  try {
    const b = new LibcryptoDecodeCrypto(sym);
    if (!selfTest(b)) {
      b.close();
      return null;
    }
    return b;
  } catch {
    return null;
  }
}

/** HMACs and AES-CBC (three key sizes, two packets in a row on one context) against node:crypto. */
function selfTest(b: LibcryptoDecodeCrypto): boolean {
  const data = new Uint8Array(300).map((_, i) => (i * 7 + 3) & 0xff);
  const out = new Uint8Array(64);
  for (const h of ["md5", "sha1", "sha256", "sha384", "sha512"] as const) {
    const key = new Uint8Array(h === "md5" ? 16 : 32).map((_, i) => i * 5 + 1);
    const ref = nodeCrypto.createHmac(h, key).update(data).digest();
    const n = b.hmac(h, key, data, out);
    if (n !== ref.length || !ref.equals(out.subarray(0, n))) return false;
    // the reset from the saved key state
    if (b.hmac(h, key, data.subarray(1), out) !== n || !nodeCrypto.createHmac(h, key).update(data.subarray(1)).digest().equals(out.subarray(0, n))) return false;
  }
  for (const kl of [16, 24, 32]) {
    const key = new Uint8Array(kl).map((_, i) => i * 11 + kl);
    for (let round = 0; round < 2; round++) {
      const ivct = data.subarray(round * 16, round * 16 + 16 + 64 * (round + 1));
      const d = nodeCrypto.createDecipheriv(`aes-${kl * 8}-cbc`, key, ivct.subarray(0, 16));
      d.setAutoPadding(false);
      const ref = Buffer.concat([d.update(ivct.subarray(16)), d.final()]);
      const got = b.aesCbcDecrypt(key, ivct);
      if (got === null || !ref.equals(got)) return false;
    }
  }
  b.close();
  return true;
}
