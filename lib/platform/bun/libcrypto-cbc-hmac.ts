/**
 * The libcrypto symbols for AES-CBC and HMAC, shared by the ESP data plane (cbc-ffi.ts) and
 * `vpnkit decode`'s decryption (decode-crypto-ffi.ts). Opened once, lazily; null when no
 * libcrypto (libcrypto.so.3 or libcrypto.so) with them is there.
 * @module
 */
import { dlopen, FFIType } from "bun:ffi";

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
