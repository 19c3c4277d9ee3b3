/**
 * ESP data-plane types (RFC 4303). Shared by the SA objects, the SA database
 * and the tunnel engine. No I/O here.
 * @module
 */

/**
 * AEAD transforms the data plane implements, with strongSwan's names.
 * Key material is `key || 4-byte salt` for all three (RFC 4106 §8.1, RFC 7634 §2):
 * 20 bytes for aes128gcm16, 36 bytes for aes256gcm16 and chacha20poly1305.
 */
export type EspCipherName = EspAeadName | EspCbcName;

/** The AEAD transforms (key material `key || 4-byte salt`). */
export type EspAeadName = "aes128gcm16" | "aes256gcm16" | "chacha20poly1305";

/**
 * AES-CBC (RFC 3602) with an HMAC (RFC 4868 SHA-2, RFC 2404 SHA-1-96), named as strongSwan's
 * ESP proposal words: "aes128-sha256" is ENCR_AES_CBC 128 + AUTH_HMAC_SHA2_256_128.
 * Key material is `encryption key || integrity key` (RFC 7296 §2.17 KEYMAT order):
 * 16 or 32 bytes of AES key, then 20 (sha1), 32 (sha256), 48 (sha384) or 64 (sha512).
 */
export type EspCbcName = `${"aes128" | "aes256"}-${EspHmacName}`;

/** Integrity words of {@link EspCbcName}. */
export type EspHmacName = "sha1" | "sha256" | "sha384" | "sha512";

/**
 * SA lifetime limits. Any field left out is unlimited. `seconds` is measured from SA creation
 * (`createdAt`, on the same millisecond clock as the `now` arguments). `bytes` counts inner
 * payload bytes (what was sealed / what was delivered), `packets` counts packets. The packet
 * that reaches a hard limit is still processed; later ones are refused.
 */
export interface Lifetime {
  bytes?: number;
  packets?: number;
  seconds?: number;
}

/** Everything needed to build one unidirectional ESP SA. */
export interface SaConfig {
  /** SPI as an unsigned 32-bit number. */
  spi: number;
  cipher: EspCipherName;
  /** key || salt. The SA copies it; the caller's buffer is left alone. */
  keyMaterial: Uint8Array;
  /** Extended sequence numbers (64-bit counter, RFC 4303 §2.2.1). Default false. */
  esn?: boolean;
  /**
   * Inbound anti-replay window in packets. Default 1024. Values 1..1023 are raised to 1024
   * (we never run a smaller window); 0 switches anti-replay off (tests, or a peer that
   * asked for it). Rounded up to a multiple of 32. Ignored for outbound SAs.
   */
  replayWindow?: number;
  soft?: Lifetime;
  hard?: Lifetime;
  /** Creation time in ms (same clock as the `now` arguments). Default: Date.now(). */
  createdAt?: number;
  /**
   * Outbound: the sequence number of the *last* packet already sent (default 0, so the
   * first packet carries 1). Inbound: the highest sequence number already received; it and
   * everything below it count as seen. For tests and SA migration only.
   */
  initialSeq?: bigint;
}

/** A lifetime or sequence-space event. Each SA reports each type at most once. */
export type SaEvent = {
  type: "soft-expire" | "hard-expire";
  spi: number;
  direction: "in" | "out";
  reason: "bytes" | "packets" | "seconds" | "seq-exhausted";
};

/** Result of {@link InboundSa.open}. Failures carry no plaintext. */
export type OpenResult =
  | { ok: true; nextHeader: number; payload: Uint8Array; seq: bigint }
  | { ok: false; reason: OpenFailure };

/** Why an inbound packet was dropped. */
export type OpenFailure = "icv" | "replay" | "malformed" | "expired" | "dummy";

/** Silent-drop counters of the data plane (CONTRIBUTING §4). */
export interface DropCounters {
  icv: number;
  replay: number;
  noSa: number;
  tooBig: number;
  malformed: number;
  dummy: number;
  /** Packets refused because their SA has hard-expired. */
  expired: number;
}

/**
 * A tiny AEAD interface so the SA does not care whether node:crypto or @noble does the work.
 * `key` is the bare cipher key (no salt), `nonce` is 12 bytes, the tag is 16 bytes and is
 * appended to the ciphertext. Implementations may cache per-key state keyed on the `key`
 * object identity (the SA keeps one key buffer for its whole life) and must drop it in
 * `forget`.
 */
export interface AeadProvider {
  readonly name: string;
  /** True when this provider implements `cipher`. */
  supports(cipher: EspCipherName): boolean;
  /**
   * Encrypt; returns ciphertext||tag (plaintext.length + 16 bytes), written into `out` when
   * given. `out` may alias `plaintext` (the SA seals in place), so implementations must read
   * all of the plaintext before writing to `out`.
   */
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array, out?: Uint8Array): Uint8Array;
  /** Decrypt and verify; null when the tag does not verify (never throws on bad input). */
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, ciphertextWithTag: Uint8Array): Uint8Array | null;
  /** Drop any cached state for `key` (called when the SA is destroyed). */
  forget?(key: Uint8Array): void;
}

/**
 * AES-CBC and HMAC primitives for the CBC+HMAC transforms (lib/esp/cbc.ts does the ESP
 * framing, the random IVs and the constant-time ICV compare). Implementations may cache
 * per-key state keyed on the key object's identity and must drop it in `forget`.
 */
export interface CbcHmacProvider {
  readonly kind: "cbc-hmac";
  readonly name: string;
  /** True when this provider implements `cipher`. */
  supports(cipher: EspCipherName): boolean;
  /**
   * AES-CBC encryption without padding of `data` (whole 16-byte blocks) under `key`
   * (16 or 32 bytes) and `iv` (16 bytes), written to `out` (same length; may alias `data`).
   */
  encrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): void;
  /** AES-CBC decryption of whole blocks into `out` (same length); false on failure. Never throws. */
  decrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array, out: Uint8Array): boolean;
  /**
   * HMAC-`hash` under `key` of `data` followed by `tail` (the ESN high bits, or null); the full
   * digest is written to `out[0..)` (at least 64 bytes). Returns the digest length, or -1.
   */
  mac(hash: EspHmacName, key: Uint8Array, data: Uint8Array, tail: Uint8Array | null, out: Uint8Array): number;
  /** Drop any cached state for `key` (called when the SA is destroyed). */
  forget?(key: Uint8Array): void;
}

/** What an SA computes with: an AEAD, or CBC plus HMAC. */
export type EspCrypto = AeadProvider | CbcHmacProvider;

/** Options describing the outer encapsulation, for MTU arithmetic. */
export interface EncapOptions {
  outer: "ipv4" | "ipv6";
  /** ESP-in-UDP (RFC 3948), normally UDP/4500. Adds 8 bytes. */
  udpEncap: boolean;
  /**
   * ESP-in-TCP (RFC 8229). Adds a 2-byte length prefix plus a 20-byte TCP header
   * (no options); TCP may coalesce, so this is the per-segment worst case without options.
   */
  tcpEncap?: boolean;
}
