/**
 * The stateless front of an IKEv2 responder under a flood (RFC 7296 §2.6): what can be decided
 * about a datagram on the plain IKE port without the IKE SA manager's state, done without
 * allocating, so it can run on its own thread ahead of the manager (`vpnkit up`'s IKE gate,
 * lib/platform/bun/ike-gate-worker.ts) at the rate a spoofed flood arrives:
 *
 * - a new IKE_SA_INIT request without a COOKIE, while the responder demands COOKIEs (its
 *   half-open IKE SAs are at the cookie threshold): answered here with a COOKIE notify, byte
 *   for byte what {@link IkeSaManager} would send, never forwarded;
 * - one with a COOKIE: checked here (constant time); a valid one is forwarded (the manager
 *   checks it again with the same secrets), an invalid one gets a new COOKIE;
 * - too short, not IKEv2, or carrying the non-ESP marker (not for this port): dropped and counted;
 * - everything else (other exchanges, responses, IKE_SA_INIT while no COOKIE is demanded):
 *   forwarded.
 *
 * The COOKIE secrets live in a SharedArrayBuffer ({@link SharedCookieJar}), so the gate's thread
 * and the manager's thread make and accept the same cookies: `<version (4 bytes)> |
 * HMAC-SHA256(secret, Ni | IPi | SPIi)`, as {@link CookieJar}. One side rotates them (the gate,
 * every `rotateMs`); a cookie of the previous secret is still accepted. A reader that checks a
 * cookie while the writer replaces the previous secret may reject it (the initiator then gets a
 * new cookie). No I/O; time is passed in; the MAC is injected (node:crypto by default, libcrypto
 * through FFI in the gate's thread).
 * @module
 */
import { createHmac, randomBytes } from "node:crypto";
import { ctEqual } from "../../../core/bytes.ts";
import { parseIp } from "../../../net/cidr.ts";

/** HMAC-SHA256(key, data[0, n)) into out[0, 32). */
export type Mac = (key: Uint8Array, data: Uint8Array, n: number, out: Uint8Array) => void;

export const nodeMac: Mac = (key, data, n, out) => {
  out.set(createHmac("sha256", key).update(data.subarray(0, n)).digest());
};

/** Bytes of the SharedArrayBuffer of a {@link SharedCookieJar}. */
export const COOKIE_SAB_BYTES = 128;
// Int32 slots: 0 current slot index, 1 version of slot 0, 2 version of slot 1; Float64 at byte 16: rotation time; keys at 32 and 64
const I_CUR = 0;

/**
 * COOKIE secrets in shared memory (two slots: current and previous). The writer (`rotates`)
 * replaces the current secret every `rotateMs` (on use, or {@link rotate}); a reader never does.
 * Same API as {@link CookieJar}, so the manager takes either.
 */
export class SharedCookieJar {
  private readonly i32: Int32Array;
  private readonly at: Float64Array;
  private readonly keys: [Uint8Array, Uint8Array];
  /** A private copy of a key (node:crypto is not given shared memory). */
  private readonly tmp = new Uint8Array(32);
  private readonly buf = new Uint8Array(256 + 16 + 8);
  private readonly mac = new Uint8Array(32);

  constructor(readonly sab: SharedArrayBuffer, private readonly rotateMs: number, private readonly rotates: boolean, private readonly macFn: Mac = nodeMac) {
    this.i32 = new Int32Array(sab, 0, 4);
    this.at = new Float64Array(sab, 16, 1);
    this.keys = [new Uint8Array(sab, 32, 32), new Uint8Array(sab, 64, 32)];
  }

  /** A new shared buffer with a first secret (version 1) made at `now`. */
  static create(now: number, rng: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): SharedArrayBuffer {
    const sab = new SharedArrayBuffer(COOKIE_SAB_BYTES);
    const i32 = new Int32Array(sab, 0, 4);
    const k = rng(32);
    new Uint8Array(sab, 32, 32).set(k);
    k.fill(0);
    new Float64Array(sab, 16, 1)[0] = now;
    Atomics.store(i32, 1, 1);
    Atomics.store(i32, I_CUR, 0);
    return sab;
  }

  /** Version of the current secret. */
  get version(): number {
    return Atomics.load(this.i32, 1 + Atomics.load(this.i32, I_CUR)) >>> 0;
  }

  /** Writer: replace the current secret once it is `rotateMs` old (the previous one is dropped after 2×). */
  rotate(now: number, rng: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n))): void {
    if (!this.rotates) return;
    const cur = Atomics.load(this.i32, I_CUR), other = 1 - cur;
    const age = now - this.at[0];
    if (age < this.rotateMs) return;
    const v = (Atomics.load(this.i32, 1 + cur) + 1) >>> 0 || 1;
    // the old previous goes: version 0 first, so no reader matches it while its key changes
    Atomics.store(this.i32, 1 + other, 0);
    const k = rng(32);
    this.keys[other].set(k);
    k.fill(0);
    Atomics.store(this.i32, 1 + other, v | 0);
    this.at[0] = now;
    Atomics.store(this.i32, I_CUR, other);
    // after a long idle time the previous secret is stale too
    if (age >= 2 * this.rotateMs) {
      Atomics.store(this.i32, 1 + cur, 0);
      this.keys[cur].fill(0);
    }
  }

  /** Slot of secret version `v`, or -1 (version 0 is never valid). */
  slotOf(v: number): number {
    if (v === 0) return -1;
    if ((Atomics.load(this.i32, 1) >>> 0) === v) return 0;
    if ((Atomics.load(this.i32, 2) >>> 0) === v) return 1;
    return -1;
  }

  /** Version of the secret in `slot` (0: none). */
  versionOf(slot: number): number {
    return Atomics.load(this.i32, 1 + slot) >>> 0;
  }

  /** Slot of the current secret. */
  currentSlot(): number {
    return Atomics.load(this.i32, I_CUR);
  }

  /**
   * HMAC of `Ni | IPi | SPIi` under slot `slot` into `out` (no allocation): `d` holds the
   * nonce at [nOff, nOff+nLen) and the SPI at [spiOff, spiOff+8), `ip` the address at
   * [ipOff, ipOff+ipLen). False when the nonce is over 256 bytes (RFC 7296 §2.10).
   */
  macInto(slot: number, d: Uint8Array, nOff: number, nLen: number, spiOff: number, ip: Uint8Array, ipOff: number, ipLen: number, out: Uint8Array): boolean {
    if (nLen > 256 || ipLen > 16) return false;
    const b = this.buf;
    let o = 0;
    for (let i = 0; i < nLen; i++) b[o++] = d[nOff + i];
    for (let i = 0; i < ipLen; i++) b[o++] = ip[ipOff + i];
    for (let i = 0; i < 8; i++) b[o++] = d[spiOff + i];
    const t = this.tmp;
    t.set(this.keys[slot]);
    this.macFn(t, b, o, out);
    t.fill(0);
    return true;
  }

  private make(slot: number, ni: Uint8Array, ip: string, spii: Uint8Array): Uint8Array {
    const addr = parseIp(ip)?.addr ?? new Uint8Array(0);
    const d = new Uint8Array(8 + ni.length);
    d.set(spii, 0);
    d.set(ni, 8);
    const out = new Uint8Array(36);
    const v = Atomics.load(this.i32, 1 + slot) >>> 0;
    out[0] = v >>> 24;
    out[1] = (v >>> 16) & 255;
    out[2] = (v >>> 8) & 255;
    out[3] = v & 255;
    if (!this.macInto(slot, d, 8, ni.length, 0, addr, 0, addr.length, this.mac)) return out.subarray(0, 4);
    out.set(this.mac, 4);
    return out;
  }

  /** The cookie to demand from an initiator (as {@link CookieJar.cookie}). */
  cookie(ni: Uint8Array, ip: string, spii: Uint8Array, now: number): Uint8Array {
    this.rotate(now);
    return this.make(this.currentSlot(), ni, ip, spii);
  }

  /** True when `got` is this initiator's cookie under the current or the previous secret. */
  check(got: Uint8Array, ni: Uint8Array, ip: string, spii: Uint8Array, now: number): boolean {
    this.rotate(now);
    if (got.length !== 36) return false;
    const slot = this.slotOf(((got[0] << 24) | (got[1] << 16) | (got[2] << 8) | got[3]) >>> 0);
    return slot >= 0 && ctEqual(got, this.make(slot, ni, ip, spii));
  }

  /** Writer: zero both secrets (nothing is accepted any more). */
  destroy(): void {
    if (!this.rotates) return;
    Atomics.store(this.i32, 1, 0);
    Atomics.store(this.i32, 2, 0);
    this.keys[0].fill(0);
    this.keys[1].fill(0);
  }
}

/** What {@link CookieGate.check} decided. */
export const GATE_FORWARD = 0, GATE_COOKIE = 1, GATE_DROP = 2;

/** Drop reasons (index into {@link CookieGate.drops}); names as in `vpnkit status`. */
export const GATE_DROP_REASONS = ["gate-short", "gate-not-ikev2", "gate-wrong-port", "gate-malformed", "gate-bad-cookie"] as const;

const PT_NONCE = 40, PT_NOTIFY = 41, N_COOKIE = 16390;

/** The length of a COOKIE answer: header (28) + Notify (8 + 36). */
export const COOKIE_REPLY_BYTES = 72;

export class CookieGate {
  /** The COOKIE answer of the last {@link check} that returned {@link GATE_COOKIE}. */
  readonly reply = new Uint8Array(COOKIE_REPLY_BYTES);
  /** Drops by reason ({@link GATE_DROP_REASONS}); the last drop's reason in {@link lastDrop}. */
  readonly drops = new Float64Array(GATE_DROP_REASONS.length);
  lastDrop = -1;
  cookiesSent = 0;
  cookiesValid = 0;
  private readonly mac = new Uint8Array(32);
  private nOff = 0;
  private nLen = 0;
  private cOff = 0;
  private cLen = -1;

  constructor(private readonly jar: SharedCookieJar) {
    const r = this.reply;
    r[16] = PT_NOTIFY;
    r[17] = 0x20;
    r[18] = 34;
    r[19] = 0x20;
    r[27] = COOKIE_REPLY_BYTES;
    r[31] = 8 + 36;
    r[34] = N_COOKIE >> 8;
    r[35] = N_COOKIE & 255;
  }

  private drop(reason: number): number {
    this.drops[reason]++;
    this.lastDrop = reason;
    return GATE_DROP;
  }

  /** Walk the payload headers of d[off, off+len): nonce and COOKIE data offsets (as init-scan.ts). */
  private scan(d: Uint8Array, off: number, len: number): void {
    this.nLen = -1;
    this.cLen = -1;
    const declared = ((d[off + 24] << 24) | (d[off + 25] << 16) | (d[off + 26] << 8) | d[off + 27]) >>> 0;
    const end = off + Math.min(len, declared);
    let type = d[off + 16], p = off + 28;
    for (let n = 0; n < 64 && type !== 0 && p + 4 <= end; n++) {
      const pl = (d[p + 2] << 8) | d[p + 3];
      if (pl < 4 || p + pl > end) break;
      if (type === PT_NONCE) {
        if (this.nLen < 0) {
          this.nOff = p + 4;
          this.nLen = pl - 4;
        }
      } else if (type === PT_NOTIFY && pl >= 8 && this.cLen < 0) {
        const spiSize = d[p + 5];
        if (((d[p + 6] << 8) | d[p + 7]) === N_COOKIE && 8 + spiSize <= pl) {
          this.cOff = p + 8 + spiSize;
          this.cLen = pl - 8 - spiSize;
        }
      }
      type = d[p];
      p += pl;
    }
  }

  /**
   * Decide about the datagram d[off, off+len) from the address ip[ipOff, ipOff+ipLen) (4 or 16
   * bytes). `demand`: the responder demands COOKIEs now. Returns {@link GATE_FORWARD},
   * {@link GATE_COOKIE} (answer in {@link reply}) or {@link GATE_DROP}. Never throws, allocates nothing.
   */
  check(d: Uint8Array, off: number, len: number, ip: Uint8Array, ipOff: number, ipLen: number, demand: boolean, now: number): number {
    if (len < 28) return this.drop(0);
    if (d[off] === 0 && d[off + 1] === 0 && d[off + 2] === 0 && d[off + 3] === 0) return this.drop(2);
    if (d[off + 17] >> 4 !== 2) return this.drop(1);
    const exchange = d[off + 18], flags = d[off + 19];
    // only a new IKE_SA_INIT request (I flag, no R flag, responder SPI zero, message ID 0) is the gate's
    if (exchange !== 34 || (flags & 0x20) !== 0 || (flags & 0x08) === 0) return GATE_FORWARD;
    for (let i = 8; i < 16; i++) if (d[off + i] !== 0) return GATE_FORWARD;
    if (!demand) return GATE_FORWARD;
    if (d[off + 20] | d[off + 21] | d[off + 22] | d[off + 23]) return GATE_FORWARD; // the manager counts a bad message ID
    this.scan(d, off, len);
    if (this.nLen < 0 || this.nLen > 256) return this.drop(3);
    const m = d, nOff = this.nOff, cOff = this.cOff;
    if (this.cLen === 36) {
      const slot = this.jar.slotOf(((m[cOff] << 24) | (m[cOff + 1] << 16) | (m[cOff + 2] << 8) | m[cOff + 3]) >>> 0);
      if (slot >= 0 && this.jar.macInto(slot, m, nOff, this.nLen, off, ip, ipOff, ipLen, this.mac)) {
        let diff = 0;
        for (let i = 0; i < 32; i++) diff |= this.mac[i] ^ m[cOff + 4 + i];
        if (diff === 0) {
          this.cookiesValid++;
          return GATE_FORWARD;
        }
      }
    }
    if (this.cLen >= 0) {
      this.drops[4]++;
      this.lastDrop = 4;
    }
    this.jar.rotate(now);
    const slot = this.jar.currentSlot();
    if (!this.jar.macInto(slot, m, nOff, this.nLen, off, ip, ipOff, ipLen, this.mac)) return this.drop(3);
    const r = this.reply;
    for (let i = 0; i < 8; i++) r[i] = m[off + i];
    const v = this.jar.versionOf(slot);
    r[36] = v >>> 24;
    r[37] = (v >>> 16) & 255;
    r[38] = (v >>> 8) & 255;
    r[39] = v & 255;
    r.set(this.mac, 40);
    this.cookiesSent++;
    return GATE_COOKIE;
  }
}
