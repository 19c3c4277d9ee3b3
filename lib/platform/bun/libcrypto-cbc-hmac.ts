/**
 * The libcrypto symbols for AES-CBC and HMAC, shared by the ESP data plane (cbc-ffi.ts) and
 * `vpnkit decode`'s decryption (decode-crypto-ffi.ts), opened once, lazily (null when no
 * libcrypto, libcrypto.so.3 or libcrypto.so, with them is there); and both users' HMAC, one
 * keyed context per key ({@link HmacContexts}).
 * @module
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";

function open() {
  for (const n of ["libcrypto.so.3", "libcrypto.so"]) {
    try {
      return dlopen(n, {
        EVP_CIPHER_CTX_new: { args: [], returns: FFIType.ptr },
        EVP_CIPHER_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
        EVP_CIPHER_CTX_set_padding: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        EVP_aes_128_cbc: { args: [], returns: FFIType.ptr },
        EVP_aes_192_cbc: { args: [], returns: FFIType.ptr },
        EVP_aes_256_cbc: { args: [], returns: FFIType.ptr },
        EVP_CipherInit_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        EVP_CipherUpdate: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        HMAC_CTX_new: { args: [], returns: FFIType.ptr },
        HMAC_CTX_free: { args: [FFIType.ptr], returns: FFIType.void },
        HMAC_Init_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        HMAC_Update: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
        HMAC_Final: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
        EVP_md5: { args: [], returns: FFIType.ptr },
        EVP_sha1: { args: [], returns: FFIType.ptr },
        EVP_sha256: { args: [], returns: FFIType.ptr },
        EVP_sha384: { args: [], returns: FFIType.ptr },
        EVP_sha512: { args: [], returns: FFIType.ptr },
      }).symbols;
    } catch {
      // next name
    }
  }
  return null;
}

export type CbcHmacSymbols = NonNullable<ReturnType<typeof open>>;

let opened: CbcHmacSymbols | null | undefined;

/** The symbols (the library is opened on the first call), or null. */
export function cbcHmacSymbols(): CbcHmacSymbols | null {
  if (opened === undefined) opened = open();
  return opened;
}

/**
 * HMAC with one HMAC_CTX per key, keyed once (its ipad/opad states); each use resets it from
 * them (`HMAC_Init_ex` without a key), updates and finalises into the caller's buffer: 3-4
 * native calls and no allocation per packet. At most `max` contexts: one more frees them all
 * first. `forget(key)` / `close()` free them (HMAC_CTX_free cleanses the key state).
 */
export class HmacContexts<H extends string> {
  private readonly ctxs = new Map<Uint8Array, { ctx: Pointer; hash: H }>();
  private readonly mdl = new Uint32Array(1);

  constructor(private readonly s: CbcHmacSymbols, private readonly mds: Record<H, Pointer | null>, private readonly max = Infinity) {}

  /** HMAC-`hash` of `data` ‖ `tail` under `key` into `out` (64 bytes at least): its length, or -1. */
  mac(hash: H, key: Uint8Array, data: Uint8Array, tail: Uint8Array | null, out: Uint8Array): number {
    if (out.length < 64) return -1;
    const s = this.s;
    const e = this.ctxs.get(key);
    let ctx: Pointer;
    if (e !== undefined && e.hash === hash) {
      ctx = e.ctx;
      if (s.HMAC_Init_ex(ctx, null, 0, null, null) !== 1) return -1;
    } else {
      const md = this.mds[hash];
      if (md === null || md === undefined || key.length === 0) return -1;
      if (e !== undefined) this.forget(key);
      if (this.ctxs.size >= this.max) this.close();
      const c = s.HMAC_CTX_new() as Pointer | null;
      if (c === null) return -1;
      if (s.HMAC_Init_ex(c, key, key.length, md, null) !== 1) {
        s.HMAC_CTX_free(c);
        return -1;
      }
      this.ctxs.set(key, { ctx: c, hash });
      ctx = c;
    }
    if (data.length > 0 && s.HMAC_Update(ctx, data, data.length) !== 1) return -1;
    if (tail !== null && tail.length > 0 && s.HMAC_Update(ctx, tail, tail.length) !== 1) return -1;
    if (s.HMAC_Final(ctx, out, this.mdl) !== 1) return -1;
    return this.mdl[0];
  }

  forget(key: Uint8Array): void {
    const e = this.ctxs.get(key);
    if (e === undefined) return;
    this.s.HMAC_CTX_free(e.ctx);
    this.ctxs.delete(key);
  }

  close(): void {
    for (const e of this.ctxs.values()) this.s.HMAC_CTX_free(e.ctx);
    this.ctxs.clear();
  }
}
