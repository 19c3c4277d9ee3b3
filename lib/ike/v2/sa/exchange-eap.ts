/**
 * EAP inside IKE_AUTH, responder side (RFC 7296 §2.16): an initiator that sends no AUTH
 * payload asks to authenticate with EAP. We answer with our identity, certificate and
 * signature plus the first EAP request; each further IKE_AUTH round carries one EAP
 * message (EAP-Identity, then EAP-MSCHAPv2: lib/ike/v2/eap/mschapv2.ts) until EAP-Success;
 * in the last round both AUTH payloads are computed with the EAP MSK as the key, and the
 * first Child SA and virtual IP are answered then. Works on an {@link SaContext}; no I/O.
 * @module
 */
import { ctEqual, escapeControls } from "../../../core/bytes.ts";
import type { Ikev2Message } from "../message.ts";
import { encodeEap, EAP_FAILURE, MschapPeer, MschapServer } from "../eap/mschapv2.ts";
import { pskAuth, signedOctets } from "./crypto.ts";
import { intAuthTail } from "./intermediate-auth.ts";
import { adoptConnection, answerAuth, authFailedInformational, myIdAuth } from "./exchange-auth.ts";
import { idBody, type Identity } from "./identity.ts";
import { rankPeerConfigs } from "./peer-config.ts";
import { eapTlsStart, responderEapTls } from "./exchange-eap-tls.ts";
import { EX_AUTH, N, parse, type Parsed, type SaContext } from "./context.ts";
import type { PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Payload } from "../message.ts";

export function refuse(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, why: string, now: number, eapFailure?: Uint8Array): void {
  const payloads = eapFailure ? [{ type: "eap" as const, data: eapFailure }, { type: "notify" as const, notifyType: N.AUTHENTICATION_FAILED }] : [{ type: "notify" as const, notifyType: N.AUTHENTICATION_FAILED }];
  sa.respond(msg, datagram, payloads, now);
  sa.fail(`IKE_AUTH failed: ${why}; sent ${eapFailure ? "EAP-Failure and " : ""}AUTHENTICATION_FAILED`, N.AUTHENTICATION_FAILED, now);
}

/** First IKE_AUTH request without AUTH: pick the EAP connection, answer with our AUTH and the first EAP request. */
export function responderEapStart(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const idText = p.idi!.text;
  const id: Identity = { idType: p.idi!.idType, data: p.idi!.data.slice() };
  if (!sa.cfg.peerConfigs?.length) {
    refuse(sa, msg, datagram, `peer "${idText}" asks for EAP authentication, but no connection has auth = "eap-mschapv2" or "eap-tls"`, now);
    return;
  }
  const idr = p.idr ? { idType: p.idr.idType, data: p.idr.data } : null;
  const { candidates, reason } = rankPeerConfigs(sa.cfg.peerConfigs, { id, idText, idr, authMethod: 0, address: sa.remote.address });
  const c = candidates[0];
  if (!c) {
    refuse(sa, msg, datagram, reason, now);
    return;
  }
  adoptConnection(sa, c, null, p);
  if (!sa.privateKey) {
    refuse(sa, msg, datagram, `connection ${c.name}: EAP needs our certificate and key (certs, key): clients check the server's signature first`, now);
    return;
  }
  if (c.auth === "eap-tls") {
    eapTlsStart(sa, msg, datagram, c, p, idText, now);
    return;
  }
  const server = new MschapServer((user) => c.eapUser?.(user) ?? undefined, sa.rng);
  sa.eap = { server, first: p, idText, msk: null };
  sa.state = "eap";
  sa.log("info", `IKE_AUTH: "${idText}" authenticates with EAP-MSCHAPv2 (connection ${c.name})`);
  sa.respond(msg, datagram, [...myIdAuth(sa), { type: "eap", data: server.start() }], now);
}

/** A further IKE_AUTH request of the EAP conversation (state "eap"). */
export function responderEap(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const sess = sa.eap!;
  if (sess.tls && (sess.tls.pending || (p.eap && !sess.msk))) {
    responderEapTls(sa, msg, datagram, p, now);
    return;
  }
  if (p.eap && sess.server && !sess.msk) {
    const e = p.eap;
    const raw = encodeEap({ code: e.code, id: e.identifier, type: e.eapType, data: e.data });
    const r = sess.server.step(raw);
    if ("send" in r && !("done" in r)) {
      sa.respond(msg, datagram, [{ type: "eap", data: r.send }], now);
      return;
    }
    if ("done" in r && r.done === "success") {
      sess.msk = r.msk;
      sa.eapUser = r.user;
      sa.log("info", `EAP-MSCHAPv2: user "${escapeControls(r.user)}" authenticated`);
      sa.respond(msg, datagram, [{ type: "eap", data: r.send! }], now);
      return;
    }
    const why = "done" in r && r.done === "failure" ? r.reason : "EAP conversation failed";
    refuse(sa, msg, datagram, `EAP-MSCHAPv2 for "${sess.idText}": ${why}`, now, ("send" in r && r.send) || encodeEap({ code: EAP_FAILURE, id: e.identifier, data: new Uint8Array(0) }));
    return;
  }
  if (p.auth && sess.msk) {
    const first = sess.first!;
    const k = sa.keys!;
    const prf = sa.suite!.prf!;
    const id: Identity = { idType: first.idi!.idType, data: first.idi!.data };
    const want = pskAuth(prf, sess.msk, signedOctets(prf, sa.initRequest, sa.nr, k.skpi, idBody(id), intAuthTail(sa)));
    if (p.auth.method !== 2 || !ctEqual(want, p.auth.data)) {
      refuse(sa, msg, datagram, `AUTH of "${sess.idText}" after EAP does not verify with the MSK`, now);
      return;
    }
    const ours = pskAuth(prf, sess.msk, signedOctets(prf, sa.initResponse, sa.ni, k.skpr, idBody(sa.localId), intAuthTail(sa)));
    sess.msk.fill(0);
    sa.eap = null;
    answerAuth(sa, msg, datagram, first, [{ type: "auth", method: 2, data: ours }], sess.idText, now);
    return;
  }
  refuse(sa, msg, datagram, `unexpected IKE_AUTH request during EAP from "${sess.idText}"`, now);
}

// ---------------------------------------------------------------- initiator

/** Send one more IKE_AUTH request of the EAP conversation; `then` gets its response. */
function authRound(sa: SaContext, payloads: PayloadSpec[], now: number, then: (p: Parsed, now: number) => void): void {
  const mid = sa.myMid;
  const data = sa.build(EX_AUTH, false, mid, payloads);
  sa.outstanding = {
    mid, exchange: EX_AUTH, data, tries: 0, nextAt: now + sa.timeout(0),
    onResponse: (_m: Ikev2Message, pl: Ikev2Payload[], t: number) => {
      sa.myMid = mid + 1;
      then(parse(pl), t);
    },
  };
  sa.send(data, now);
}

/**
 * Initiator with `cfg.eap`: the server authenticated itself (its AUTH verified) and sent
 * the first EAP request in `p`. Run EAP-MSCHAPv2 round by round; after EAP-Success send
 * our AUTH keyed by the MSK, check the server's last AUTH with it, then `done` with the last
 * response (CP, Child SA).
 */
export function initiatorEapStart(sa: SaContext, p: Parsed, idText: string, serverId: Identity, now: number, done: (p: Parsed, now: number) => void): void {
  const peer = new MschapPeer(sa.cfg.eap!.user, sa.cfg.eap!.password, sa.rng);
  sa.log("info", `IKE_AUTH: "${idText}" authenticated; EAP-MSCHAPv2 as user "${sa.cfg.eap!.user}"`);
  const fail = (why: string, t: number) => {
    authFailedInformational(sa, t);
    sa.fail(`IKE_AUTH failed: EAP-MSCHAPv2: ${why}`, N.AUTHENTICATION_FAILED, t);
  };
  const onEap = (q: Parsed, t: number): void => {
    if (!q.eap) {
      const err = q.notifies.find((n) => n.isError);
      fail(err ? `server answered ${err.notifyName}` : "server sent no EAP message", t);
      return;
    }
    const e = q.eap;
    const r = peer.step(encodeEap({ code: e.code, id: e.identifier, type: e.eapType, data: e.data }));
    if ("done" in r && r.done === "failure") {
      if (r.send) authRound(sa, [{ type: "eap", data: r.send }], t, () => fail(r.reason, t));
      else fail(r.reason, t);
      return;
    }
    if ("done" in r && r.done === "success") {
      sa.eapUser = r.user;
      const k = sa.keys!, prf = sa.suite!.prf!;
      const msk = r.msk;
      const ours = pskAuth(prf, msk, signedOctets(prf, sa.initRequest, sa.nr, k.skpi, idBody(sa.localId), intAuthTail(sa)));
      const want = pskAuth(prf, msk, signedOctets(prf, sa.initResponse, sa.ni, k.skpr, idBody(serverId), intAuthTail(sa)));
      msk.fill(0);
      authRound(sa, [{ type: "auth", method: 2, data: ours }], t, (last, t2) => {
        if (!last.auth || last.auth.method !== 2 || !ctEqual(last.auth.data, want)) {
          const err = last.notifies.find((n) => n.isError);
          fail(err ? `server refused our AUTH with ${err.notifyName}` : "the server's AUTH does not verify with the MSK", t2);
          return;
        }
        done(last, t2);
      });
      return;
    }
    authRound(sa, [{ type: "eap", data: (r as { send: Uint8Array }).send }], t, onEap);
  };
  onEap(p, now);
}
