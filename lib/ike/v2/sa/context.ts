/**
 * What the IKEv2 exchange modules (exchange-init/-auth/-child/-info) share: the
 * {@link SaContext} interface they work on (state of one IKE SA plus its
 * plumbing: log, build, send, request queue), the wire constants and the parsed
 * view of a message's payloads. No I/O, no class: {@link SaState} implements the
 * context, {@link IkeSa} dispatches to the exchanges.
 * @module
 */
import type { MschapServer } from "../eap/mschapv2.ts";
import type { EapTlsSession } from "./exchange-eap-tls.ts";
import { createHash, type KeyObject } from "node:crypto";
import { parseIp } from "../../../net/cidr.ts";
import { u32 } from "../../../core/bytes.ts";
import type { PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message, Ikev2Payload } from "../message.ts";
import type { Ikev2NotifyPayload } from "../payloads/notify.ts";
import type { Ikev2Proposal } from "../payloads/sa.ts";
import { strongswanName } from "../strongswan-names.ts";
import type { IkeKeys } from "./crypto.ts";
import type { KeyExchange, Rng } from "./dh.ts";
import type { Identity } from "./identity.ts";
import type { Suite } from "./proposals.ts";
import { tsFromDecoded, type TrafficSelector } from "./ts.ts";
import type { Action, Endpoint, IkeSaConfig } from "./types.ts";

export const EX_INIT = 34, EX_AUTH = 35, EX_CHILD = 36, EX_INFO = 37;
/** Notify message types used by the core (RFC 7296 §3.10.1, RFC 7383). */
export const N = {
  UNSUPPORTED_CRITICAL_PAYLOAD: 1, INVALID_SYNTAX: 7, NO_PROPOSAL_CHOSEN: 14, INVALID_KE_PAYLOAD: 17, AUTHENTICATION_FAILED: 24,
  TS_UNACCEPTABLE: 38, INVALID_SELECTORS: 39, TEMPORARY_FAILURE: 43, CHILD_SA_NOT_FOUND: 44, INTERNAL_ADDRESS_FAILURE: 36,
  INITIAL_CONTACT: 16384, NATD_SRC: 16388, NATD_DST: 16389, COOKIE: 16390, REKEY_SA: 16393, FRAG_SUP: 16430,
} as const;
export const CP_REQUEST = 1, CP_REPLY = 2, CP_IP4 = 1, CP_IP4_DNS = 3, CP_IP6 = 8;
export const NO_SPI = new Uint8Array(8);
export const FRAG_SUP: PayloadSpec = { type: "notify", notifyType: 16430 };
/** SIGNATURE_HASH_ALGORITHMS (RFC 7427): SHA2-256, SHA2-384, SHA2-512, Identity (Ed25519). */
export const SIG_HASH: PayloadSpec = { type: "notify", notifyType: 16431, data: new Uint8Array([0, 2, 0, 3, 0, 4, 0, 5]) };

/** Internal state of an IKE SA ("dead": gone, a `closed` action was emitted). */
export type State = "idle" | "init-sent" | "auth-sent" | "init-done" | "eap" | "established" | "deleting" | "dead";

/** Returns "defer" to keep the exchange outstanding (the response is not taken; retransmission goes on). */
export type ResponseHandler = (msg: Ikev2Message, payloads: Ikev2Payload[], now: number) => void | "defer";

/** Our request on the wire (window size 1). */
export interface Outstanding {
  mid: number;
  exchange: number;
  /** The message, or its fragments (RFC 7383). */
  data: Uint8Array[];
  tries: number;
  nextAt: number;
  onResponse: ResponseHandler;
}

/** A request waiting for the window: builds its payloads and handler when its turn comes (null: nothing to do any more). */
export type Pending = (now: number) => { exchange: number; payloads: PayloadSpec[]; onResponse: ResponseHandler } | null;

export interface Child {
  spiIn: number;
  spiOut: number;
  suite: Suite;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  /** When it was installed (the `now` of that exchange). */
  installedAt: number;
  /** True once a rekey or delete of it is under way. */
  retiring?: boolean;
  /** Our CREATE_CHILD_SA rekeying it is on the wire (its Ni), for collision handling (RFC 7296 §2.8.1). */
  ourRekeyNonce?: Uint8Array;
  /** The peer rekeyed it: the Child SA that created and that exchange's nonces. */
  rekeyedByPeer?: { child: Child; nonces: Uint8Array[] };
  /** Our Delete for it is queued or on the wire. */
  deleting?: boolean;
}

/** A negotiated IKE SA rekey waiting for the Delete of the old SA (RFC 7296 §2.18). */
export interface PendingIkeRekey {
  suite: Suite;
  spii: Uint8Array;
  spir: Uint8Array;
  ni: Uint8Array;
  nr: Uint8Array;
  shared: Uint8Array;
  initiator: boolean;
}

/**
 * One IKE SA as the exchanges see it: negotiated state and the plumbing to
 * emit actions. Implemented by {@link SaState}; tests may drive exchanges on it
 * directly.
 */
export interface SaContext {
  /** Replaced (not mutated) when a responder adopts its connection in IKE_AUTH. */
  cfg: IkeSaConfig;
  readonly rng: Rng;
  readonly ikeSuites: Suite[];
  espSuites: Suite[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  localId: Identity;
  remoteId: Identity | null;
  /** Our PSK copy (empty once established: see SaState.settle). */
  psk: Uint8Array;
  privateKey: KeyObject | null;
  certs: Uint8Array[];
  /** The connection (peer config) the SA belongs to: chosen in IKE_AUTH by a responder with `cfg.peerConfigs`, else `cfg.connection`. */
  connection: string | null;
  /** An EAP conversation in IKE_AUTH (RFC 7296 §2.16), while it runs; its MSK then signs the last AUTH. */
  eap: EapSession | null;
  /** The EAP user name the peer authenticated as, once it did. */
  eapUser: string | null;
  /** Original initiator of the current IKE SA (swaps when the peer initiated an IKE SA rekey). */
  initiator: boolean;
  state: State;
  spii: Uint8Array;
  spir: Uint8Array;
  remote: Endpoint;
  local: Endpoint;
  /** UDP encapsulation in use (port 4500, non-ESP marker). */
  natt: boolean;
  localBehindNat: boolean;
  remoteBehindNat: boolean;
  suite: Suite | null;
  keys: IkeKeys | null;
  ke: KeyExchange | null;
  ni: Uint8Array;
  nr: Uint8Array;
  initRequest: Uint8Array;
  initResponse: Uint8Array;
  cookie: Uint8Array | null;
  initRetries: number;
  myMid: number;
  peerMid: number;
  outstanding: Outstanding | null;
  queue: Pending[];
  /** Last response and a digest of the request it answered (its first fragment when fragmented): requestDigest() in state.ts. */
  cachedResponse: { mid: number; digest: Uint8Array; data: Uint8Array[] } | null;
  /** Both sides announced FRAGMENTATION_SUPPORTED. */
  fragOk: boolean;
  lastHeard: number;
  lastSent: number;
  children: Child[];
  virtualIp: Uint8Array | null;
  /** Virtual IPv6 address assigned from our pool (responder), null when none. */
  virtualIp6: Uint8Array | null;
  /** The virtual IP came from our pool (we are the responder that assigned it). */
  vipFromPool: boolean;
  /** Nonces of the exchange that creates a Child SA, and whether we initiated it. */
  ni2: Uint8Array;
  nr2: Uint8Array;
  exchangeInitiator: boolean;
  lastInstalled: Child | null;
  pendingIkeRekey: PendingIkeRekey | null;
  /** The response being processed (the IKE_SA_INIT response is signed by AUTH). */
  lastRaw: Uint8Array;
  /** Where the message being processed came from. */
  lastFrom: Endpoint;
  /** Our endpoint the message being processed arrived on, when the driver said. */
  lastTo: Endpoint | undefined;
  /** Peer identity text once IKE_AUTH authenticated it. */
  remoteIdText: string | null;
  establishedAt: number | null;
  ikeRekeyedAt: number | null;
  /** Actions collected for the caller. */
  out: Action[];

  log(level: "debug" | "info" | "warn" | "error", msg: string): void;
  /** Emit send actions to the peer (records lastSent). */
  send(data: Uint8Array[], now: number): void;
  /** Build a message: IKE_SA_INIT in clear, else SK-encrypted, fragmented when agreed and needed. */
  build(exchange: number, response: boolean, mid: number, payloads: PayloadSpec[]): Uint8Array[];
  /** Queue a request (window size 1). */
  request(p: Pending, now: number): void;
  /** Answer request `msg` (cached for retransmissions). */
  respond(msg: Ikev2Message, request: Uint8Array, payloads: PayloadSpec[], now: number): void;
  /** IKE SA failure: `failed` action, then {@link die}. */
  fail(reason: string, notify: number | undefined, now: number): void;
  /** Close the SA: remove children, zero keys, `closed` action. */
  die(reason: string): void;
  /** Retransmission timeout after `tries` retransmissions. */
  timeout(tries: number, exchange?: number): number;
  /** Derive the IKE SA keys from `shared` (and the old SK_d on a rekey). */
  deriveKeys(shared: Uint8Array, rekey?: { skd: Uint8Array; prf: number }): void;
  /** A fresh inbound ESP SPI. */
  newSpi(): number;
}

/** A running EAP conversation (exchange-eap.ts). */
export interface EapSession {
  server?: MschapServer;
  /** EAP-TLS instead of EAP-MSCHAPv2 (exchange-eap-tls.ts). */
  tls?: EapTlsSession;
  /** The first IKE_AUTH request's parsed payloads: the Child SA and CP are answered in the last round. */
  first?: Parsed;
  idText: string;
  msk: Uint8Array | null;
}

export interface Parsed {
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
  eap?: Extract<Ikev2Payload, { kind: "eap" }>;
  deletes: Extract<Ikev2Payload, { kind: "delete" }>[];
  certs: Uint8Array[];
}

export function parse(payloads: Ikev2Payload[]): Parsed {
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
      case "eap": r.eap ??= p; break;
      case "delete": r.deletes.push(p); break;
      case "cert": if (p.encoding === 4) r.certs.push(p.data); break;
    }
  }
  return r;
}

/** What a cached response remembers of the request it answered: a SHA-256 digest (16 bytes), not a copy. */
export function requestDigest(request: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(request).digest().subarray(0, 16));
}

export function firstError(p: Parsed): Ikev2NotifyPayload | undefined {
  return p.notifies.find((n) => n.isError);
}

export function notifyOf(p: Parsed, type: number): Ikev2NotifyPayload | undefined {
  return p.notifies.find((n) => n.notifyType === type);
}

export function ipBytes(address: string): Uint8Array {
  return parseIp(address)?.addr ?? new Uint8Array(4);
}

export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.address === b.address && a.port === b.port;
}

export function spiNum(b: Uint8Array): number {
  return b.length === 4 ? u32(b, 0) : -1;
}

export function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

export function dedupe(list: Suite[]): Suite[] {
  const seen = new Set<string>();
  return list.filter((s) => {
    const k = JSON.stringify(s);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function stripKe(p: Ikev2Proposal): Ikev2Proposal {
  return { ...p, transforms: p.transforms.filter((t) => t.type !== 4) };
}

export function proposalText(p: Ikev2Proposal): string {
  return p.transforms.map((t) => strongswanName(t.type, t.id, t.keyLength)).join("/");
}

/** Two-byte group number for INVALID_KE_PAYLOAD. */
export function groupBytes(g: number): Uint8Array {
  return new Uint8Array([g >> 8, g & 0xff]);
}
