/**
 * A pluggable crypto backend for the decode paths (`vpnkit decode --keys`): the HMAC and
 * AES-CBC primitives ESP decryption spends its time in. lib/ keeps node:crypto as the
 * default (runtime-neutral, used on Deno); the Bun CLI injects a backend on the system's
 * libcrypto through bun:ffi (lib/platform/bun/decode-crypto-ffi.ts) that keeps one native
 * context per key and writes into caller buffers (no per-packet JS objects).
 *
 * A backend may decline any call (-1 / null): the caller then uses node:crypto. It never
 * throws on wire data. Contexts hold key schedules: {@link DecodeCrypto.close} frees them
 * (the KeyStore calls it when it zeroes the keys).
 * @module
 */

/** node:crypto hash names of the HMACs ESP uses. */
export type DecodeHash = "md5" | "sha1" | "sha256" | "sha384" | "sha512";

export interface DecodeCrypto {
  readonly name: string;
  /**
   * HMAC-`hash` of `data` under `key`, the full digest written to `out[0..)` (`out` holds
   * at least 64 bytes). Returns the digest length, or -1 when this backend cannot.
   */
  hmac(hash: DecodeHash, key: Uint8Array, data: Uint8Array, out: Uint8Array): number;
  /**
   * AES-CBC decryption of `ivct`: a 16-byte IV then whole 16-byte blocks, under a 16/24/32-byte
   * key. The plaintext (`ivct.length - 16` bytes) is returned as a view of `out` (at least
   * `ivct.length` bytes) or of a new array when `out` is not given; null when this backend cannot.
   */
  aesCbcDecrypt(key: Uint8Array, ivct: Uint8Array, out?: Uint8Array): Uint8Array | null;
  /** Free every native context (they hold key schedules). The backend may be used again after. */
  close(): void;
}
