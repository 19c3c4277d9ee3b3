/**
 * IKEv2 SA state machine (RFC 7296), no I/O: {@link IkeSa.receive} consumes one
 * IKE datagram (non-ESP marker already stripped) and returns {@link Action}s;
 * {@link IkeSa.tick} drives retransmissions (exponential backoff), liveness
 * checks and NAT keep-alives. Exchanges: IKE_SA_INIT (COOKIE, INVALID_KE_PAYLOAD
 * retry, NAT-D), IKE_AUTH with PSK (first Child SA, TS narrowing, CP virtual IP),
 * CREATE_CHILD_SA (new/rekeyed Child SA with optional PFS, IKE SA rekey) and
 * INFORMATIONAL (Delete, liveness). Window size 1 both ways; responses are
 * cached and replayed on retransmitted requests.
 *
 * Keys: IKE keys live in this object and are zeroed when it dies or is rekeyed.
 * Child SA keys are only handed out in `install-child` actions (never kept).
 * Logs never contain keys; `keylog` actions are emitted only with `keylog: true`.
 * @module
 */
import { concat, ctEqual, ipv4Text, toHex, u32 } from "../../../core/bytes.ts";
import type { Anomaly } from "../../../core/anomaly.ts";
import { parseIp } from "../../../net/cidr.ts";
import { encodeIkev2Message, skPrefix, type HeaderSpec } from "../encode/message.ts";
import { encodePayloadChain, u32Bytes, type PayloadSpec } from "../encode/payloads.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message, type Ikev2Payload } from "../message.ts";
import type { Ikev2NotifyPayload } from "../payloads/notify.ts";
import type { Ikev2Proposal } from "../payloads/sa.ts";
import { NOTIFY_TYPES } from "../registry.ts";
import { skOpen, skOverhead, skSeal, type SkParams } from "../sk-crypto.ts";
import { childKeymat, deriveIkeKeys, natdHash, pskAuth, sha256Bytes, signedOctets, wipeIkeKeys, type IkeKeys } from "./crypto.ts";
import { newKeyExchange, type KeyExchange, type Rng } from "./dh.ts";
import { idBody, identityMatches, parseIdentity, type Identity } from "./identity.ts";
import { certMatchesIdentity, certreqData, checkPeerCertificate, loadPrivateKey, loadPublicKey, signAuth, verifyAuth } from "./auth-sig.ts";
import { X509Certificate, type KeyObject } from "node:crypto";
import {
  acceptChosen, DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, espCipher, keyLengths, parseProposal, selectProposal,
  skAlgorithms, suiteName, suiteToProposal, type Suite,
} from "./proposals.ts";
import { tsAny, tsFromDecoded, tsFromText, tsHost, tsNarrow, tsSubset, tsText, type TrafficSelector } from "./ts.ts";
import type { Action, ChildSaInfo, Endpoint, IkeSaConfig } from "./types.ts";

export type { Action, ChildSaInfo, Endpoint, IkeSaConfig } from "./types.ts";

const EX_INIT = 34, EX_AUTH = 35, EX_CHILD = 36, EX_INFO = 37;
const N = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1, INVALID_SYNTAX: 7, NO_PROPOSAL_CHOSEN: 14, INVALID_KE_PAYLOAD: 17, AUTHENTICATION_FAILED: 24,
  TS_UNACCEPTABLE: 38, INVALID_SELECTORS: 39, TEMPORARY_FAILURE: 43, CHILD_SA_NOT_FOUND: 44, INTERNAL_ADDRESS_FAILURE: 36,
  INITIAL_CONTACT: 16384, NATD_SRC: 16388, NATD_DST: 16389, COOKIE: 16390, REKEY_SA: 16393, FRAG_SUP: 16430,
} as const;
const CP_REQUEST = 1, CP_REPLY = 2, CP_IP4 = 1, CP_IP4_DNS = 3;
const NO_SPI = new Uint8Array(8);
/** SIGNATURE_HASH_ALGORITHMS (RFC 7427): SHA2-256, SHA2-384, SHA2-512, Identity (Ed25519). */
const FRAG_SUP: PayloadSpec = { type: "notify", notifyType: 16430 };
const SIG_HASH: PayloadSpec = { type: "notify", notifyType: 16431, data: new Uint8Array([0, 2, 0, 3, 0, 4, 0, 5]) };

type State = "idle" | "init-sent" | "auth-sent" | "init-done" | "established" | "deleting" | "dead";

interface Outstanding {
  mid: number;
  exchange: number;
  /** The message, or its fragments (RFC 7383). */
  data: Uint8Array[];
  tries: number;
  nextAt: number;
  onResponse: (msg: Ikev2Message, payloads: Ikev2Payload[], now: number) => void;
}

/** A request waiting for the window: builds its payloads and handler when its turn comes. */
type Pending = (now: number) => { exchange: number; payloads: PayloadSpec[]; onResponse: Outstanding["onResponse"] } | null;

interface Child {
  spiIn: number;
  spiOut: number;
  suite: Suite;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** True once a rekey or delete of it is under way. */
  retiring?: boolean;
  /** Our CREATE_CHILD_SA rekeying it is on the wire (its Ni), for collision handling (RFC 7296 §2.8.1). */
  ourRekeyNonce?: Uint8Array;
  /** The peer rekeyed it: the Child SA that created and that exchange's nonces. */
  rekeyedByPeer?: { child: Child; nonces: Uint8Array[] };
  /** Our Delete for it is queued or on the wire. */
  deleting?: boolean;
}

interface Parsed {
  notifies: Ikev2NotifyPayload[];
  sa?: Extract<Ikev2Payload, { kind: "sa" }>;
  ke?: Extract<Ikev2Payload, { kind: "ke" }>;
  nonce?: Uint8Array;
  idi?: Extract<Ikev2Payload, { kind: "id" }>;
  idr?: Extract<Ikev2Payload, { kind: "id" }>;
  auth?: Extract<Ikev2Payload, { kind: "auth" }>;
  tsi?: TrafficSelector[];
  tsr?: TrafficSelector[];
  cp?: Extract<Ikev2Payload, { kind: "cp" }>;
  deletes: Extract<Ikev2Payload, { kind: "delete" }>[];
  certs: Uint8Array[];
}

function parse(payloads: Ikev2Payload[]): Parsed {
  const r: Parsed = { notifies: [], deletes: [], certs: [] };
  for (const p of payloads) {
    switch (p.kind) {
      case "notify": r.notifies.push(p); break;
      case "sa": r.sa ??= p; break;
      case "ke": r.ke ??= p; break;
      case "nonce": r.nonce ??= p.nonce; break;
      case "id": if (p.type === 35) r.idi ??= p; else r.idr ??= p; break;
      case "auth": r.auth ??= p; break;
      case "ts": if (p.type === 44) r.tsi ??= tsFromDecoded(p.selectors); else r.tsr ??= tsFromDecoded(p.selectors); break;
      case "cp": r.cp ??= p; break;
      case "delete": r.deletes.push(p); break;
      case "cert": if (p.encoding === 4) r.certs.push(p.data); break;
    }
  }
  return r;
}

function firstError(p: Parsed): Ikev2NotifyPayload | undefined {
  return p.notifies.find((n) => n.isError);
}

function notifyOf(p: Parsed, type: number): Ikev2NotifyPayload | undefined {
  return p.notifies.find((n) => n.notifyType === type);
}

function ipBytes(address: string): Uint8Array {
  return parseIp(address)?.addr ?? new Uint8Array(4);
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

function spiNum(b: Uint8Array): number {
  return b.length === 4 ? u32(b, 0) : -1;
}

/** Default random source: node-neutral Web Crypto. */
export const defaultRng: Rng = (n) => {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
};

/** One IKE SA (and its Child SAs), initiator or responder. */
export class IkeSa {
  /** Original initiator of the current IKE SA (swaps when the peer initiated an IKE SA rekey). */
  get initiator(): boolean {
    return this.isInitiator;
  }
  private isInitiator: boolean;
  state: State = "idle";
  /** IKE SPIs (8 bytes each). */
  spii: Uint8Array = NO_SPI;
  spir: Uint8Array = NO_SPI;
  /** Where the peer is (updated on NAT-T switch and authenticated address changes). */
  remote: Endpoint;
  local: Endpoint;
  /** UDP encapsulation in use (port 4500, non-ESP marker). */
  natt = false;
  localBehindNat = false;
  remoteBehindNat = false;

  private readonly cfg: IkeSaConfig;
  private readonly rng: Rng;
  private readonly ikeSuites: Suite[];
  private readonly espSuites: Suite[];
  private readonly localTs: TrafficSelector[];
  private readonly remoteTs: TrafficSelector[];
  private readonly localId: Identity;
  private readonly remoteId: Identity | null;
  private readonly psk: Uint8Array;
  private readonly privateKey: KeyObject | null;
  private readonly certs: Uint8Array[];

  private suite: Suite | null = null;
  private keys: IkeKeys | null = null;
  private ke: KeyExchange | null = null;
  private ni: Uint8Array = new Uint8Array(0);
  private nr: Uint8Array = new Uint8Array(0);
  private initRequest: Uint8Array = new Uint8Array(0);
  private initResponse: Uint8Array = new Uint8Array(0);
  private cookie: Uint8Array | null = null;
  private initRetries = 0;
  private ivCounter = 0n;

  private myMid = 0;
  private peerMid = 0;
  private outstanding: Outstanding | null = null;
  private queue: Pending[] = [];
  /** Last response and the request it answered (its first fragment when fragmented). */
  private cachedResponse: { mid: number; request: Uint8Array; data: Uint8Array[] } | null = null;
  /** Both sides announced FRAGMENTATION_SUPPORTED. */
  private fragOk = false;
  /** Fragments being reassembled: one request and one response at a time (window size 1 each way). */
  private frags: ({ key: string; total: number; parts: (Uint8Array | undefined)[]; first: number; firstDatagram: Uint8Array; have: number } | null)[] = [null, null];
  private lastHeard = 0;
  private lastSent = 0;
  private children: Child[] = [];
  private virtualIp: Uint8Array | null = null;
  /** The virtual IP came from our pool (we are the responder that assigned it). */
  private vipFromPool = false;
  private out: Action[] = [];
  /** Latest `now` seen (constructor, receive, tick): the default for the API methods' `now`. */
  private clock: number;

  private constructor(initiator: boolean, cfg: IkeSaConfig, now: number, rng: Rng) {
    this.isInitiator = initiator;
    this.cfg = cfg;
    this.rng = rng;
    this.remote = { ...cfg.remote };
    this.local = { ...cfg.local };
    this.ikeSuites = (cfg.ikeProposals ?? DEFAULT_IKE_PROPOSALS).map((p) => parseProposal(p, "ike"));
    this.espSuites = (cfg.espProposals ?? DEFAULT_ESP_PROPOSALS).map((p) => parseProposal(p, "esp"));
    this.localTs = (cfg.localTs ?? ["0.0.0.0/0"]).map(tsFromText);
    this.remoteTs = (cfg.remoteTs ?? ["0.0.0.0/0"]).map(tsFromText);
    this.localId = parseIdentity(cfg.localId);
    this.remoteId = cfg.remoteId && cfg.remoteId !== "%any" ? parseIdentity(cfg.remoteId) : null;
    this.psk = cfg.psk === undefined ? new Uint8Array(0) : typeof cfg.psk === "string" ? new TextEncoder().encode(cfg.psk) : cfg.psk.slice();
    this.privateKey = cfg.privateKey ? loadPrivateKey(cfg.privateKey) : null;
    this.certs = [cfg.certificate, ...(cfg.intermediates ?? [])].filter((c): c is string => !!c).map((c) => new Uint8Array(new X509Certificate(c).raw));
    if (!this.privateKey && !this.psk.length) throw new Error("IKE SA config: neither psk nor privateKey given");
    if (cfg.peerCa) for (const c of cfg.peerCa) new X509Certificate(c); // fail early on bad PEM
    if (cfg.peerPublicKey) loadPublicKey(cfg.peerPublicKey);
    this.lastHeard = now;
    this.clock = now;
  }

  /** Create an initiator; the returned actions carry the IKE_SA_INIT request. Throws on a bad configuration. */
  static initiator(cfg: IkeSaConfig, now: number, rng: Rng = defaultRng): { sa: IkeSa; actions: Action[] } {
    const sa = new IkeSa(true, cfg, now, rng);
    sa.spii = rng(8);
    sa.ni = rng(32);
    sa.startInit(sa.ikeSuites[0].ke!, now);
    return { sa, actions: sa.flush() };
  }

  /** Create a responder waiting for an IKE_SA_INIT request (feed it to {@link receive}). Throws on a bad configuration. */
  static responder(cfg: IkeSaConfig, now: number, rng: Rng = defaultRng): IkeSa {
    return new IkeSa(false, cfg, now, rng);
  }

  /** Child SAs currently installed (SPIs and selectors only). */
  get childSas(): readonly { spiIn: number; spiOut: number; tsLocal: TrafficSelector[]; tsRemote: TrafficSelector[] }[] {
    return this.children;
  }

  // ---------------------------------------------------------------- plumbing

  private flush(): Action[] {
    const a = this.out;
    this.out = [];
    return a;
  }

  private log(level: "debug" | "info" | "warn" | "error", msg: string): void {
    this.out.push({ type: "log", level, msg: `${this.initiator ? "initiator" : "responder"} ${toHex(this.spii)}: ${msg}` });
  }

  private send(data: Uint8Array[], now: number): void {
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

  private skParams(outbound: boolean): SkParams {
    const k = this.keys!;
    const alg = skAlgorithms(this.suite!);
    const mine = outbound === this.initiator; // initiator's messages use SK_ei/SK_ai
    return { encr: alg.encr, integ: alg.integ, encKey: mine ? k.skei : k.sker, integKey: alg.integ === "none" ? undefined : mine ? k.skai : k.skar };
  }

  /** Build a message (IKE_SA_INIT in clear, else SK-encrypted, fragmented when needed and agreed). */
  private build(exchange: number, response: boolean, mid: number, payloads: PayloadSpec[]): Uint8Array[] {
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

  /** Queue a request (window size 1). */
  private request(p: Pending, now: number): void {
    this.queue.push(p);
    this.pump(now);
  }

  private pump(now: number): void {
    while (!this.outstanding && this.queue.length && this.state !== "dead") {
      const r = this.queue.shift()!(now);
      if (!r) continue;
      const mid = this.myMid++;
      const data = this.build(r.exchange, false, mid, r.payloads);
      this.outstanding = { mid, exchange: r.exchange, data, tries: 0, nextAt: now + this.timeout(0), onResponse: r.onResponse };
      this.send(data, now);
    }
  }

  private timeout(tries: number): number {
    return (this.cfg.retransmitTimeout ?? 4000) * Math.pow(this.cfg.retransmitBase ?? 1.8, tries);
  }

  private respond(msg: Ikev2Message, request: Uint8Array, payloads: PayloadSpec[], now: number): void {
    const data = this.build(msg.exchange, true, msg.messageId, payloads);
    this.cachedResponse = { mid: msg.messageId, request: request.slice(), data };
    this.peerMid = msg.messageId + 1;
    this.send(data, now);
  }

  private fail(reason: string, notify: number | undefined, now: number): void {
    this.log("error", reason);
    this.out.push({ type: "failed", scope: "ike", reason, notify: notify !== undefined ? NOTIFY_TYPES.name(notify) : undefined });
    this.die(reason);
    void now;
  }

  private die(reason: string): void {
    if (this.state === "dead") return;
    for (const c of this.children) this.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason });
    this.children = [];
    this.state = "dead";
    const pool = this.cfg.virtualIpPool;
    if (this.virtualIp && this.vipFromPool && pool && !Array.isArray(pool)) pool.release(ipv4Text(this.virtualIp));
    if (this.keys) wipeIkeKeys(this.keys);
    this.keys = null;
    this.ke?.destroy();
    this.ke = null;
    this.psk.fill(0);
    if (this.pendingIkeRekey) {
      this.pendingIkeRekey.shared.fill(0);
      this.pendingIkeRekey = null;
    }
    this.outstanding = null;
    this.queue = [];
    this.out.push({ type: "closed", reason });
  }

  // ---------------------------------------------------------------- input

  /** Process one IKE datagram from `from`. Never throws on wire data. */
  receive(datagram: Uint8Array, from: Endpoint, now: number): Action[] {
    this.clock = now;
    try {
      this.receiveInner(datagram, from, now);
    } catch (e) {
      this.log("error", `internal error while processing a message: ${(e as Error).message}`);
    }
    return this.flush();
  }

  private receiveInner(input: Uint8Array, from: Endpoint, now: number): void {
    let datagram = input;
    if (this.state === "dead") return;
    const an: Anomaly[] = [];
    const msg = decodeIkev2(datagram, 0, datagram.length, an);
    if (!msg || msg.majorVersion !== 2) { this.log("debug", "dropped: not an IKEv2 message"); return; }
    if (msg.exchange === EX_INIT && !msg.flags.response && !this.initiator && this.state === "idle") {
      this.responderInit(msg, datagram, from, an, now);
      return;
    }
    // a retransmitted IKE_SA_INIT request still has a zero responder SPI
    const initRetransmit = !this.initiator && msg.exchange === EX_INIT && !msg.flags.response && !msg.rspi.some((x) => x);
    if (!ctEqual(msg.ispi, this.spii) || !(this.state === "init-sent" || initRetransmit || ctEqual(msg.rspi, this.spir))) {
      this.log("debug", `dropped: message for IKE SA ${toHex(msg.ispi)}/${toHex(msg.rspi)}`);
      return;
    }
    if (msg.flags.initiator === this.initiator) { this.log("debug", "dropped: message with our own I flag"); return; }
    if (!msg.flags.response) {
      if (this.cachedResponse && msg.messageId === this.cachedResponse.mid) {
        if (ctEqual(datagram, this.cachedResponse.request)) {
          this.log("debug", `retransmitted request ${msg.messageId}: resending the cached response`);
          this.send(this.cachedResponse.data, now);
        }
        return;
      }
      if (msg.messageId !== this.peerMid) { this.log("debug", `dropped: request with message ID ${msg.messageId}, expected ${this.peerMid}`); return; }
    } else if (!this.outstanding || msg.messageId !== this.outstanding.mid || msg.exchange !== this.outstanding.exchange) {
      this.log("debug", `dropped: unexpected response ${msg.exchangeName} ${msg.messageId}`);
      return;
    }
    let payloads = msg.payloads;
    if (msg.exchange !== EX_INIT) {
      const sk = msg.payloads[msg.payloads.length - 1];
      if (!sk || (sk.kind !== "sk" && sk.kind !== "skf") || !this.keys) { this.log("debug", `dropped: ${msg.exchangeName} without SK payload`); return; }
      const r = skOpen(this.skParams(false), datagram.subarray(0, msg.length), sk.offset, sk.offset + sk.length, sk.kind);
      if (!r.ok || !r.plaintext) { this.log("debug", `dropped: ${msg.exchangeName} ${msg.messageId}: integrity check failed (${r.reason ?? "bad ICV"})`); return; }
      let plain = r.plaintext, first = sk.nextPayload;
      if (sk.kind === "skf") {
        const n = sk.fragmentNumber, total = sk.totalFragments;
        if (total < 1 || total > 64 || n < 1 || n > total) { this.log("debug", `dropped: fragment ${n}/${total}`); return; }
        const slot = msg.flags.response ? 1 : 0, key = `${msg.messageId}`;
        let f = this.frags[slot];
        if (!f || f.key !== key || f.total !== total) {
          f = this.frags[slot] = { key, total, parts: new Array(total), first: 0, firstDatagram: new Uint8Array(0), have: 0 };
        }
        if (!f.parts[n - 1]) { f.parts[n - 1] = plain.slice(); f.have++; }
        if (n === 1) { f.first = sk.nextPayload; f.firstDatagram = datagram.slice(0, msg.length); }
        if (f.have < total) return;
        this.frags[slot] = null;
        plain = concat(...(f.parts as Uint8Array[]));
        first = f.first;
        datagram = f.firstDatagram; // what a retransmission of this request is recognised by
      }
      const inner: Anomaly[] = [];
      payloads = decodeIkev2Payloads(plain, 0, plain.length, first, inner, "ikev2.sk");
      if (inner.length) this.log("debug", `anomalies in decrypted payloads: ${inner.map((a) => a.reason).join("; ")}`);
      // authenticated from here on
      if (!sameEndpoint(from, this.remote)) {
        this.remote = { ...from };
        if (this.state === "established") {
          this.out.push({ type: "peer-address-changed", remote: { ...from } });
          this.log("info", `peer moved to ${from.address}:${from.port}`);
        }
      }
      if (!this.initiator && !this.natt && from.port === 4500) this.natt = true;
      const crit = payloads.find((p) => p.kind === "generic" && p.critical);
      if (crit && !msg.flags.response) {
        this.respond(msg, datagram, [{ type: "notify", notifyType: N.UNSUPPORTED_CRITICAL_PAYLOAD, data: new Uint8Array([crit.type]) }], now);
        return;
      }
    }
    this.lastHeard = now;
    if (msg.flags.response) {
      this.lastRaw = datagram.subarray(0, msg.length);
      const o = this.outstanding!;
      this.outstanding = null;
      o.onResponse(msg, payloads, now);
      this.pump(now);
      return;
    }
    this.handleRequest(msg, datagram, payloads, now);
  }

  // ---------------------------------------------------------------- IKE_SA_INIT (initiator)

  private startInit(group: number, now: number): void {
    this.ke?.destroy();
    this.ke = newKeyExchange(group, this.rng);
    if (!this.ke) { this.fail(`group ${group} is not implemented`, undefined, now); return; }
    const payloads: PayloadSpec[] = [];
    if (this.cookie) payloads.push({ type: "notify", notifyType: N.COOKIE, data: this.cookie });
    payloads.push(
      { type: "sa", proposals: this.ikeSuites.map((s, i) => suiteToProposal(s, new Uint8Array(0), i + 1)) },
      { type: "ke", group, data: this.ke.publicValue },
      { type: "nonce", nonce: this.ni },
      ...this.natdPayloads(NO_SPI),
      SIG_HASH,
      ...(this.cfg.fragmentation === false ? [] : [FRAG_SUP]),
    );
    this.state = "init-sent";
    this.myMid = 0;
    const h: HeaderSpec = { ispi: this.spii, rspi: NO_SPI, exchange: EX_INIT, initiator: true, response: false, messageId: 0 };
    const data = encodeIkev2Message(h, payloads);
    this.initRequest = data;
    this.outstanding = { mid: 0, exchange: EX_INIT, data: [data], tries: 0, nextAt: now + this.timeout(0), onResponse: (m, p, t) => this.initiatorInitResponse(m, p, t) };
    this.send([data], now);
  }

  private natdPayloads(rspi: Uint8Array): PayloadSpec[] {
    const src = this.cfg.forceEncap ? this.rng(20) : natdHash(this.spii, rspi, ipBytes(this.local.address), this.local.port);
    const dst = natdHash(this.spii, rspi, ipBytes(this.remote.address), this.remote.port);
    return [{ type: "notify", notifyType: N.NATD_SRC, data: src }, { type: "notify", notifyType: N.NATD_DST, data: dst }];
  }

  /** Compare the peer's NAT-D notifies with what we see; sets the NAT flags. */
  private detectNat(p: Parsed, from: Endpoint): void {
    const srcs = p.notifies.filter((n) => n.notifyType === N.NATD_SRC);
    const dst = notifyOf(p, N.NATD_DST);
    if (!srcs.length || !dst) return;
    // hashes cover the SPIs of the message that carries them: SPIr is zero in the request
    const rspi = this.initiator ? this.spir : NO_SPI;
    const expSrc = natdHash(this.spii, rspi, ipBytes(from.address), from.port);
    const expDst = natdHash(this.spii, rspi, ipBytes(this.local.address), this.local.port);
    this.remoteBehindNat = !srcs.some((n) => ctEqual(n.data, expSrc));
    this.localBehindNat = !ctEqual(dst.data, expDst);
    if (this.localBehindNat || this.remoteBehindNat || this.cfg.forceEncap) {
      this.out.push({ type: "nat-detected", localBehindNat: this.localBehindNat, remoteBehindNat: this.remoteBehindNat, keepalive: this.localBehindNat });
      this.log("info", `NAT detected (${[this.localBehindNat ? "we are behind a NAT" : "", this.remoteBehindNat ? "peer is behind a NAT" : ""].filter(Boolean).join(", ") || "forced encapsulation"})`);
    }
  }

  private initiatorInitResponse(msg: Ikev2Message, payloads: Ikev2Payload[], now: number): void {
    const p = parse(payloads);
    const cookie = notifyOf(p, N.COOKIE);
    if (cookie) {
      if (++this.initRetries > 3 || cookie.data.length < 1 || cookie.data.length > 64) { this.fail("IKE_SA_INIT: responder keeps demanding a COOKIE", N.COOKIE, now); return; }
      this.log("info", "responder demands a COOKIE; retrying IKE_SA_INIT with it");
      this.cookie = cookie.data.slice();
      this.startInit(this.ke!.group, now);
      return;
    }
    const invKe = notifyOf(p, N.INVALID_KE_PAYLOAD);
    if (invKe) {
      const g = invKe.data.length === 2 ? (invKe.data[0] << 8) | invKe.data[1] : -1;
      const offered = this.ikeSuites.some((s) => s.ke === g);
      if (!offered || g === this.ke!.group || ++this.initRetries > 3) {
        this.fail(`IKE_SA_INIT: responder wants key exchange group ${g}, which we did not propose`, N.INVALID_KE_PAYLOAD, now);
        return;
      }
      this.log("info", `responder wants group ${g} (INVALID_KE_PAYLOAD); retrying IKE_SA_INIT`);
      this.startInit(g, now);
      return;
    }
    const err = firstError(p);
    if (err) {
      const why = err.notifyType === N.NO_PROPOSAL_CHOSEN
        ? `no common IKE proposal (NO_PROPOSAL_CHOSEN); we offered ${this.ikeSuites.map(suiteName).join(", ")}`
        : `responder refused IKE_SA_INIT with ${err.notifyName}`;
      this.fail(`IKE_SA_INIT failed: ${why}`, err.notifyType, now);
      return;
    }
    const chosen = p.sa?.proposals.length === 1 ? acceptChosen(p.sa.proposals[0], this.ikeSuites) : null;
    if (!chosen) { this.fail("IKE_SA_INIT failed: responder chose a proposal we did not offer", undefined, now); return; }
    if (!p.ke || p.ke.group !== chosen.ke || p.ke.group !== this.ke!.group) { this.fail("IKE_SA_INIT failed: KE payload does not match the chosen group", undefined, now); return; }
    if (!p.nonce || p.nonce.length < 16 || p.nonce.length > 256) { this.fail("IKE_SA_INIT failed: missing or bad nonce", undefined, now); return; }
    if (!msg.rspi.some((x) => x)) { this.fail("IKE_SA_INIT failed: responder SPI is zero", undefined, now); return; }
    const shared = this.ke!.compute(p.ke.data);
    if (!shared) { this.fail("IKE_SA_INIT failed: invalid KE value from the responder", undefined, now); return; }
    this.spir = msg.rspi.slice();
    this.nr = p.nonce.slice();
    this.suite = chosen;
    this.fragOk = this.cfg.fragmentation !== false && notifyOf(p, N.FRAG_SUP) !== undefined;
    this.initResponse = this.lastRaw.slice();
    this.deriveKeys(shared);
    shared.fill(0);
    this.ke!.destroy();
    this.ke = null;
    this.detectNat(p, this.remote);
    this.maybeSwitchPort();
    this.myMid = 1;
    this.sendAuth(now);
  }

  /** The response being processed (the IKE_SA_INIT response is signed by AUTH). */
  private lastRaw: Uint8Array = new Uint8Array(0);

  private maybeSwitchPort(): void {
    if (this.natt || !(this.localBehindNat || this.remoteBehindNat || this.cfg.forceEncap)) return;
    this.natt = true;
    if (this.remote.port === 500) this.remote = { ...this.remote, port: 4500 };
    this.local = { ...this.local, port: 4500 };
    this.out.push({ type: "switch-port", localPort: 4500, remote: { ...this.remote } });
  }

  private deriveKeys(shared: Uint8Array, rekey?: { skd: Uint8Array; prf: number }): void {
    const kl = keyLengths(this.suite!);
    const k = deriveIkeKeys({ prf: this.suite!.prf!, encrKeyLength: kl.encr, integKeyLength: kl.integ, ni: this.ni, nr: this.nr, shared, spii: this.spii, spir: this.spir, rekey });
    k.skeyseed.fill(0);
    this.keys = { skd: k.skd, skai: k.skai, skar: k.skar, skei: k.skei, sker: k.sker, skpi: k.skpi, skpr: k.skpr };
    this.ivCounter = 0n;
    if (this.cfg.keylog) {
      const alg = skAlgorithms(this.suite!);
      this.out.push({
        type: "keylog", ispi: this.spii.slice(), rspi: this.spir.slice(), skei: k.skei.slice(), sker: k.sker.slice(), skai: k.skai.slice(), skar: k.skar.slice(),
        encr: alg.encr, integ: alg.integ, encrKeyBits: this.suite!.keyLength ?? 256,
      });
    }
  }

  // ---------------------------------------------------------------- IKE_AUTH (initiator)

  /** CERTREQ naming our trust anchors for the peer (asks it to send its certificate). */
  private certreq(): PayloadSpec[] {
    return this.cfg.peerCa?.length ? [{ type: "certreq", encoding: 4, data: certreqData(this.cfg.peerCa) }] : [];
  }

  /** Our ID, [CERT...], AUTH payloads. */
  private myIdAuth(): PayloadSpec[] {
    const k = this.keys!;
    const octets = this.initiator
      ? signedOctets(this.suite!.prf!, this.initRequest, this.nr, k.skpi, idBody(this.localId))
      : signedOctets(this.suite!.prf!, this.initResponse, this.ni, k.skpr, idBody(this.localId));
    const out: PayloadSpec[] = [{ type: this.initiator ? "idi" : "idr", idType: this.localId.idType, data: this.localId.data }];
    for (const c of this.certs) out.push({ type: "cert", encoding: 4, data: c });
    if (this.privateKey) out.push({ type: "auth", method: 14, data: signAuth(this.privateKey, octets) });
    else out.push({ type: "auth", method: 2, data: pskAuth(this.suite!.prf!, this.psk, octets) });
    return out;
  }

  /** Check the peer's AUTH; null when it verifies, else the reason. */
  private peerAuthError(id: Identity, idText: string, auth: Extract<Ikev2Payload, { kind: "auth" }>, certs: Uint8Array[]): string | null {
    const k = this.keys!;
    const octets = this.initiator
      ? signedOctets(this.suite!.prf!, this.initResponse, this.ni, k.skpr, idBody(id))
      : signedOctets(this.suite!.prf!, this.initRequest, this.nr, k.skpi, idBody(id));
    if (auth.method === 2) {
      if (!this.psk.length) return `peer "${idText}" uses a pre-shared key but none is configured`;
      return ctEqual(pskAuth(this.suite!.prf!, this.psk, octets), auth.data) ? null : `AUTH of "${idText}" (pre-shared key) does not verify: wrong PSK?`;
    }
    let pub: KeyObject;
    if (certs.length && this.cfg.peerCa?.length) {
      const r = checkPeerCertificate(certs[0], certs.slice(1), this.cfg.peerCa, (this.cfg.wallClock ?? Date.now)());
      if ("error" in r) return `certificate of "${idText}" not trusted: ${r.error}`;
      if (!certMatchesIdentity(r.cert, id.idType, id.data, idText)) return `certificate of "${idText}" does not name that identity`;
      pub = r.key;
    } else if (this.cfg.peerPublicKey) pub = loadPublicKey(this.cfg.peerPublicKey);
    else return `peer "${idText}" authenticates with ${auth.methodName} but no CA or public key is configured for it`;
    const err = verifyAuth(pub, auth, octets);
    return err ? `AUTH of "${idText}" (${auth.signatureAlgorithm?.oidName ?? auth.methodName}): ${err}` : null;
  }

  private newSpi(): number {
    for (;;) {
      const s = u32(this.rng(4), 0);
      if (s >= 256 && !this.children.some((c) => c.spiIn === s)) return s;
    }
  }

  private sendAuth(now: number): void {
    this.state = "auth-sent";
    const spi = this.newSpi();
    const firstChild = this.espSuites.map((s) => ({ ...s, ke: undefined }));
    const tsi = this.cfg.requestVirtualIp ? [tsAny(4)] : this.localTs;
    const [idi, ...certAuth] = this.myIdAuth();
    const payloads: PayloadSpec[] = [idi, ...this.certreq(), { type: "notify", notifyType: N.INITIAL_CONTACT }];
    if (this.remoteId) payloads.push({ type: "idr", idType: this.remoteId.idType, data: this.remoteId.data });
    payloads.push(...certAuth);
    if (this.cfg.requestVirtualIp) payloads.push({ type: "cp", cfgType: CP_REQUEST, attributes: [{ type: CP_IP4, value: new Uint8Array(0) }, { type: CP_IP4_DNS, value: new Uint8Array(0) }] });
    payloads.push(
      { type: "sa", proposals: dedupe(firstChild).map((s, i) => suiteToProposal(s, u32Bytes(spi), i + 1)) },
      { type: "tsi", selectors: tsi },
      { type: "tsr", selectors: this.remoteTs },
    );
    const data = this.build(EX_AUTH, false, 1, payloads);
    this.outstanding = { mid: 1, exchange: EX_AUTH, data, tries: 0, nextAt: now + this.timeout(0), onResponse: (m, p, t) => this.initiatorAuthResponse(m, p, t, spi, tsi) };
    this.send(data, now);
  }

  private initiatorAuthResponse(_msg: Ikev2Message, payloads: Ikev2Payload[], now: number, spiIn: number, tsiOffered: TrafficSelector[]): void {
    this.myMid = 2;
    const p = parse(payloads);
    if (!p.auth || !p.idr) {
      const err = firstError(p);
      const why = err?.notifyType === N.AUTHENTICATION_FAILED
        ? "peer rejected our authentication (AUTHENTICATION_FAILED): check the PSK and identities"
        : err ? `peer refused IKE_AUTH with ${err.notifyName}` : "IKE_AUTH response without IDr/AUTH";
      this.fail(`IKE_AUTH failed: ${why}`, err?.notifyType, now);
      return;
    }
    const id: Identity = { idType: p.idr.idType, data: p.idr.data.slice() };
    if (this.remoteId && !identityMatches(this.remoteId, id)) {
      this.authFailedInformational(now);
      this.fail(`IKE_AUTH failed: peer identity "${p.idr.text}" is not the configured "${this.cfg.remoteId}"`, N.AUTHENTICATION_FAILED, now);
      return;
    }
    const authErr = this.peerAuthError(id, p.idr.text, p.auth, p.certs);
    if (authErr) {
      this.authFailedInformational(now);
      this.fail(`IKE_AUTH failed: ${authErr}`, N.AUTHENTICATION_FAILED, now);
      return;
    }
    this.state = "established";
    this.out.push({ type: "established", localId: this.cfg.localId, remoteId: p.idr.text, proposal: suiteName(this.suite!), natt: this.natt });
    this.log("info", `IKE SA established with ${p.idr.text} (${suiteName(this.suite!)})`);
    // CP reply
    if (this.cfg.requestVirtualIp) {
      const a = p.cp?.cfgType === CP_REPLY ? p.cp.attributes.find((x) => x.type === CP_IP4 && x.value.length === 4) : undefined;
      if (a) {
        this.virtualIp = a.value.slice();
        const dns = p.cp!.attributes.filter((x) => x.type === CP_IP4_DNS && x.value.length === 4).map((x) => ipv4Text(x.value));
        this.out.push({ type: "virtual-ip", address: ipv4Text(a.value), dns });
      } else {
        this.out.push({ type: "failed", scope: "child", reason: "no virtual IP in the IKE_AUTH response", notify: firstError(p)?.notifyName });
        this.log("error", "IKE_AUTH: we asked for a virtual IP and got none");
      }
    }
    this.ni2 = this.ni;
    this.nr2 = this.nr;
    this.exchangeInitiator = true;
    this.finishChild(p, spiIn, this.espSuites.map((s) => ({ ...s, ke: undefined })), tsiOffered, this.remoteTs, undefined, undefined, now);
  }

  /** Initiator side of a Child SA negotiation (IKE_AUTH or CREATE_CHILD_SA response). */
  private finishChild(
    p: Parsed, spiIn: number, offered: Suite[], tsiOffered: TrafficSelector[], tsrOffered: TrafficSelector[],
    ke: KeyExchange | undefined, rekeyOf: Child | undefined, now: number,
  ): boolean {
    const name = this.cfg.childName ?? "child";
    const err = firstError(p);
    if (err || !p.sa) {
      const what = err?.notifyType === N.NO_PROPOSAL_CHOSEN ? `no common ESP proposal (NO_PROPOSAL_CHOSEN); we offered ${offered.map(suiteName).join(", ")}`
        : err?.notifyType === N.TS_UNACCEPTABLE ? `peer does not accept our traffic selectors ${tsiOffered.map(tsText).join(",")} === ${tsrOffered.map(tsText).join(",")} (TS_UNACCEPTABLE)`
        : err ? `peer refused it with ${err.notifyName}` : "response carries no SA payload";
      this.log("error", `Child SA ${name} not established: ${what}`);
      this.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: ${what}`, notify: err?.notifyName });
      return false;
    }
    const chosen = p.sa.proposals.length === 1 ? acceptChosen(p.sa.proposals[0], offered) : null;
    const spiOut = chosen ? spiNum(p.sa.proposals[0].spi) : -1;
    const tsi = p.tsi ?? [], tsr = p.tsr ?? [];
    let why = "";
    if (!chosen) why = "responder chose an ESP proposal we did not offer";
    else if (spiOut < 0) why = "bad ESP SPI in the response";
    else if (!tsSubset(tsi, tsiOffered) || !tsSubset(tsr, tsrOffered)) why = `responder's traffic selectors ${tsi.map(tsText).join(",")} === ${tsr.map(tsText).join(",")} are not within ours`;
    let shared: Uint8Array | undefined;
    if (!why && chosen!.ke !== undefined) {
      if (!ke || !p.ke || p.ke.group !== chosen!.ke) why = "PFS key exchange missing or of the wrong group";
      else {
        const s = ke.compute(p.ke.data);
        if (!s) why = "invalid KE value in the response";
        else shared = s;
      }
    }
    ke?.destroy();
    if (why) {
      this.log("error", `Child SA ${name} not established: ${why}`);
      this.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: ${why}` });
      return false;
    }
    const suite = chosen!;
    this.installChild(suite, spiIn, spiOut, tsi, tsr, shared, rekeyOf);
    shared?.fill(0);
    void now;
    return true;
  }

  private installChild(suite: Suite, spiIn: number, spiOut: number, tsLocal: TrafficSelector[], tsRemote: TrafficSelector[], shared: Uint8Array | undefined, rekeyOf: Child | undefined): Child {
    const kl = keyLengths(suite);
    const km = childKeymat(this.suite!.prf!, this.keys!.skd, this.ni2, this.nr2, kl.encr, 0, shared);
    // initiator of this exchange: i2r is outbound
    const weInitiated = this.exchangeInitiator;
    const child: Child = { spiIn, spiOut, suite, tsLocal, tsRemote };
    this.children.push(child);
    const info: ChildSaInfo = {
      spiIn, spiOut, cipher: espCipher(suite), keyIn: weInitiated ? km.r2i : km.i2r, keyOut: weInitiated ? km.i2r : km.r2i,
      tsLocal, tsRemote, esn: !!suite.esn,
    };
    if (rekeyOf) info.rekeyOf = { spiIn: rekeyOf.spiIn, spiOut: rekeyOf.spiOut };
    this.out.push({ type: "install-child", child: info });
    this.lastInstalled = child;
    this.log("info", `Child SA ${this.cfg.childName ?? "child"} ${rekeyOf ? "rekeyed" : "established"}: SPIs ${hex32(spiIn)}_i ${hex32(spiOut)}_o, ${suiteName(suite)}, TS ${tsLocal.map(tsText).join(",")} === ${tsRemote.map(tsText).join(",")}`);
    return child;
  }

  private lastInstalled: Child | null = null;

  /** Nonces of the exchange that creates the Child SA (set per exchange). */
  private ni2: Uint8Array = new Uint8Array(0);
  private nr2: Uint8Array = new Uint8Array(0);
  private exchangeInitiator = true;

  private authFailedInformational(now: number): void {
    // strongSwan sends an INFORMATIONAL with AUTHENTICATION_FAILED; not retransmitted.
    const data = this.build(EX_INFO, false, this.myMid, [{ type: "notify", notifyType: N.AUTHENTICATION_FAILED }]);
    this.send(data, now);
  }

  // ---------------------------------------------------------------- responder: IKE_SA_INIT

  private cookieFor(ni: Uint8Array, from: Endpoint, spii: Uint8Array): Uint8Array {
    const secret = this.cfg.cookieSecret!;
    return concat(new Uint8Array([0, 0, 0, 1]), sha256Bytes(concat(ni, ipBytes(from.address), spii, secret)));
  }

  private responderInit(msg: Ikev2Message, datagram: Uint8Array, from: Endpoint, an: Anomaly[], now: number): void {
    if (msg.messageId !== 0 || msg.rspi.some((x) => x)) { this.log("debug", "dropped: IKE_SA_INIT request with a responder SPI or message ID"); return; }
    if (an.length) this.log("debug", `IKE_SA_INIT anomalies: ${an.map((a) => a.reason).join("; ")}`);
    const p = parse(msg.payloads);
    const stateless = (payloads: PayloadSpec[]) => {
      const h: HeaderSpec = { ispi: msg.ispi, rspi: NO_SPI, exchange: EX_INIT, initiator: false, response: true, messageId: 0 };
      this.out.push({ type: "send", data: encodeIkev2Message(h, payloads), to: { ...from }, natt: false });
    };
    if (!p.sa || !p.ke || !p.nonce) { stateless([{ type: "notify", notifyType: N.INVALID_SYNTAX }]); this.log("warn", "IKE_SA_INIT without SA, KE or Nonce"); return; }
    if (this.cfg.cookieSecret) {
      const want = this.cookieFor(p.nonce, from, msg.ispi);
      const got = notifyOf(p, N.COOKIE);
      if (!got || !ctEqual(got.data, want)) {
        stateless([{ type: "notify", notifyType: N.COOKIE, data: want }]);
        this.log("info", `IKE_SA_INIT from ${from.address}: demanding a COOKIE`);
        return;
      }
    }
    const sel = selectProposal(p.sa.proposals, this.ikeSuites);
    if (!sel) {
      const recv = p.sa.proposals.map(proposalText).join(", ");
      this.remote = { ...from };
      this.spii = msg.ispi.slice();
      stateless([{ type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN }]);
      this.fail(`IKE_SA_INIT from ${from.address}: no acceptable proposal (NO_PROPOSAL_CHOSEN); received ${recv}; configured ${this.ikeSuites.map(suiteName).join(", ")}`, N.NO_PROPOSAL_CHOSEN, now);
      return;
    }
    if (p.ke.group !== sel.suite.ke) {
      const d = new Uint8Array([sel.suite.ke! >> 8, sel.suite.ke! & 0xff]);
      stateless([{ type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: d }]);
      this.log("info", `IKE_SA_INIT from ${from.address}: KE group ${p.ke.group}, asking for group ${sel.suite.ke} (INVALID_KE_PAYLOAD)`);
      return;
    }
    if (p.nonce.length < 16 || p.nonce.length > 256) { stateless([{ type: "notify", notifyType: N.INVALID_SYNTAX }]); this.log("warn", "IKE_SA_INIT: bad nonce length"); return; }
    const ke = newKeyExchange(sel.suite.ke!, this.rng)!;
    const shared = ke.compute(p.ke.data);
    if (!shared) {
      ke.destroy();
      stateless([{ type: "notify", notifyType: N.INVALID_SYNTAX }]);
      this.log("warn", `IKE_SA_INIT from ${from.address}: invalid KE value`);
      return;
    }
    this.remote = { ...from };
    this.spii = msg.ispi.slice();
    this.spir = this.rng(8);
    this.ni = p.nonce.slice();
    this.nr = this.rng(32);
    this.suite = sel.suite;
    this.initRequest = datagram.slice(0, msg.length);
    this.detectNat(p, from);
    const reply: PayloadSpec[] = [
      { type: "sa", proposals: [suiteToProposal(sel.suite, new Uint8Array(0), sel.proposal.num)] },
      { type: "ke", group: ke.group, data: ke.publicValue },
      { type: "nonce", nonce: this.nr },
      ...this.natdPayloads(this.spir),
      ...this.certreq(),
      SIG_HASH,
    ];
    this.fragOk = this.cfg.fragmentation !== false && notifyOf(p, N.FRAG_SUP) !== undefined;
    if (this.fragOk) reply.push(FRAG_SUP);
    this.deriveKeys(shared);
    shared.fill(0);
    ke.destroy();
    const h: HeaderSpec = { ispi: this.spii, rspi: this.spir, exchange: EX_INIT, initiator: false, response: true, messageId: 0 };
    const data = encodeIkev2Message(h, reply);
    this.initResponse = data;
    this.cachedResponse = { mid: 0, request: this.initRequest, data: [data] };
    this.peerMid = 1;
    this.state = "init-done";
    this.lastHeard = now;
    this.send([data], now);
    if (this.localBehindNat || this.remoteBehindNat) this.natt = true; // the peer switches to 4500 for IKE_AUTH
  }

  // ---------------------------------------------------------------- responder: requests on an SA

  private handleRequest(msg: Ikev2Message, datagram: Uint8Array, payloads: Ikev2Payload[], now: number): void {
    const p = parse(payloads);
    switch (msg.exchange) {
      case EX_AUTH:
        if (this.state !== "init-done" || this.initiator) break;
        this.responderAuth(msg, datagram, p, now);
        return;
      case EX_CHILD:
        if (this.state !== "established") break;
        this.responderChild(msg, datagram, p, now);
        return;
      case EX_INFO:
        this.responderInfo(msg, datagram, p, now);
        return;
    }
    this.log("warn", `dropped: ${msg.exchangeName} request in state ${this.state}`);
  }

  private responderAuth(msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
    if (!p.idi || !p.auth) {
      this.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now);
      this.fail("IKE_AUTH request without IDi/AUTH", N.INVALID_SYNTAX, now);
      return;
    }
    const id: Identity = { idType: p.idi.idType, data: p.idi.data.slice() };
    const reason = this.remoteId && !identityMatches(this.remoteId, id)
      ? `peer identity "${p.idi.text}" is not the configured "${this.cfg.remoteId}"`
      : this.peerAuthError(id, p.idi.text, p.auth, p.certs);
    if (reason) {
      this.respond(msg, datagram, [{ type: "notify", notifyType: N.AUTHENTICATION_FAILED }], now);
      this.fail(`IKE_AUTH failed: ${reason}; sent AUTHENTICATION_FAILED`, N.AUTHENTICATION_FAILED, now);
      return;
    }
    const reply: PayloadSpec[] = this.myIdAuth();
    // Child SA (errors here do not fail the IKE SA)
    let remoteTs = this.remoteTs;
    let vipFailure = false;
    if (p.cp && p.cp.cfgType === CP_REQUEST && p.cp.attributes.some((a) => a.type === CP_IP4) && this.cfg.virtualIpPool) {
      const vip = this.allocateVip(p.idi.text);
      if (vip) {
        this.virtualIp = vip;
        this.vipFromPool = true;
        remoteTs = [tsHost(vip)];
        const attrs = [{ type: CP_IP4, value: vip }, ...(this.cfg.dns ?? []).map((d) => ({ type: CP_IP4_DNS, value: ipBytes(d) }))];
        reply.push({ type: "cp", cfgType: CP_REPLY, attributes: attrs });
      } else {
        vipFailure = true;
        this.log("error", `no virtual IP left for "${p.idi.text}" (INTERNAL_ADDRESS_FAILURE)`);
        this.out.push({ type: "failed", scope: "child", reason: "virtual IP pool exhausted", notify: "INTERNAL_ADDRESS_FAILURE" });
      }
    }
    this.ni2 = this.ni;
    this.nr2 = this.nr;
    const child: ReturnType<IkeSa["negotiateChildResponder"]> = vipFailure
      ? { error: { type: "notify", notifyType: N.INTERNAL_ADDRESS_FAILURE } }
      : this.negotiateChildResponder(p, this.espSuites.map((s) => ({ ...s, ke: undefined })), remoteTs, true);
    this.state = "established";
    this.out.push({ type: "established", localId: this.cfg.localId, remoteId: p.idi.text, proposal: suiteName(this.suite!), natt: this.natt });
    this.log("info", `IKE SA established with ${p.idi.text} (${suiteName(this.suite!)})`);
    if ("error" in child) reply.push(child.error);
    else reply.push(...child.payloads);
    this.respond(msg, datagram, reply, now);
    if (!("error" in child)) child.install();
  }

  private allocateVip(peer: string): Uint8Array | null {
    const pool = this.cfg.virtualIpPool!;
    const a = Array.isArray(pool) ? pool[0] ?? null : pool.allocate(peer);
    return a ? ipBytes(a) : null;
  }

  /**
   * Responder: select an ESP suite and narrow selectors. Returns the reply payloads
   * (SA, [KE], TSi, TSr — Nr is added by the caller for CREATE_CHILD_SA) and an
   * install callback, or an error notify.
   */
  private negotiateChildResponder(
    p: Parsed, suites: Suite[], remoteTs: TrafficSelector[], ignoreKe: boolean, rekeyOf?: Child,
  ): { payloads: PayloadSpec[]; install: () => void } | { error: PayloadSpec } {
    const name = this.cfg.childName ?? "child";
    const recvd = (p.sa?.proposals ?? []).filter((x) => x.protocol === 3).map((x) => (ignoreKe ? stripKe(x) : x));
    const sel = selectProposal(recvd, suites);
    if (!sel) {
      this.log("error", `Child SA ${name}: no acceptable ESP proposal (NO_PROPOSAL_CHOSEN); received ${recvd.map(proposalText).join(", ") || "none"}; configured ${suites.map(suiteName).join(", ")}`);
      this.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: no acceptable ESP proposal`, notify: "NO_PROPOSAL_CHOSEN" });
      return { error: { type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN } };
    }
    const spiOut = spiNum(sel.proposal.spi);
    if (spiOut < 0) return { error: { type: "notify", notifyType: N.INVALID_SYNTAX } };
    const tsi = tsNarrow(p.tsi ?? [], remoteTs), tsr = tsNarrow(p.tsr ?? [], this.localTs);
    if (!tsi.length || !tsr.length) {
      this.log("error", `Child SA ${name}: traffic selectors ${(p.tsi ?? []).map(tsText).join(",")} === ${(p.tsr ?? []).map(tsText).join(",")} do not match ours ${remoteTs.map(tsText).join(",")} === ${this.localTs.map(tsText).join(",")} (TS_UNACCEPTABLE)`);
      this.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: traffic selectors unacceptable`, notify: "TS_UNACCEPTABLE" });
      return { error: { type: "notify", notifyType: N.TS_UNACCEPTABLE } };
    }
    let shared: Uint8Array | undefined;
    const out: PayloadSpec[] = [];
    const spiIn = this.newSpi();
    out.push({ type: "sa", proposals: [suiteToProposal(sel.suite, u32Bytes(spiIn), sel.proposal.num)] });
    if (sel.suite.ke !== undefined) {
      if (!p.ke || p.ke.group !== sel.suite.ke) {
        this.log("info", `Child SA ${name}: asking for PFS group ${sel.suite.ke} (INVALID_KE_PAYLOAD)`);
        return { error: { type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: new Uint8Array([sel.suite.ke >> 8, sel.suite.ke & 0xff]) } };
      }
      const ke = newKeyExchange(sel.suite.ke, this.rng)!;
      const s = ke.compute(p.ke.data);
      if (!s) { ke.destroy(); return { error: { type: "notify", notifyType: N.INVALID_SYNTAX } }; }
      shared = s;
      out.push({ type: "ke", group: ke.group, data: ke.publicValue });
      ke.destroy();
    }
    out.push({ type: "tsi", selectors: tsi }, { type: "tsr", selectors: tsr });
    return {
      payloads: out,
      install: () => {
        this.exchangeInitiator = false;
        this.installChild(sel.suite, spiIn, spiOut, tsr, tsi, shared, rekeyOf);
        shared?.fill(0);
      },
    };
  }

  private responderChild(msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
    if (!p.nonce || !p.sa) { this.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now); return; }
    if (p.sa.proposals.some((x) => x.protocol === 1)) { this.responderRekeyIke(msg, datagram, p, now); return; }
    let rekeyOf: Child | undefined;
    const rk = notifyOf(p, N.REKEY_SA);
    if (rk) {
      const spi = spiNum(rk.spi);
      rekeyOf = this.children.find((c) => c.spiOut === spi);
      if (!rekeyOf) {
        this.log("warn", `CREATE_CHILD_SA: rekey of unknown Child SA ${hex32(spi)} (CHILD_SA_NOT_FOUND)`);
        this.respond(msg, datagram, [{ type: "notify", notifyType: N.CHILD_SA_NOT_FOUND, protocol: 3, spi: rk.spi.slice() }], now);
        return;
      }
    }
    if (rekeyOf?.deleting) {
      // RFC 7296 §2.25.1: we are closing it
      this.log("info", `CREATE_CHILD_SA: peer rekeys Child SA ${hex32(rekeyOf.spiIn)}_i that we are deleting (TEMPORARY_FAILURE)`);
      this.respond(msg, datagram, [{ type: "notify", notifyType: N.TEMPORARY_FAILURE }], now);
      return;
    }
    this.ni2 = p.nonce.slice();
    this.nr2 = this.rng(32);
    const res = this.negotiateChildResponder(p, this.espSuites, this.virtualIp ? [tsHost(this.virtualIp)] : this.remoteTs, false, rekeyOf);
    if ("error" in res) { this.respond(msg, datagram, [res.error], now); return; }
    const [sa, ...rest] = res.payloads;
    this.respond(msg, datagram, [sa, { type: "nonce", nonce: this.nr2 }, ...rest], now);
    res.install();
    if (rekeyOf) {
      rekeyOf.retiring = true;
      rekeyOf.rekeyedByPeer = { child: this.lastInstalled!, nonces: [this.ni2, this.nr2] };
      if (rekeyOf.ourRekeyNonce) this.log("info", `rekey collision on Child SA ${hex32(rekeyOf.spiIn)}_i`);
    }
  }

  private responderInfo(msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
    const reply: PayloadSpec[] = [];
    let closeIke = false;
    const removed: Child[] = [];
    for (const d of p.deletes) {
      if (d.protocol === 1) closeIke = true;
      else if (d.protocol === 3) {
        const mine: Uint8Array[] = [];
        for (const s of d.spis) {
          const c = this.children.find((x) => x.spiOut === spiNum(s));
          if (c) { mine.push(u32Bytes(c.spiIn)); removed.push(c); }
        }
        if (mine.length) reply.push({ type: "delete", protocol: 3, spiSize: 4, spis: mine });
      }
    }
    const err = firstError(p);
    if (err?.notifyType === N.AUTHENTICATION_FAILED) {
      this.respond(msg, datagram, [], now);
      this.fail("peer rejected our authentication (AUTHENTICATION_FAILED): check the PSK, keys and identities", N.AUTHENTICATION_FAILED, now);
      return;
    }
    if (err && this.state !== "established") {
      this.respond(msg, datagram, [], now);
      this.fail(`peer reported ${err.notifyName}`, err.notifyType, now);
      return;
    }
    this.respond(msg, datagram, closeIke ? [] : reply, now);
    if (closeIke && this.pendingIkeRekey) {
      this.adoptIkeRekey();
      return;
    }
    if (closeIke) {
      this.log("info", "peer deleted the IKE SA");
      this.die("deleted by peer");
      return;
    }
    for (const c of removed) {
      this.children = this.children.filter((x) => x !== c);
      this.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason: "deleted by peer" });
      this.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o deleted by peer`);
    }
    if (err) this.log("warn", `peer reported ${err.notifyName} in an INFORMATIONAL`);
  }

  // ---------------------------------------------------------------- IKE SA rekey

  private responderRekeyIke(msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
    const recvd = p.sa!.proposals.filter((x) => x.protocol === 1);
    const sel = selectProposal(recvd, this.ikeSuites);
    if (!sel || sel.proposal.spi.length !== 8) { this.respond(msg, datagram, [{ type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN }], now); this.log("error", "IKE SA rekey: no acceptable proposal (NO_PROPOSAL_CHOSEN)"); return; }
    if (!p.ke || p.ke.group !== sel.suite.ke) {
      this.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: new Uint8Array([sel.suite.ke! >> 8, sel.suite.ke! & 0xff]) }], now);
      return;
    }
    const ke = newKeyExchange(sel.suite.ke!, this.rng)!;
    const shared = ke.compute(p.ke.data);
    if (!shared) { ke.destroy(); this.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now); return; }
    const newSpir = this.rng(8);
    const nr = this.rng(32);
    this.respond(msg, datagram, [
      { type: "sa", proposals: [suiteToProposal(sel.suite, newSpir, sel.proposal.num)] },
      { type: "nonce", nonce: nr },
      { type: "ke", group: ke.group, data: ke.publicValue },
    ], now);
    ke.destroy();
    // The peer (rekey initiator) deletes the old SA over the old keys next; we switch when that Delete arrives.
    this.pendingIkeRekey = { suite: sel.suite, spii: sel.proposal.spi.slice(), spir: newSpir, ni: p.nonce!.slice(), nr, shared, initiator: false };
  }

  private pendingIkeRekey: { suite: Suite; spii: Uint8Array; spir: Uint8Array; ni: Uint8Array; nr: Uint8Array; shared: Uint8Array; initiator: boolean } | null = null;

  /** Switch this object over to the rekeyed IKE SA (old keys zeroed, message IDs restart). */
  private adoptIkeRekey(): void {
    const r = this.pendingIkeRekey!;
    this.pendingIkeRekey = null;
    const old = { skd: this.keys!.skd.slice(), prf: this.suite!.prf! };
    wipeIkeKeys(this.keys!);
    this.isInitiator = r.initiator;
    this.spii = r.spii;
    this.spir = r.spir;
    this.ni = r.ni;
    this.nr = r.nr;
    this.suite = r.suite;
    this.deriveKeys(r.shared, old);
    old.skd.fill(0);
    r.shared.fill(0);
    this.myMid = 0;
    this.peerMid = 0;
    this.cachedResponse = null;
    this.out.push({ type: "ike-rekeyed", ispi: this.spii.slice(), rspi: this.spir.slice() });
    this.log("info", `IKE SA rekeyed (${suiteName(r.suite)})`);
  }

  /** Rekey the IKE SA (RFC 7296 §2.18): CREATE_CHILD_SA, then Delete of the old SA, then this object carries the new one. */
  rekeyIke(now: number = this.clock): Action[] {
    if (this.state !== "established") return this.flush();
    this.request(() => {
      const spii = this.rng(8), ni = this.rng(32);
      const suite0 = this.suite!;
      const ke = newKeyExchange(suite0.ke!, this.rng)!;
      const offered = [suite0, ...this.ikeSuites.filter((s) => s !== suite0 && s.ke === suite0.ke)];
      return {
        exchange: EX_CHILD,
        payloads: [
          { type: "sa", proposals: offered.map((s, i) => suiteToProposal(s, spii, i + 1)) },
          { type: "nonce", nonce: ni },
          { type: "ke", group: ke.group, data: ke.publicValue },
        ],
        onResponse: (_m, pl, t) => {
          const p = parse(pl);
          const chosen = p.sa?.proposals.length === 1 ? acceptChosen(p.sa.proposals[0], offered) : null;
          const shared = chosen && p.ke?.group === ke.group && p.nonce && p.sa!.proposals[0].spi.length === 8 ? ke.compute(p.ke.data) : null;
          ke.destroy();
          if (!chosen || !shared) {
            this.log("error", `IKE SA rekey failed: ${firstError(p)?.notifyName ?? "bad response"}`);
            return;
          }
          this.pendingIkeRekey = { suite: chosen, spii, spir: p.sa!.proposals[0].spi.slice(), ni, nr: p.nonce!.slice(), shared, initiator: true };
          this.queue.unshift(() => ({
            exchange: EX_INFO,
            payloads: [{ type: "delete", protocol: 1, spiSize: 0, spis: [] }],
            onResponse: () => this.adoptIkeRekey(),
          }));
          void t;
        },
      };
    }, now);
    return this.flush();
  }

  // ---------------------------------------------------------------- initiator-side API

  /** Create an additional Child SA with these selectors (default: the configured ones). */
  initiateChild(ts: { local?: string[]; remote?: string[] } = {}, now: number = this.clock): Action[] {
    const tsLocal = ts.local, tsRemote = ts.remote;
    if (this.state !== "established") { this.log("warn", "initiateChild: IKE SA not established"); return this.flush(); }
    const tsi = tsLocal ? tsLocal.map(tsFromText) : this.virtualIp ? [tsHost(this.virtualIp)] : this.localTs;
    const tsr = tsRemote ? tsRemote.map(tsFromText) : this.remoteTs;
    this.request(this.childRequest(tsi, tsr, undefined), now);
    return this.flush();
  }

  /** Rekey the Child SA whose inbound SPI is `spiIn` (REKEY_SA); the old one is deleted once the new one is up. */
  rekeyChild(spiIn: number, now: number = this.clock): Action[] {
    const old = this.children.find((c) => c.spiIn === spiIn && !c.retiring);
    if (this.state !== "established" || !old) { this.log("warn", `rekeyChild: no Child SA ${hex32(spiIn)}`); return this.flush(); }
    old.retiring = true;
    this.request(this.childRequest(old.tsLocal, old.tsRemote, old), now);
    return this.flush();
  }

  private childRequest(tsi: TrafficSelector[], tsr: TrafficSelector[], old: Child | undefined, group?: number, tries = 0): Pending {
    return () => {
      if (old && (!this.children.includes(old) || old.rekeyedByPeer || old.deleting)) {
        if (old) old.retiring = !!(old.rekeyedByPeer || old.deleting);
        return null; // the peer rekeyed it meanwhile, or it is being deleted
      }
      const spi = this.newSpi();
      const ni = this.rng(32);
      if (old) old.ourRekeyNonce = ni;
      const suites = this.espSuites.map((s) => (group !== undefined && s.ke !== undefined ? { ...s, ke: group } : s));
      const g = suites.find((s) => s.ke !== undefined)?.ke;
      const ke = g !== undefined ? newKeyExchange(g, this.rng) ?? undefined : undefined;
      const payloads: PayloadSpec[] = [];
      if (old) payloads.push({ type: "notify", protocol: 3, spi: u32Bytes(old.spiIn), notifyType: N.REKEY_SA });
      payloads.push({ type: "sa", proposals: dedupe(suites).map((s, i) => suiteToProposal(s, u32Bytes(spi), i + 1)) }, { type: "nonce", nonce: ni });
      if (ke) payloads.push({ type: "ke", group: ke.group, data: ke.publicValue });
      payloads.push({ type: "tsi", selectors: tsi }, { type: "tsr", selectors: tsr });
      return {
        exchange: EX_CHILD,
        payloads,
        onResponse: (_m, pl, now) => {
          const p = parse(pl);
          const inv = notifyOf(p, N.INVALID_KE_PAYLOAD);
          if (inv && inv.data.length === 2 && tries < 2) {
            ke?.destroy();
            const want = (inv.data[0] << 8) | inv.data[1];
            this.log("info", `CREATE_CHILD_SA: peer wants PFS group ${want}; retrying`);
            this.queue.unshift(this.childRequest(tsi, tsr, old, want, tries + 1));
            return;
          }
          const err = firstError(p);
          if (old && (err?.notifyType === N.TEMPORARY_FAILURE || err?.notifyType === N.CHILD_SA_NOT_FOUND)) {
            ke?.destroy();
            old.ourRekeyNonce = undefined;
            this.log("info", `rekey of Child SA ${hex32(old.spiIn)}_i refused with ${err.notifyName}: the peer is rekeying or deleting it`);
            return;
          }
          this.ni2 = ni;
          this.nr2 = p.nonce ?? new Uint8Array(0);
          this.exchangeInitiator = true;
          const ok = !!p.nonce && this.finishChild(p, spi, suites, tsi, tsr, ke, old, now);
          if (old) old.ourRekeyNonce = undefined;
          if (!ok) { if (old && !old.rekeyedByPeer && !old.deleting && this.children.includes(old)) old.retiring = false; return; }
          if (!old) return;
          const mine = this.lastInstalled!;
          if (old.rekeyedByPeer) {
            // Collision (RFC 7296 §2.8.1): the exchange holding the lowest of the four nonces made the
            // redundant SA, and its initiator deletes that SA; the winner's initiator deletes the old one.
            const lowestIsOurs = lowestNonceIn([ni, this.nr2], old.rekeyedByPeer.nonces);
            this.log("info", `rekey collision on Child SA ${hex32(old.spiIn)}_i: ${lowestIsOurs ? "ours is redundant, deleting it" : "ours wins, deleting the old SA"}`);
            this.queue.unshift(this.deleteRequest(lowestIsOurs ? mine : old));
            return;
          }
          this.queue.unshift(this.deleteRequest(old));
        },
      };
    };
  }

  private deleteRequest(c: Child): Pending {
    return () => {
      if (!this.children.includes(c)) return null;
      c.retiring = true;
      c.deleting = true;
      return {
        exchange: EX_INFO,
        payloads: [{ type: "delete", protocol: 3, spiSize: 4, spis: [u32Bytes(c.spiIn)] }],
        onResponse: () => {
          if (!this.children.includes(c)) return;
          this.children = this.children.filter((x) => x !== c);
          this.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason: "deleted" });
          this.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o deleted`);
        },
      };
    };
  }

  /** Delete the Child SA whose inbound SPI is `spiIn`. */
  deleteChild(spiIn: number, now: number = this.clock): Action[] {
    const c = this.children.find((x) => x.spiIn === spiIn);
    if (!c || this.state !== "established") { this.log("warn", `deleteChild: no Child SA ${hex32(spiIn)}`); return this.flush(); }
    this.request(this.deleteRequest(c), now);
    return this.flush();
  }

  /** Delete the IKE SA (and with it every Child SA). */
  delete(now: number = this.clock): Action[] {
    if (this.state === "dead") return this.flush();
    if (this.state !== "established") { this.die("deleted locally"); return this.flush(); }
    this.state = "deleting";
    this.queue = [];
    this.request(() => ({
      exchange: EX_INFO,
      payloads: [{ type: "delete", protocol: 1, spiSize: 0, spis: [] }],
      onResponse: () => this.die("deleted"),
    }), now);
    return this.flush();
  }

  /** Send a liveness check (empty INFORMATIONAL) now. */
  dpd(now: number = this.clock): Action[] {
    if (this.state === "established") this.request(this.dpdRequest(), now);
    return this.flush();
  }

  private dpdRequest(): Pending {
    return () => ({ exchange: EX_INFO, payloads: [], onResponse: () => this.log("debug", "liveness check answered") });
  }

  /** Timers: retransmissions, liveness checks, NAT keep-alives. Call it every second or so. */
  tick(now: number): Action[] {
    this.clock = now;
    if (this.state === "dead") return this.flush();
    if (this.state === "init-done" && now - this.lastHeard >= (this.cfg.halfOpenTimeout ?? 30000)) {
      this.log("warn", `half-open IKE SA: no IKE_AUTH from ${this.remote.address}:${this.remote.port} within ${this.cfg.halfOpenTimeout ?? 30000} ms`);
      this.die("half-open timeout");
      return this.flush();
    }
    const o = this.outstanding;
    if (o && now >= o.nextAt) {
      const max = this.cfg.retransmitTries ?? 5;
      if (o.tries >= max) {
        const what = o.exchange === EX_INIT ? "IKE_SA_INIT" : o.exchange === EX_AUTH ? "IKE_AUTH" : o.exchange === EX_CHILD ? "CREATE_CHILD_SA" : "INFORMATIONAL";
        if (this.state === "deleting") this.die("deleted (peer did not answer the Delete)");
        else this.fail(`peer ${this.remote.address}:${this.remote.port} is not responding: ${what} request ${o.mid} unanswered after ${max} retransmissions`, undefined, now);
        return this.flush();
      }
      o.tries++;
      o.nextAt = now + this.timeout(o.tries);
      this.log("debug", `retransmit ${o.tries} of request ${o.mid}`);
      this.send(o.data, now);
    }
    if (this.state === "established") {
      const dpd = this.cfg.dpdDelay ?? 30000;
      if (dpd > 0 && !this.outstanding && !this.queue.length && now - this.lastHeard >= dpd) {
        this.lastHeard = now; // one check per interval; a missing answer fails via retransmission
        this.request(this.dpdRequest(), now);
      }
      const ka = this.cfg.natKeepalive ?? 20000;
      if (this.natt && this.localBehindNat && ka > 0 && now - this.lastSent >= ka) {
        this.lastSent = now;
        this.out.push({ type: "nat-keepalive", to: { ...this.remote } });
      }
    }
    return this.flush();
  }
}

/** Compare byte strings as strongSwan does (memcmp of the common prefix, then length). */
function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** True when the lowest of all nonces is one of `ours`. */
function lowestNonceIn(ours: Uint8Array[], theirs: Uint8Array[]): boolean {
  const minOf = (l: Uint8Array[]) => l.reduce((m, x) => (cmpBytes(x, m) < 0 ? x : m));
  return cmpBytes(minOf(ours), minOf(theirs)) < 0;
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function dedupe(list: Suite[]): Suite[] {
  const seen = new Set<string>();
  return list.filter((s) => {
    const k = JSON.stringify(s);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function stripKe(p: Ikev2Proposal): Ikev2Proposal {
  return { ...p, transforms: p.transforms.filter((t) => t.type !== 4) };
}

function proposalText(p: Ikev2Proposal): string {
  return p.transforms.map((t) => t.idName + (t.keyLength ? `_${t.keyLength}` : "")).join("/");
}

