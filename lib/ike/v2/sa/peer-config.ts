/**
 * Named connections of a responder (strongSwan's peer_cfg): which one an incoming IKE_AUTH
 * belongs to is known only once IDi and AUTH are read, so the responder SA starts with the
 * connections' union (IKE proposals, CAs for CERTREQ) and picks its connection in IKE_AUTH:
 *
 * 1. candidates: every connection whose `remoteId` matches IDi (exact beats a `*` pattern
 *    beats `%any`), whose `localId` matches IDr when the peer sent one, whose `remoteAddrs`
 *    hold the peer's address, and whose `auth` class fits the AUTH method (PSK: method 2;
 *    pubkey: RSA 1, ECDSA 9/10/11, RFC 7427 14), best match first, then file order;
 * 2. the first candidate whose credentials verify the AUTH payload wins (charon tries its
 *    candidates in order too); its identities, credentials, children (selectors, ESP
 *    proposals) and pool become the SA's.
 *
 * No I/O: connections carry PEM texts and a PSK lookup; parsed keys are cached per object.
 * @module
 */
import type { KeyObject } from "node:crypto";
import { X509Certificate } from "node:crypto";
import { derNameText } from "../der.ts";
import { parseCidr, parseIp } from "../../../net/cidr.ts";
import { loadPrivateKey } from "./auth-sig.ts";
import { identityMatches, parseIdentity, type Identity } from "./identity.ts";
import { parseProposalList, type Suite, suiteName } from "./proposals.ts";
import { tsFromText, tsNarrow, type TrafficSelector } from "./ts.ts";
import type { IkeSaConfig, VirtualIpPool } from "./types.ts";
import { tsAny } from "./ts.ts";

/** A Child SA configuration of a connection. */
export interface PeerChildConfig {
  name: string;
  localTs: string[];
  /** Undefined: the connection's pool (a client's virtual IP), else any. */
  remoteTs?: string[];
  /** Undefined: the connection's / SA's default. */
  espProposals?: string[];
}

/** One connection as the IKE core sees it (responder side). */
export interface PeerConfig {
  name: string;
  /** Our identity (strongSwan syntax); undefined: the SA's default (the local address). */
  localId?: string;
  /** The peer's identity: exact, `%any` (or undefined), or a pattern with `*` ("*@example.org"). */
  remoteId?: string;
  /** What the peer authenticates with (EAP-MSCHAPv2: users from `eapUser`, and we sign with our certificate). */
  auth: "psk" | "pubkey" | "eap-mschapv2" | "eap-tls";
  /** EAP-MSCHAPv2 users: the NT password hash of a user name, or null (unknown user). */
  eapUser?: (user: string) => Uint8Array | null;
  /** Addresses or prefixes the peer may come from; undefined or empty: any. */
  remoteAddrs?: string[];
  /** The pre-shared key for this peer identity (a secrets table); the core copies it and wipes its copy. */
  psk?: (peer: Identity, peerText: string) => Uint8Array | null;
  /** Our credentials (signature authentication); without them we authenticate with the PSK. */
  privateKey?: string;
  certificate?: string;
  /** IKE proposals this connection accepts (the negotiated IKE SA must be one); undefined: any. */
  ikeProposals?: string[];
  /** Trust anchors for a pubkey peer (PEM). */
  peerCa?: string[];
  /** ESP proposals of children that set none. */
  espProposals?: string[];
  children: PeerChildConfig[];
  virtualIpPool?: VirtualIpPool;
  dns?: string[];
}

/** What IKE_AUTH tells about the peer. */
export interface PeerFacts {
  id: Identity;
  idText: string;
  /** IDr, when the initiator said whom it wants. */
  idr: Identity | null;
  authMethod: number;
  address: string;
  /** The negotiated IKE suite ({@link suiteName}), checked against each connection's `ikeProposals`. */
  ikeSuite?: string;
}

/** AUTH method → auth class (RFC 7296 §3.8, RFC 7427; 0: no AUTH payload, the peer asks for EAP); null: one we do not accept. */
export function authClass(method: number): "psk" | "pubkey" | "eap-mschapv2" | null {
  if (method === 0) return "eap-mschapv2";
  if (method === 2) return "psk";
  if (method === 1 || method === 9 || method === 10 || method === 11 || method === 14) return "pubkey";
  return null;
}

interface Parsed {
  remote: Identity | null;
  remotePattern: { idType: number; re: RegExp } | null;
  local: Identity | null;
  addrs: { family: number; addr: Uint8Array; bits: number }[];
  privateKey: KeyObject | null;
  certs: Uint8Array[];
  esp: Map<string, Suite[]>;
  ike: Set<string>;
  ts: Map<string, TrafficSelector[]>;
}

const parsedCache = new WeakMap<PeerConfig, Parsed>();

function isAny(id: string | undefined): boolean {
  return id === undefined || id === "%any" || id === "*";
}

function globRe(text: string): RegExp {
  return new RegExp("^" + text.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$", "i");
}

/** Text an identity is matched with (DNs rendered the way the decoder renders a received DN). */
function matchText(id: Identity, fallback: string): string {
  return id.idType === 9 ? derNameText(id.data, 0, id.data.length) ?? fallback : fallback;
}

/** Parse a connection once (throws on bad identities or PEM: configuration time). */
export function parsePeerConfig(c: PeerConfig): Parsed {
  const hit = parsedCache.get(c);
  if (hit) return hit;
  let remote: Identity | null = null, remotePattern: Parsed["remotePattern"] = null;
  if (!isAny(c.remoteId)) {
    if (c.remoteId!.includes("*")) {
      const proto = parseIdentity(c.remoteId!.replace(/\*/g, "x"));
      const text = proto.idType === 9 ? matchText(parseIdentity(c.remoteId!), c.remoteId!) : c.remoteId!.replace(/^(fqdn|email|rfc822|dn|asn1dn):/i, "");
      remotePattern = { idType: proto.idType, re: globRe(text) };
    } else remote = parseIdentity(c.remoteId!);
  }
  const addrs = (c.remoteAddrs ?? []).filter((a) => a !== "%any").map((a) => {
    const cidr = parseCidr(a.includes("/") ? a : a + (a.includes(":") ? "/128" : "/32"));
    if (!cidr) throw new Error(`connection ${c.name}: not an address or prefix: ${a}`);
    return { family: cidr.family, addr: cidr.addr, bits: cidr.prefix };
  });
  const p: Parsed = {
    remote, remotePattern, addrs,
    local: c.localId === undefined ? null : parseIdentity(c.localId),
    privateKey: c.privateKey ? loadPrivateKey(c.privateKey) : null,
    certs: c.certificate ? [new Uint8Array(new X509Certificate(c.certificate).raw)] : [],
    esp: new Map(), ts: new Map(),
    ike: new Set(c.ikeProposals?.length ? parseProposalList(c.ikeProposals, "ike").map(suiteName) : []),
  };
  for (const ch of c.children) {
    const esp = ch.espProposals ?? c.espProposals ?? [];
    p.esp.set(ch.name, esp.length ? parseProposalList(esp, "esp") : []);
    p.ts.set(ch.name + "/l", ch.localTs.map(tsFromText));
    if (ch.remoteTs) p.ts.set(ch.name + "/r", ch.remoteTs.map(tsFromText));
  }
  for (const ca of c.peerCa ?? []) new X509Certificate(ca);
  parsedCache.set(c, p);
  return p;
}

function inPrefix(addr: Uint8Array, net: Uint8Array, bits: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < bits; i++) if (((addr[i >> 3] >> (7 - (i & 7))) & 1) !== ((net[i >> 3] >> (7 - (i & 7))) & 1)) return false;
  return true;
}

/** 3 exact, 2 pattern, 1 any, 0 no match. */
function remoteScore(p: Parsed, f: PeerFacts): number {
  if (p.remote) return identityMatches(p.remote, f.id) ? 3 : 0;
  if (p.remotePattern) return p.remotePattern.idType === f.id.idType && p.remotePattern.re.test(matchText(f.id, f.idText)) ? 2 : 0;
  return 1;
}

/**
 * The connections IKE_AUTH may use for this peer, best first; with none, `reason` says why
 * in one line (no identity / address match, or which auth class the matching ones want).
 */
export function rankPeerConfigs(list: readonly PeerConfig[], f: PeerFacts): { candidates: PeerConfig[]; reason: string } {
  const cls = authClass(f.authMethod);
  const scored: { c: PeerConfig; score: number; i: number }[] = [];
  const wrongAuth: string[] = [];
  const peer = parseIp(f.address);
  list.forEach((c, i) => {
    const p = parsePeerConfig(c);
    const rs = remoteScore(p, f);
    if (rs === 0) return;
    // IDr: the peer names us; a connection with another identity is not the one it wants
    let ls = 1;
    if (f.idr && p.local) {
      if (!identityMatches(p.local, f.idr)) return;
      ls = 2;
    }
    if (p.addrs.length && !(peer && p.addrs.some((a) => inPrefix(peer.addr, a.addr, a.bits)))) return;
    if (f.ikeSuite && p.ike.size && !p.ike.has(f.ikeSuite)) {
      wrongAuth.push(`${c.name} (not ${f.ikeSuite})`);
      return;
    }
    if (cls !== c.auth && !(cls === "eap-mschapv2" && c.auth === "eap-tls")) {
      wrongAuth.push(`${c.name} (auth ${c.auth})`);
      return;
    }
    scored.push({ c, score: rs * 4 + ls, i });
  });
  scored.sort((a, b) => b.score - a.score || a.i - b.i);
  const method = cls ?? `AUTH method ${f.authMethod}`;
  const reason = scored.length
    ? ""
    : wrongAuth.length
      ? `no connection for "${f.idText}" with ${method} authentication${f.ikeSuite ? ` and ${f.ikeSuite}` : ""} (matching identity: ${wrongAuth.join(", ")})`
      : `no connection matches peer "${f.idText}" from ${f.address}`;
  return { candidates: scored.map((s) => s.c), reason };
}

/** What a connection's child gives the first Child SA (selected by the initiator's selectors). */
export interface ChildChoice {
  name: string;
  espSuites: Suite[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[] | null;
}

/**
 * The child of `c` for the initiator's TSi/TSr: the first whose local selectors meet TSr and
 * whose remote selectors (or `pool`, for a virtual IP) meet TSi; the first child when none do
 * (the Child SA then fails with TS_UNACCEPTABLE, as it would have).
 */
export function chooseChild(c: PeerConfig, tsi: readonly TrafficSelector[], tsr: readonly TrafficSelector[], pool: readonly TrafficSelector[] | null): ChildChoice | null {
  const p = parsePeerConfig(c);
  let first: ChildChoice | null = null;
  for (const ch of c.children) {
    const choice: ChildChoice = { name: ch.name, espSuites: p.esp.get(ch.name)!, localTs: p.ts.get(ch.name + "/l")!, remoteTs: p.ts.get(ch.name + "/r") ?? null };
    first ??= choice;
    const remote = choice.remoteTs ?? pool;
    if (tsNarrow(tsr, choice.localTs).length && (!remote || tsNarrow(tsi, remote).length)) return choice;
  }
  return first;
}

/** The connection's own credentials: private key and certificates (parsed once). */
export function peerCredentials(c: PeerConfig): { privateKey: KeyObject | null; certs: Uint8Array[]; localId: Identity | null } {
  const p = parsePeerConfig(c);
  return { privateKey: p.privateKey, certs: p.certs, localId: p.local };
}

const idCache = new Map<string, { exact: Identity | null; pattern: { idType: number; re: RegExp } | null }>();

/**
 * How configured identity text (exact, `*` pattern, `%any`) matches a received identity:
 * 3 exact, 2 pattern, 1 any, 0 no match (a secrets table is searched in this order).
 */
export function idMatchScore(configured: string | undefined, id: Identity, idText: string): number {
  if (isAny(configured)) return 1;
  let m = idCache.get(configured!);
  if (!m) {
    if (idCache.size > 4096) idCache.clear();
    const c = parsePeerConfig({ name: "", auth: "psk", remoteId: configured, children: [] });
    m = { exact: c.remote, pattern: c.remotePattern };
    idCache.set(configured!, m);
  }
  if (m.exact) return identityMatches(m.exact, id) ? 3 : 0;
  return m.pattern && m.pattern.idType === id.idType && m.pattern.re.test(matchText(id, idText)) ? 2 : 0;
}

/** The parts of an SA a child choice sets. */
export interface ChildTarget {
  cfg: IkeSaConfig;
  connection: string | null;
  espSuites: Suite[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
}

/**
 * A responder SA of a named connection takes the child whose selectors fit the request
 * (IKE_AUTH's first Child SA, and every CREATE_CHILD_SA: a new child or a rekey, whose
 * selectors pick the same child again): its ESP proposals, selectors and name.
 */
export function applyChild(sa: ChildTarget, tsi: readonly TrafficSelector[], tsr: readonly TrafficSelector[]): void {
  const c = sa.cfg.peerConfigs?.find((x) => x.name === sa.connection);
  const ch = c ? chooseChild(c, tsi, tsr, null) : null;
  if (!ch) return;
  if (ch.espSuites.length) sa.espSuites = ch.espSuites;
  sa.localTs = ch.localTs;
  sa.remoteTs = ch.remoteTs ?? [tsAny(4), tsAny(6)];
  sa.cfg = { ...sa.cfg, childName: ch.name };
}
