/**
 * AEAD provider on the system's OpenSSL 3 libcrypto through bun:ffi (EVP API): AES-128/256-GCM
 * and ChaCha20-Poly1305. One EVP_CIPHER_CTX per key and direction is initialised with the key
 * once and kept; each packet only sets the nonce, feeds the AAD, encrypts/decrypts into the
 * caller's buffer and gets/sets the tag (5 native calls, no per-packet JS objects beyond the
 * output). node:crypto instead builds a Cipheriv stream object per packet, which dominated
 * the data plane's CPU profile.
 *
 * `forget(key)` frees the contexts (EVP_CIPHER_CTX_free cleanses the key schedule).
 * Loaded lazily; {@link libcryptoAead} returns null when libcrypto.so.3 is not there, and
 * the caller keeps lib/esp's default provider.
 * @module
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import { nobleChaCha, nobleGcm, TAG_LEN } from "../../esp/aead.ts";
import type { AeadProvider, EspCipherName } from "../../esp/types.ts";

const EVP_CTRL_AEAD_GET_TAG = 0x10;
const EVP_CTRL_AEAD_SET_TAG = 0x11;

function load() {
  for (const n of ["libcrypto.so.3", "libcrypto.so"]) {
    try {
      return dlopen(n, {
        EVP_CIPHER_CTX_new: { args: [], returns: FFIType.ptr },
        EVP_CIPHER_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
        EVP_aes_128_gcm: { args: [], returns: FFIType.ptr },
        EVP_aes_256_gcm: { args: [], returns: FFIType.ptr },
        EVP_chacha20_poly1305: { args: [], returns: FFIType.ptr },
        EVP_CipherInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        EVP_CipherUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        EVP_CipherFinal_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        EVP_CIPHER_CTX_ctrl: { args: [FFIType.ptr, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      }).symbols;
    } catch {
      // next name
    }
  }
  return null;
}

type Sym = NonNullable<ReturnType<typeof load>>;

interface KeyCtx {
  enc: Pointer | null;
  dec: Pointer | null;
  cipher: Pointer;
}

class LibcryptoAead implements AeadProvider {
  readonly name = "libcrypto-ffi";
  private readonly ctxs = new Map<Uint8Array, KeyCtx>();
  private readonly outl = new Int32Array(1);
  private readonly tag = new Uint8Array(TAG_LEN);
  private readonly scratch = new Uint8Array(16);
  private readonly gcm128: Pointer;
  private readonly gcm256: Pointer;
  private readonly chacha: Pointer;
  private k0: Uint8Array | null = null;
  private c0: KeyCtx | null = null;

  constructor(private readonly s: Sym, private readonly family: "gcm" | "chacha") {
    this.gcm128 = s.EVP_aes_128_gcm() as Pointer;
    this.gcm256 = s.EVP_aes_256_gcm() as Pointer;
    this.chacha = s.EVP_chacha20_poly1305() as Pointer;
  }

  /** True when every cipher object resolved (checked by {@link libcryptoAead}). */
  ok(): boolean {
    return this.gcm128 !== null && this.gcm256 !== null && this.chacha !== null;
  }

  supports(cipher: EspCipherName): boolean {
    return this.family === "chacha" ? cipher === "chacha20poly1305" : cipher === "aes128gcm16" || cipher === "aes256gcm16";
  }

  private cipherFor(key: Uint8Array): Pointer {
    if (this.family === "chacha") {
      if (key.length !== 32) throw new RangeError(`ChaCha20-Poly1305 key must be 32 bytes, got ${key.length}`);
      return this.chacha;
    }
    if (key.length === 16) return this.gcm128;
    if (key.length === 32) return this.gcm256;
    throw new RangeError(`AES-GCM key must be 16 or 32 bytes, got ${key.length}`);
  }

  private entry(key: Uint8Array): KeyCtx {
    if (key === this.k0) return this.c0!;
    let e = this.ctxs.get(key);
    if (e === undefined) {
      e = { enc: null, dec: null, cipher: this.cipherFor(key) };
      this.ctxs.set(key, e);
    }
    this.k0 = key;
    this.c0 = e;
    return e;
  }

  private ctx(key: Uint8Array, enc: boolean): Pointer {
    const e = this.entry(key);
    let c = enc ? e.enc : e.dec;
    if (c === null) {
      const s = this.s;
      c = s.EVP_CIPHER_CTX_new() as Pointer | null;
      if (c === null) throw new Error("EVP_CIPHER_CTX_new failed");
      if (s.EVP_CipherInit_ex(c, e.cipher, null, key, null, enc ? 1 : 0) !== 1) {
        s.EVP_CIPHER_CTX_free(c);
        throw new Error("EVP_CipherInit_ex (key) failed");
      }
      if (enc) e.enc = c;
      else e.dec = c;
    }
    return c;
  }

  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array): Uint8Array {
    const s = this.s;
    const c = this.ctx(key, true);
    const n = plaintext.length;
    const r = out ?? new Uint8Array(n + TAG_LEN);
    const outl = this.outl;
    if (s.EVP_CipherInit_ex(c, null, null, null, nonce, -1) !== 1) throw new Error("EVP_CipherInit_ex (nonce) failed");
    if (s.EVP_CipherUpdate(c, null, outl, aad, aad.length) !== 1) throw new Error("EVP_CipherUpdate (aad) failed");
    // in place when `r` starts where `plaintext` does (the SA seals in place): OpenSSL allows exact aliasing
    if (n > 0 && s.EVP_CipherUpdate(c, r, outl, plaintext, n) !== 1) throw new Error("EVP_CipherUpdate failed");
    if (s.EVP_CipherFinal_ex(c, this.scratch, outl) !== 1) throw new Error("EVP_CipherFinal_ex failed");
    if (s.EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, this.tag) !== 1) throw new Error("get tag failed");
    r.set(this.tag, n);
    return r.length === n + TAG_LEN ? r : r.subarray(0, n + TAG_LEN);
  }

  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ctt: Uint8Array): Uint8Array | null {
    if (ctt.length < TAG_LEN) return null;
    const s = this.s;
    const n = ctt.length - TAG_LEN;
    let c: Pointer;
    try {
      c = this.ctx(key, false);
    } catch {
      return null;
    }
    const outl = this.outl;
    const pt = new Uint8Array(n);
    if (s.EVP_CipherInit_ex(c, null, null, null, nonce, -1) !== 1) return null;
    if (s.EVP_CipherUpdate(c, null, outl, aad, aad.length) !== 1) return null;
    if (n > 0 && s.EVP_CipherUpdate(c, pt, outl, ctt, n) !== 1) return null;
    this.tag.set(ctt.subarray(n));
    if (s.EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, this.tag) !== 1) return null;
    // Final verifies the tag (constant time inside OpenSSL); on failure the plaintext is dropped
    if (s.EVP_CipherFinal_ex(c, this.scratch, outl) !== 1) {
      pt.fill(0);
      return null;
    }
    return pt;
  }

  forget(key: Uint8Array): void {
    const e = this.ctxs.get(key);
    if (e === undefined) return;
    this.ctxs.delete(key);
    if (e.enc !== null) this.s.EVP_CIPHER_CTX_free(e.enc);
    if (e.dec !== null) this.s.EVP_CIPHER_CTX_free(e.dec);
    e.enc = e.dec = null;
    if (this.k0 === key) {
      this.k0 = null;
      this.c0 = null;
    }
  }
}

let sym: Sym | null | undefined;
const providers = new Map<string, LibcryptoAead>();

/**
 * The libcrypto provider for `cipher` (one instance per cipher family), or null when
 * libcrypto cannot be loaded or fails its self-test (the caller then keeps lib/esp's default).
 */
export function libcryptoAead(cipher: EspCipherName): AeadProvider | null {
  if (sym === undefined) {
    try {
      sym = load();
    } catch {
      sym = null;
    }
  }
  if (sym === null) return null;
  const family = cipher === "chacha20poly1305" ? "chacha" : "gcm";
  let p = providers.get(family);
  if (p === undefined) {
    const q = new LibcryptoAead(sym, family);
    if (!q.ok() || !selfTest(q, family)) return null;
    providers.set(family, q);
    p = q;
  }
  return p;
}

/** Seal and open one message with a throw-away key and compare with @noble (lib/esp's reference). */
function selfTest(p: LibcryptoAead, family: "gcm" | "chacha"): boolean {
  try {
    const key = new Uint8Array(32).map((_, i) => i * 3 + 1);
    const nonce = new Uint8Array(12).map((_, i) => 0xa0 + i);
    const aad = new Uint8Array(8).map((_, i) => i);
    const pt = new Uint8Array(61).map((_, i) => (i * 7) & 0xff);
    const ref = (family === "chacha" ? nobleChaCha : nobleGcm).seal(key, nonce, aad, pt);
    const got = p.seal(key, nonce, aad, pt);
    let same = got.length === ref.length;
    for (let i = 0; same && i < got.length; i++) same = got[i] === ref[i];
    const back = p.open(key, nonce, aad, got);
    const bad = got.slice();
    bad[3] ^= 1;
    const ok = same && back !== null && back.length === pt.length && back.every((b, i) => b === pt[i]) && p.open(key, nonce, aad, bad) === null;
    p.forget(key);
    return ok;
  } catch {
    return false;
  }
}
