/**
 * IKEv2 SA (RFC 7296), no I/O: {@link IkeSa.receive} consumes one IKE datagram
 * (non-ESP marker already stripped) and returns {@link Action}s; {@link IkeSa.tick}
 * drives retransmissions (exponential backoff), liveness checks and NAT
 * keep-alives. This file holds the dispatch: SPI/flag/message-ID checks,
 * retransmitted requests (cached responses), decryption and RFC 7383 fragment
 * reassembly, peer address tracking; the exchanges live in exchange-init.ts
 * (IKE_SA_INIT, NAT-D), exchange-auth.ts (IKE_AUTH), exchange-child.ts
 * (CREATE_CHILD_SA) and exchange-info.ts (INFORMATIONAL, IKE SA rekey), the
 * state and plumbing in state.ts. Window size 1 both ways.
 *
 * Keys: IKE keys live in the SA state and are zeroed when it dies or is rekeyed.
 * Child SA keys are only handed out in `install-child` actions (never kept).
 * Logs never contain keys; `keylog` actions are emitted only with `keylog: true`.
 * @module
 */
import { responderEap } from "./exchange-eap.ts";
import { eapTlsTick } from "./exchange-eap-tls.ts";
import { invalidSpiRequest } from "./invalid-spi.ts";
import { concat, ctEqual, ipv4Text, ipv6Text, toHex } from "../../../core/bytes.ts";
import type { Anomaly } from "../../../core/anomaly.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message, type Ikev2Payload } from "../message.ts";
import { skOpen } from "../sk-crypto.ts";
import type { Rng } from "./dh.ts";
import { espCipher, suiteName } from "./proposals.ts";
import { tsFromText, tsHost, tsText, type TrafficSelector } from "./ts.ts";
import type { Action, ChildSaStatus, Endpoint, IkeSaConfig, IkeSaPhase, IkeSaStatus } from "./types.ts";
import { defaultRng, SaState } from "./state.ts";
import { EX_AUTH, EX_CHILD, EX_INFO, EX_INIT, N, hex32, parse, requestDigest, sameEndpoint, type State } from "./context.ts";
import { responderInit, startInit } from "./exchange-init.ts";
import { responderAuth } from "./exchange-auth.ts";
import { responderIntermediate } from "./exchange-intermediate.ts";
import { EX_FOLLOWUP_KE, responderFollowup } from "./exchange-followup.ts";
import { EX_INTERMEDIATE, intermediatePending, notePlaintext } from "./intermediate-auth.ts";
import { childRequest, responderChild } from "./exchange-child.ts";
import { deleteChildRequest, deleteIkeRequest, dpdRequest, ikeRekeyRequest, responderInfo } from "./exchange-info.ts";
import { retransmitMax } from "./retransmit.ts";

export type { Action, ChildSaInfo, ChildSaStatus, Endpoint, IkeSaConfig, IkeSaPhase, IkeSaStatus } from "./types.ts";
export type { State as IkeSaState } from "./context.ts";
export { defaultRng } from "./state.ts";

/** Our endpoint a datagram arrived on; `natt`: on the NAT-T socket (non-ESP marker). */
export interface ReceivedOn extends Endpoint {
  natt?: boolean;
}

/** Fragments being reassembled (one request and one response at a time). */
interface Reassembly { key: string; total: number; parts: (Uint8Array | undefined)[]; first: number; firstDatagram: Uint8Array; have: number }

/** One IKE SA (and its Child SAs), initiator or responder. */
export class IkeSa {
  private readonly s: SaState;
  /** RFC 7383 reassembly per direction (requests, responses): made by the first fragment. */
  private frags: (Reassembly | null)[] | null = null;
  /** Latest `now` seen (constructor, receive, tick): the default for the API methods' `now`. */
  private clock: number;

  private constructor(initiator: boolean, cfg: IkeSaConfig, now: number, rng: Rng, remote?: Endpoint) {
    this.s = new SaState(initiator, cfg, now, rng, remote);
    this.clock = now;
  }

  /** Create an initiator; the returned actions carry the IKE_SA_INIT request. Throws on a bad configuration. */
  static initiator(cfg: IkeSaConfig, now: number, rng: Rng = defaultRng): { sa: IkeSa; actions: Action[] } {
    const sa = new IkeSa(true, cfg, now, rng);
    const s = sa.s;
    s.spii = rng(8);
    s.ni = rng(32);
    s.natt = !!cfg.startOn4500;
    startInit(s, s.ikeSuites[0].ke!, now);
    return { sa, actions: s.flush() };
  }

  /** Create a responder waiting for an IKE_SA_INIT request (feed it to {@link receive}). Throws on a bad configuration. */
  /** `remote`: the peer, when not `cfg.remote` (one configuration object may then serve many SAs). */
  static responder(cfg: IkeSaConfig, now: number, rng: Rng = defaultRng, remote?: Endpoint): IkeSa {
    return new IkeSa(false, cfg, now, rng, remote);
  }

  // ---------------------------------------------------------------- accessors

  /** Original initiator of the current IKE SA (swaps when the peer initiated an IKE SA rekey). */
  get initiator(): boolean { return this.s.initiator; }
  /** Same as {@link initiator}. */
  get isInitiator(): boolean { return this.s.initiator; }
  /** Detailed state: idle, init-sent, init-done, auth-sent, established, deleting, dead. */
  get state(): State { return this.s.state; }
  /** IKE SPIs (8 bytes each; SPIr is zero until the responder chose it). */
  get spii(): Uint8Array { return this.s.spii; }
  get spir(): Uint8Array { return this.s.spir; }
  /** Where the peer is (updated on the NAT-T switch and on authenticated address changes). */
  get remote(): Endpoint { return { ...this.s.remote }; }
  get local(): Endpoint { return { ...this.s.local }; }
  /** UDP encapsulation in use (port 4500, non-ESP marker). */
  get natt(): boolean { return this.s.natt; }
  get localBehindNat(): boolean { return this.s.localBehindNat; }
  get remoteBehindNat(): boolean { return this.s.remoteBehindNat; }

  /** Coarse state for an SA manager: "half-open" until IKE_AUTH completes, "established", "deleting" (our Delete is out), "closed". */
  get phase(): IkeSaPhase {
    const st = this.s.state;
    return st === "dead" ? "closed" : st === "established" || st === "deleting" ? st : "half-open";
  }
  /** Copies of the current IKE SPIs (they change on an IKE SA rekey: see the `ike-rekeyed` action). */
  spis(): { ispi: Uint8Array; rspi: Uint8Array } {
    return { ispi: this.s.spii.slice(), rspi: this.s.spir.slice() };
  }
  /** The peer's identity text once IKE_AUTH authenticated it (as in the `established` action), else null. */
  get remoteIdentity(): string | null { return this.s.remoteIdText; }
  /** The EAP user name the peer authenticated as (EAP-MSCHAPv2), else null. */
  get eapUser(): string | null { return this.s.eapUser; }
  /** The connection it belongs to (a responder with several: once IKE_AUTH picked it), null when none is named. */
  get connection(): string | null { return this.s.connection; }
  /** `now` when this object was created. */
  get createdAt(): number { return this.s.createdAt; }
  /** `now` when IKE_AUTH completed, null before. */
  get establishedAt(): number | null { return this.s.establishedAt; }
  /** `now` of the last message from the peer (authenticated, or the IKE_SA_INIT). */
  get lastReceived(): number { return this.s.lastReceived; }
  /** Virtual IPv4 address: the one we got (initiator) or assigned (responder); null when none. */
  get virtualIp(): string | null { return this.s.virtualIp ? ipv4Text(this.s.virtualIp) : null; }
  /** Virtual IPv6 address we assigned (responder, INTERNAL_IP6_ADDRESS); null when none. */
  get virtualIp6(): string | null { return this.s.virtualIp6 ? ipv6Text(this.s.virtualIp6) : null; }

  /** Child SAs of this IKE SA with algorithms and selectors (byte counters are the data plane's). */
  children(): ChildSaStatus[] {
    return this.s.children.map((c) => ({
      spiIn: c.spiIn, spiOut: c.spiOut, cipher: espCipher(c.suite), proposal: suiteName(c.suite), esn: !!c.suite.esn,
      tsLocal: c.tsLocal.map(tsText), tsRemote: c.tsRemote.map(tsText), installedAt: c.installedAt, retiring: !!c.retiring,
    }));
  }

  /** Snapshot for `vpnkit status`: identities, state, algorithms, times, virtual IP, Child SAs. */
  status(): IkeSaStatus {
    const s = this.s;
    return {
      ispi: toHex(s.spii), rspi: toHex(s.spir), role: s.initiator ? "initiator" : "responder", phase: this.phase, state: s.state, connection: s.connection,
      localId: s.cfg.localId, remoteId: s.remoteIdText, local: { ...s.local }, remote: { ...s.remote },
      natt: s.natt, localBehindNat: s.localBehindNat, remoteBehindNat: s.remoteBehindNat,
      proposal: s.suite ? suiteName(s.suite) : null, createdAt: s.createdAt, establishedAt: s.establishedAt, ikeRekeyedAt: s.ikeRekeyedAt,
      lastReceived: s.lastReceived, lastSent: s.lastSent, virtualIp: this.virtualIp, children: this.children(),
    };
  }

  /** Child SAs currently installed (SPIs and selectors only). */
  get childSas(): readonly { spiIn: number; spiOut: number; tsLocal: TrafficSelector[]; tsRemote: TrafficSelector[] }[] {
    return this.s.children;
  }

  // ---------------------------------------------------------------- input

  /**
   * Process one IKE datagram from `from`. Never throws on wire data.
   * `to`: our endpoint it arrived on (the socket's address and port; `natt`: it came on the
   * NAT-T socket with the non-ESP marker, default `to.port === 4500`). NAT detection compares
   * the peer's hashes with it; without it the configured `local` is used and a datagram from
   * port 4500 counts as NAT-T. The responder answers on the socket the request came in on.
   */
  receive(datagram: Uint8Array, from: Endpoint, now: number, to?: ReceivedOn): Action[] {
    this.clock = now;
    try {
      this.receiveInner(datagram, from, now, to);
    } catch (e) {
      this.s.log("error", `internal error while processing a message: ${(e as Error).message}`);
    }
    this.s.settle();
    return this.s.flush();
  }

  private receiveInner(input: Uint8Array, from: Endpoint, now: number, to: ReceivedOn | undefined): void {
    const s = this.s;
    let datagram = input;
    if (s.state === "dead") return;
    s.lastFrom = { ...from };
    // an unspecified socket address (0.0.0.0, ::) says nothing: keep the configured one
    s.lastTo = to ? { address: to.address === "0.0.0.0" || to.address === "::" ? s.local.address : to.address, port: to.port } : undefined;
    const arrivedNatt = to ? to.natt ?? to.port === 4500 : from.port === 4500;
    const an: Anomaly[] = [];
    const msg = decodeIkev2(datagram, 0, datagram.length, an);
    const idle = !s.initiator && s.state === "idle";
    if (!msg || msg.majorVersion !== 2) {
      s.log("debug", "dropped: not an IKEv2 message");
      if (idle) s.die("not an IKEv2 message");
      return;
    }
    if (idle) {
      if (msg.exchange !== EX_INIT || msg.flags.response) { s.log("debug", `dropped: ${msg.exchangeName} for a responder waiting for IKE_SA_INIT`); s.die("no IKE_SA_INIT request"); return; }
      s.natt = arrivedNatt; // answer on the socket it came in on
      if (s.lastTo) s.local = { ...s.lastTo };
      responderInit(s, msg, datagram, from, an, now);
      s.lastReceived = now;
      return;
    }
    // a retransmitted IKE_SA_INIT request still has a zero responder SPI
    const initRetransmit = !s.initiator && msg.exchange === EX_INIT && !msg.flags.response && !msg.rspi.some((x) => x);
    if (!ctEqual(msg.ispi, s.spii) || !(s.state === "init-sent" || initRetransmit || ctEqual(msg.rspi, s.spir))) {
      s.log("debug", `dropped: message for IKE SA ${toHex(msg.ispi)}/${toHex(msg.rspi)}`);
      return;
    }
    if (msg.flags.initiator === s.initiator) { s.log("debug", "dropped: message with our own I flag"); return; }
    if (!msg.flags.response) {
      if (s.cachedResponse && msg.messageId === s.cachedResponse.mid) {
        if (ctEqual(requestDigest(datagram), s.cachedResponse.digest)) {
          s.log("debug", `retransmitted request ${msg.messageId}: resending the cached response`);
          s.send(s.cachedResponse.data, now);
        }
        return;
      }
      if (msg.messageId !== s.peerMid) { s.log("debug", `dropped: request with message ID ${msg.messageId}, expected ${s.peerMid}`); return; }
    } else if (!s.outstanding || msg.messageId !== s.outstanding.mid || msg.exchange !== s.outstanding.exchange) {
      s.log("debug", `dropped: unexpected response ${msg.exchangeName} ${msg.messageId}`);
      return;
    }
    let payloads = msg.payloads;
    if (msg.exchange !== EX_INIT) {
      const opened = this.open(msg, datagram);
      if (!opened) return;
      payloads = opened.payloads;
      datagram = opened.datagram;
      // authenticated from here on
      if (!sameEndpoint(from, s.remote)) {
        s.remote = { ...from };
        if (s.state === "established") {
          s.out.push({ type: "peer-address-changed", remote: { ...from } });
          s.log("info", `peer moved to ${from.address}:${from.port}`);
        }
      }
      if (!s.initiator && !s.natt && arrivedNatt) s.natt = true; // the initiator moved to 4500 (RFC 7296 §2.23)
      const crit = payloads.find((p) => p.kind === "generic" && p.critical);
      if (crit && !msg.flags.response) {
        s.respond(msg, datagram, [{ type: "notify", notifyType: N.UNSUPPORTED_CRITICAL_PAYLOAD, data: new Uint8Array([crit.type]) }], now);
        return;
      }
    }
    s.lastHeard = now;
    s.lastReceived = now;
    if (msg.flags.response) {
      s.lastRaw = datagram.subarray(0, msg.length);
      const o = s.outstanding!;
      s.outstanding = null;
      if (o.onResponse(msg, payloads, now) === "defer") {
        s.outstanding = o;
        return;
      }
      s.pump(now);
      return;
    }
    this.handleRequest(msg, datagram, payloads, now);
  }

  /**
   * Verify and decrypt the SK (or SKF) payload; reassemble fragments (RFC 7383).
   * Returns the inner payloads and the datagram a retransmission is recognised
   * by (the first fragment's), or null (dropped, or more fragments needed).
   */
  private open(msg: Ikev2Message, datagram: Uint8Array): { payloads: Ikev2Payload[]; datagram: Uint8Array } | null {
    const s = this.s;
    const sk = msg.payloads[msg.payloads.length - 1];
    if (!sk || (sk.kind !== "sk" && sk.kind !== "skf") || !s.keys) { s.log("debug", `dropped: ${msg.exchangeName} without SK payload`); return null; }
    const r = skOpen(s.skParams(false), datagram.subarray(0, msg.length), sk.offset, sk.offset + sk.length, sk.kind);
    if (!r.ok || !r.plaintext) { s.log("debug", `dropped: ${msg.exchangeName} ${msg.messageId}: integrity check failed (${r.reason ?? "bad ICV"})`); return null; }
    let plain = r.plaintext, first = sk.nextPayload;
    if (sk.kind === "skf") {
      const n = sk.fragmentNumber, total = sk.totalFragments;
      if (total < 1 || total > 64 || n < 1 || n > total) { s.log("debug", `dropped: fragment ${n}/${total}`); return null; }
      const slot = msg.flags.response ? 1 : 0, key = `${msg.messageId}`;
      const frags = (this.frags ??= [null, null]);
      let f = frags[slot];
      if (!f || f.key !== key || f.total !== total) {
        f = frags[slot] = { key, total, parts: new Array(total), first: 0, firstDatagram: new Uint8Array(0), have: 0 };
      }
      if (!f.parts[n - 1]) { f.parts[n - 1] = plain.slice(); f.have++; }
      if (n === 1) { f.first = sk.nextPayload; f.firstDatagram = datagram.slice(0, msg.length); }
      if (f.have < total) return null;
      frags[slot] = null;
      if (!frags[1 - slot]) this.frags = null;
      plain = concat(...(f.parts as Uint8Array[]));
      first = f.first;
      datagram = f.firstDatagram; // what a retransmission of this request is recognised by
    }
    if (msg.exchange === EX_INTERMEDIATE) notePlaintext(s, first, plain); // RFC 9242 IntAuth covers it
    const inner: Anomaly[] = [];
    const payloads = decodeIkev2Payloads(plain, 0, plain.length, first, inner, "ikev2.sk");
    if (inner.length) s.log("debug", `anomalies in decrypted payloads: ${inner.map((a) => a.reason).join("; ")}`);
    return { payloads, datagram };
  }

  private handleRequest(msg: Ikev2Message, datagram: Uint8Array, payloads: Ikev2Payload[], now: number): void {
    const s = this.s;
    const p = parse(payloads);
    switch (msg.exchange) {
      case EX_AUTH:
        if (s.state === "eap" && !s.initiator) {
          responderEap(s, msg, datagram, p, now);
          return;
        }
        if (s.state !== "init-done" || s.initiator || intermediatePending(s)) break;
        responderAuth(s, msg, datagram, p, now);
        return;
      case EX_INTERMEDIATE:
        if (s.state !== "init-done" || s.initiator) break;
        responderIntermediate(s, msg, datagram, p, now);
        return;
      case EX_FOLLOWUP_KE:
        if (s.state !== "established") break;
        responderFollowup(s, msg, datagram, p, now);
        return;
      case EX_CHILD:
        if (s.state !== "established") break;
        responderChild(s, msg, datagram, p, now);
        return;
      case EX_INFO:
        responderInfo(s, msg, datagram, p, now);
        return;
    }
    s.log("warn", `dropped: ${msg.exchangeName} request in state ${s.state}`);
  }

  // ---------------------------------------------------------------- API

  /** Rekey the IKE SA (RFC 7296 §2.18): CREATE_CHILD_SA, then Delete of the old SA, then this object carries the new one. */
  rekeyIke(now: number = this.clock): Action[] {
    if (this.s.state === "established") this.s.request(ikeRekeyRequest(this.s), now);
    return this.s.flush();
  }

  /** Create an additional Child SA with these selectors (default: the configured ones). */
  initiateChild(ts: { local?: string[]; remote?: string[] } = {}, now: number = this.clock): Action[] {
    const s = this.s;
    if (s.state !== "established") { s.log("warn", "initiateChild: IKE SA not established"); return s.flush(); }
    const tsi = ts.local ? ts.local.map(tsFromText) : s.virtualIp ? [tsHost(s.virtualIp)] : s.localTs;
    const tsr = ts.remote ? ts.remote.map(tsFromText) : s.remoteTs;
    s.request(childRequest(s, tsi, tsr, undefined), now);
    return s.flush();
  }

  /** Rekey the Child SA whose inbound SPI is `spiIn` (REKEY_SA); the old one is deleted once the new one is up. */
  rekeyChild(spiIn: number, now: number = this.clock): Action[] {
    const s = this.s;
    const old = s.children.find((c) => c.spiIn === spiIn && !c.retiring);
    if (s.state !== "established" || !old) { s.log("warn", `rekeyChild: no Child SA ${hex32(spiIn)}`); return s.flush(); }
    old.retiring = true;
    s.request(childRequest(s, old.tsLocal, old.tsRemote, old), now);
    return s.flush();
  }

  /** Delete the Child SA whose inbound SPI is `spiIn`. */
  deleteChild(spiIn: number, now: number = this.clock): Action[] {
    const s = this.s;
    const c = s.children.find((x) => x.spiIn === spiIn);
    if (!c || s.state !== "established") { s.log("warn", `deleteChild: no Child SA ${hex32(spiIn)}`); return s.flush(); }
    s.request(deleteChildRequest(s, c), now);
    return s.flush();
  }

  /** Delete the IKE SA (and with it every Child SA). */
  delete(now: number = this.clock): Action[] {
    const s = this.s;
    if (s.state === "dead") return s.flush();
    if (s.state !== "established") { s.die("deleted locally"); return s.flush(); }
    s.state = "deleting";
    s.queue = [];
    s.request(deleteIkeRequest(s), now);
    return s.flush();
  }

  /**
   * Drop the SA without telling the peer (RFC 7296 §2.4: after INITIAL_CONTACT the peer has
   * already forgotten it): `remove-child` for every Child SA, keys zeroed, `closed` with `reason`.
   */
  abandon(reason = "replaced (INITIAL_CONTACT)"): Action[] {
    this.s.die(reason);
    return this.s.flush();
  }

  /** ESP arrived from this peer for an SPI we do not know (RFC 7296 §2.21): an INFORMATIONAL with INVALID_SPI. Rate-limit before (invalid-spi.ts). */
  notifyInvalidSpi(spi: number, now: number = this.clock): Action[] {
    if (this.s.state === "established") this.s.request(invalidSpiRequest(this.s, spi), now);
    return this.s.flush();
  }

  /** Send a liveness check (empty INFORMATIONAL) now. */
  dpd(now: number = this.clock): Action[] {
    if (this.s.state === "established") this.s.request(dpdRequest(this.s), now);
    return this.s.flush();
  }

  /** Timers: retransmissions, liveness checks, NAT keep-alives. Call it every second or so. */
  tick(now: number): Action[] {
    const s = this.s;
    this.clock = now;
    if (s.state === "dead") return s.flush();
    if (s.state === "eap" && s.eap?.tls) eapTlsTick(s, now);
    // a client that stops in the middle of EAP (it owes the next message) does not hold the SA forever
    if (s.state === "eap" && !s.eap?.tls?.pending && now - s.lastHeard >= (s.cfg.halfOpenTimeout ?? 30000)) {
      s.log("warn", `EAP conversation with ${s.remote.address}:${s.remote.port}: no IKE_AUTH request within ${s.cfg.halfOpenTimeout ?? 30000} ms`);
      s.die("EAP timeout");
      return s.flush();
    }
    if (s.state === "init-done" && !s.initiator && now - s.lastHeard >= (s.cfg.halfOpenTimeout ?? 30000)) {
      s.log("warn", `half-open IKE SA: no IKE_AUTH from ${s.remote.address}:${s.remote.port} within ${s.cfg.halfOpenTimeout ?? 30000} ms`);
      s.die("half-open timeout");
      return s.flush();
    }
    const o = s.outstanding;
    if (o && now >= o.nextAt) {
      const max = retransmitMax(s.cfg, o.exchange === EX_INIT && s.initiator);
      if (o.tries >= max) {
        const what = o.exchange === EX_INIT ? "IKE_SA_INIT" : o.exchange === EX_AUTH ? "IKE_AUTH" : o.exchange === EX_CHILD ? "CREATE_CHILD_SA" : o.exchange === EX_INTERMEDIATE ? "IKE_INTERMEDIATE" : o.exchange === EX_FOLLOWUP_KE ? "IKE_FOLLOWUP_KE" : "INFORMATIONAL";
        if (s.state === "deleting") s.die("deleted (peer did not answer the Delete)");
        else s.fail(`peer ${s.remote.address}:${s.remote.port} is not responding: ${what} request ${o.mid} unanswered after ${max} retransmissions`, undefined, now);
        return s.flush();
      }
      o.tries++;
      o.nextAt = now + s.timeout(o.tries, o.exchange);
      s.log("debug", `retransmit ${o.tries} of request ${o.mid}`);
      s.send(o.data, now);
    }
    if (s.state === "established") {
      const dpd = s.cfg.dpdDelay ?? 30000;
      if (dpd > 0 && !s.outstanding && !s.hasQueued() && now - s.lastHeard >= dpd) {
        s.lastHeard = now; // one check per interval; a missing answer fails via retransmission
        s.request(dpdRequest(s), now);
      }
      const ka = s.cfg.natKeepalive ?? 20000;
      if (s.natt && s.localBehindNat && ka > 0 && now - s.lastSent >= ka) {
        s.lastSent = now;
        s.out.push({ type: "nat-keepalive", to: { ...s.remote } });
      }
    }
    return s.flush();
  }
}
