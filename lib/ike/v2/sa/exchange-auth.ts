/**
 * IKE_AUTH (RFC 7296 §1.2, §2.15): identities, PSK or RFC 7427 signature
 * authentication, CP virtual IP (§3.15), and the first Child SA. Works on an
 * {@link SaContext}; no I/O.
 * @module
 */
import { ctEqual, ipv4Text } from "../../../core/bytes.ts";
import { u32Bytes, type PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message, Ikev2Payload } from "../message.ts";
import { certMatchesIdentity, certreqData, checkPeerCertificate, loadPublicKey, signAuth, verifyAuth } from "./auth-sig.ts";
import { pskAuth, signedOctets } from "./crypto.ts";
import { intAuthTail } from "./intermediate-auth.ts";
import { idBody, identityMatches, type Identity } from "./identity.ts";
import { offerProposals, suiteName } from "./proposals.ts";
import { tsAny, tsHost, type TrafficSelector } from "./ts.ts";
import type { KeyObject } from "node:crypto";
import { applyChild, peerCredentials, rankPeerConfigs, type PeerConfig } from "./peer-config.ts";
import { initiatorEapStart, responderEapStart } from "./exchange-eap.ts";
import { finishChild, negotiateChildResponder, vipTs } from "./exchange-child.ts";
import {
  CP_IP4, CP_IP4_DNS, CP_IP6, CP_REPLY, CP_REQUEST, EX_AUTH, EX_INFO, N, dedupe, firstError, ipBytes, notifyOf, parse, type Parsed, type SaContext,
} from "./context.ts";

/** CERTREQ naming our trust anchors for the peer (asks it to send its certificate). */
export function certreq(sa: SaContext): PayloadSpec[] {
  return sa.cfg.peerCa?.length ? [{ type: "certreq", encoding: 4, data: certreqData(sa.cfg.peerCa) }] : [];
}

/** Our ID, [CERT...], AUTH payloads. */
export function myIdAuth(sa: SaContext): PayloadSpec[] {
  const k = sa.keys!;
  const octets = sa.initiator
    ? signedOctets(sa.suite!.prf!, sa.initRequest, sa.nr, k.skpi, idBody(sa.localId), intAuthTail(sa))
    : signedOctets(sa.suite!.prf!, sa.initResponse, sa.ni, k.skpr, idBody(sa.localId), intAuthTail(sa));
  const out: PayloadSpec[] = [{ type: sa.initiator ? "idi" : "idr", idType: sa.localId.idType, data: sa.localId.data }];
  for (const c of sa.certs) out.push({ type: "cert", encoding: 4, data: c });
  if (sa.privateKey) out.push({ type: "auth", method: 14, data: signAuth(sa.privateKey, octets) });
  else out.push({ type: "auth", method: 2, data: pskAuth(sa.suite!.prf!, sa.psk, octets) });
  return out;
}

/** The credentials a peer's AUTH is checked with. */
export interface PeerMaterial {
  psk: Uint8Array;
  peerCa?: string[];
  peerPublicKey?: string;
}

/**
 * Check the peer's AUTH (with the SA's credentials, or `m`'s); null when it verifies, else the
 * reason, or the CRL URIs still being fetched (the caller waits for a retransmission).
 */
export function peerAuthError(
  sa: SaContext, id: Identity, idText: string, auth: Extract<Ikev2Payload, { kind: "auth" }>, certs: Uint8Array[],
  m: PeerMaterial = { psk: sa.psk, peerCa: sa.cfg.peerCa, peerPublicKey: sa.cfg.peerPublicKey },
): string | null | { pending: string[] } {
  const k = sa.keys!;
  const octets = sa.initiator
    ? signedOctets(sa.suite!.prf!, sa.initResponse, sa.ni, k.skpr, idBody(id), intAuthTail(sa))
    : signedOctets(sa.suite!.prf!, sa.initRequest, sa.nr, k.skpi, idBody(id), intAuthTail(sa));
  if (auth.method === 2) {
    if (!m.psk.length) return `peer "${idText}" uses a pre-shared key but none is configured`;
    return ctEqual(pskAuth(sa.suite!.prf!, m.psk, octets), auth.data) ? null : `AUTH of "${idText}" (pre-shared key) does not verify: wrong PSK?`;
  }
  let pub: KeyObject;
  if (certs.length && m.peerCa?.length) {
    const { crls, revocation, fetchCrl, eku } = sa.cfg;
    const r = checkPeerCertificate(certs[0], certs.slice(1), m.peerCa, (sa.cfg.wallClock ?? Date.now)(), { crls, revocation, fetchCrl, eku });
    if ("error" in r) return r.pending?.length ? { pending: r.pending } : `certificate of "${idText}" not trusted: ${r.error}`;
    for (const w of r.warnings) sa.log("warn", w);
    if (!certMatchesIdentity(r.cert, id.idType, id.data)) return `certificate of "${idText}" does not name that identity (subjectAltName or subject DN)`;
    pub = r.key;
  } else if (m.peerPublicKey) pub = loadPublicKey(m.peerPublicKey);
  else return `peer "${idText}" authenticates with ${auth.methodName} but no CA or public key is configured for it`;
  const err = verifyAuth(pub, auth, octets);
  return err ? `AUTH of "${idText}" (${auth.signatureAlgorithm?.oidName ?? auth.methodName}): ${err}` : null;
}

/** Initiator: send the IKE_AUTH request (message ID 1) with the first Child SA. */
export function sendAuth(sa: SaContext, now: number): void {
  sa.state = "auth-sent";
  const spi = sa.newSpi();
  const firstChild = sa.espSuites.map((s) => ({ ...s, ke: undefined }));
  const tsi = sa.cfg.requestVirtualIp ? [tsAny(4)] : sa.localTs;
  // with EAP (RFC 7296 §2.16) the first IKE_AUTH request carries no AUTH: the server asks for EAP
  const [idi, ...certAuth] = sa.cfg.eap ? [{ type: "idi" as const, idType: sa.localId.idType, data: sa.localId.data }] : myIdAuth(sa);
  const payloads: PayloadSpec[] = [idi, ...certreq(sa)];
  if (sa.cfg.initialContact !== false) payloads.push({ type: "notify", notifyType: N.INITIAL_CONTACT });
  if (sa.remoteId) payloads.push({ type: "idr", idType: sa.remoteId.idType, data: sa.remoteId.data });
  payloads.push(...certAuth);
  if (sa.cfg.requestVirtualIp) payloads.push({ type: "cp", cfgType: CP_REQUEST, attributes: [{ type: CP_IP4, value: new Uint8Array(0) }, { type: CP_IP4_DNS, value: new Uint8Array(0) }] });
  payloads.push(
    { type: "sa", proposals: offerProposals(dedupe(firstChild), u32Bytes(spi)) },
    { type: "tsi", selectors: tsi },
    { type: "tsr", selectors: sa.remoteTs },
  );
  const mid = sa.myMid; // 1, or after the IKE_INTERMEDIATE exchanges (RFC 9242)
  const data = sa.build(EX_AUTH, false, mid, payloads);
  sa.outstanding = { mid, exchange: EX_AUTH, data, tries: 0, nextAt: now + sa.timeout(0), onResponse: (m, p, t) => initiatorAuthResponse(sa, m, p, t, spi, tsi) };
  sa.send(data, now);
}

/** The peer authenticated as `idText`: state, `established` action, INITIAL_CONTACT. */
function authenticated(sa: SaContext, p: Parsed, idText: string, now: number): void {
  sa.state = "established";
  sa.remoteIdText = idText;
  sa.establishedAt = now;
  sa.out.push({ type: "established", localId: sa.cfg.localId, remoteId: idText, proposal: suiteName(sa.suite!), natt: sa.natt, ...(sa.eapUser !== null ? { eapUser: sa.eapUser } : {}) });
  sa.log("info", `IKE SA established with ${idText}${sa.eapUser !== null ? ` (EAP user "${sa.eapUser}")` : ""} (${suiteName(sa.suite!)})`);
  if (notifyOf(p, N.INITIAL_CONTACT)) sa.out.push({ type: "initial-contact", remoteId: idText });
}

export function initiatorAuthResponse(sa: SaContext, _msg: Ikev2Message, payloads: Ikev2Payload[], now: number, spiIn: number, tsiOffered: TrafficSelector[]): void | "defer" {
  sa.myMid = _msg.messageId + 1;
  const p = parse(payloads);
  if (!p.auth || !p.idr) {
    const err = firstError(p);
    const why = err?.notifyType === N.AUTHENTICATION_FAILED
      ? "peer rejected our authentication (AUTHENTICATION_FAILED): check the PSK and identities"
      : err ? `peer refused IKE_AUTH with ${err.notifyName}` : "IKE_AUTH response without IDr/AUTH";
    sa.fail(`IKE_AUTH failed: ${why}`, err?.notifyType, now);
    return;
  }
  const id: Identity = { idType: p.idr.idType, data: p.idr.data.slice() };
  if (sa.remoteId && !identityMatches(sa.remoteId, id)) {
    authFailedInformational(sa, now);
    sa.fail(`IKE_AUTH failed: peer identity "${p.idr.text}" is not the configured "${sa.cfg.remoteId}"`, N.AUTHENTICATION_FAILED, now);
    return;
  }
  const authErr = peerAuthError(sa, id, p.idr.text, p.auth, p.certs);
  if (authErr && typeof authErr === "object") {
    // a CRL is being fetched: keep the exchange outstanding; our retransmission brings the response back
    sa.log("info", `IKE_AUTH: waiting for CRL ${authErr.pending.join(", ")} to check "${p.idr.text}"`);
    return "defer";
  }
  if (authErr) {
    authFailedInformational(sa, now);
    sa.fail(`IKE_AUTH failed: ${authErr}`, N.AUTHENTICATION_FAILED, now);
    return;
  }
  if (sa.cfg.eap) {
    if (!p.eap) {
      authFailedInformational(sa, now);
      sa.fail(`IKE_AUTH failed: we authenticate with EAP-MSCHAPv2, but "${p.idr.text}" asked for no EAP`, N.AUTHENTICATION_FAILED, now);
      return;
    }
    initiatorEapStart(sa, p, p.idr.text, id, now, (q, t) => initiatorAuthDone(sa, q, p.idr!.text, t, spiIn, tsiOffered));
    return;
  }
  initiatorAuthDone(sa, p, p.idr.text, now, spiIn, tsiOffered);
}

/** The initiator's peer is authenticated (the last IKE_AUTH response `p`): virtual IP and the first Child SA. */
function initiatorAuthDone(sa: SaContext, p: Parsed, idText: string, now: number, spiIn: number, tsiOffered: TrafficSelector[]): void {
  authenticated(sa, p, idText, now);
  // CP reply
  if (sa.cfg.requestVirtualIp) {
    const a = p.cp?.cfgType === CP_REPLY ? p.cp.attributes.find((x) => x.type === CP_IP4 && x.value.length === 4) : undefined;
    if (a) {
      sa.virtualIp = a.value.slice();
      const dns = p.cp!.attributes.filter((x) => x.type === CP_IP4_DNS && x.value.length === 4).map((x) => ipv4Text(x.value));
      sa.out.push({ type: "virtual-ip", address: ipv4Text(a.value), dns });
    } else {
      sa.out.push({ type: "failed", scope: "child", reason: "no virtual IP in the IKE_AUTH response", notify: firstError(p)?.notifyName });
      sa.log("error", "IKE_AUTH: we asked for a virtual IP and got none");
    }
  }
  sa.ni2 = sa.ni;
  sa.nr2 = sa.nr;
  sa.exchangeInitiator = true;
  finishChild(sa, p, spiIn, sa.espSuites.map((s) => ({ ...s, ke: undefined })), tsiOffered, sa.remoteTs, undefined, undefined, now);
}

export function authFailedInformational(sa: SaContext, now: number): void {
  // strongSwan sends an INFORMATIONAL with AUTHENTICATION_FAILED; not retransmitted.
  const data = sa.build(EX_INFO, false, sa.myMid, [{ type: "notify", notifyType: N.AUTHENTICATION_FAILED }]);
  sa.send(data, now);
}

/** Responder: the IKE_AUTH request (already decrypted and parsed). */
export function responderAuth(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  if (!p.idi) {
    sa.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now);
    sa.fail("IKE_AUTH request without IDi", N.INVALID_SYNTAX, now);
    return;
  }
  if (!p.auth) {
    // no AUTH payload: the initiator wants to authenticate with EAP (RFC 7296 §2.16)
    responderEapStart(sa, msg, datagram, p, now);
    return;
  }
  const id: Identity = { idType: p.idi.idType, data: p.idi.data.slice() };
  const reason = sa.cfg.peerConfigs?.length
    ? pickConnection(sa, p, id)
    : sa.remoteId && !identityMatches(sa.remoteId, id)
    ? `peer identity "${p.idi.text}" is not the configured "${sa.cfg.remoteId}"`
    : peerAuthError(sa, id, p.idi.text, p.auth, p.certs);
  if (reason && typeof reason === "object") {
    // a CRL is being fetched: no answer yet; the peer's retransmission is handled afresh
    sa.log("info", `IKE_AUTH: waiting for CRL ${reason.pending.join(", ")} to check "${p.idi.text}"`);
    return;
  }
  if (reason) {
    sa.respond(msg, datagram, [{ type: "notify", notifyType: N.AUTHENTICATION_FAILED }], now);
    sa.fail(`IKE_AUTH failed: ${reason}; sent AUTHENTICATION_FAILED`, N.AUTHENTICATION_FAILED, now);
    return;
  }
  answerAuth(sa, msg, datagram, p, myIdAuth(sa), p.idi.text, now);
}

/**
 * The responder's IKE_AUTH answer once the peer is authenticated: `reply` (our ID/CERT/AUTH,
 * or the last EAP round's AUTH) plus the virtual IP (CP) and the first Child SA negotiated
 * from the request `p` (with EAP: the first IKE_AUTH request).
 */
export function answerAuth(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, reply: PayloadSpec[], idText: string, now: number): void {
  // Child SA (errors here do not fail the IKE SA)
  let remoteTs = sa.remoteTs;
  let vipFailure = false;
  const want4 = !!p.cp && p.cp.cfgType === CP_REQUEST && p.cp.attributes.some((a) => a.type === CP_IP4);
  const want6 = !!p.cp && p.cp.cfgType === CP_REQUEST && p.cp.attributes.some((a) => a.type === CP_IP6);
  if ((want4 || want6) && sa.cfg.virtualIpPool) {
    // each family asked for and held by the pool (RFC 7296 §3.15.3: what we can give)
    const vip = want4 ? allocateVip(sa, idText, 4) : null;
    const vip6 = want6 ? allocateVip(sa, idText, 6) : null;
    if (vip || vip6) {
      sa.virtualIp = vip;
      sa.virtualIp6 = vip6;
      sa.vipFromPool = true;
      remoteTs = vipTs(sa);
      const attrs = [
        ...(vip ? [{ type: CP_IP4, value: vip }] : []),
        // INTERNAL_IP6_ADDRESS: address and prefix length (RFC 7296 §3.15.1)
        ...(vip6 ? [{ type: CP_IP6, value: Uint8Array.of(...vip6, 128) }] : []),
        ...(vip ? (sa.cfg.dns ?? []).map((d) => ({ type: CP_IP4_DNS, value: ipBytes(d) })) : []),
      ];
      reply.push({ type: "cp", cfgType: CP_REPLY, attributes: attrs });
    } else {
      vipFailure = true;
      sa.log("error", `no virtual IP left for "${idText}" (INTERNAL_ADDRESS_FAILURE)`);
      sa.out.push({ type: "failed", scope: "child", reason: "virtual IP pool exhausted", notify: "INTERNAL_ADDRESS_FAILURE" });
    }
  }
  sa.ni2 = sa.ni;
  sa.nr2 = sa.nr;
  const child: ReturnType<typeof negotiateChildResponder> = vipFailure
    ? { error: { type: "notify", notifyType: N.INTERNAL_ADDRESS_FAILURE } }
    : negotiateChildResponder(sa, p, sa.espSuites.map((s) => ({ ...s, ke: undefined })), remoteTs, true, undefined, now);
  authenticated(sa, p, idText, now);
  if ("error" in child) reply.push(child.error);
  else reply.push(...child.payloads);
  sa.respond(msg, datagram, reply, now);
  if (!("error" in child)) child.install();
}

/**
 * Responder with named connections: the first candidate (peer-config.ts) whose credentials
 * verify the AUTH becomes the SA's connection; null then, else the reason (one line).
 */
function pickConnection(sa: SaContext, p: Parsed, id: Identity): string | null | { pending: string[] } {
  const idText = p.idi!.text;
  const idr = p.idr ? { idType: p.idr.idType, data: p.idr.data } : null;
  const { candidates, reason } = rankPeerConfigs(sa.cfg.peerConfigs!, { id, idText, idr, authMethod: p.auth!.method, address: sa.remote.address, ikeSuite: suiteName(sa.suite!) });
  let first: string | null = null;
  for (const c of candidates) {
    const looked = c.psk?.(id, idText) ?? null;
    const psk = looked ? looked.slice() : null;
    if (c.auth === "psk" && !psk) {
      first ??= `connection ${c.name}: no pre-shared key for "${idText}" in [secrets]`;
      continue;
    }
    const err = peerAuthError(sa, id, idText, p.auth!, p.certs, { psk: psk ?? new Uint8Array(0), peerCa: c.peerCa });
    if (err && typeof err === "object") {
      psk?.fill(0);
      return err; // a CRL is being fetched: decide on the retransmission
    }
    if (err) {
      psk?.fill(0);
      first ??= `connection ${c.name}: ${err}`;
      continue;
    }
    adoptConnection(sa, c, psk, p);
    return null;
  }
  return first ?? reason;
}

/** The SA takes connection `c`: identities, credentials, the child for the peer's selectors, pool. */
export function adoptConnection(sa: SaContext, c: PeerConfig, psk: Uint8Array | null, p: Parsed): void {
  const cred = peerCredentials(c);
  sa.cfg = {
    ...sa.cfg, connection: c.name, localId: c.localId ?? sa.cfg.localId, remoteId: c.remoteId, privateKey: c.privateKey, certificate: c.certificate,
    peerCa: c.peerCa, peerPublicKey: undefined, virtualIpPool: c.virtualIpPool, dns: c.dns,
  };
  sa.connection = c.name;
  sa.psk.fill(0);
  sa.psk = psk ?? new Uint8Array(0);
  if (cred.localId) sa.localId = cred.localId;
  sa.privateKey = cred.privateKey;
  sa.certs = cred.certs;
  applyChild(sa, p.tsi ?? [], p.tsr ?? []);
}

function allocateVip(sa: SaContext, peer: string, family: 4 | 6): Uint8Array | null {
  const pool = sa.cfg.virtualIpPool!;
  const a = Array.isArray(pool) ? pool.find((x) => x.includes(":") === (family === 6)) ?? null : pool.allocate(peer, family);
  if (!a) return null;
  const b = ipBytes(a);
  if (b.length === (family === 6 ? 16 : 4)) return b;
  // a pool that ignores the family handed out the other one: give it back
  if (!Array.isArray(pool)) pool.release(a);
  return null;
}
