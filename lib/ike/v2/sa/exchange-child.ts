/**
 * Child SA negotiation (RFC 7296 §1.3, §2.17): the first Child SA of IKE_AUTH
 * and CREATE_CHILD_SA for new and rekeyed Child SAs (optional PFS, INVALID_KE
 * retry, rekey collisions §2.8.1). Works on an {@link SaContext}; no I/O.
 * @module
 */
import { applyChild } from "./peer-config.ts";
import { u32Bytes, type PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message } from "../message.ts";
import { childKeymat } from "./crypto.ts";
import { newKeyExchange, type KeyExchange } from "./dh.ts";
import { acceptChosen, espCipher, keyLengths, offerProposals, selectProposal, suiteName, suiteToProposal, type Suite } from "./proposals.ts";
import { tsHost, tsNarrow, tsSubset, tsText, type TrafficSelector } from "./ts.ts";
import { sharedSuite } from "./shared-config.ts";
import type { ChildSaInfo } from "./types.ts";
import { deleteChildRequest, responderRekeyIke } from "./exchange-info.ts";
import {
  EX_CHILD, N, dedupe, firstError, groupBytes, hex32, notifyOf, parse, proposalText, spiNum, stripKe,
  type Child, type Parsed, type Pending, type SaContext,
} from "./context.ts";

/** Initiator side of a Child SA negotiation (IKE_AUTH or CREATE_CHILD_SA response). True when installed. */
export function finishChild(
  sa: SaContext, p: Parsed, spiIn: number, offered: Suite[], tsiOffered: TrafficSelector[], tsrOffered: TrafficSelector[],
  ke: KeyExchange | undefined, rekeyOf: Child | undefined, now: number,
): boolean {
  const name = sa.cfg.childName ?? "child";
  const err = firstError(p);
  if (err || !p.sa) {
    const what = err?.notifyType === N.NO_PROPOSAL_CHOSEN ? `no common ESP proposal (NO_PROPOSAL_CHOSEN); we offered ${offered.map(suiteName).join(", ")}`
      : err?.notifyType === N.TS_UNACCEPTABLE ? `peer does not accept our traffic selectors ${tsiOffered.map(tsText).join(",")} === ${tsrOffered.map(tsText).join(",")} (TS_UNACCEPTABLE)`
      : err ? `peer refused it with ${err.notifyName}` : "response carries no SA payload";
    sa.log("error", `Child SA ${name} not established: ${what}`);
    sa.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: ${what}`, notify: err?.notifyName });
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
    sa.log("error", `Child SA ${name} not established: ${why}`);
    sa.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: ${why}` });
    return false;
  }
  installChild(sa, chosen!, spiIn, spiOut, tsi, tsr, shared, rekeyOf, now);
  shared?.fill(0);
  return true;
}

/** Derive the Child SA keys (nonces sa.ni2/nr2) and emit `install-child`. */
export function installChild(
  sa: SaContext, suite: Suite, spiIn: number, spiOut: number, tsLocal: TrafficSelector[], tsRemote: TrafficSelector[],
  shared: Uint8Array | undefined, rekeyOf: Child | undefined, now: number,
): Child {
  const kl = keyLengths(suite);
  // each direction: encryption key (AEAD: key || salt), then the integrity key (CBC + HMAC)
  const km = childKeymat(sa.suite!.prf!, sa.keys!.skd, sa.ni2, sa.nr2, kl.encr, kl.integ, shared);
  // initiator of this exchange: i2r is outbound
  const weInitiated = sa.exchangeInitiator;
  // the suite as configured (shared by every SA): not the per-exchange copy the negotiation made
  const child: Child = { spiIn, spiOut, suite: sharedSuite(suite), tsLocal, tsRemote, installedAt: now };
  sa.children.push(child);
  const info: ChildSaInfo = {
    spiIn, spiOut, cipher: espCipher(suite), keyIn: weInitiated ? km.r2i : km.i2r, keyOut: weInitiated ? km.i2r : km.r2i,
    tsLocal, tsRemote, esn: !!suite.esn,
  };
  if (rekeyOf) info.rekeyOf = { spiIn: rekeyOf.spiIn, spiOut: rekeyOf.spiOut };
  sa.out.push({ type: "install-child", child: info });
  sa.lastInstalled = child;
  sa.log("info", `Child SA ${sa.cfg.childName ?? "child"} ${rekeyOf ? "rekeyed" : "established"}: SPIs ${hex32(spiIn)}_i ${hex32(spiOut)}_o, ${suiteName(suite)}, TS ${tsLocal.map(tsText).join(",")} === ${tsRemote.map(tsText).join(",")}`);
  return child;
}

/**
 * Responder: select an ESP suite and narrow selectors. Returns the reply payloads
 * (SA, [KE], TSi, TSr — Nr is added by the caller for CREATE_CHILD_SA) and an
 * install callback, or an error notify.
 */
export function negotiateChildResponder(
  sa: SaContext, p: Parsed, suites: Suite[], remoteTs: TrafficSelector[], ignoreKe: boolean, rekeyOf: Child | undefined, now: number,
): { payloads: PayloadSpec[]; install: () => void } | { error: PayloadSpec } {
  const name = sa.cfg.childName ?? "child";
  const recvd = (p.sa?.proposals ?? []).filter((x) => x.protocol === 3).map((x) => (ignoreKe ? stripKe(x) : x));
  const sel = selectProposal(recvd, suites);
  if (!sel) {
    sa.log("error", `Child SA ${name}: no acceptable ESP proposal (NO_PROPOSAL_CHOSEN); received ${recvd.map(proposalText).join(", ") || "none"}; configured ${suites.map(suiteName).join(", ")}`);
    sa.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: no acceptable ESP proposal`, notify: "NO_PROPOSAL_CHOSEN" });
    return { error: { type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN } };
  }
  const spiOut = spiNum(sel.proposal.spi);
  if (spiOut < 0) return { error: { type: "notify", notifyType: N.INVALID_SYNTAX } };
  const tsi = tsNarrow(p.tsi ?? [], remoteTs), tsr = tsNarrow(p.tsr ?? [], sa.localTs);
  if (!tsi.length || !tsr.length) {
    sa.log("error", `Child SA ${name}: traffic selectors ${(p.tsi ?? []).map(tsText).join(",")} === ${(p.tsr ?? []).map(tsText).join(",")} do not match ours ${remoteTs.map(tsText).join(",")} === ${sa.localTs.map(tsText).join(",")} (TS_UNACCEPTABLE)`);
    sa.out.push({ type: "failed", scope: "child", reason: `Child SA ${name}: traffic selectors unacceptable`, notify: "TS_UNACCEPTABLE" });
    return { error: { type: "notify", notifyType: N.TS_UNACCEPTABLE } };
  }
  let shared: Uint8Array | undefined;
  const out: PayloadSpec[] = [];
  const spiIn = sa.newSpi();
  out.push({ type: "sa", proposals: [suiteToProposal(sel.suite, u32Bytes(spiIn), sel.proposal.num)] });
  if (sel.suite.ke !== undefined) {
    if (!p.ke || p.ke.group !== sel.suite.ke) {
      sa.log("info", `Child SA ${name}: asking for PFS group ${sel.suite.ke} (INVALID_KE_PAYLOAD)`);
      return { error: { type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: groupBytes(sel.suite.ke) } };
    }
    const ke = newKeyExchange(sel.suite.ke, sa.rng)!;
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
      sa.exchangeInitiator = false;
      installChild(sa, sel.suite, spiIn, spiOut, tsr, tsi, shared, rekeyOf, now);
      shared?.fill(0);
    },
  };
}

/** Responder: a CREATE_CHILD_SA request (new Child SA, Child SA rekey, or IKE SA rekey). */
export function responderChild(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  if (!p.nonce || !p.sa) { sa.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now); return; }
  if (p.sa.proposals.some((x) => x.protocol === 1)) { responderRekeyIke(sa, msg, datagram, p, now); return; }
  let rekeyOf: Child | undefined;
  const rk = notifyOf(p, N.REKEY_SA);
  if (rk) {
    const spi = spiNum(rk.spi);
    rekeyOf = sa.children.find((c) => c.spiOut === spi);
    if (!rekeyOf) {
      sa.log("warn", `CREATE_CHILD_SA: rekey of unknown Child SA ${hex32(spi)} (CHILD_SA_NOT_FOUND)`);
      sa.respond(msg, datagram, [{ type: "notify", notifyType: N.CHILD_SA_NOT_FOUND, protocol: 3, spi: rk.spi.slice() }], now);
      return;
    }
  }
  if (rekeyOf?.deleting) {
    // RFC 7296 §2.25.1: we are closing it
    sa.log("info", `CREATE_CHILD_SA: peer rekeys Child SA ${hex32(rekeyOf.spiIn)}_i that we are deleting (TEMPORARY_FAILURE)`);
    sa.respond(msg, datagram, [{ type: "notify", notifyType: N.TEMPORARY_FAILURE }], now);
    return;
  }
  // named connections: the child whose selectors fit (peer-config.ts)
  if (sa.cfg.peerConfigs) applyChild(sa, p.tsi ?? [], p.tsr ?? []);
  sa.ni2 = p.nonce.slice();
  sa.nr2 = sa.rng(32);
  const res = negotiateChildResponder(sa, p, sa.espSuites, sa.vipFromPool ? vipTs(sa) : sa.virtualIp ? [tsHost(sa.virtualIp)] : sa.remoteTs, false, rekeyOf, now);
  if ("error" in res) { sa.respond(msg, datagram, [res.error], now); return; }
  const [saPayload, ...rest] = res.payloads;
  sa.respond(msg, datagram, [saPayload, { type: "nonce", nonce: sa.nr2 }, ...rest], now);
  res.install();
  if (rekeyOf) {
    rekeyOf.retiring = true;
    rekeyOf.rekeyedByPeer = { child: sa.lastInstalled!, nonces: [sa.ni2, sa.nr2] };
    if (rekeyOf.ourRekeyNonce) sa.log("info", `rekey collision on Child SA ${hex32(rekeyOf.spiIn)}_i`);
  }
}

/** Initiator: a CREATE_CHILD_SA request for a new Child SA (`old` undefined) or a rekey of `old`. */
export function childRequest(sa: SaContext, tsi: TrafficSelector[], tsr: TrafficSelector[], old: Child | undefined, group?: number, tries = 0): Pending {
  return () => {
    if (old && (!sa.children.includes(old) || old.rekeyedByPeer || old.deleting)) {
      old.retiring = !!(old.rekeyedByPeer || old.deleting);
      return null; // the peer rekeyed it meanwhile, or it is being deleted
    }
    const spi = sa.newSpi();
    const ni = sa.rng(32);
    if (old) old.ourRekeyNonce = ni;
    const suites = sa.espSuites.map((s) => (group !== undefined && s.ke !== undefined ? { ...s, ke: group } : s));
    const g = suites.find((s) => s.ke !== undefined)?.ke;
    const ke = g !== undefined ? newKeyExchange(g, sa.rng) ?? undefined : undefined;
    const payloads: PayloadSpec[] = [];
    if (old) payloads.push({ type: "notify", protocol: 3, spi: u32Bytes(old.spiIn), notifyType: N.REKEY_SA });
    payloads.push({ type: "sa", proposals: offerProposals(dedupe(suites), u32Bytes(spi)) }, { type: "nonce", nonce: ni });
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
          sa.log("info", `CREATE_CHILD_SA: peer wants PFS group ${want}; retrying`);
          sa.queue.unshift(childRequest(sa, tsi, tsr, old, want, tries + 1));
          return;
        }
        const err = firstError(p);
        if (old && (err?.notifyType === N.TEMPORARY_FAILURE || err?.notifyType === N.CHILD_SA_NOT_FOUND)) {
          ke?.destroy();
          old.ourRekeyNonce = undefined;
          sa.log("info", `rekey of Child SA ${hex32(old.spiIn)}_i refused with ${err.notifyName}: the peer is rekeying or deleting it`);
          return;
        }
        sa.ni2 = ni;
        sa.nr2 = p.nonce ?? new Uint8Array(0);
        sa.exchangeInitiator = true;
        let ok = false;
        if (p.nonce || err) ok = finishChild(sa, p, spi, suites, tsi, tsr, ke, old, now); // reports the peer's error notify
        else {
          ke?.destroy();
          sa.log("error", `Child SA ${sa.cfg.childName ?? "child"} not established: CREATE_CHILD_SA response without a nonce`);
          sa.out.push({ type: "failed", scope: "child", reason: `Child SA ${sa.cfg.childName ?? "child"}: response without a nonce` });
        }
        if (old) old.ourRekeyNonce = undefined;
        if (!ok) { if (old && !old.rekeyedByPeer && !old.deleting && sa.children.includes(old)) old.retiring = false; return; }
        if (!old) return;
        const mine = sa.lastInstalled!;
        if (old.rekeyedByPeer) {
          // Collision (RFC 7296 §2.8.1): the exchange holding the lowest of the four nonces made the
          // redundant SA, and its initiator deletes that SA; the winner's initiator deletes the old one.
          const lowestIsOurs = lowestNonceIn([ni, sa.nr2], old.rekeyedByPeer.nonces);
          sa.log("info", `rekey collision on Child SA ${hex32(old.spiIn)}_i: ${lowestIsOurs ? "ours is redundant, deleting it" : "ours wins, deleting the old SA"}`);
          sa.queue.unshift(deleteChildRequest(sa, lowestIsOurs ? mine : old));
          return;
        }
        sa.queue.unshift(deleteChildRequest(sa, old));
      },
    };
  };
}

/** Compare byte strings as strongSwan does (memcmp of the common prefix, then length). */
function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** True when the lowest of all nonces is one of `ours`. */
export function lowestNonceIn(ours: Uint8Array[], theirs: Uint8Array[]): boolean {
  const minOf = (l: Uint8Array[]) => l.reduce((m, x) => (cmpBytes(x, m) < 0 ? x : m));
  return cmpBytes(minOf(ours), minOf(theirs)) < 0;
}
/** The peer's selectors once we assigned it virtual IPs: one host selector per address. */
export function vipTs(sa: SaContext): TrafficSelector[] {
  return [sa.virtualIp, sa.virtualIp6].filter((x): x is Uint8Array => x !== null).map(tsHost);
}
