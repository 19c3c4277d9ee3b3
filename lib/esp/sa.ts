/**
 * One unidirectional ESP SA with an AEAD transform (RFC 4303, RFC 4106 AES-GCM,
 * RFC 7634 ChaCha20-Poly1305). Seals and opens buffers; no I/O.
 *
 * Wire format: SPI(4) | Seq(4) | IV(8) | ciphertext(payload | pad | padLen | nextHeader) | ICV(16)
 * - IV = the 64-bit sequence number (counter IV: a nonce is never reused under one key;
 *   the counter cannot wrap: without ESN the SA dies after 2^32-1, with ESN after 2^64-1).
 * - Nonce = salt(4) | IV(8). AAD = SPI | Seq, or with ESN SPI | SeqHi | SeqLo (RFC 4106 §5).
 * - Padding 1,2,3,... so that payload + pad + 2 is a multiple of 4 (RFC 4303 §2.4).
 *
 * The CBC+HMAC transforms (aes128-sha256, ...) keep this SA's sequence, replay and lifetime
 * logic and hand the packet format (random 16-byte IV, block padding, encrypt-then-MAC) to
 * {@link CbcTransform} (cbc.ts).
 *
 * Times (`now`, `createdAt`) are milliseconds on the caller's clock (default Date.now()).
 * @module
 */

import { putU32, u32 } from "../core/bytes.ts";
import { cipherKeyLength, SALT_LEN, selectAeadProvider, TAG_LEN } from "./aead.ts";
import { CbcTransform, espKeyMaterialLength, isCbcCipher, isCbcProvider, nobleCbcHmac } from "./cbc.ts";
import { ReplayWindow } from "./replay.ts";
import { espPadLength } from "./mtu.ts";
import type { AeadProvider, EspCipherName, EspCrypto, Lifetime, OpenResult, SaConfig, SaEvent } from "./types.ts";

const TWO32 = 4294967296;
/** Next Header value of a dummy packet (RFC 4303 §2.6). */
export const NEXT_HEADER_DUMMY = 59;
/** ESP header + IV. */
const HDR = 16;

/**
 * Nonce (salt | IV) and AAD (SPI | seq, or SPI | seqHi | seqLo with ESN) of the packet being
 * sealed or opened, shared by every SA of this thread (each call fills them, the crypto call
 * is synchronous, the salt bytes are zeroed after it): two small arrays per SA less, ~0.24 KB per
 * Child SA held (issue 12).
 */
const NONCE = new Uint8Array(12);
const AAD8 = new Uint8Array(8);
const AAD12 = new Uint8Array(12);
/** Soft "seq-exhausted" fires when this few sequence numbers are left. */
export const SEQ_SOFT_MARGIN = 1 << 24;

function validateConfig(cfg: SaConfig): number {
  if (!Number.isInteger(cfg.spi) || cfg.spi < 0 || cfg.spi > 0xffffffff) throw new RangeError(`bad SPI ${cfg.spi}`);
  if (cfg.spi < 256) throw new RangeError(`SPI ${cfg.spi} is reserved (RFC 4303 §2.1)`);
  if (isCbcCipher(cfg.cipher)) {
    const want = espKeyMaterialLength(cfg.cipher);
    if (!(cfg.keyMaterial instanceof Uint8Array) || cfg.keyMaterial.length !== want) {
      throw new RangeError(`${cfg.cipher} needs ${want} bytes of key material (encryption key || integrity key)`);
    }
    return 0;
  }
  if (cfg.cipher !== "aes128gcm16" && cfg.cipher !== "aes256gcm16" && cfg.cipher !== "chacha20poly1305") {
    throw new RangeError(`unsupported ESP cipher ${String(cfg.cipher)}`);
  }
  const kl = cipherKeyLength(cfg.cipher);
  if (!(cfg.keyMaterial instanceof Uint8Array) || cfg.keyMaterial.length !== kl + SALT_LEN) {
    throw new RangeError(`${cfg.cipher} needs ${kl + SALT_LEN} bytes of key material (key || 4-byte salt)`);
  }
  return kl;
}

/** Stands in for the AEAD of a CBC+HMAC SA (whose packets go through {@link CbcTransform}): never called. */
const NO_AEAD: AeadProvider = {
  name: "none",
  supports: () => false,
  seal: () => {
    throw new Error("not an AEAD SA");
  },
  open: () => null,
};

/**
 * Lifetime accounting shared by both directions: the SA classes extend it, so an SA is one
 * object with its counters inline (no tracker object or event closure per SA: a server holds
 * thousands of idle SAs, issue 12).
 */
abstract class LifetimeTracker {
  protected bytes = 0;
  protected packets = 0;
  protected softFired = false;
  protected hardFired = false;
  protected readonly createdAt: number;
  private readonly needClock: boolean;

  constructor(
    private readonly soft: Lifetime | undefined,
    private readonly hard: Lifetime | undefined,
    createdAt: number | undefined,
  ) {
    this.needClock = soft?.seconds !== undefined || hard?.seconds !== undefined;
    this.createdAt = createdAt ?? Date.now();
  }

  protected abstract emit(type: SaEvent["type"], reason: SaEvent["reason"]): void;

  /** Check the clock; true when the SA is (now) hard-expired. */
  protected checkTime(now: number | undefined): boolean {
    if (this.hardFired) return true;
    if (!this.needClock) return false;
    const age = ((now ?? Date.now()) - this.createdAt) / 1000;
    if (!this.softFired && this.soft?.seconds !== undefined && age >= this.soft.seconds) this.fireSoft("seconds");
    if (this.hard?.seconds !== undefined && age >= this.hard.seconds) {
      this.fireHard("seconds");
      return true;
    }
    return false;
  }

  /** Account one packet of `n` payload bytes; fires soft/hard events. */
  protected account(n: number): void {
    this.bytes += n;
    this.packets++;
    const s = this.soft, h = this.hard;
    if (s !== undefined && !this.softFired) {
      if (s.bytes !== undefined && this.bytes >= s.bytes) this.fireSoft("bytes");
      else if (s.packets !== undefined && this.packets >= s.packets) this.fireSoft("packets");
    }
    if (h !== undefined && !this.hardFired) {
      if (h.bytes !== undefined && this.bytes >= h.bytes) this.fireHard("bytes");
      else if (h.packets !== undefined && this.packets >= h.packets) this.fireHard("packets");
    }
  }

  protected fireSoft(reason: SaEvent["reason"]): void {
    if (this.softFired || this.hardFired) return;
    this.softFired = true;
    this.emit("soft-expire", reason);
  }

  protected fireHard(reason: SaEvent["reason"]): void {
    if (this.hardFired) return;
    this.hardFired = true;
    this.emit("hard-expire", reason);
  }
}

const NO_EVENTS: readonly SaEvent[] = Object.freeze([]);

/** State common to both directions. */
abstract class EspSaBase extends LifetimeTracker {
  readonly spi: number;
  readonly cipher: EspCipherName;
  readonly esn: boolean;
  private ev: SaEvent[] | null = null;
  /** Events reported so far (at most one soft and one hard). */
  get events(): readonly SaEvent[] {
    return this.ev ?? NO_EVENTS;
  }
  /** Called for every event, after it is appended to {@link events}. */
  onEvent: ((e: SaEvent) => void) | undefined = undefined;
  abstract readonly direction: "in" | "out";

  protected readonly crypto: AeadProvider;
  /** The CBC+HMAC transform (null for the AEAD ciphers, which use {@link crypto}). */
  protected readonly cbc: CbcTransform | null;
  /** CBC only: our copy of encryption key || integrity key; zeroed by destroy(). */
  protected readonly km: Uint8Array | null;
  /** AEAD: our copy of the key (the salt is in {@link salt}); zeroed by destroy(). */
  protected readonly key: Uint8Array;
  /** AEAD: the 4-byte salt (RFC 4106 §4) as a big-endian u32; 0 after destroy(). */
  protected salt = 0;
  protected destroyed = false;

  constructor(cfg: SaConfig, crypto: EspCrypto | undefined) {
    super(cfg.soft, cfg.hard, cfg.createdAt);
    const kl = validateConfig(cfg);
    this.spi = cfg.spi >>> 0;
    this.cipher = cfg.cipher;
    this.esn = cfg.esn === true;
    if (isCbcCipher(cfg.cipher)) {
      const p = crypto ?? nobleCbcHmac;
      if (!isCbcProvider(p) || !p.supports(cfg.cipher)) throw new Error(`crypto provider ${p.name} does not support ${cfg.cipher}`);
      this.crypto = NO_AEAD;
      this.km = cfg.keyMaterial.slice();
      this.cbc = new CbcTransform(cfg.cipher, this.km, p, this.esn);
      this.key = new Uint8Array(0);
      return;
    }
    const c = crypto ?? selectAeadProvider(cfg.cipher);
    if (isCbcProvider(c) || !c.supports(cfg.cipher)) throw new Error(`AEAD provider ${c.name} does not support ${cfg.cipher}`);
    this.crypto = c;
    this.cbc = null;
    this.km = null;
    // the key an array of its own (no view on a shared ArrayBuffer: that costs a buffer object
    // and a separate allocation besides the view); nonce and AAD are per packet (NONCE, AAD8/12)
    const km = cfg.keyMaterial;
    this.key = km.slice(0, kl);
    this.salt = u32(km, kl); // SALT_LEN bytes
  }

  /** The shared nonce with this SA's salt (callers write the IV and zero the salt after use). */
  protected nonceWithSalt(): Uint8Array {
    putU32(NONCE, 0, this.salt);
    return NONCE;
  }

  /** The shared AAD for sequence number hi:lo. */
  protected aadFor(hi: number, lo: number): Uint8Array {
    if (this.esn) {
      putU32(AAD12, 0, this.spi);
      putU32(AAD12, 4, hi);
      putU32(AAD12, 8, lo);
      return AAD12;
    }
    putU32(AAD8, 0, this.spi);
    putU32(AAD8, 4, lo);
    return AAD8;
  }

  protected emit(type: SaEvent["type"], reason: SaEvent["reason"]): void {
    const e: SaEvent = { type, spi: this.spi, direction: this.direction, reason };
    (this.ev ??= []).push(e);
    this.onEvent?.(e);
  }

  /** Bytes (of inner payload) and packets processed so far. */
  get stats(): { bytes: number; packets: number; createdAt: number } {
    return { bytes: this.bytes, packets: this.packets, createdAt: this.createdAt };
  }

  /** True after a hard expiry (lifetime or sequence space) or destroy(). */
  get expired(): boolean {
    return this.destroyed || this.hardFired;
  }

  /** True once the soft lifetime has been reached (rekey now). */
  get softExpired(): boolean {
    return this.softFired;
  }

  /** Evaluate the seconds lifetime without traffic (timers). Returns `expired`. */
  tick(now?: number): boolean {
    if (this.destroyed) return true;
    return this.checkTime(now);
  }

  /** Zero the key material and refuse all further work. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.cbc !== null) this.cbc.destroy();
    else this.crypto.forget?.(this.key);
    this.km?.fill(0);
    this.key.fill(0);
    this.salt = 0;
    this.warmNonce?.fill(0);
  }

  /** Scratch for {@link warm}: its own nonce, AAD and buffers (never the packet path's). */
  protected warmNonce: Uint8Array | null = null;
  protected warmBuf: Uint8Array | null = null;
  protected warmCount = 0;

  protected warmScratch(): { nonce: Uint8Array; aad: Uint8Array; buf: Uint8Array } {
    if (this.warmNonce === null) {
      this.warmNonce = new Uint8Array(12);
      putU32(this.warmNonce, 0, this.salt);
      this.warmBuf = new Uint8Array(64 + TAG_LEN);
    }
    return { nonce: this.warmNonce, aad: this.warmBuf!.subarray(0, 8), buf: this.warmBuf! };
  }

  /**
   * Touch this SA's cipher context without processing a packet, so that after an idle
   * spell the next real packet does not pay for cold caches (the tunnel's keep-warm calls
   * it). Changes no sequence number, replay window or lifetime counter, and nothing it
   * computes leaves this method. Returns false when it did nothing.
   */
  abstract warm(): boolean;
}

/** Outbound SA: seals inner packets into ESP packets. */
export class OutboundSa extends EspSaBase {
  readonly direction = "out" as const;
  /** Last sequence number used, split into halves. */
  private seqHi = 0;
  private seqLo = 0;
  private readonly softSeqLo: number;

  constructor(cfg: SaConfig, crypto?: EspCrypto) {
    super(cfg, crypto);
    if (cfg.initialSeq !== undefined) {
      const max = this.esn ? (1n << 64n) - 1n : 0xffffffffn;
      if (cfg.initialSeq < 0n || cfg.initialSeq > max) throw new RangeError(`initialSeq ${cfg.initialSeq} out of range`);
      this.seqHi = Number(cfg.initialSeq >> 32n);
      this.seqLo = Number(cfg.initialSeq & 0xffffffffn);
    }
    this.softSeqLo = TWO32 - SEQ_SOFT_MARGIN;
  }

  /**
   * Outbound: seal 16 zero bytes into scratch under a nonce this SA can never use for a
   * packet: without ESN the IV's upper 32 bits are always 0 on the wire (the sequence space
   * ends at 2^32 - 1), so these nonces have them at 0x80000000 or above, and a counter makes
   * each one unique too. With ESN every IV may be a real one: nothing is done.
   */
  warm(): boolean {
    if (this.cbc !== null) {
      if (this.destroyed) return false;
      this.cbc.warm(true);
      return true;
    }
    if (this.destroyed || this.esn || this.warmCount >= 0x7fffffff) return false;
    const { nonce, aad, buf } = this.warmScratch();
    const c = this.warmCount++;
    putU32(nonce, 4, 0x80000000);
    putU32(nonce, 8, c);
    buf.fill(0, 0, 16);
    this.crypto.seal(this.key, nonce, aad, buf.subarray(0, 16), buf.subarray(16, 16 + 16 + TAG_LEN));
    buf.fill(0);
    return true;
  }

  /** Sequence number of the last packet sealed (0 before the first). */
  get seq(): bigint {
    return (BigInt(this.seqHi) << 32n) | BigInt(this.seqLo);
  }

  /** Sequence numbers left before the SA must die. */
  private exhausted(): boolean {
    return this.seqLo === 0xffffffff && (!this.esn || this.seqHi === 0xffffffff);
  }

  /**
   * Seal `inner` (an IP packet, or any payload) with Next Header `nextHeader`
   * (4 = IPv4, 41 = IPv6, 59 = dummy). Returns the ESP packet (SPI .. ICV), or null when the
   * SA is hard-expired, destroyed, or out of sequence numbers.
   */
  seal(inner: Uint8Array, nextHeader: number, now?: number): Uint8Array | null {
    if (this.destroyed || this.checkTime(now)) return null;
    if (this.exhausted()) {
      this.fireHard("seq-exhausted");
      return null;
    }
    // Advance the counter first: a sequence number (and so an IV) is used at most once,
    // even if the AEAD call below were to throw.
    let lo = this.seqLo + 1, hi = this.seqHi;
    if (lo === TWO32) { lo = 0; hi++; }
    this.seqLo = lo;
    this.seqHi = hi;

    const n = inner.length;
    if (this.cbc !== null) {
      const esp = this.cbc.seal(this.spi, hi, lo, inner, nextHeader);
      this.afterSeal(n, hi, lo);
      return esp;
    }
    const pad = espPadLength(n);
    const ptLen = n + pad + 2;
    const out = new Uint8Array(HDR + ptLen + TAG_LEN);
    putU32(out, 0, this.spi);
    putU32(out, 4, lo);
    putU32(out, 8, hi);
    putU32(out, 12, lo);
    const pt = out.subarray(HDR, HDR + ptLen);
    pt.set(inner, 0);
    for (let i = 1; i <= pad; i++) pt[n + i - 1] = i;
    pt[ptLen - 2] = pad;
    pt[ptLen - 1] = nextHeader & 0xff;
    // nonce = salt | IV (IV = 64-bit sequence number)
    const nonce = this.nonceWithSalt();
    putU32(nonce, 4, hi);
    putU32(nonce, 8, lo);
    try {
      this.crypto.seal(this.key, nonce, this.aadFor(hi, lo), pt, out.subarray(HDR));
    } finally {
      nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0;
    }
    this.afterSeal(n, hi, lo);
    return out;
  }

  /** Lifetime and sequence-space accounting of one sealed packet. */
  private afterSeal(n: number, hi: number, lo: number): void {
    this.account(n);
    if (!this.hardFired) {
      if (this.exhausted()) this.fireHard("seq-exhausted");
      else if (!this.softFired && (this.esn ? hi === 0xffffffff : true) && lo >= this.softSeqLo) {
        this.fireSoft("seq-exhausted");
      }
    }
  }
}

/** Inbound SA: opens ESP packets, with anti-replay. */
export class InboundSa extends EspSaBase {
  readonly direction = "in" as const;
  readonly replay: ReplayWindow;

  constructor(cfg: SaConfig, crypto?: EspCrypto) {
    super(cfg, crypto);
    this.replay = new ReplayWindow(cfg.replayWindow ?? 1024, this.esn);
    if (cfg.initialSeq !== undefined) {
      const max = this.esn ? (1n << 64n) - 1n : 0xffffffffn;
      if (cfg.initialSeq < 0n || cfg.initialSeq > max) throw new RangeError(`initialSeq ${cfg.initialSeq} out of range`);
      this.replay.seed(Number(cfg.initialSeq >> 32n), Number(cfg.initialSeq & 0xffffffffn));
    }
  }

  /**
   * Inbound: run a decryption of 16 zero bytes with a zero tag through the SA's cipher
   * context. Its tag check fails (and the result would be dropped if it did not): no
   * plaintext, no window or lifetime change; decryption creates no ciphertext, so no nonce
   * is spent.
   */
  warm(): boolean {
    if (this.destroyed) return false;
    if (this.cbc !== null) {
      this.cbc.warm(false);
      return true;
    }
    const { nonce, aad, buf } = this.warmScratch();
    buf.fill(0);
    const pt = this.crypto.open(this.key, nonce, aad, buf.subarray(0, 16 + TAG_LEN));
    pt?.fill(0);
    return true;
  }

  /**
   * Open one ESP packet (starting at the SPI). Never throws on wire data. Order: expiry,
   * length, replay window check (cheap reject), ICV, window update, padding, dummy.
   */
  open(esp: Uint8Array, now?: number): OpenResult {
    if (this.destroyed || this.checkTime(now)) return { ok: false, reason: "expired" };
    const len = esp.length;
    const cbc = this.cbc;
    if ((cbc !== null ? !cbc.wellFormed(len) : len < HDR + 2 + TAG_LEN) || u32(esp, 0) !== this.spi) return { ok: false, reason: "malformed" };
    const lo = u32(esp, 4);
    const hi = this.replay.check(lo);
    if (hi < 0) return { ok: false, reason: "replay" };

    let pt: Uint8Array | null;
    if (cbc !== null) pt = cbc.open(esp, hi); // ICV checked (constant time) before anything is decrypted
    else {
      const nonce = this.nonceWithSalt();
      nonce[4] = esp[8]; nonce[5] = esp[9]; nonce[6] = esp[10]; nonce[7] = esp[11];
      nonce[8] = esp[12]; nonce[9] = esp[13]; nonce[10] = esp[14]; nonce[11] = esp[15];
      try {
        pt = this.crypto.open(this.key, nonce, this.aadFor(hi, lo), esp.subarray(HDR));
      } finally {
        nonce[0] = nonce[1] = nonce[2] = nonce[3] = 0;
      }
    }
    if (pt === null) return { ok: false, reason: "icv" };

    // Authentic: only now may the window move.
    if (!this.replay.update(hi, lo)) return { ok: false, reason: "replay" };
    const m = pt.length;
    const padLen = pt[m - 2];
    const nextHeader = pt[m - 1];
    const payloadLen = m - 2 - padLen;
    this.account(payloadLen < 0 ? 0 : payloadLen);
    if (payloadLen < 0) return { ok: false, reason: "malformed" };
    for (let i = 1; i <= padLen; i++) if (pt[payloadLen + i - 1] !== i) return { ok: false, reason: "malformed" };
    if (nextHeader === NEXT_HEADER_DUMMY) return { ok: false, reason: "dummy" };
    return {
      ok: true,
      nextHeader,
      payload: pt.subarray(0, payloadLen),
      seq: hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo),
    };
  }
}
