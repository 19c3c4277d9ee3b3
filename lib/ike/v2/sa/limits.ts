/**
 * What keeps an IKEv2 responder up under a flood (the model is strongSwan's
 * `cookie_threshold`, `block_threshold` and `init_limit_half_open`): the limits of
 * {@link IkeSaManager} with their defaults, a token bucket, and the COOKIE secret
 * that rotates (RFC 7296 §2.6). No I/O; time is passed in (ms).
 * @module
 */
import { createHmac } from "node:crypto";
import { ctEqual } from "../../../core/bytes.ts";
import { parseIp } from "../../../net/cidr.ts";
import type { Rng } from "./dh.ts";

/** Limits of an {@link IkeSaManager}; every one has a default that protects a server without settings. */
export interface IkeLimits {
  /** Half-open IKE SAs (IKE_SA_INIT answered, no IKE_AUTH yet) from which on every new IKE_SA_INIT must return a COOKIE (strongSwan: 10). */
  cookieThreshold: number;
  /** Half-open IKE SAs one source address may hold; more IKE_SA_INITs from it are dropped (strongSwan's block_threshold: 5). */
  blockThreshold: number;
  /** Half-open IKE SAs in total; more IKE_SA_INITs are dropped. */
  halfOpenMax: number;
  /** IKE SAs in total (half-open and established). */
  maxSas: number;
  /** New IKE SAs per second that may reach the key exchange (token bucket rate); 0 = unlimited. */
  initRate: number;
  /** Burst of that bucket. */
  initBurst: number;
  /** The COOKIE secret is replaced every this many ms; the previous one is accepted too. */
  cookieRotateMs: number;
  /** Unprotected INVALID_IKE_SPI answers (RFC 7296 §2.21.4) per second. */
  invalidSpiRate: number;
  /** Drop a half-open IKE SA after this many ms. */
  halfOpenTimeoutMs: number;
  /** Datagrams waiting between the sockets and the manager (the driver's receive queue). */
  queue: number;
  /**
   * Older IKE SAs of the same remote identity, as strongSwan's `unique`: "no" (default) keeps
   * them unless the new one carries INITIAL_CONTACT from the same address, "replace" replaces
   * them, "never" keeps them even on INITIAL_CONTACT.
   */
  uniqueIds: "no" | "replace" | "never";
}

export const DEFAULT_IKE_LIMITS: Readonly<IkeLimits> = {
  cookieThreshold: 10,
  blockThreshold: 5,
  halfOpenMax: 1000,
  maxSas: 10000,
  initRate: 200,
  initBurst: 100,
  cookieRotateMs: 60_000,
  invalidSpiRate: 10,
  halfOpenTimeoutMs: 30_000,
  queue: 1024,
  uniqueIds: "no",
};

/** Token bucket: `rate` tokens per second, at most `burst` saved. `rate` 0 = unlimited. */
export class TokenBucket {
  private tokens: number;
  private stamp: number | null = null;
  constructor(private readonly rate: number, private readonly burst: number) {
    this.tokens = Math.max(1, burst);
  }
  /** Take one token at `now` (ms); false when the bucket is empty. */
  take(now: number): boolean {
    if (this.rate <= 0) return true;
    if (this.stamp !== null && now > this.stamp) this.tokens = Math.min(Math.max(1, this.burst), this.tokens + ((now - this.stamp) * this.rate) / 1000);
    this.stamp = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Stateless COOKIEs (RFC 7296 §2.6): `<version of the secret (4 bytes)> | HMAC-SHA256(secret,
 * Ni | IPi | SPIi)`. The secret is replaced every `rotateMs`; a cookie made with the previous
 * one is still accepted (an initiator may be between its two IKE_SA_INITs). Old secrets are zeroed.
 */
export class CookieJar {
  private cur: { v: number; key: Uint8Array; at: number };
  private prev: { v: number; key: Uint8Array } | null = null;
  constructor(private readonly rng: Rng, private readonly rotateMs: number, now: number) {
    this.cur = { v: 1, key: rng(32), at: now };
  }

  private rotate(now: number): void {
    if (now - this.cur.at < this.rotateMs) return;
    this.prev?.key.fill(0);
    // after a long idle time both secrets are stale: the previous one is dropped too
    this.prev = now - this.cur.at < 2 * this.rotateMs ? { v: this.cur.v, key: this.cur.key } : (this.cur.key.fill(0), null);
    this.cur = { v: (this.cur.v + 1) >>> 0, key: this.rng(32), at: now };
  }

  private make(v: number, key: Uint8Array, ni: Uint8Array, ip: string, spii: Uint8Array): Uint8Array {
    const h = createHmac("sha256", key).update(ni).update(parseIp(ip)?.addr ?? new Uint8Array(0)).update(spii).digest();
    const out = new Uint8Array(4 + h.length);
    out[0] = v >>> 24;
    out[1] = (v >>> 16) & 255;
    out[2] = (v >>> 8) & 255;
    out[3] = v & 255;
    out.set(h, 4);
    return out;
  }

  /** The cookie to demand from an initiator. */
  cookie(ni: Uint8Array, ip: string, spii: Uint8Array, now: number): Uint8Array {
    this.rotate(now);
    return this.make(this.cur.v, this.cur.key, ni, ip, spii);
  }

  /** True when `got` is the cookie for this initiator under the current or the previous secret. */
  check(got: Uint8Array, ni: Uint8Array, ip: string, spii: Uint8Array, now: number): boolean {
    this.rotate(now);
    if (got.length !== 36) return false;
    const v = ((got[0] << 24) | (got[1] << 16) | (got[2] << 8) | got[3]) >>> 0;
    const s = v === this.cur.v ? this.cur : this.prev && v === this.prev.v ? this.prev : null;
    return s !== null && ctEqual(got, this.make(s.v, s.key, ni, ip, spii));
  }

  /** Zero both secrets. */
  destroy(): void {
    this.cur.key.fill(0);
    this.prev?.key.fill(0);
  }
}
