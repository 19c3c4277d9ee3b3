/**
 * {@link SaState}: the state of one IKE SA and its plumbing (action queue, logs,
 * message building with SK encryption and RFC 7383 fragmentation, the request
 * window, responses, failure and teardown with key zeroing). Implements the
 * {@link SaContext} the exchange modules work on. No I/O.
 * @module
 */
import { derBlocks } from "../../pki/x509.ts";
import { X509Certificate, type KeyObject } from "node:crypto";
import { ipv4Text, ipv6Text, toHex, u32 } from "../../../core/bytes.ts";
import { encodeIkev2Message, skPrefix, type HeaderSpec } from "../encode/message.ts";
import { encodePayloadChain, type PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message } from "../message.ts";
import { NOTIFY_TYPES } from "../registry.ts";
import { skOverhead, skSeal, type SkParams } from "../sk-crypto.ts";
import { loadPublicKey } from "./auth-sig.ts";
import { deriveIkeKeys, wipeIkeKeys, type IkeKeys } from "./crypto.ts";
import { IkeKeySlab } from "./key-slab.ts";
import type { KeyExchange, Rng } from "./dh.ts";
import type { Identity } from "./identity.ts";
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, keyLengths, skAlgorithms, type Suite } from "./proposals.ts";
import { sharedChain, sharedIdentity, sharedPrivateKey, sharedSelectors, sharedSuites } from "./shared-config.ts";
import type { TrafficSelector } from "./ts.ts";
import type { Action, Endpoint, IkeSaConfig } from "./types.ts";
import { EX_INIT, NO_SPI, requestDigest, type Child, type EapSession, type Outstanding, type Pending, type PendingIkeRekey, type SaContext, type State } from "./context.ts";
import { retransmitWait } from "./retransmit.ts";
import { defineHandshakeAccessors, EMPTY, HandshakeState } from "./handshake-state.ts";

const ANY4 = ["0.0.0.0/0"];

/** Default random source: node-neutral Web Crypto. */
export const defaultRng: Rng = (n) => {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
};

export class SaState implements SaContext {
  initiator: boolean;
  state: State = "idle";
  spii: Uint8Array = NO_SPI;
  spir: Uint8Array = NO_SPI;
  remote: Endpoint;
  local: Endpoint;
  natt = false;
  localBehindNat = false;
  remoteBehindNat = false;

  cfg: IkeSaConfig;
  readonly rng: Rng;
  readonly ikeSuites: Suite[];
  espSuites: Suite[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  localId: Identity;
  remoteId: Identity | null;
  privateKey: KeyObject | null;
  certs: Uint8Array[];
  connection: string | null;
  eapUser: string | null = null;

  suite: Suite | null = null;
  keys: IkeKeys | null = null;
  ivCounter = 0n;

  /** What only an exchange that creates keys needs (handshake-state.ts): dropped by settle(). */
  hs: HandshakeState | null = new HandshakeState();
  // accessors over `hs` (defineHandshakeAccessors below): `declare`, so no own field hides them
  /** Our copy of the PSK; zeroed and released once the SA is established (IKE rekeys do not authenticate again). */
  declare psk: Uint8Array;
  declare eap: EapSession | null;
  declare ke: KeyExchange | null;
  declare ni: Uint8Array;
  declare nr: Uint8Array;
  declare initRequest: Uint8Array;
  declare initResponse: Uint8Array;
  declare cookie: Uint8Array | null;
  declare initRetries: number;
  declare ni2: Uint8Array;
  declare nr2: Uint8Array;
  declare exchangeInitiator: boolean;
  declare lastInstalled: Child | null;
  declare pendingIkeRekey: PendingIkeRekey | null;
  declare lastRaw: Uint8Array;
  declare lastTo: Endpoint | undefined;

  myMid = 0;
  peerMid = 0;
  outstanding: Outstanding | null = null;
  /** Requests waiting for the window: an array only while there are some (most held SAs have none). */
  private q: Pending[] | null = null;
  cachedResponse: { mid: number; digest: Uint8Array; data: Uint8Array[] } | null = null;
  fragOk = false;
  lastHeard = 0;
  lastSent = 0;
  children: Child[] = [];
  virtualIp: Uint8Array | null = null;
  virtualIp6: Uint8Array | null = null;
  vipFromPool = false;
  lastFrom: Endpoint;
  remoteIdText: string | null = null;
  establishedAt: number | null = null;
  ikeRekeyedAt: number | null = null;
  readonly createdAt: number;
  /** `now` of the last accepted message from the peer (IKE_SA_INIT, or authenticated). */
  lastReceived: number;
  /** Actions emitted since the last flush(): an array only while there are some. */
  private o: Action[] | null = null;

  /** Throws on a bad configuration. */
  constructor(initiator: boolean, cfg: IkeSaConfig, now: number, rng: Rng, remote: Endpoint = cfg.remote) {
    this.initiator = initiator;
    this.cfg = cfg;
    this.rng = rng;
    // the only reads of cfg.remote / cfg.local: a configuration shared by many SAs is fine
    this.remote = { ...remote };
    this.local = { ...cfg.local };
    this.lastFrom = { ...remote };
    // parsed once per configuration and shared by its SAs (immutable): shared-config.ts
    this.ikeSuites = sharedSuites(cfg.ikeProposals ?? DEFAULT_IKE_PROPOSALS, "ike");
    this.espSuites = sharedSuites(cfg.espProposals ?? DEFAULT_ESP_PROPOSALS, "esp");
    this.localTs = sharedSelectors(cfg.localTs ?? ANY4);
    this.remoteTs = sharedSelectors(cfg.remoteTs ?? ANY4);
    this.localId = sharedIdentity(cfg.localId);
    this.remoteId = cfg.remoteId && cfg.remoteId !== "%any" ? sharedIdentity(cfg.remoteId) : null;
    const hs = this.hs!;
    hs.psk = cfg.psk === undefined ? EMPTY : typeof cfg.psk === "string" ? new TextEncoder().encode(cfg.psk) : cfg.psk.slice();
    hs.pskOwn = hs.psk;
    this.privateKey = cfg.privateKey ? sharedPrivateKey(cfg.privateKey) : null;
    this.certs = sharedChain([cfg.certificate, ...(cfg.intermediates ?? [])].filter((c): c is string => !!c));
    this.connection = cfg.connection ?? null;
    // a responder with connections takes its credentials from the one IKE_AUTH picks
    if (!this.privateKey && !this.psk.length && !cfg.peerConfigs?.length && !cfg.eap) throw new Error("IKE SA config: neither psk nor privateKey given");
    if (cfg.peerCa) for (const c of cfg.peerCa) new X509Certificate(c); // fail early on bad PEM
    if (cfg.peerPublicKey) loadPublicKey(cfg.peerPublicKey);
    this.lastHeard = now;
    this.createdAt = now;
    this.lastReceived = now;
  }

  /** Actions emitted since the last call (a fresh array: callers may keep and extend it). */
  flush(): Action[] {
    const a = this.o;
    this.o = null;
    return a ?? [];
  }

  // `out` and `queue` are arrays made on first use and dropped when empty: two empty arrays per
  // held SA (~0.1 KB) less (issue 12). Readers that must not allocate use `o` / `q`.
  get out(): Action[] {
    return (this.o ??= []);
  }
  set out(a: Action[]) {
    this.o = a.length ? a : null;
  }
  get queue(): Pending[] {
    return (this.q ??= []);
  }
  set queue(a: Pending[]) {
    this.q = a.length ? a : null;
  }
  /** True when a request waits for the window. */
  hasQueued(): boolean {
    return this.q !== null && this.q.length > 0;
  }

  log(level: "debug" | "info" | "warn" | "error", msg: string): void {
    this.out.push({ type: "log", level, msg: `${this.initiator ? "initiator" : "responder"} ${toHex(this.spii)}: ${msg}` });
  }

  send(data: Uint8Array[], now: number): void {
    this.lastSent = now;
    for (const d of data) this.out.push({ type: "send", data: d, to: { ...this.remote }, natt: this.natt });
  }

  private nextIv(params: SkParams): Uint8Array {
    if (params.encr === "aes-cbc") return this.rng(16);
    // counter IV: never repeats under one key (retransmissions resend the same bytes)
    const iv = new Uint8Array(8);
    let c = ++this.ivCounter;
    for (let i = 7; i >= 0; i--, c >>= 8n) iv[i] = Number(c & 0xffn);
    return iv;
  }

  /** Largest IKE message we may send in one datagram. */
  private messageLimit(): number {
    const ip = this.remote.address.includes(":") ? 40 : 20;
    return (this.cfg.fragmentSize ?? 1280) - ip - 8 - (this.natt ? 4 : 0);
  }

  /** SK parameters for messages we send (`outbound`) or receive. */
  skParams(outbound: boolean): SkParams {
    const k = this.keys!;
    const alg = skAlgorithms(this.suite!);
    const mine = outbound === this.initiator; // initiator's messages use SK_ei/SK_ai
    return { encr: alg.encr, integ: alg.integ, encKey: mine ? k.skei : k.sker, integKey: alg.integ === "none" ? undefined : mine ? k.skai : k.skar };
  }

  build(exchange: number, response: boolean, mid: number, payloads: PayloadSpec[]): Uint8Array[] {
    const h: HeaderSpec = { ispi: this.spii, rspi: this.spir, exchange, initiator: this.initiator, response, messageId: mid };
    if (exchange === EX_INIT) return [encodeIkev2Message(h, payloads)];
    const chain = encodePayloadChain(payloads);
    const params = this.skParams(true);
    const whole = skSeal(params, skPrefix(h), chain.first, chain.bytes, { iv: this.nextIv(params) });
    const limit = this.messageLimit();
    if (!this.fragOk || whole.length <= limit) return [whole];
    // RFC 7383: split the plaintext chain; each SKF message fits the limit
    const ov = skOverhead(params)!;
    const room = Math.max(16, limit - 28 - 8 - ov.ivLen - ov.icvLen - ov.block);
    const total = Math.ceil(chain.bytes.length / room);
    const out: Uint8Array[] = [];
    for (let i = 0; i < total; i++) {
      const part = chain.bytes.subarray(i * room, Math.min(chain.bytes.length, (i + 1) * room));
      out.push(skSeal(params, skPrefix(h, 53), i === 0 ? chain.first : 0, part, { iv: this.nextIv(params), fragment: { number: i + 1, total } }));
    }
    return out;
  }

  request(p: Pending, now: number): void {
    (this.q ??= []).push(p);
    this.pump(now);
  }

  /** Send the next queued request when the window is free. */
  pump(now: number): void {
    while (!this.outstanding && this.q !== null && this.q.length && this.state !== "dead") {
      const r = this.q.shift()!(now);
      if (this.q !== null && !this.q.length) this.q = null;
      if (!r) continue;
      const mid = this.myMid++;
      const data = this.build(r.exchange, false, mid, r.payloads);
      this.outstanding = { mid, exchange: r.exchange, data, tries: 0, nextAt: now + this.timeout(0), onResponse: r.onResponse };
      this.send(data, now);
    }
  }

  timeout(tries: number, exchange?: number): number {
    // the initiator's IKE_SA_INIT starts shorter (lib/ike/v2/sa/retransmit.ts)
    return retransmitWait(this.cfg, exchange === EX_INIT && this.initiator, tries);
  }

  respond(msg: Ikev2Message, request: Uint8Array, payloads: PayloadSpec[], now: number): void {
    const data = this.build(msg.exchange, true, msg.messageId, payloads);
    // the cache keeps plain copies: the sealed message became a view on an ArrayBuffer of its
    // own (skSeal's AAD is a subarray of it), which costs ~0.4 KB more per held SA (issue 12)
    this.cachedResponse = { mid: msg.messageId, digest: requestDigest(request), data: data.map((d) => d.slice()) };
    this.peerMid = msg.messageId + 1;
    this.send(data, now);
  }

  fail(reason: string, notify: number | undefined, now: number): void {
    this.log("error", reason);
    this.out.push({ type: "failed", scope: "ike", reason, notify: notify !== undefined ? NOTIFY_TYPES.name(notify) : undefined });
    this.die(reason);
    void now;
  }

  die(reason: string): void {
    if (this.state === "dead") return;
    for (const c of this.children) this.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason });
    this.children = [];
    this.state = "dead";
    const pool = this.cfg.virtualIpPool;
    if (this.vipFromPool && pool && !Array.isArray(pool)) {
      if (this.virtualIp) pool.release(ipv4Text(this.virtualIp));
      if (this.virtualIp6) pool.release(ipv6Text(this.virtualIp6));
    }
    if (this.keys) wipeIkeKeys(this.keys);
    this.keys = null;
    this.ke?.destroy();
    this.ke = null;
    this.psk.fill(0);
    this.eap?.msk?.fill(0);
    this.eap?.tls?.engine.destroy();
    this.eap?.tls?.msk?.fill(0);
    this.eap = null;
    if (this.pendingIkeRekey) {
      this.pendingIkeRekey.shared.fill(0);
      this.pendingIkeRekey = null;
    }
    this.outstanding = null;
    this.q = null;
    this.out.push({ type: "closed", reason });
  }

  deriveKeys(shared: Uint8Array, rekey?: { skd: Uint8Array; prf: number }): void {
    const kl = keyLengths(this.suite!);
    const k = deriveIkeKeys({ prf: this.suite!.prf!, encrKeyLength: kl.encr, integKeyLength: kl.integ, ni: this.ni, nr: this.nr, shared, spii: this.spii, spir: this.spir, rekey });
    k.skeyseed.fill(0);
    // the seven keys in arrays of their own, never views (key-slab.ts); wipeIkeKeys zeroes them
    const keys = (this.keys = new IkeKeySlab(k));
    this.ivCounter = 0n;
    if (this.cfg.keylog) {
      const alg = skAlgorithms(this.suite!);
      this.out.push({
        type: "keylog", ispi: this.spii.slice(), rspi: this.spir.slice(), skei: keys.skei.slice(), sker: keys.sker.slice(), skai: keys.skai.slice(), skar: keys.skar.slice(),
        encr: alg.encr, integ: alg.integ, encrKeyBits: this.suite!.keyLength ?? 256,
      });
    }
  }

  /**
   * Once established (after IKE_AUTH, and after an IKE SA rekey), release what only the
   * handshake needed (RFC 7296 §2.15, §2.17): the IKE_SA_INIT messages AUTH signs, the
   * nonces (zeroed; a later Child SA or IKE SA rekey brings its own), the PSK (zeroed: a
   * rekey does not authenticate again), SK_pi/SK_pr (zeroed), the COOKIE and the message
   * being processed. What stays: SPIs, message IDs, SK_d (rekeys), SK_a/SK_e (messages), the last response with a digest of its request
   * (retransmissions), the Child SAs' SPIs and selectors. Called after every message.
   */
  settle(): void {
    if (this.state !== "established" && this.state !== "deleting") return;
    // NAT detection in IKE_SA_INIT read it; endpoints are replaced, never edited: share, not copy
    this.lastFrom = this.remote;
    const h = this.hs;
    if (h === null) return;
    h.ni.fill(0);
    h.nr.fill(0);
    h.ni = h.nr = EMPTY;
    if (h.psk !== EMPTY) {
      if (h.psk === h.pskOwn) h.psk.fill(0);
      h.psk = EMPTY;
      h.pskOwn = null;
    }
    // SK_pi/SK_pr sign AUTH only (a rekey derives its own and does not authenticate again)
    if (this.keys instanceof IkeKeySlab) this.keys.dropAuthKeys();
    // not zeroed: a rekey collision (Child.rekeyedByPeer) may still compare them
    h.ni2 = h.nr2 = EMPTY;
    h.initRequest = h.initResponse = h.lastRaw = EMPTY;
    h.cookie = null;
    h.lastInstalled = null;
    h.lastTo = undefined;
    // the rest only matters while a key exchange, EAP or IKE SA rekey is under way
    if (h.idle()) this.hs = null;
  }

  newSpi(): number {
    for (;;) {
      const s = u32(this.rng(4), 0);
      if (s >= 256 && !this.children.some((c) => c.spiIn === s)) return s;
    }
  }
}

defineHandshakeAccessors(SaState.prototype);
