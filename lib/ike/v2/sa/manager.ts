/**
 * IKE SA manager (the shape of libcharon's ike_sa_manager): one object serves any number
 * of {@link IkeSa}s, initiators and responders. No I/O; time is passed in.
 *
 * - Lookup (RFC 7296 §2.6): an IKE SA is found by its SPIs, never by the peer's address:
 *   a Map keyed by our own SPI (the responder SPI of a message from the original
 *   initiator, else the initiator SPI), and the peer's SPI must match too. A new
 *   IKE_SA_INIT request (responder SPI zero) is keyed by SPIi + source + a hash of the
 *   message, so a retransmission reaches the half-open SA that answered it.
 * - Admission of a new IKE_SA_INIT, cheapest check first, all before any key exchange:
 *   header (message ID 0), IKE SA total cap, half-open total cap, half-open per source
 *   address (block threshold), COOKIE once the half-open count reaches the cookie
 *   threshold (stateless, secret rotates: {@link CookieJar}), then a token bucket of new
 *   SAs per second. Only then is an IkeSa made; when it rejects the message (bad KE group,
 *   no proposal, bad nonce...) it is forgotten at once: rejected IKE_SA_INITs leave no state.
 * - Unknown SPI: a request gets an unprotected INVALID_IKE_SPI notify (RFC 7296 §1.5,
 *   §2.21.4: SPIs, exchange and message ID copied, R flag set), rate-limited; a response
 *   never gets an answer. ESP with an unknown SPI (§2.21) is counted ({@link espUnknownSpi}).
 * - An unprotected INVALID_IKE_SPI answer to one of our SAs means the peer lost it
 *   (restart): reported as an `invalid-ike-spi` event so the driver can start over at once.
 * - INITIAL_CONTACT / unique IDs (strongSwan's `unique`): a new IKE SA with INITIAL_CONTACT
 *   replaces the older ones of the same remote identity from the same address ("no", the
 *   default), or of that identity from anywhere ("replace"), or none ("never"); replaced SAs
 *   lose their Child SAs at once, then are deleted.
 * - Closed, rejected and timed-out SAs leave every index at once. Every drop is counted by reason.
 *
 * Send actions leave the manager with `natt` telling the socket: true = the NAT-T socket
 * (port 4500, non-ESP marker), false = the plain IKE socket (port 500). An SA that received
 * on the NAT-T socket stays there (RFC 7296 §2.23).
 * @module
 */
import { createHash } from "node:crypto";
import { toHex } from "../../../core/bytes.ts";
import { encodeIkev2Message } from "../encode/message.ts";
import { NOTIFY_TYPES } from "../registry.ts";
import type { Rng } from "./dh.ts";
import { defaultRng, IkeSa, type ReceivedOn } from "./ike-sa.ts";
import { scanInit } from "./init-scan.ts";
import { CookieJar, DEFAULT_IKE_LIMITS, type IkeLimits, TokenBucket } from "./limits.ts";
import type { Action, Endpoint, IkeSaConfig } from "./types.ts";
import { HeldList, type HeldLinks } from "./held-list.ts";

/** Which socket a datagram came in on / goes out of. */
export type Via = "ike" | "natt";

/** One IKE SA as the manager holds it. */
export interface ManagedSa {
  /** Unique number (for names in logs and status). */
  readonly id: number;
  readonly sa: IkeSa;
  /** Socket the SA talks on. */
  via: Via;
  createdAt: number;
  establishedAt: number | null;
  remoteId: string | null;
  localId: string | null;
  proposal: string | null;
  /** IKE_SA_INIT answered, no IKE_AUTH yet (responder). */
  halfOpen: boolean;
  lastReceived: number | null;
  /** Replaced by a newer IKE SA of the same identity (being deleted). */
  replaced: boolean;
  /** The manager's user's own per-SA data (the tunnel driver's), null until it sets some: a field here, not a Map entry per SA. */
  user: unknown;
}

export type ManagerEvent =
  /** A datagram that was dropped (counted under `reason` too). */
  | { type: "drop"; reason: string; from: Endpoint; detail?: string }
  /** The peer answered one of our requests with INVALID_IKE_SPI: it has lost this IKE SA (restart?). */
  | { type: "invalid-ike-spi"; entry: ManagedSa };

export interface IkeSaManagerOptions {
  limits?: Partial<IkeLimits>;
  /** Configuration of a responder IKE SA for a new IKE_SA_INIT from `from`; null (or no function): we accept none. */
  responder?: (from: Endpoint, via: Via) => IkeSaConfig | null;
  /** Every SA's actions, after the manager has seen them (entry null: a stateless answer). */
  onActions: (entry: ManagedSa | null, actions: Action[]) => void;
  onEvent?: (e: ManagerEvent) => void;
  rng?: Rng;
  /** Clock at creation (seeds the cookie secret's rotation). */
  now: number;
  /** COOKIE secrets shared with another thread (lib/ike/v2/sa/cookie-gate.ts); default: a {@link CookieJar} of its own. */
  cookies?: Pick<CookieJar, "cookie" | "check" | "destroy">;
}

const EX_INIT = 34;
const N_INVALID_IKE_SPI = 4;
const N_COOKIE = 16390;
const NO_SPI = new Uint8Array(8);

/** Negotiated proposal texts and our identities (a handful of distinct ones): one string for all the SAs that share one. */
const texts = new Map<string, string>();
function intern(p: string): string {
  const known = texts.get(p);
  if (known !== undefined) return known;
  if (texts.size >= 256) texts.clear();
  texts.set(p, p);
  return p;
}

/** The manager's own fields of an entry: the index keys it is filed under (on the entry, not an object of their own per SA). */
interface Keyed extends ManagedSa, HeldLinks<Keyed> {
  kSpi: string | null;
  kInit: string | null;
  kSource: string | null;
  kIdentity: string | null;
}

function spiKey(b: Uint8Array): string {
  return toHex(b);
}

export class IkeSaManager {
  readonly limits: IkeLimits;
  private readonly o: IkeSaManagerOptions;
  private readonly rng: Rng;
  private readonly bySpi = new Map<string, ManagedSa>();
  private readonly byInit = new Map<string, ManagedSa>();
  /** The IKE SAs of each remote identity: the entry itself while there is one (most identities), a Set from the second on. */
  private readonly byIdentity = new Map<string, ManagedSa | Set<ManagedSa>>();
  private readonly perSource = new Map<string, number>();
  /** Every SA held (a list through the entries); the index keys it is filed under are fields of the entry itself ({@link Keyed}). */
  private readonly keys = new HeldList<Keyed>();
  private readonly initBucket: TokenBucket;
  private readonly invalidSpiBucket: TokenBucket;
  private readonly logBucket = new TokenBucket(5, 20);
  private readonly cookies: Pick<CookieJar, "cookie" | "check" | "destroy">;
  private halfOpenCount = 0;
  private nextId = 1;
  /** Dropped datagrams by reason. */
  readonly drops: Record<string, number> = {};
  /** Other counters: cookies demanded, INVALID_IKE_SPI sent, SAs created / rejected / replaced, ESP with an unknown SPI. */
  readonly counters = { cookiesSent: 0, invalidIkeSpiSent: 0, initAccepted: 0, initRejected: 0, initRetransmits: 0, replaced: 0, espUnknownSpi: 0, created: 0, closed: 0 };

  constructor(o: IkeSaManagerOptions) {
    this.o = o;
    this.limits = { ...DEFAULT_IKE_LIMITS, ...(o.limits ?? {}) };
    this.rng = o.rng ?? defaultRng;
    this.initBucket = new TokenBucket(this.limits.initRate, this.limits.initBurst);
    this.invalidSpiBucket = new TokenBucket(this.limits.invalidSpiRate, Math.max(1, this.limits.invalidSpiRate));
    this.cookies = o.cookies ?? new CookieJar(this.rng, this.limits.cookieRotateMs, o.now);
  }

  /** IKE SAs held (half-open and established). */
  get size(): number {
    return this.keys.size;
  }

  /** Half-open responder IKE SAs. */
  get halfOpen(): number {
    return this.halfOpenCount;
  }

  /** Objects held in every index (tests: all 0 when nothing is held). */
  stats(): { sas: number; bySpi: number; byInit: number; byIdentity: number; perSource: number; halfOpen: number } {
    return { sas: this.keys.size, bySpi: this.bySpi.size, byInit: this.byInit.size, byIdentity: this.byIdentity.size, perSource: this.perSource.size, halfOpen: this.halfOpenCount };
  }

  /** Every IKE SA, oldest first. */
  list(): ManagedSa[] {
    return this.keys.toArray();
  }

  private drop(reason: string, from: Endpoint, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.o.onEvent?.({ type: "drop", reason, from, detail });
  }

  // ------------------------------------------------------------------ input

  /**
   * One IKE datagram (non-ESP marker already stripped) from `from`, received on socket `via`;
   * `to`: that socket's address and port (NAT-D; a wildcard address keeps the SA's own). The
   * SA learns from `via` whether it came on the NAT-T socket: a client behind a NAT sends from
   * whatever port its NAT picked, not from 4500.
   */
  receive(d: Uint8Array, from: Endpoint, via: Via, now: number, to?: Endpoint): void {
    const on: ReceivedOn = { address: to?.address ?? "0.0.0.0", port: to?.port ?? (via === "natt" ? 4500 : 500), natt: via === "natt" };
    if (d.length < 28) return this.drop("short", from, `${d.length} bytes`);
    if (d[17] >> 4 !== 2) return this.drop("not-ikev2", from, `version ${d[17] >> 4}.${d[17] & 15}`);
    const ispi = d.subarray(0, 8), rspi = d.subarray(8, 16);
    const exchange = d[18], flags = d[19];
    const response = (flags & 0x20) !== 0, fromInitiator = (flags & 0x08) !== 0;
    const rspiZero = rspi.every((x) => x === 0);
    if (exchange === EX_INIT && !response && rspiZero) {
      if (!fromInitiator) return this.drop("malformed", from, "IKE_SA_INIT request without the I flag");
      return this.newInit(d, from, via, now, on);
    }
    const mine = fromInitiator ? rspi : ispi;
    const theirs = fromInitiator ? ispi : rspi;
    const e = this.bySpi.get(spiKey(mine));
    const peerSpi = e ? (e.sa.initiator ? e.sa.spir : e.sa.spii) : null;
    // the peer's SPI must match too; an initiator learns the responder's SPI from the IKE_SA_INIT response
    const peerOk = e && peerSpi && (toHex(peerSpi) === toHex(theirs) || (e.sa.state === "init-sent" && peerSpi.every((x) => x === 0)));
    if (!e || !peerOk) {
      if (response) return this.drop("unknown-spi-response", from, `${toHex(ispi)}/${toHex(rspi)}`);
      this.drop("unknown-spi", from, `${toHex(ispi)}/${toHex(rspi)}`);
      if (!this.invalidSpiBucket.take(now)) return this.drop("invalid-spi-rate", from);
      this.counters.invalidIkeSpiSent++;
      const data = encodeIkev2Message(
        { ispi, rspi, exchange, initiator: !fromInitiator, response: true, messageId: ((d[20] << 24) | (d[21] << 16) | (d[22] << 8) | d[23]) >>> 0 },
        [{ type: "notify", notifyType: N_INVALID_IKE_SPI }],
      );
      this.o.onActions(null, [{ type: "send", data, to: { ...from }, natt: via === "natt" }]);
      return;
    }
    e.lastReceived = now;
    // an unprotected INVALID_IKE_SPI answer: the peer lost this SA
    if (response && d[16] === 41 && d.length >= 36 && ((d[34] << 8) | d[35]) === N_INVALID_IKE_SPI && exchange !== EX_INIT) {
      this.o.onEvent?.({ type: "invalid-ike-spi", entry: e });
    }
    const actions = e.sa.receive(d, from, now, on);
    if (via === "natt" && e.sa.remote.address === from.address && e.sa.remote.port === from.port) e.via = "natt";
    this.after(e, actions, now);
  }

  private newInit(d: Uint8Array, from: Endpoint, via: Via, now: number, on: ReceivedOn): void {
    const mid = ((d[20] << 24) | (d[21] << 16) | (d[22] << 8) | d[23]) >>> 0;
    if (mid !== 0) return this.drop("init-bad-message-id", from, `message ID ${mid}`);
    const ispi = d.subarray(0, 8);
    const hash = createHash("sha256").update(d).digest("hex").slice(0, 32);
    const initKey = `${spiKey(ispi)}|${from.address}|${from.port}|${hash}`;
    const known = this.byInit.get(initKey);
    if (known) {
      this.counters.initRetransmits++;
      this.after(known, known.sa.receive(d, from, now, on), now);
      return;
    }
    if (!this.o.responder) return this.drop("init-not-responder", from);
    const L = this.limits;
    if (this.keys.size >= L.maxSas) return this.drop("init-max-sas", from);
    if (this.halfOpenCount >= L.halfOpenMax) return this.drop("init-half-open-max", from);
    if ((this.perSource.get(from.address) ?? 0) >= L.blockThreshold) return this.drop("init-block", from, `${from.address} holds ${L.blockThreshold} half-open IKE SAs`);
    if (this.halfOpenCount >= L.cookieThreshold) {
      // a payload-header walk, not a decode: under a flood every request comes this way
      const { nonce, cookie } = scanInit(d);
      if (!nonce) return this.drop("init-malformed", from, "no Nonce");
      if (!cookie || !this.cookies.check(cookie, nonce, from.address, ispi, now)) {
        if (cookie) this.drop("init-bad-cookie", from);
        this.counters.cookiesSent++;
        const data = encodeIkev2Message(
          { ispi, rspi: NO_SPI, exchange: EX_INIT, initiator: false, response: true, messageId: 0 },
          [{ type: "notify", notifyType: N_COOKIE, data: this.cookies.cookie(nonce, from.address, ispi, now) }],
        );
        this.o.onActions(null, [{ type: "send", data, to: { ...from }, natt: via === "natt" }]);
        return;
      }
    }
    if (!this.initBucket.take(now)) return this.drop("init-rate", from, `more than ${L.initRate} new IKE SAs per second`);
    const cfg = this.o.responder(from, via);
    if (!cfg) return this.drop("init-not-accepted", from);
    let sa: IkeSa;
    try {
      // the configuration itself when it needs nothing changed (it may be shared by many SAs: the peer is `from`)
      const c = cfg.cookieSecret === undefined && cfg.halfOpenTimeout !== undefined ? cfg : { ...cfg, cookieSecret: undefined, halfOpenTimeout: cfg.halfOpenTimeout ?? L.halfOpenTimeoutMs };
      sa = IkeSa.responder(c, now, this.rng, from);
    } catch (err) {
      return this.drop("init-config", from, (err as Error).message);
    }
    const actions = sa.receive(d, from, now, on);
    if (sa.state !== "init-done") {
      // rejected (an error notify was sent, or the message was dropped): no state kept
      this.counters.initRejected++;
      const why = rejectReason(actions);
      this.drop(`init-rejected-${why}`, from);
      const loud = this.logBucket.take(now);
      this.o.onActions(null, actions.filter((a) => a.type === "send" || a.type === "log").map((a) =>
        a.type === "log" && (!loud || a.level === "error") ? { ...a, level: loud ? "warn" as const : "debug" as const } : a
      ));
      return;
    }
    const e: Keyed = {
      id: this.nextId++, sa, via, createdAt: now, establishedAt: null, remoteId: null, localId: null, proposal: null,
      halfOpen: true, lastReceived: now, replaced: false, user: null, kSpi: null, kInit: initKey, kSource: from.address, kIdentity: null,
      lPrev: null, lNext: null, held: false,
    };
    this.keys.add(e);
    this.byInit.set(initKey, e);
    this.perSource.set(from.address, (this.perSource.get(from.address) ?? 0) + 1);
    this.halfOpenCount++;
    this.counters.initAccepted++;
    this.counters.created++;
    this.after(e, actions, now);
  }

  // ------------------------------------------------------------------ SAs we start, timers, API calls

  /** Register an initiator IkeSa (and run the actions it was created with). */
  add(sa: IkeSa, actions: Action[], via: Via, now: number): ManagedSa {
    const e: Keyed = {
      id: this.nextId++, sa, via, createdAt: now, establishedAt: null, remoteId: null, localId: null, proposal: null,
      halfOpen: false, lastReceived: null, replaced: false, user: null, kSpi: null, kInit: null, kSource: null, kIdentity: null,
      lPrev: null, lNext: null, held: false,
    };
    this.keys.add(e);
    this.counters.created++;
    this.after(e, actions, now);
    return e;
  }

  /** Run an IkeSa API call (rekeyIke, rekeyChild, delete, dpd...) and process its actions. */
  call(e: ManagedSa, fn: (sa: IkeSa) => Action[], now: number): void {
    if (!this.keys.has(e as Keyed)) return;
    this.after(e, fn(e.sa), now);
  }

  /** Timers of every SA (retransmissions, DPD, keep-alives, half-open timeouts). */
  tick(now: number): void {
    for (const e of this.keys.toArray()) {
      if (!this.keys.has(e)) continue;
      const state = e.sa.state;
      const actions = e.sa.tick(now);
      // nothing happened (most SAs, most seconds): the bookkeeping of `after` is as it was after
      // this SA's last message; skipping it keeps the 1 s tick cheap with 1,000s of SAs held
      if (actions.length === 0 && e.sa.state === state) continue;
      this.after(e, actions, now);
    }
  }

  /** ESP with an SPI no Child SA has (RFC 7296 §2.21): counted (the INVALID_SPI notify is not sent). */
  espUnknownSpi(spi: number, from: Endpoint): void {
    this.counters.espUnknownSpi++;
    this.drop("esp-unknown-spi", from, `0x${(spi >>> 0).toString(16).padStart(8, "0")}`);
  }

  /** Forget every SA without sending anything (the caller has deleted them); zeroes the cookie secrets. */
  destroy(): void {
    for (const e of this.keys.toArray()) this.unregister(e);
    this.cookies.destroy();
  }

  // ------------------------------------------------------------------ bookkeeping

  private after(e: ManagedSa, actions: Action[], now: number): void {
    let closed = false, established = false;
    const contacts: string[] = [];
    for (const a of actions) {
      if (a.type === "send") a.natt = a.natt || e.via === "natt";
      else if (a.type === "switch-port") e.via = "natt";
      else if (a.type === "established") {
        e.remoteId = a.remoteId;
        e.localId = intern(a.localId);
        e.proposal = intern(a.proposal);
        e.establishedAt = now;
        established = true;
      } else if (a.type === "closed") closed = true;
      else if ((a as { type: string }).type === "initial-contact") contacts.push((a as unknown as { remoteId: string }).remoteId);
    }
    if (this.keys.has(e as Keyed)) {
      const k = e as Keyed;
      if (e.halfOpen && e.sa.state !== "init-done") this.clearHalfOpen(e, k);
      if (closed || e.sa.state === "dead") {
        this.unregister(e);
        this.counters.closed++;
      } else {
        const spi = spiKey(e.sa.initiator ? e.sa.spii : e.sa.spir);
        if (spi !== k.kSpi && spi !== "0000000000000000") {
          if (k.kSpi && this.bySpi.get(k.kSpi) === e) this.bySpi.delete(k.kSpi);
          const other = this.bySpi.get(spi);
          if (other && other !== e) this.drop("spi-collision", e.sa.remote, spi);
          else {
            this.bySpi.set(spi, e);
            k.kSpi = spi;
          }
        }
        if (e.remoteId && k.kIdentity !== e.remoteId) {
          if (k.kIdentity) this.identityDelete(k.kIdentity, e);
          const s = this.byIdentity.get(e.remoteId);
          if (s === undefined) this.byIdentity.set(e.remoteId, e);
          else if (s instanceof Set) s.add(e);
          else if (s !== e) this.byIdentity.set(e.remoteId, new Set([s, e]));
          k.kIdentity = e.remoteId;
        }
      }
    }
    this.o.onActions(e, actions);
    if (!this.keys.has(e as Keyed) || this.limits.uniqueIds === "never") return;
    if (established && e.remoteId && this.limits.uniqueIds === "replace") this.replaceOlder(e, e.remoteId, false, now);
    // MERGE: until the core reports INITIAL_CONTACT (an `initial-contact` action), every new IKE
    // SA is taken as carrying it (vpnkit's initiator always sends it, strongSwan on first contact)
    else if (established && e.remoteId && contacts.length === 0) this.replaceOlder(e, e.remoteId, true, now);
    for (const id of new Set(contacts)) this.replaceOlder(e, id, true, now);
  }

  /** Unique IDs / INITIAL_CONTACT: the other IKE SAs of `remoteId` (`sameHost`: from the same address) go: Child SAs at once, then a Delete. */
  private replaceOlder(keep: ManagedSa, remoteId: string, sameHost: boolean, now: number): void {
    const set = this.byIdentity.get(remoteId);
    if (!set || set === keep) return;
    for (const old of set instanceof Set ? [...set] : [set]) {
      if (old === keep || old.replaced || old.sa.state === "dead") continue;
      if (sameHost && old.sa.remote.address !== keep.sa.remote.address) continue;
      old.replaced = true;
      this.counters.replaced++;
      const removes: Action[] = old.sa.childSas.map((c) => ({ type: "remove-child" as const, spiIn: c.spiIn, spiOut: c.spiOut, reason: `replaced by IKE SA #${keep.id} of "${remoteId}"` }));
      this.after(old, [{ type: "log", level: "info", msg: `IKE SA #${old.id} of "${remoteId}" replaced by #${keep.id}` }, ...removes, ...old.sa.delete(now)], now);
    }
  }

  private clearHalfOpen(e: ManagedSa, k: Keyed): void {
    e.halfOpen = false;
    this.halfOpenCount--;
    if (k.kInit && this.byInit.get(k.kInit) === e) this.byInit.delete(k.kInit);
    k.kInit = null;
    if (k.kSource !== null) {
      const n = (this.perSource.get(k.kSource) ?? 1) - 1;
      if (n > 0) this.perSource.set(k.kSource, n);
      else this.perSource.delete(k.kSource);
      k.kSource = null;
    }
  }

  private unregister(e: ManagedSa): void {
    const k = e as Keyed;
    if (!this.keys.has(k)) return;
    if (e.halfOpen) this.clearHalfOpen(e, k);
    if (k.kSpi && this.bySpi.get(k.kSpi) === e) this.bySpi.delete(k.kSpi);
    if (k.kIdentity) this.identityDelete(k.kIdentity, e);
    this.keys.delete(k);
  }

  private identityDelete(id: string, e: ManagedSa): void {
    const s = this.byIdentity.get(id);
    if (s === e) this.byIdentity.delete(id);
    else if (s instanceof Set) {
      s.delete(e);
      if (s.size === 1) this.byIdentity.set(id, s.values().next().value!);
      else if (s.size === 0) this.byIdentity.delete(id);
    }
  }
}

/** Why a new responder rejected an IKE_SA_INIT: the notify it answered with, or "dropped". */
function rejectReason(actions: Action[]): string {
  for (const a of actions) {
    if (a.type !== "send" || a.data.length < 36 || a.data[16] !== 41) continue;
    return NOTIFY_TYPES.name((a.data[34] << 8) | a.data[35]);
  }
  return "dropped";
}
