/**
 * IKE_SA_INIT (RFC 7296 §1.2): the initiator's request (COOKIE and
 * INVALID_KE_PAYLOAD retries), the responder's answer, NAT detection
 * (§2.23) and the switch to UDP encapsulation. Works on an {@link SaContext}; no I/O.
 * @module
 */
import { ctEqual } from "../../../core/bytes.ts";
import type { Anomaly } from "../../../core/anomaly.ts";
import { encodeIkev2Message, type HeaderSpec } from "../encode/message.ts";
import type { PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message, Ikev2Payload } from "../message.ts";
import { natdHash } from "./crypto.ts";
import { newKeyExchange } from "./dh.ts";
import { strongswanName } from "../strongswan-names.ts";
import { acceptChosen, offerProposals, selectProposal, suiteName, suiteToProposal } from "./proposals.ts";
import type { Endpoint } from "./types.ts";
import { cookieFor, verifyCookie } from "./cookie.ts";
import { certreq } from "./exchange-auth.ts";
import { afterInit, INTERMEDIATE_SUP, N_INTERMEDIATE_SUPPORTED, wantsIntermediate } from "./exchange-intermediate.ts";
import {
  EX_INIT, FRAG_SUP, N, NO_SPI, SIG_HASH, firstError, groupBytes, ipBytes, notifyOf, parse, proposalText, requestDigest, type Parsed, type SaContext,
} from "./context.ts";

/** Initiator: send (or resend after COOKIE / INVALID_KE_PAYLOAD) the IKE_SA_INIT request with key exchange `group`. */
export function startInit(sa: SaContext, group: number, now: number): void {
  sa.ke?.destroy();
  sa.ke = newKeyExchange(group, sa.rng);
  if (!sa.ke) { sa.fail(`group ${group} is not implemented`, undefined, now); return; }
  const payloads: PayloadSpec[] = [];
  if (sa.cookie) payloads.push({ type: "notify", notifyType: N.COOKIE, data: sa.cookie });
  payloads.push(
    { type: "sa", proposals: offerProposals(sa.ikeSuites, new Uint8Array(0)) },
    { type: "ke", group, data: sa.ke.publicValue },
    { type: "nonce", nonce: sa.ni },
    ...natdPayloads(sa, NO_SPI),
    SIG_HASH,
    ...(sa.cfg.fragmentation === false ? [] : [FRAG_SUP]),
    ...(wantsIntermediate(sa) ? [INTERMEDIATE_SUP] : []),
  );
  sa.state = "init-sent";
  sa.myMid = 0;
  const h: HeaderSpec = { ispi: sa.spii, rspi: NO_SPI, exchange: EX_INIT, initiator: true, response: false, messageId: 0 };
  const data = encodeIkev2Message(h, payloads);
  sa.initRequest = data;
  sa.outstanding = { mid: 0, exchange: EX_INIT, data: [data], tries: 0, nextAt: now + sa.timeout(0, EX_INIT), onResponse: (m, p, t) => initiatorInitResponse(sa, m, p, t) };
  sa.send([data], now);
}

/**
 * NAT_DETECTION_SOURCE_IP / _DESTINATION_IP (RFC 7296 §2.23): SHA-1 of the SPIs
 * and our / the peer's address and port. With `forceEncap` the source hash is
 * random (as strongSwan's encap=yes), so the peer sees a NAT and encapsulates.
 */
export function natdPayloads(sa: SaContext, rspi: Uint8Array): PayloadSpec[] {
  const src = sa.cfg.forceEncap ? sa.rng(20) : natdHash(sa.spii, rspi, ipBytes(sa.local.address), sa.local.port);
  const dst = natdHash(sa.spii, rspi, ipBytes(sa.remote.address), sa.remote.port);
  return [{ type: "notify", notifyType: N.NATD_SRC, data: src }, { type: "notify", notifyType: N.NATD_DST, data: dst }];
}

/**
 * Compare the peer's NAT-D notifies with the addresses the message really
 * travelled between (`from`: its source; `to`: our endpoint it arrived on).
 * Sets the NAT flags; emits `nat-detected` when a NAT is seen or encapsulation is forced.
 */
export function detectNat(sa: SaContext, p: Parsed, from: Endpoint, to: Endpoint): void {
  const srcs = p.notifies.filter((n) => n.notifyType === N.NATD_SRC);
  const dst = notifyOf(p, N.NATD_DST);
  if (!srcs.length || !dst) {
    if (sa.cfg.forceEncap) natDetected(sa);
    return;
  }
  // hashes cover the SPIs of the message that carries them: SPIr is zero in the request
  const rspi = sa.initiator ? sa.spir : NO_SPI;
  const expSrc = natdHash(sa.spii, rspi, ipBytes(from.address), from.port);
  const expDst = natdHash(sa.spii, rspi, ipBytes(to.address), to.port);
  sa.remoteBehindNat = !srcs.some((n) => ctEqual(n.data, expSrc));
  sa.localBehindNat = !ctEqual(dst.data, expDst);
  if (sa.localBehindNat || sa.remoteBehindNat || sa.cfg.forceEncap) natDetected(sa);
}

function natDetected(sa: SaContext): void {
  sa.out.push({ type: "nat-detected", localBehindNat: sa.localBehindNat, remoteBehindNat: sa.remoteBehindNat, keepalive: sa.localBehindNat });
  const why = [sa.localBehindNat ? "we are behind a NAT" : "", sa.remoteBehindNat ? "peer is behind a NAT" : ""].filter(Boolean).join(", ");
  sa.log("info", why ? `NAT detected (${why})` : "no NAT detected; UDP encapsulation forced");
}

/** Initiator after IKE_SA_INIT: move to port 4500 (non-ESP marker) when a NAT was seen or encapsulation is forced. */
export function maybeSwitchPort(sa: SaContext): void {
  if (sa.natt || !(sa.localBehindNat || sa.remoteBehindNat || sa.cfg.forceEncap)) return;
  sa.natt = true;
  if (sa.remote.port === 500) sa.remote = { ...sa.remote, port: 4500 };
  sa.local = { ...sa.local, port: 4500 };
  sa.out.push({ type: "switch-port", localPort: 4500, remote: { ...sa.remote } });
}

/** Initiator: the IKE_SA_INIT response (or a COOKIE / INVALID_KE_PAYLOAD / error answer). */
export function initiatorInitResponse(sa: SaContext, msg: Ikev2Message, payloads: Ikev2Payload[], now: number): void | "defer" {
  const p = parse(payloads);
  const cookie = notifyOf(p, N.COOKIE);
  if (cookie) {
    // the answer to an earlier copy (a retransmission, lib/ike/v2/sa/retransmit.ts) asking for the
    // COOKIE we already return: not a new demand; our request stays outstanding
    if (sa.cookie && sa.cookie.length === cookie.data.length && sa.cookie.every((x, i) => x === cookie.data[i])) return "defer";
    if (++sa.initRetries > 3 || cookie.data.length < 1 || cookie.data.length > 64) { sa.fail("IKE_SA_INIT: responder keeps demanding a COOKIE", N.COOKIE, now); return; }
    sa.log("info", "responder demands a COOKIE; retrying IKE_SA_INIT with it");
    sa.cookie = cookie.data.slice();
    startInit(sa, sa.ke!.group, now);
    return;
  }
  const invKe = notifyOf(p, N.INVALID_KE_PAYLOAD);
  if (invKe) {
    const g = invKe.data.length === 2 ? (invKe.data[0] << 8) | invKe.data[1] : -1;
    const offered = sa.ikeSuites.some((s) => s.ke === g);
    if (!offered || g === sa.ke!.group || ++sa.initRetries > 3) {
      sa.fail(`IKE_SA_INIT: responder wants key exchange group ${g} (${strongswanName(4, g)}), which we did not propose`, N.INVALID_KE_PAYLOAD, now);
      return;
    }
    sa.log("info", `responder wants group ${g} (INVALID_KE_PAYLOAD); retrying IKE_SA_INIT with ${strongswanName(4, g)}`);
    startInit(sa, g, now);
    return;
  }
  const err = firstError(p);
  if (err) {
    const why = err.notifyType === N.NO_PROPOSAL_CHOSEN
      ? `no common IKE proposal (NO_PROPOSAL_CHOSEN); we offered ${sa.ikeSuites.map(suiteName).join(", ")}`
      : `responder refused IKE_SA_INIT with ${err.notifyName}`;
    sa.fail(`IKE_SA_INIT failed: ${why}`, err.notifyType, now);
    return;
  }
  const chosen = p.sa?.proposals.length === 1 ? acceptChosen(p.sa.proposals[0], sa.ikeSuites) : null;
  if (!chosen) { sa.fail("IKE_SA_INIT failed: responder chose a proposal we did not offer", undefined, now); return; }
  if (!p.ke || p.ke.group !== chosen.ke || p.ke.group !== sa.ke!.group) { sa.fail("IKE_SA_INIT failed: KE payload does not match the chosen group", undefined, now); return; }
  if (!p.nonce || p.nonce.length < 16 || p.nonce.length > 256) { sa.fail("IKE_SA_INIT failed: missing or bad nonce", undefined, now); return; }
  if (!msg.rspi.some((x) => x)) { sa.fail("IKE_SA_INIT failed: responder SPI is zero", undefined, now); return; }
  const shared = sa.ke!.compute(p.ke.data);
  if (!shared) { sa.fail("IKE_SA_INIT failed: invalid KE value from the responder", undefined, now); return; }
  sa.spir = msg.rspi.slice();
  sa.nr = p.nonce.slice();
  sa.suite = chosen;
  sa.fragOk = sa.cfg.fragmentation !== false && notifyOf(p, N.FRAG_SUP) !== undefined;
  sa.initResponse = sa.lastRaw.slice();
  sa.deriveKeys(shared);
  shared.fill(0);
  sa.ke!.destroy();
  sa.ke = null;
  detectNat(sa, p, sa.lastFrom, sa.lastTo ?? sa.local);
  maybeSwitchPort(sa);
  sa.myMid = 1;
  afterInit(sa, p, now); // RFC 9370 additional key exchanges (IKE_INTERMEDIATE), then IKE_AUTH
}

/**
 * Responder: answer an IKE_SA_INIT request from `from`. A request refused
 * (syntax, COOKIE demanded, INVALID_KE_PAYLOAD, NO_PROPOSAL_CHOSEN) is answered
 * statelessly and ends this SA (`closed`): a retry makes a new one.
 */
export function responderInit(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, from: Endpoint, an: Anomaly[], now: number): void {
  if (msg.messageId !== 0 || msg.rspi.some((x) => x)) {
    sa.log("debug", "dropped: IKE_SA_INIT request with a responder SPI or message ID");
    sa.die("invalid IKE_SA_INIT request");
    return;
  }
  if (an.length) sa.log("debug", `IKE_SA_INIT anomalies: ${an.map((a) => a.reason).join("; ")}`);
  const p = parse(msg.payloads);
  const arrivedNatt = sa.natt; // set by the dispatcher: the request came on the NAT-T socket
  const refuse = (payloads: PayloadSpec[], level: "info" | "warn", why: string, closeReason: string) => {
    const h: HeaderSpec = { ispi: msg.ispi, rspi: NO_SPI, exchange: EX_INIT, initiator: false, response: true, messageId: 0 };
    sa.out.push({ type: "send", data: encodeIkev2Message(h, payloads), to: { ...from }, natt: arrivedNatt });
    sa.log(level, why);
    sa.die(closeReason);
  };
  if (!p.sa || !p.ke || !p.nonce) { refuse([{ type: "notify", notifyType: N.INVALID_SYNTAX }], "warn", "IKE_SA_INIT without SA, KE or Nonce", "invalid IKE_SA_INIT request"); return; }
  if (sa.cfg.cookieSecret) {
    const got = notifyOf(p, N.COOKIE);
    if (!got || !verifyCookie(sa.cfg.cookieSecret, got.data, p.nonce, from.address, msg.ispi)) {
      const want = cookieFor(sa.cfg.cookieSecret, p.nonce, from.address, msg.ispi);
      refuse([{ type: "notify", notifyType: N.COOKIE, data: want }], "info", `IKE_SA_INIT from ${from.address}: demanding a COOKIE`, "COOKIE demanded");
      return;
    }
  }
  // RFC 9370 additional key exchanges only with a peer that can do IKE_INTERMEDIATE (RFC 9242)
  const intermediate = notifyOf(p, N_INTERMEDIATE_SUPPORTED) !== undefined;
  const sel = selectProposal(p.sa.proposals, intermediate ? sa.ikeSuites : sa.ikeSuites.filter((s) => !s.addke?.some((id) => id > 0)));
  if (!sel) {
    const recv = p.sa.proposals.map(proposalText).join(", ");
    sa.remote = { ...from };
    sa.spii = msg.ispi.slice();
    const h: HeaderSpec = { ispi: msg.ispi, rspi: NO_SPI, exchange: EX_INIT, initiator: false, response: true, messageId: 0 };
    sa.out.push({ type: "send", data: encodeIkev2Message(h, [{ type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN }]), to: { ...from }, natt: arrivedNatt });
    sa.fail(`IKE_SA_INIT from ${from.address}: no acceptable proposal (NO_PROPOSAL_CHOSEN); received ${recv}; configured ${sa.ikeSuites.map(suiteName).join(", ")}`, N.NO_PROPOSAL_CHOSEN, now);
    return;
  }
  if (p.ke.group !== sel.suite.ke) {
    refuse([{ type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: groupBytes(sel.suite.ke!) }], "info",
      `IKE_SA_INIT from ${from.address}: KE group ${p.ke.group} (${strongswanName(4, p.ke.group)}), asking for group ${sel.suite.ke} (INVALID_KE_PAYLOAD, ${strongswanName(4, sel.suite.ke!)})`, "INVALID_KE_PAYLOAD sent");
    return;
  }
  if (p.nonce.length < 16 || p.nonce.length > 256) { refuse([{ type: "notify", notifyType: N.INVALID_SYNTAX }], "warn", "IKE_SA_INIT: bad nonce length", "invalid IKE_SA_INIT request"); return; }
  const ke = newKeyExchange(sel.suite.ke!, sa.rng)!;
  const shared = ke.compute(p.ke.data);
  if (!shared) {
    ke.destroy();
    refuse([{ type: "notify", notifyType: N.INVALID_SYNTAX }], "warn", `IKE_SA_INIT from ${from.address}: invalid KE value`, "invalid IKE_SA_INIT request");
    return;
  }
  sa.remote = { ...from };
  sa.spii = msg.ispi.slice();
  sa.spir = sa.rng(8);
  sa.ni = p.nonce.slice();
  sa.nr = sa.rng(32);
  sa.suite = sel.suite;
  sa.initRequest = datagram.slice(0, msg.length);
  detectNat(sa, p, from, sa.lastTo ?? sa.local);
  const reply: PayloadSpec[] = [
    { type: "sa", proposals: [suiteToProposal(sel.suite, new Uint8Array(0), sel.proposal.num)] },
    { type: "ke", group: ke.group, data: ke.publicValue },
    { type: "nonce", nonce: sa.nr },
    ...natdPayloads(sa, sa.spir),
    ...certreq(sa),
    SIG_HASH,
  ];
  sa.fragOk = sa.cfg.fragmentation !== false && notifyOf(p, N.FRAG_SUP) !== undefined;
  if (sa.fragOk) reply.push(FRAG_SUP);
  if (intermediate) reply.push(INTERMEDIATE_SUP);
  sa.deriveKeys(shared);
  shared.fill(0);
  ke.destroy();
  const h: HeaderSpec = { ispi: sa.spii, rspi: sa.spir, exchange: EX_INIT, initiator: false, response: true, messageId: 0 };
  const data = encodeIkev2Message(h, reply);
  sa.initResponse = data;
  sa.cachedResponse = { mid: 0, digest: requestDigest(sa.initRequest), data: [data] };
  sa.peerMid = 1;
  sa.state = "init-done";
  sa.lastHeard = now;
  sa.send([data], now);
}
