/**
 * INFORMATIONAL (RFC 7296 §1.4): Delete of Child SAs and the IKE SA, liveness
 * checks (empty INFORMATIONAL), error notifies; and the IKE SA rekey (§2.18:
 * a CREATE_CHILD_SA with an IKE proposal, then the Delete of the old SA, which
 * is when this SA switches to the new keys). Works on an {@link SaContext}; no I/O.
 * @module
 */
import { u32Bytes, type PayloadSpec } from "../encode/payloads.ts";
import type { Ikev2Message } from "../message.ts";
import { wipeIkeKeys } from "./crypto.ts";
import { newKeyExchange } from "./dh.ts";
import { acceptChosen, offerProposals, selectProposal, suiteName, suiteToProposal } from "./proposals.ts";
import { initiatorFollowups, responderFollowupBind, responderFollowupStart, takeFollowupSecrets } from "./exchange-followup.ts";
import { EX_CHILD, EX_INFO, N, firstError, groupBytes, hex32, parse, spiNum, type Child, type Parsed, type Pending, type SaContext } from "./context.ts";

/** Responder: an INFORMATIONAL request (Deletes, error notifies, or an empty liveness check). */
export function responderInfo(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const reply: PayloadSpec[] = [];
  let closeIke = false;
  const removed: Child[] = [];
  for (const d of p.deletes) {
    if (d.protocol === 1) closeIke = true;
    else if (d.protocol === 3) {
      const mine: Uint8Array[] = [];
      for (const s of d.spis) {
        const c = sa.children.find((x) => x.spiOut === spiNum(s));
        if (c) { mine.push(u32Bytes(c.spiIn)); removed.push(c); }
      }
      if (mine.length) reply.push({ type: "delete", protocol: 3, spiSize: 4, spis: mine });
    }
  }
  const err = firstError(p);
  if (err?.notifyType === N.AUTHENTICATION_FAILED) {
    sa.respond(msg, datagram, [], now);
    sa.fail("peer rejected our authentication (AUTHENTICATION_FAILED): check the PSK, keys and identities", N.AUTHENTICATION_FAILED, now);
    return;
  }
  if (err && sa.state !== "established") {
    sa.respond(msg, datagram, [], now);
    sa.fail(`peer reported ${err.notifyName}`, err.notifyType, now);
    return;
  }
  sa.respond(msg, datagram, closeIke ? [] : reply, now);
  if (closeIke && sa.pendingIkeRekey) {
    adoptIkeRekey(sa, now);
    return;
  }
  if (closeIke) {
    sa.log("info", "peer deleted the IKE SA");
    sa.die("deleted by peer");
    return;
  }
  for (const c of removed) {
    sa.children = sa.children.filter((x) => x !== c);
    sa.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason: "deleted by peer" });
    sa.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o deleted by peer`);
  }
  if (err) sa.log("warn", `peer reported ${err.notifyName} in an INFORMATIONAL`);
}

/** Responder: CREATE_CHILD_SA with an IKE proposal (the peer rekeys the IKE SA). */
export function responderRekeyIke(sa: SaContext, msg: Ikev2Message, datagram: Uint8Array, p: Parsed, now: number): void {
  const recvd = p.sa!.proposals.filter((x) => x.protocol === 1);
  const sel = selectProposal(recvd, sa.ikeSuites);
  if (!sel || sel.proposal.spi.length !== 8) {
    sa.respond(msg, datagram, [{ type: "notify", notifyType: N.NO_PROPOSAL_CHOSEN }], now);
    sa.log("error", "IKE SA rekey: no acceptable proposal (NO_PROPOSAL_CHOSEN)");
    return;
  }
  if (!p.ke || p.ke.group !== sel.suite.ke) {
    sa.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_KE_PAYLOAD, data: groupBytes(sel.suite.ke!) }], now);
    return;
  }
  const ke = newKeyExchange(sel.suite.ke!, sa.rng)!;
  const shared = ke.compute(p.ke.data);
  if (!shared) { ke.destroy(); sa.respond(msg, datagram, [{ type: "notify", notifyType: N.INVALID_SYNTAX }], now); return; }
  const newSpir = sa.rng(8);
  const nr = sa.rng(32);
  sa.respond(msg, datagram, [
    { type: "sa", proposals: [suiteToProposal(sel.suite, newSpir, sel.proposal.num)] },
    { type: "nonce", nonce: nr },
    { type: "ke", group: ke.group, data: ke.publicValue },
    ...responderFollowupStart(sa, sel.suite), // RFC 9370 §2.2.4: IKE_FOLLOWUP_KE follows
  ], now);
  ke.destroy();
  // The peer (rekey initiator) deletes the old SA over the old keys next; we switch when that Delete arrives.
  sa.pendingIkeRekey?.shared.fill(0);
  sa.pendingIkeRekey = { suite: sel.suite, spii: sel.proposal.spi.slice(), spir: newSpir, ni: p.nonce!.slice(), nr, shared, initiator: false };
  responderFollowupBind(sa);
}

/** Switch the SA over to the rekeyed IKE SA (old keys zeroed, message IDs restart). */
export function adoptIkeRekey(sa: SaContext, now: number): void {
  const r = sa.pendingIkeRekey!;
  sa.pendingIkeRekey = null;
  const old = { skd: sa.keys!.skd.slice(), prf: sa.suite!.prf!, extra: takeFollowupSecrets(r) }; // RFC 9370: SK(1) | ... | SK(n)
  wipeIkeKeys(sa.keys!);
  sa.initiator = r.initiator;
  sa.spii = r.spii;
  sa.spir = r.spir;
  sa.ni = r.ni;
  sa.nr = r.nr;
  sa.suite = r.suite;
  sa.deriveKeys(r.shared, old);
  old.skd.fill(0);
  old.extra?.fill(0);
  r.shared.fill(0);
  sa.myMid = 0;
  sa.peerMid = 0;
  sa.cachedResponse = null;
  sa.ikeRekeyedAt = now;
  sa.out.push({ type: "ike-rekeyed", ispi: sa.spii.slice(), rspi: sa.spir.slice() });
  sa.log("info", `IKE SA rekeyed (${suiteName(r.suite)})`);
}

/** Initiator: CREATE_CHILD_SA rekeying the IKE SA, then the Delete of the old one. */
export function ikeRekeyRequest(sa: SaContext): Pending {
  return () => {
    const spii = sa.rng(8), ni = sa.rng(32);
    const suite0 = sa.suite!;
    const ke = newKeyExchange(suite0.ke!, sa.rng)!;
    const offered = [suite0, ...sa.ikeSuites.filter((s) => s !== suite0 && s.ke === suite0.ke)];
    return {
      exchange: EX_CHILD,
      payloads: [
        { type: "sa", proposals: offerProposals(offered, spii) },
        { type: "nonce", nonce: ni },
        { type: "ke", group: ke.group, data: ke.publicValue },
      ],
      onResponse: (_m, pl) => {
        const p = parse(pl);
        const chosen = p.sa?.proposals.length === 1 ? acceptChosen(p.sa.proposals[0], offered) : null;
        const shared = chosen && p.ke?.group === ke.group && p.nonce && p.sa!.proposals[0].spi.length === 8 ? ke.compute(p.ke.data) : null;
        ke.destroy();
        if (!chosen || !shared) {
          sa.log("error", `IKE SA rekey failed: ${firstError(p)?.notifyName ?? "bad response"}`);
          return;
        }
        sa.pendingIkeRekey = { suite: chosen, spii, spir: p.sa!.proposals[0].spi.slice(), ni, nr: p.nonce!.slice(), shared, initiator: true };
        const deleteOld = () => sa.queue.unshift(() => ({
          exchange: EX_INFO,
          payloads: [{ type: "delete", protocol: 1, spiSize: 0, spis: [] }],
          onResponse: (_m2, _p2, t) => adoptIkeRekey(sa, t),
        }));
        // RFC 9370 §2.2.4: additional key exchanges (IKE_FOLLOWUP_KE) before the Delete
        if (!initiatorFollowups(sa, chosen, p, deleteOld)) deleteOld();
      },
    };
  };
}

/** Initiator: Delete of Child SA `c`; removed when answered. */
export function deleteChildRequest(sa: SaContext, c: Child): Pending {
  return () => {
    if (!sa.children.includes(c)) return null;
    c.retiring = true;
    c.deleting = true;
    return {
      exchange: EX_INFO,
      payloads: [{ type: "delete", protocol: 3, spiSize: 4, spis: [u32Bytes(c.spiIn)] }],
      onResponse: () => {
        if (!sa.children.includes(c)) return;
        sa.children = sa.children.filter((x) => x !== c);
        sa.out.push({ type: "remove-child", spiIn: c.spiIn, spiOut: c.spiOut, reason: "deleted" });
        sa.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o deleted`);
      },
    };
  };
}

/** Initiator: Delete of the IKE SA; the SA closes when answered. */
export function deleteIkeRequest(sa: SaContext): Pending {
  return () => ({
    exchange: EX_INFO,
    payloads: [{ type: "delete", protocol: 1, spiSize: 0, spis: [] }],
    onResponse: () => sa.die("deleted"),
  });
}

/** Liveness check: an empty INFORMATIONAL request. */
export function dpdRequest(sa: SaContext): Pending {
  return () => ({ exchange: EX_INFO, payloads: [], onResponse: () => sa.log("debug", "liveness check answered") });
}
