/**
 * EAP-TLS inside IKE_AUTH, responder side (RFC 5216 over RFC 7296 §2.16): after our
 * certificate and AUTH, EAP-Identity, then the TLS handshake in EAP-TLS messages
 * (framing: lib/ike/v2/eap/tls.ts). The TLS engine is the platform's and asynchronous, so
 * an IKE_AUTH request whose EAP message completes a client flight is consumed without an
 * answer: the SA waits ("pending") and {@link eapTlsTick}, called from the SA's timer tick,
 * answers it once the engine's output is there. Retransmissions of that request are
 * dropped meanwhile (the answer, once sent, is cached and resent as for any request); an
 * engine silent for {@link EAP_TLS_ENGINE_TIMEOUT_MS} fails the SA.
 *
 * When the handshake completes, the client's certificate chain is checked against the
 * connection's CAs (`cacerts`) with lib/ike/pki (path, validity, keyUsage, EKU policy,
 * revocation) and must name the EAP identity; the MSK (RFC 5216 §2.3) then keys both AUTH
 * payloads as with EAP-MSCHAPv2 (exchange-eap.ts). No I/O.
 * @module
 */
import type { Ikev2Message } from "../message.ts";
import { ALERT_CERTIFICATE_UNKNOWN, ALERT_HANDSHAKE_FAILURE, alertName, EapTlsServer, printable, type EapTlsEngine, type EapTlsEngineResult } from "../eap/tls.ts";
import { encodeEap } from "../eap/mschapv2.ts";
import { certMatchesIdentity, checkPeerCertificate } from "./auth-sig.ts";
import { parseIdentity } from "./identity.ts";
import { dnText } from "../../pki/dn.ts";
import { refuse } from "./exchange-eap.ts";
import { myIdAuth } from "./exchange-auth.ts";
import type { PeerConfig } from "./peer-config.ts";
import { N, type Parsed, type SaContext } from "./context.ts";

/** How long an IKE_AUTH request may wait for the TLS engine (ms). */
export const EAP_TLS_ENGINE_TIMEOUT_MS = 10000;
/** How long a whole EAP-TLS conversation may take (a client feeding fragments slowly holds a TLS engine). */
export const EAP_TLS_MAX_MS = 60000;

/** The EAP-TLS part of an {@link EapSession}. */
export interface EapTlsSession {
  server: EapTlsServer;
  engine: EapTlsEngine;
  /** Client CAs (PEM): the connection's `cacerts`. */
  ca: readonly string[];
  /** The IKE_AUTH request waiting for the engine, answered from {@link eapTlsTick}. */
  pending: { msg: Ikev2Message; datagram: Uint8Array; since: number; result: EapTlsEngineResult | null } | null;
  /** The MSK once the handshake completed and the certificate was accepted (until EAP-Success). */
  msk: Uint8Array | null;
  /** The user name: the EAP identity the certificate names. */
  user: string;
  /** We refused the client's certificate with a TLS alert (the logged reason); its answer gets EAP-Failure. */
  refused: string | null;
  /** When the conversation started (the SA's clock). */
  started: number;
}

/** Start EAP-TLS for connection `c` (the first IKE_AUTH request, already chosen by responderEapStart). */
export function eapTlsStart(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, c: PeerConfig, p: Parsed, idText: string, now: number): void {
  const factory = sa.cfg.eapTlsEngine;
  if (!factory) {
    refuse(sa, msg, datagram, `connection ${c.name}: auth = "eap-tls" needs a TLS engine, and this runtime gave none`, now);
    return;
  }
  if (!c.peerCa?.length || !c.certificate || !c.privateKey) {
    refuse(sa, msg, datagram, `connection ${c.name}: auth = "eap-tls" needs cacerts (the client CA) and our certs and key`, now);
    return;
  }
  let engine: EapTlsEngine;
  try {
    engine = factory({ certificate: c.certificate, privateKey: c.privateKey, ca: c.peerCa });
  } catch (e) {
    refuse(sa, msg, datagram, `connection ${c.name}: TLS engine: ${(e as Error).message}`, now);
    return;
  }
  const server = new EapTlsServer(sa.rng);
  sa.eap = { tls: { server, engine, ca: c.peerCa, pending: null, msk: null, user: "", refused: null, started: now }, first: p, idText, msk: null };
  sa.state = "eap";
  sa.log("info", `IKE_AUTH: "${idText}" authenticates with EAP-TLS (connection ${c.name})`);
  sa.respond(msg, datagram, [...myIdAuth(sa), { type: "eap", data: server.start() }], now);
}

function end(sa: SaContext): void {
  const t = sa.eap?.tls;
  if (!t) return;
  t.engine.destroy();
  t.msk?.fill(0);
  t.msk = null;
}

function tlsRefuse(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, why: string, now: number, eapFailure: Uint8Array): void {
  end(sa);
  refuse(sa, msg, datagram, `EAP-TLS for "${printable(sa.eap?.tls?.server.userName || sa.eap?.idText || "")}": ${why}`, now, eapFailure);
}

/** A further IKE_AUTH request with an EAP message, in an EAP-TLS conversation. */
export function responderEapTls(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const t = sa.eap!.tls!;
  if (t.pending) {
    sa.log("debug", `IKE_AUTH request ${msg.messageId} while the TLS engine works on request ${t.pending.msg.messageId}: dropped`);
    return;
  }
  if (!p.eap) {
    tlsRefuse(sa, msg, datagram, "IKE_AUTH request without EAP during the TLS handshake", now, t.server.failure());
    return;
  }
  const e = p.eap;
  if (t.refused) {
    // the client's answer to our alert: EAP-Failure and AUTHENTICATION_FAILED; the refusal was logged already
    const f = t.server.step(encodeEap({ code: e.code, id: e.identifier, type: e.eapType, data: e.data }));
    sa.respond(msg, datagram, [{ type: "eap", data: "send" in f ? f.send : t.server.failure() }, { type: "notify", notifyType: N.AUTHENTICATION_FAILED }], now);
    sa.die(t.refused);
    return;
  }
  const r = t.server.step(encodeEap({ code: e.code, id: e.identifier, type: e.eapType, data: e.data }));
  if ("send" in r && !("done" in r)) {
    t.user ||= t.server.userName;
    sa.respond(msg, datagram, [{ type: "eap", data: r.send }], now);
    return;
  }
  if ("tls" in r) {
    t.engine.write(r.tls);
    t.pending = { msg, datagram: datagram.slice(), since: now, result: null };
    return;
  }
  if (r.done === "success" && t.msk) {
    const sess = sa.eap!;
    sess.msk = t.msk;
    t.msk = null;
    sa.eapUser = t.user;
    end(sa);
    sa.respond(msg, datagram, [{ type: "eap", data: r.send }], now);
    return;
  }
  tlsRefuse(sa, msg, datagram, r.done === "failure" ? r.reason : "EAP-Success without a completed handshake", now, r.done === "failure" ? r.send : t.server.failure());
}

/** Timer: answer the request waiting for the TLS engine, once it answered (or fail it after the timeout). */
export function eapTlsTick(sa: SaContext, now: number): void {
  const t = sa.eap?.tls;
  if (t?.refused && now - sa.lastHeard >= (sa.cfg.halfOpenTimeout ?? 30000)) {
    // strongSwan's client ends the conversation on our alert without an answer
    sa.log("debug", "EAP-TLS: no answer to our TLS alert; IKE SA removed");
    sa.die(t.refused);
    return;
  }
  if (t && !t.refused && now - t.started >= EAP_TLS_MAX_MS) {
    sa.fail(`IKE_AUTH failed: EAP-TLS for "${printable(t.server.userName || sa.eap?.idText || "")}": not finished within ${EAP_TLS_MAX_MS / 1000} s`, N.AUTHENTICATION_FAILED, now);
    return;
  }
  const w = t?.pending;
  if (!t || !w) return;
  w.result ??= t.engine.poll();
  const r = w.result;
  const answer = (eap: Uint8Array) => {
    t.pending = null;
    sa.respond(w.msg, w.datagram, [{ type: "eap", data: eap }], now);
  };
  const fail = (why: string) => {
    t.pending = null;
    tlsRefuse(sa, w.msg, w.datagram, why, now, t.server.failure());
  };
  if (!r) {
    if (now - w.since >= EAP_TLS_ENGINE_TIMEOUT_MS) fail(`the TLS engine did not answer within ${EAP_TLS_ENGINE_TIMEOUT_MS / 1000} s`);
    return;
  }
  if (r.state === "failed") return fail(`TLS handshake failed: ${r.error}`);
  if (r.state === "more") return answer(t.server.flight(r.out, false));
  // refuse the certificate: a TLS alert now, EAP-Failure + AUTHENTICATION_FAILED on the client's answer
  const refuseCert = (why: string, alert: number) => {
    const line = `IKE_AUTH failed: EAP-TLS for "${printable(t.server.userName || sa.eap?.idText || "")}": ${why}; sent TLS alert ${alertName(alert)}`;
    sa.log("error", line);
    sa.out.push({ type: "failed", scope: "ike", reason: line, notify: "AUTHENTICATION_FAILED" });
    t.refused = line;
    t.engine.destroy();
    r.msk.fill(0);
    answer(t.server.alert(alert));
  };
  // handshake complete: the client's certificate decides
  const user = t.server.userName;
  if (!r.peerCerts.length) return refuseCert("the client sent no certificate", ALERT_HANDSHAKE_FAILURE);
  const { crls, revocation, fetchCrl, eku } = sa.cfg;
  const chk = checkPeerCertificate(r.peerCerts[0], r.peerCerts.slice(1), t.ca, (sa.cfg.wallClock ?? Date.now)(), { crls, revocation, fetchCrl, eku });
  if ("error" in chk) {
    if (chk.pending?.length && now - w.since < EAP_TLS_ENGINE_TIMEOUT_MS) return; // a CRL is being fetched: check again on the next tick
    return refuseCert(`client certificate not trusted: ${chk.error}`, ALERT_CERTIFICATE_UNKNOWN);
  }
  for (const x of chk.warnings) sa.log("warn", x);
  const subject = dnText(chk.cert.subject);
  if (user) {
    let ok = false;
    try {
      const id = parseIdentity(user);
      ok = certMatchesIdentity(chk.cert, id.idType, id.data);
    } catch {
      ok = false;
    }
    if (!ok) return refuseCert(`client certificate "${printable(subject)}" does not name the EAP identity "${printable(user)}"`, ALERT_CERTIFICATE_UNKNOWN);
    t.user = user;
  } else t.user = subject;
  t.msk = r.msk;
  sa.log("info", `EAP-TLS: "${printable(t.user)}" authenticated with certificate "${printable(subject)}" (${r.version}, ${r.cipher})`);
  answer(t.server.flight(r.out, true));
}
