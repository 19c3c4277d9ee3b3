/**
 * IKE SA analysis: exchanges, outcome, and the failures that show in the
 * IKE messages (error notifies, unanswered requests, IP fragment loss,
 * retransmissions, encrypted outcomes without keys).
 * @module
 */
import { fromHex, toHex } from "../core/bytes.ts";
import { natdHash } from "../ike/v2/sa/crypto.ts";
import { parseIp } from "../net/cidr.ts";
import { authKind } from "./describe.ts";
import type { MsgFacts, NotifyFact } from "./facts.ts";
import { dur, finding, pkts, times } from "./finding.ts";
import type { IcmpRec, IkeSaState, MsgRec, OrphanFragments } from "./state.ts";
import type { Evidence, Finding, IkeSaDiagnosis } from "./types.ts";

/** A request and its responses (one message ID of one sender). */
export interface Exchange {
  exchange: string;
  messageId: number;
  owner: "I" | "R";
  requests: MsgRec[];
  responses: MsgRec[];
}

/** What the IKE analysis needs from the rest of the capture. */
export interface IkeContext {
  icmp: IcmpRec[];
  /** Datagrams seen only as non-first fragments. */
  orphans: OrphanFragments[];
  /** Capture end (time of the last packet). */
  end: number;
  /** Whether ESP was seen between two addresses after a time: returns the first such packet. */
  espAfter(a: string, b: string, t: number): { no: number; time: number } | undefined;
  /** Every IKE SA (for INVALID_KE_PAYLOAD retries). */
  all: IkeSaState[];
}

/** Group a SA's messages into exchanges (a retry with the same message ID starts a new one). */
export function exchangesOf(st: IkeSaState): Exchange[] {
  const out: Exchange[] = [];
  const cur = new Map<string, Exchange>();
  for (const m of st.msgs) {
    const k = st.version === 2 ? `${m.owner}/${m.messageId}` : `${m.exchange}/${m.messageId}`;
    let ex = cur.get(k);
    if (!ex || (!m.response && m.retry)) {
      ex = { exchange: m.exchange, messageId: m.messageId, owner: m.owner, requests: [], responses: [] };
      cur.set(k, ex);
      out.push(ex);
    }
    (m.response ? ex.responses : ex.requests).push(m);
  }
  return out;
}

const saName = (st: IkeSaState) => `${st.ispi}/${st.rspi}`;
const endsOf = (a: string, b: string) => (a < b ? `${a}|${b}` : `${b}|${a}`);

/** Outcome wording for an IKE SA first seen after its IKE_SA_INIT (the diagnoser names the rekey when it finds one). */
export const MIDWAY = "first seen after its setup: created by a rekey, or up before the capture started";

function ev(m: MsgRec, text: string): Evidence {
  return { packet: m.no, time: m.time, text };
}

function msgLine(m: MsgRec): string {
  return `${m.exchange} ${m.response ? "response" : "request"} ${m.src} -> ${m.dst} [ ${m.payloads} ]`;
}

function keysHint(st: IkeSaState): string {
  return `give the keys of IKE SA ${saName(st)} (SK_ei/SK_er and, unless the cipher is AEAD, SK_ai/SK_ar: charon logs them at "ike 4" log level, or use Wireshark's ikev2_decryption_table) with --keys`;
}

/** Plain-language notes on other error notifies (RFC 7296 §3.10.1). */
const OTHER_ERRORS: Record<number, string> = {
  1: "the peer does not understand a payload marked critical",
  4: "the peer does not know this IKE SA (it was deleted or the peer restarted)",
  5: "the peer does not support this IKE major version",
  7: "the peer found the message malformed",
  9: "message IDs are out of sync between the peers",
  11: "the peer does not know the SPI (an SA it has already deleted)",
  34: "the peer only accepts a single address pair in the traffic selectors",
  35: "the peer does not accept more CHILD SAs on this IKE SA",
  36: "the responder could not assign a virtual IP address (address pool exhausted or not configured)",
  37: "the responder requires a configuration payload (virtual IP request) that was not sent",
  39: "a packet did not match the selectors of its SA",
  43: "the peer is busy with another exchange (collision): retried later",
  44: "the peer does not have the CHILD SA named in the request",
};

function noticeSort(a: Finding, b: Finding): number {
  return (a.packets[0] ?? 0) - (b.packets[0] ?? 0);
}

/** Analyse one IKE SA. */
export function analyzeIkeSa(st: IkeSaState, ctx: IkeContext): { diag: IkeSaDiagnosis; findings: Finding[] } {
  const exs = exchangesOf(st);
  const findings: Finding[] = [];
  const name = saName(st);
  const init = exs.find((e) => e.exchange === "IKE_SA_INIT" || e.exchange === "Identity Protection (Main Mode)" || e.exchange === "Aggressive");
  const initReq = init?.requests[0];
  const initResp = init?.responses.find((r) => r.facts.sa);
  const auth = exs.find((e) => e.exchange === "IKE_AUTH");

  // 1. Error notifies, cleartext or decrypted.
  const seen = new Set<string>();
  for (const ex of exs) {
    for (const m of [...ex.responses, ...ex.requests]) {
      for (const n of m.facts.notifies) {
        if (!n.error || seen.has(`${ex.owner}/${ex.messageId}/${n.type}`)) continue;
        seen.add(`${ex.owner}/${ex.messageId}/${n.type}`);
        findings.push(errorFinding(st, ex, m, n, exs, ctx));
      }
    }
  }

  // 2. Integrity failures with the keys given.
  const bad = st.msgs.filter((m) => m.protection === "integrity-bad");
  if (bad.length) {
    findings.push(finding("IKE_INTEGRITY_FAILED", "error", `${bad.length} encrypted IKE message${bad.length > 1 ? "s" : ""} of IKE SA ${name} failed the integrity check with the keys given`, {
      ikeSa: name,
      explanation: ["The keys given for this IKE SA do not match the ones the peers used (wrong key file or a key file from another run), or the messages were corrupted on the way."],
      evidence: bad.slice(0, 8).map((m) => ev(m, msgLine(m))),
      suggestions: ["Check that the keys belong to this capture: IKE SA SPIs " + name + "."],
    }));
  }

  // 3. Unanswered requests: no response at all, or lost IP fragments.
  const answered = (e: Exchange) => e.responses.length > 0;
  if (st.version === 2) {
    for (const ex of exs) {
      if (answered(ex) || !ex.requests.length) continue;
      // Later messages can prove the answer was sent and the capture missed it:
      // - the same sender went on with a later message ID that was answered (window 1);
      // - after IKE_SA_INIT, any later message carrying the responder's SPI (only the IKE_SA_INIT response gives it);
      // - after IKE_AUTH, ESP between the peers (the CHILD SA it creates is in use).
      const first = ex.requests[0];
      let proof: { text: string; evidence: Evidence } | undefined;
      const goneOn = exs.find((o) => o.owner === ex.owner && o.messageId > ex.messageId && o.requests.length > 0 && answered(o));
      if (goneOn) proof = { text: `the exchange with mid ${goneOn.messageId} went on`, evidence: ev(goneOn.requests[0], msgLine(goneOn.requests[0])) };
      if (!proof && ex.exchange === "IKE_SA_INIT") {
        const later = st.msgs.find((m) => m.time >= first.time && m !== first && !ex.requests.includes(m) && !/^0+$/.test(m.rspiHex));
        if (later) proof = { text: `packet ${later.no} (${later.exchange} ${later.response ? "response" : "request"}) carries the responder's SPI, which only the IKE_SA_INIT response gives`, evidence: ev(later, msgLine(later)) };
      }
      if (!proof && ex.exchange === "IKE_AUTH") {
        const esp = ctx.espAfter(st.initiator, st.responder, first.time);
        if (esp && esp.time >= first.time) proof = { text: `ESP between the peers follows (packet ${esp.no}): the CHILD SA it creates is in use`, evidence: { packet: esp.no, time: esp.time, text: "first ESP packet between the peers after the request" } };
      }
      if (proof) {
        findings.push(finding("NO_RESPONSE", "info", `the response to ${ex.exchange} mid ${ex.messageId} (packet ${first.no}) is not in the capture, but ${proof.text}: the capture missed it`, {
          ikeSa: name, evidence: [ev(first, msgLine(first)), proof.evidence],
          data: { exchange: ex.exchange, requests: ex.requests.map((r) => r.no), port: first.dstPort ?? null },
        }));
        continue;
      }
      findings.push(unansweredFinding(st, ex, exs, ctx));
    }
  } else {
    const open = v1Unanswered(st);
    if (open) findings.push(unansweredFinding(st, open, exs, ctx));
  }

  // 3b. Datagrams between the peers whose first IP fragment never arrived (the IKE message itself stays invisible).
  const orphans = ctx.orphans.filter((o) => o.time >= st.firstTime && endsOf(o.src, o.dst) === endsOf(st.initiator, st.responder));
  const lastAnswered = exs.length > 0 && answered(exs[exs.length - 1]);
  if (orphans.length && lastAnswered && !exs.some((e) => e.exchange === "IKE_AUTH" && answered(e)) && !findings.some((f) => f.code === "IKE_FRAGMENT_LOSS")) {
    const reasm = ctx.icmp.filter((i) => i.time >= orphans[0].time && ((!i.v6 && i.type === 11 && i.code === 1) || (i.v6 && i.type === 3 && i.code === 1)));
    const evidence: Evidence[] = orphans.map((o) => ({ packet: o.packets[0], time: o.time, text: `${o.src} -> ${o.dst} IP ID 0x${o.id.toString(16)}: fragments in ${pkts(o.packets)} (${o.bytes} bytes and more), first fragment never seen` }));
    for (const i of reasm) evidence.push({ packet: i.no, time: i.time, text: `${i.src} -> ${i.dst} ICMP ${i.text}` });
    findings.push(finding("IKE_FRAGMENT_LOSS", "error", `after ${exs[exs.length - 1].exchange}, ${orphans.length} large datagram${orphans.length > 1 ? "s" : ""} between the peers arrived without ${orphans.length > 1 ? "their" : "its"} first IP fragment; most likely the IKE_AUTH message, lost to IP fragmentation`, {
      ikeSa: name, evidence, packets: orphans.flatMap((o) => o.packets),
      explanation: [
        "The first fragment carries the UDP and IKE headers; it never reached the capture point, so the datagram cannot be reassembled and the message it carried is lost. After IKE_SA_INIT this is almost always the (large, certificate-carrying) IKE_AUTH request or response.",
      ],
      suggestions: [
        "Enable IKEv2 fragmentation (RFC 7383) on both peers: strongSwan swanctl.conf `fragmentation = yes` (ipsec.conf `fragmentation=yes`).",
        "Or fix the path: something drops IP fragments (firewall, NAT, MTU blackhole); lower the MTU or send smaller messages.",
      ],
      data: { orphanDatagrams: orphans.map((o) => ({ src: o.src, dst: o.dst, id: o.id, packets: o.packets })), icmpReassembly: reasm.map((i) => i.no) },
    }));
  }

  // 4. Retransmissions that were answered in the end.
  for (const first of st.msgs) {
    if (first.retransmission !== undefined || (st.version === 2 && first.response)) continue;
    const copies = st.msgs.filter((m) => m.retransmitOf === first.no);
    if (!copies.length) continue;
    const resp = st.version === 2
      ? exs.find((e) => e.requests.includes(first))?.responses[0]
      : st.msgs.find((m) => m.dir !== first.dir && m.time > first.time);
    if (!resp) continue;
    findings.push(finding("IKE_RETRANSMIT", "warning", `${first.exchange} request was sent ${times(copies.length + 1)} before it was answered (${dur(resp.time - first.time)})`, {
      ikeSa: name,
      explanation: ["The first copies (or their answers) were lost or the peer was slow: packet loss on the path, or a busy responder."],
      evidence: [...[first, ...copies].map((m) => ev(m, `${m.retransmission ? `retransmission ${m.retransmission}` : "first copy"} of ${m.exchange} request mid ${m.messageId}`)), ev(resp, "answer")],
    }));
  }

  // 5. Encrypted outcome without keys.
  // With EAP or multiple authentication rounds there are several IKE_AUTH exchanges: the last answered one decides.
  const lastAuth = [...exs].reverse().find((e) => e.exchange === "IKE_AUTH" && e.responses.length) ?? auth;
  const authResp = lastAuth?.responses[0];
  const authReq = lastAuth?.requests[0];
  const decided = findings.some((f) => f.severity === "error");
  let espSeen: { no: number; time: number } | undefined;
  if (authResp) espSeen = ctx.espAfter(st.initiator, st.responder, authResp.time);
  const later = exs.filter((e) => authResp && e.requests[0] && e.requests[0].time > authResp.time);
  const childLater = later.find((e) => e.exchange === "CREATE_CHILD_SA" && answered(e));
  if (!decided && authResp && authResp.protection === "encrypted" && !espSeen && !childLater) {
    const info = later.find((e) => e.exchange === "INFORMATIONAL");
    const small = authResp.length < 140;
    // The IKE SA ends with an INFORMATIONAL soon after IKE_AUTH (a DELETE, most likely): it was given up.
    const lastMsg = st.msgs[st.msgs.length - 1];
    const endsSoon = !!info && info.requests[0].time - authResp.time < 10 && lastMsg.exchange === "INFORMATIONAL" && later.every((e) => e.exchange === "INFORMATIONAL");
    const sure = small || endsSoon;
    const evid: Evidence[] = [];
    if (authReq) evid.push(ev(authReq, `IKE_AUTH request, encrypted (${authReq.length} bytes)`));
    evid.push(ev(authResp, `IKE_AUTH response, encrypted (${authResp.length} bytes)${small ? ": too small for IDr + AUTH, so most likely only an error notify" : ""}`));
    if (info) evid.push(ev(info.requests[0], `INFORMATIONAL request ${dur(info.requests[0].time - authResp.time)} after IKE_AUTH (encrypted; likely a DELETE of the IKE SA)`));
    const summary = sure
      ? `IKE_AUTH of IKE SA ${name} was answered, but no tunnel came up; the reason is inside the encrypted IKE_AUTH response (packet ${authResp.no})`
      : `IKE_AUTH of IKE SA ${name} was answered, but no ESP followed in the capture; whether the tunnel came up is inside the encrypted IKE_AUTH response (packet ${authResp.no})`;
    findings.push(finding("ENCRYPTED_NEED_KEYS", sure ? "error" : "warning", summary, {
      ikeSa: name,
      explanation: [
        sure ? "No ESP and no further CHILD SA followed the IKE_AUTH exchange, and the IKE SA was given up soon after (or the answer is too small to be a success): authentication or the CHILD SA negotiation failed."
          : "No ESP and no further CHILD SA followed the IKE_AUTH exchange. Either the tunnel is up and simply carried no traffic while capturing, or authentication / the CHILD SA negotiation failed.",
        "The error (for example AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) is in the encrypted part of the response and cannot be read without keys.",
        small ? "The response is small, which points to an error notify alone: typically AUTHENTICATION_FAILED." : "The response is large enough to carry IDr and AUTH, which points to a CHILD SA problem (NO_PROPOSAL_CHOSEN or TS_UNACCEPTABLE) after successful authentication.",
      ],
      evidence: evid,
      suggestions: [`To see the exact cause, ${keysHint(st)}.`, "Or read the responder's log around this time (strongSwan: `journalctl -u strongswan` / charon.log)."],
      data: { responseNo: authResp.no, responseLength: authResp.length, endedSoonAfter: endsSoon },
    }));
  }

  // Outcome.
  const errors = findings.filter((f) => f.severity === "error");
  const deleteMsg = st.msgs.find((m) => !m.response && m.facts.deletes.some((d) => d.protocol === "IKE" || (st.version === 1 && d.protocol === "ISAKMP")));
  // The responder authenticated itself (AUTH present, no AUTHENTICATION_FAILED): the IKE SA is up even if the CHILD SA failed.
  const authOk = authResp && authResp.protection !== "encrypted" && authResp.facts.auth && !authResp.errors.includes("AUTHENTICATION_FAILED");
  // First seen in a later exchange: created by a rekey (linked later) or up before the capture started.
  const midway = st.version === 2 && exs.length > 0 && exs[0].exchange !== "IKE_SA_INIT";
  const established = midway || !!authOk || !!espSeen || !!childLater ||
    (st.version === 1 && st.msgs.some((m) => m.exchange === "Quick Mode" && m.dir === "R->I"));
  let state: IkeSaDiagnosis["state"];
  let outcome: string;
  if (errors.length) {
    const e = errors[0];
    state = e.code === "NO_RESPONSE" || e.code === "IKE_FRAGMENT_LOSS" ? "no-response" : e.code === "ENCRYPTED_NEED_KEYS" ? "unknown" : "failed";
    outcome = (authOk && e.code !== "AUTH_FAILED" ? "IKE SA established, but " : "") + e.summary;
  } else if (findings.some((f) => f.code === "ENCRYPTED_NEED_KEYS")) {
    state = "unknown";
    outcome = findings.find((f) => f.code === "ENCRYPTED_NEED_KEYS")!.summary;
  } else if (established) {
    state = "established";
    const how = midway ? MIDWAY
      : authOk ? `IKE_AUTH response packet ${authResp!.no} carries AUTH without error`
      : espSeen ? `ESP followed from packet ${espSeen.no}`
      : childLater ? `CREATE_CHILD_SA answered at packet ${childLater.responses[0].no}` : "Quick Mode completed";
    outcome = `established (${how})`;
  } else if (exs.length && exs.every(answered)) {
    state = "incomplete";
    outcome = `incomplete: the capture ends after ${exs[exs.length - 1].exchange}`;
  } else {
    state = "incomplete";
    outcome = "incomplete";
  }
  if (deleteMsg) outcome += `; deleted (DELETE in packet ${deleteMsg.no})`;

  const diag: IkeSaDiagnosis = {
    version: st.version, ispi: st.ispi, rspi: st.rspi, initiator: st.initiator, responder: st.responder,
    firstNo: st.firstNo, lastNo: st.lastNo, firstTime: st.firstTime, lastTime: st.lastTime,
    timeline: st.msgs.map(({ owner: _o, facts: _f, ispiHex: _i, rspiHex: _r, skf: _s, skfTotal: _st, retry: _rt, ...t }) => ({ ...t, packets: [...t.packets] })),
    timelineOmitted: st.omitted, state, outcome, deleted: !!deleteMsg, findings: [],
  };
  const nat = natDetection(initReq, initResp);
  if (nat) diag.nat = nat;
  findings.sort(noticeSort);
  diag.findings = findings.map((f) => f.code);
  return { diag, findings };
}

function offeredText(f: MsgFacts | undefined): string[] {
  return f?.sa ? f.sa.proposals.map((p) => p.text) : [];
}

function errorFinding(st: IkeSaState, ex: Exchange, m: MsgRec, n: NotifyFact, exs: Exchange[], ctx: IkeContext): Finding {
  const name = saName(st);
  const req = ex.requests[0];
  const where = `${n.name} in ${m.exchange} ${m.response ? "response" : "request"} (packet ${m.no})`;
  const base: Evidence[] = [];
  if (req && req !== m) base.push(ev(req, msgLine(req)));
  base.push(ev(m, msgLine(m)));
  /** Evidence in reading order: the request, details about it, then the message carrying the error. */
  const withDetails = (details: Evidence[], after: Evidence[] = []): Evidence[] => [...base.slice(0, -1), ...details, base[base.length - 1], ...after];
  const v1 = st.version === 1;
  // IKEv1 reports errors in a separate Informational exchange: the offer is in the
  // last Quick Mode request before it (phase 2), else in the first message (phase 1).
  const quick = v1 ? [...st.msgs].reverse().find((x) => x.exchange === "Quick Mode" && x.dir === "I->R" && x.time <= m.time) : undefined;
  const offerMsg = v1 ? quick ?? st.msgs[0] : req;
  const phase2 = v1 && !!quick;
  // IKEv2 numbers; IKEv1 uses the same numbers for these.
  switch (v1 && n.type === 18 && phase2 ? 38 : n.type) {
    case 14: {
      const ike = v1 ? !phase2 : m.exchange === "IKE_SA_INIT" || req?.facts.sa?.protocol === "IKE";
      const code = ike ? "NO_PROPOSAL_CHOSEN_IKE" : "NO_PROPOSAL_CHOSEN_CHILD";
      const offered = offeredText(offerMsg?.facts);
      const expl: string[] = [
        ike ? "The responder accepted none of the IKE (phase 1) proposals the initiator offered: the encryption, integrity/PRF or key-exchange (DH) algorithms do not match its configuration."
          : "The IKE SA itself was negotiated, but the responder accepted none of the ESP/AH (CHILD SA) proposals: encryption, integrity, PFS group or ESN do not match its configuration.",
      ];
      const details: Evidence[] = offerMsg && offered.length ? offered.map((o) => ev(offerMsg, `offered ${o}`)) : [];
      const after: Evidence[] = [];
      if (!offered.length && offerMsg && offerMsg.protection === "encrypted") expl.push(`The offer is inside the encrypted ${offerMsg.exchange} request (packet ${offerMsg.no}): to see it, ${keysHint(st)}.`);
      // What the same responder accepted in another negotiation of this capture, if any.
      const acceptedMsg = acceptedElsewhere(ctx.all, m.src, ike, m);
      const acc = acceptedMsg?.facts.sa;
      if (acceptedMsg && acc) {
        for (const p of acc.proposals) after.push(ev(acceptedMsg, `the same responder (${m.src}) accepted ${p.text} in another negotiation of this capture`));
        expl.push(`The responder's side is known from packet ${acceptedMsg.no}, where it accepted a proposal: compare it with the offer above.`);
      } else {
        expl.push("What the responder would accept is not on the wire: it only answers NO_PROPOSAL_CHOSEN. Its log shows it (strongSwan: \"received proposals: ...\" / \"configured proposals: ...\").");
      }
      if (!ike) {
        const agreed = exs.find((e) => e.exchange === "IKE_SA_INIT")?.responses.find((r) => r.facts.sa);
        if (agreed?.facts.sa) for (const p of agreed.facts.sa.proposals) after.push(ev(agreed, `for comparison, the IKE SA was agreed as ${p.text}`));
        if (req?.facts.sa && req.facts.sa.proposals.some((p) => (p.transforms.KE ?? []).some((k) => k !== "NONE"))) expl.push("The offer includes a key-exchange (PFS) group: a PFS mismatch (one side with, one without) also causes this.");
      }
      return finding(code, "error", `${ike ? "IKE" : "CHILD SA (ESP)"} proposal mismatch: ${where}`, {
        ikeSa: name, explanation: expl, evidence: withDetails(details, after),
        suggestions: [ike
          ? "Give both sides at least one common IKE proposal (strongSwan swanctl.conf: connections.<name>.proposals; ipsec.conf: ike=)."
          : "Give both sides at least one common ESP proposal (strongSwan swanctl.conf: children.<name>.esp_proposals; ipsec.conf: esp=), including the same PFS setting."],
        data: { offered: offerMsg?.facts.sa?.proposals ?? null, accepted: acc?.proposals ?? null, acceptedNo: acceptedMsg?.no ?? null, offeredKnown: !!offerMsg?.facts.sa, requestNo: offerMsg?.no, responseNo: m.no },
      });
    }
    case 17: {
      const offered = req?.facts.ke;
      const wanted = n.group;
      const evidence = withDetails(offered && req ? [ev(req, `initiator's KE payload uses group ${offered.name} (${offered.group})`)] : [],
        [ev(m, `responder asks for group ${n.groupName ?? "?"} (${wanted ?? "?"})`)]);
      // The retry: a later IKE_SA_INIT from the same initiator with the requested group.
      let retry: MsgRec | undefined;
      let retryOk: MsgRec | undefined;
      for (const o of ctx.all) {
        for (const e of exchangesOf(o)) {
          const r = e.requests[0];
          if (e.exchange !== "IKE_SA_INIT" || !r || r.time <= m.time || r.src !== req?.src || r.facts.ke?.group !== wanted) continue;
          if (!retry || r.time < retry.time) {
            retry = r;
            retryOk = e.responses.find((x) => x.facts.sa && !x.errors.length);
          }
        }
      }
      if (retry) evidence.push(ev(retry, `retry with group ${retry.facts.ke?.name} (${wanted})${retryOk ? `, answered without error at packet ${retryOk.no}` : ", not answered successfully"}`));
      if (retryOk) evidence.push(ev(retryOk, "IKE_SA_INIT response to the retry"));
      const sev = retryOk ? "warning" : "error";
      return finding("INVALID_KE_PAYLOAD", sev, `key-exchange group mismatch: initiator offered ${offered?.name ?? "?"}, responder wants ${n.groupName ?? "?"}; ${retry ? (retryOk ? "the retry succeeded" : "the retry failed") : "no retry seen"}`, {
        ikeSa: name,
        explanation: [
          "The initiator guessed a DH/key-exchange group for its KE payload that the responder does not accept; the responder names the group it wants (RFC 7296 §1.2).",
          retryOk ? "The initiator retried with that group and it worked: this costs one round trip each time. Put the group first in the initiator's proposal to avoid it."
            : retry ? "The initiator retried with that group, but the retry did not succeed." : "No retry with the requested group was seen: the initiator does not have that group configured.",
        ],
        evidence,
        suggestions: ["Configure a common key-exchange group first on both sides (strongSwan: the last part of the IKE proposal, e.g. aes256-sha256-modp2048 or -x25519)."],
        data: { offeredGroup: offered?.group ?? null, requestedGroup: wanted ?? null, retryNo: retry?.no ?? null, retrySucceeded: !!retryOk },
      });
    }
    case 24: {
      const details: Evidence[] = [];
      const after: Evidence[] = [];
      const authReq = exs.find((e) => e.exchange === "IKE_AUTH")?.requests[0];
      const authResp = exs.find((e) => e.exchange === "IKE_AUTH")?.responses[0];
      const fi = authReq?.facts;
      const fr = authResp?.facts;
      if (authReq) {
        if (fi?.idi) details.push(ev(authReq, `initiator's identity IDi: ${fi.idi}`));
        if (fi?.idr) details.push(ev(authReq, `identity the initiator expects of the responder (IDr): ${fi.idr}`));
        if (fi?.auth) details.push(ev(authReq, `initiator authenticates with: ${fi.auth.name}${fi.certs ? ` (${fi.certs} certificate${fi.certs > 1 ? "s" : ""} sent)` : ""}`));
        for (const c of fi?.certNames ?? []) details.push(ev(authReq, `initiator's certificate: ${c}`));
        if (fi?.eap) details.push(ev(authReq, "EAP in use"));
      }
      if (authResp && authResp !== m) {
        if (fr?.idr) after.push(ev(authResp, `responder's identity IDr: ${fr.idr}`));
        if (fr?.auth) after.push(ev(authResp, `responder authenticates with: ${fr.auth.name}`));
        for (const c of fr?.certNames ?? []) after.push(ev(authResp, `responder's certificate: ${c}`));
      }
      if (authResp && !fr?.idr && authResp.protection !== "encrypted") after.push(ev(authResp, "the responder sent no identity or AUTH of its own: it rejected the initiator before authenticating itself"));
      if (v1) {
        return finding("AUTH_FAILED", "error", `authentication failed: ${where}`, {
          ikeSa: name, evidence: base,
          explanation: ["IKEv1 phase 1 authentication failed: with pre-shared keys the two secrets (or the identities they are looked up by) differ; with certificates the peer did not accept the certificate or identity."],
          suggestions: ["Compare the pre-shared keys and identities on both sides; the rejecting peer's log names the reason."],
          data: { rejectedBy: m.dir === "R->I" ? "responder" : "initiator", likelyCause: null },
        });
      }
      const byResponder = m.response && m.exchange === "IKE_AUTH";
      const kind = byResponder ? (fi?.auth ? authKind(fi.auth.method) : undefined) : (fr?.auth ? authKind(fr.auth.method) : undefined);
      const expl: string[] = [byResponder
        ? "The responder rejected the initiator's authentication (the AUTH payload in the IKE_AUTH request)."
        : "The initiator rejected the responder's authentication and told it so."];
      const sugg: string[] = [];
      if (kind === "psk") {
        expl.push("Authentication uses a pre-shared key: the most likely cause is that the two PSKs differ, or that the responder looked up the PSK for a different identity than the one sent (IDi).");
        sugg.push("Compare the pre-shared keys on both sides (strongSwan: secrets { ike-x { id = ...; secret = ... } }); check that the key's id matches the identity sent in IDi.");
      } else if (kind === "signature") {
        expl.push("Authentication uses signatures/certificates: likely causes are a CA the peer does not trust, an incomplete chain (intermediate CA not sent), an expired or revoked certificate, or an identity that does not appear in the certificate (subject or subjectAltName).");
        sugg.push("Check the peer's trust anchors and the certificate's validity and subjectAltName against the identity sent; the rejecting side's log names the exact reason.");
      } else if (kind === "null") {
        expl.push("NULL authentication was not accepted by the peer's policy.");
      } else if (fi?.eap) {
        expl.push("EAP is in use: the EAP credentials (user name/password) were likely refused.");
      } else if (!fi?.auth) {
        expl.push(`The identities and authentication method are in the encrypted IKE_AUTH request: to see them, ${keysHint(st)}.`);
      }
      if (byResponder && fi?.idr && fr?.idr === undefined) expl.push("The initiator also asked for a specific responder identity (IDr); if the responder has no config for it, authentication fails too.");
      sugg.push("Read the rejecting peer's log for the exact reason (strongSwan: \"tried N shared key for ...\", \"no trusted RSA public key found\", \"constraint check failed\").");
      return finding("AUTH_FAILED", "error", `authentication failed: ${where}`, {
        ikeSa: name, explanation: expl, evidence: withDetails(details, after), suggestions: sugg,
        data: {
          rejectedBy: byResponder ? "responder" : "initiator",
          idi: fi?.idi ?? null, idr: fi?.idr ?? fr?.idr ?? null,
          initiatorAuth: fi?.auth?.name ?? null, responderAuth: fr?.auth?.name ?? null, likelyCause: kind ?? null,
        },
      });
    }
    case 38: {
      const f = req?.facts;
      const details: Evidence[] = [];
      if (f?.tsi !== undefined && req) details.push(ev(req, `proposed TSi (initiator side): ${f.tsi}`));
      if (f?.tsr !== undefined && req) details.push(ev(req, `proposed TSr (responder side): ${f.tsr}`));
      const evidence = withDetails(details);
      const expl = [v1
        ? `${n.name} after Quick Mode: the peer has no phase 2 configuration for the proposed IDs (local/remote subnets).`
        : "The responder found no CHILD SA configuration whose traffic selectors (local/remote subnets) match the proposed ones; the IKE SA is up but no tunnel is created."];
      if (!f?.tsi && req?.protection === "encrypted") expl.push(`The proposed selectors are in the encrypted request (packet ${req.no}): to see them, ${keysHint(st)}.`);
      return finding("TS_UNACCEPTABLE", "error", `traffic selectors not accepted: ${where}`, {
        ikeSa: name, explanation: expl, evidence,
        suggestions: ["Make the subnets match: the initiator's local_ts/remote_ts (ipsec.conf leftsubnet/rightsubnet) must be inside (or, with narrowing, overlap) the responder's remote_ts/local_ts."],
        data: { tsi: f?.tsi ?? null, tsr: f?.tsr ?? null },
      });
    }
    default: {
      const note = v1 ? undefined : OTHER_ERRORS[n.type];
      // Races around rekeys and deletes: worth knowing, rarely why a tunnel is down.
      const minor = !v1 && (n.type === 11 || n.type === 43 || n.type === 44);
      return finding("IKE_ERROR_NOTIFY", minor ? "warning" : "error", `${where}${note ? `: ${note}` : ""}`, {
        ikeSa: name, evidence: base,
        explanation: [note ? `${n.name}: ${note}.` : `The peer reported the error ${n.name} (${n.type}).`],
        data: { notify: n.name, type: n.type },
      });
    }
  }
}

/**
 * IKEv1: the initiator's last message that expected an answer and got none
 * (with its retransmissions). Answers and errors may come in another exchange,
 * so anything from the responder afterwards counts; Informational messages
 * and the final message of Aggressive and Quick Mode expect no answer.
 */
function v1Unanswered(st: IkeSaState): Exchange | undefined {
  const fromI = st.msgs.filter((m) => m.dir === "I->R" && m.retransmission === undefined);
  for (let i = fromI.length - 1; i >= 0; i--) {
    const m = fromI[i];
    if (m.exchange.startsWith("Informational")) continue;
    const final = (m.exchange === "Aggressive" || m.exchange === "Quick Mode") &&
      st.msgs.some((x) => x.dir === "R->I" && x.exchange === m.exchange && x.messageId === m.messageId && x.time <= m.time);
    if (final) return undefined;
    if (st.msgs.some((x) => x.dir === "R->I" && x.time >= m.time)) return undefined;
    const requests = st.msgs.filter((x) => x === m || x.retransmitOf === m.no);
    return { exchange: m.exchange, messageId: m.messageId, owner: "I", requests, responses: [] };
  }
  return undefined;
}

/** A response from `responder` carrying an accepted SA of the same level (IKE or CHILD), other than `not`. */
function acceptedElsewhere(all: IkeSaState[], responder: string, ike: boolean, not: MsgRec): MsgRec | undefined {
  for (const st of all) {
    for (const m of st.msgs) {
      if (m === not || m.src !== responder || !m.response || !m.facts.sa || m.errors.length) continue;
      if ((m.facts.sa.protocol === "IKE" || m.facts.sa.protocol === "ISAKMP") === ike) return m;
    }
  }
  return undefined;
}

function fragSupported(m: MsgRec | undefined): boolean {
  return !!m && m.facts.notifies.some((n) => n.type === 16430);
}

function unansweredFinding(st: IkeSaState, ex: Exchange, exs: Exchange[], ctx: IkeContext): Finding {
  const name = saName(st);
  const reqs = ex.requests;
  const first = reqs[0];
  const last = reqs[reqs.length - 1];
  const peer = first.dst;
  const port = first.dstPort;
  const intervals = reqs.slice(1).map((r, i) => dur(r.time - reqs[i].time));
  const skfText = (r: MsgRec) => (r.skf && r.skfTotal && r.skf.size < r.skfTotal ? ` — only ${r.skf.size} of ${r.skfTotal} IKE fragments seen` : "");
  const evidence: Evidence[] = reqs.map((r) => ev(r, `${r.exchange} request mid ${r.messageId} to ${r.dst}${r.dstPort ? `:${r.dstPort}` : ""} (${r.length} bytes)${r.retransmission ? ` — retransmission ${r.retransmission}` : ""}${r.fragmentOnly ? " — only the first IP fragment reached the capture" : ""}${skfText(r)}`));
  const fragOnly = reqs.filter((r) => r.fragmentOnly);
  const icmp = ctx.icmp.filter((i) => i.time >= first.time && i.src === peer && i.dst === first.src);
  const reasm = icmp.filter((i) => (!i.v6 && i.type === 11 && i.code === 1) || (i.v6 && i.type === 3 && i.code === 1));
  const unreach = icmp.filter((i) => (!i.v6 && i.type === 3) || (i.v6 && i.type === 1));
  const tooBig = ctx.icmp.filter((i) => i.time >= first.time && i.dst === first.src && ((!i.v6 && i.type === 3 && i.code === 4) || (i.v6 && i.type === 2)));
  const v2init = exs.find((e) => e.exchange === "IKE_SA_INIT");
  if (fragOnly.length) {
    for (const i of reasm) evidence.push({ packet: i.no, time: i.time, text: `${i.src} -> ${i.dst} ICMP ${i.text}: the responder got the first fragment but not the rest` });
    for (const i of tooBig) evidence.push({ packet: i.no, time: i.time, text: `${i.src} -> ${i.dst} ICMP ${i.text}${i.mtu ? ` (MTU ${i.mtu})` : ""}` });
    const expl = [
      `The ${ex.exchange} request is ${first.length} bytes, too big for one packet on this path, so IP split it into fragments. Only the first fragment of each copy reached the capture point; the others never arrived, so the datagram was never reassembled and the responder never saw the message.`,
    ];
    if (reasm.length) expl.push(`The responder confirms it: ${reasm.length} ICMP "fragment reassembly time exceeded" from ${peer}.`);
    if (v2init) {
      const iq = v2init.requests[0];
      const ir = v2init.responses[0];
      if (iq && !fragSupported(iq)) expl.push(`The initiator did not offer IKEv2 fragmentation (no FRAGMENTATION_SUPPORTED notify in IKE_SA_INIT, packet ${iq.no}).`);
      else if (ir && !fragSupported(ir)) expl.push(`The responder did not offer IKEv2 fragmentation (no FRAGMENTATION_SUPPORTED notify in its IKE_SA_INIT response, packet ${ir.no}).`);
    }
    return finding("IKE_FRAGMENT_LOSS", "error", `${ex.exchange} lost to IP fragmentation: ${fragOnly.length} cop${fragOnly.length > 1 ? "ies" : "y"} sent (${pkts(fragOnly.map((r) => r.no))}), only first fragments arrived, no response`, {
      ikeSa: name, explanation: expl, evidence,
      suggestions: [
        "Enable IKEv2 fragmentation (RFC 7383) on both peers: strongSwan swanctl.conf `fragmentation = yes` (ipsec.conf `fragmentation=yes`), so large IKE messages are split by IKE, not by IP.",
        "Or fix the path: a firewall/NAT dropping non-first IP fragments, or an MTU problem; lower the MTU/MSS, or send smaller messages (shorter certificate chains, no unneeded CERTREQs).",
      ],
      data: { exchange: ex.exchange, messageLength: first.length, firstFragments: fragOnly.map((r) => r.no), icmpReassembly: reasm.map((i) => i.no) },
    });
  }
  for (const i of [...unreach, ...tooBig]) evidence.push({ packet: i.no, time: i.time, text: `${i.src} -> ${i.dst} ICMP ${i.text}${i.mtu ? ` (MTU ${i.mtu})` : ""}` });
  const tailOnly = reqs.length === 1 && ctx.end - last.time < 1;
  const established = exs.some((e) => e.exchange === "IKE_AUTH" && e.responses.length) || (exs[0] && exs[0].exchange !== "IKE_SA_INIT" && st.version === 2);
  const expl: string[] = [];
  const sugg: string[] = [];
  let summary: string;
  const sentText = reqs.length === 1 ? "once" : `${times(reqs.length)} over ${dur(last.time - first.time)}${intervals.length ? ` (gaps ${intervals.join(", ")})` : ""}`;
  if (ex.exchange === "IKE_SA_INIT" || (st.version === 1 && first === st.msgs[0])) {
    summary = `no response from ${peer} to ${ex.exchange}: sent ${sentText}`;
    expl.push(`The responder never answered, not even the first message. Either UDP ${port ?? 500} to ${peer} is blocked (firewall, ACL, cloud security group), the responder is down or not listening, or its answers are dropped on the way back.`);
    if (unreach.length) expl.push(`ICMP "${unreach[0].text}" came back from ${unreach[0].src}: the packets reach ${peer}, but nothing accepts them there (no IKE daemon on that port, or a firewall rejecting).`);
    sugg.push(`Capture on the responder (tcpdump -ni any udp port 500 or udp port 4500) to see whether the request arrives; check firewalls for UDP 500 and 4500 (and ESP) in both directions; check the responder is running and listening.`);
  } else {
    summary = `no response from ${peer} to ${ex.exchange} (mid ${ex.messageId}): sent ${sentText}`;
    if (ex.exchange === "IKE_AUTH" && port === 4500) {
      expl.push(`IKE_SA_INIT on UDP 500 was answered, but IKE_AUTH, sent to UDP 4500, got no answer: UDP 4500 is likely blocked, or the message was dropped for its size.`);
      sugg.push("Allow UDP 4500 in both directions between the peers.");
    } else if (st.version === 1 && ex.exchange.includes("Main Mode") && first.protection === "encrypted") {
      expl.push("This is Main Mode message 5, the first encrypted one (identity and HASH). A responder that cannot decrypt it stays silent: the most likely cause is that the pre-shared keys differ (the encryption key is derived from the PSK).");
      sugg.push("Compare the pre-shared keys on both sides (and the identities they are selected by); the responder's log shows an error decrypting or verifying message 5.");
    } else if (established) {
      expl.push("The IKE SA was up, then the peer stopped answering: it went down, restarted (and forgot the SA), or the path broke.");
      sugg.push("Check the peer is alive and reachable; with DPD the SA is closed after the retransmissions run out.");
    } else {
      expl.push("The peer never answered this request.");
    }
    if (first.length > 1400 && !fragSupported(v2init?.requests[0])) {
      expl.push(`The message is ${first.length} bytes: if IP fragments are dropped on the path it never arrives whole. Enabling IKEv2 fragmentation (strongSwan fragmentation = yes) avoids that.`);
    }
  }
  if (tailOnly) {
    return finding("NO_RESPONSE", "info", `the capture ends ${dur(ctx.end - last.time)} after an unanswered ${ex.exchange} request (packet ${first.no})`, {
      ikeSa: name, evidence, explanation: ["The answer may simply not be in the capture."],
      data: { exchange: ex.exchange, requests: reqs.map((r) => r.no), port: port ?? null },
    });
  }
  return finding("NO_RESPONSE", established && ex.exchange === "INFORMATIONAL" ? "warning" : "error", summary, {
    ikeSa: name, explanation: expl, evidence, suggestions: sugg,
    data: { exchange: ex.exchange, requests: reqs.map((r) => r.no), port: port ?? null, intervals: reqs.slice(1).map((r, i) => r.time - reqs[i].time), icmp: unreach.map((i) => i.no) },
  });
}

/** Does one NAT_DETECTION hash list match address:port as seen in the capture? Undefined when it cannot be computed. */
function natdMatches(m: MsgRec, hashes: string[], ip: string, port: number): boolean | undefined {
  const a = parseIp(ip);
  const s1 = fromHex(m.ispiHex);
  const s2 = fromHex(m.rspiHex);
  if (!a || !s1 || !s2) return undefined;
  return hashes.includes(toHex(natdHash(s1, s2, a.addr, port)));
}

/** NAT between the peers from the NAT_DETECTION hashes of IKE_SA_INIT (RFC 7296 §2.23). */
function natDetection(req: MsgRec | undefined, resp: MsgRec | undefined): IkeSaDiagnosis["nat"] | undefined {
  let iNat = false, rNat = false, any = false;
  const evidence: number[] = [];
  for (const m of [req, resp]) {
    if (!m || m.srcPort === undefined || m.dstPort === undefined) continue;
    const fromI = m.dir === "I->R";
    // A source hash that does not match puts the sender behind a NAT; a destination hash, the receiver.
    for (const [hashes, ip, port, senderSide] of [[m.facts.natdSrc, m.src, m.srcPort, true], [m.facts.natdDst, m.dst, m.dstPort, false]] as const) {
      if (!hashes.length) continue;
      any = true;
      if (natdMatches(m, hashes, ip, port) !== false) continue;
      if (fromI === senderSide) iNat = true;
      else rNat = true;
      evidence.push(m.no);
    }
  }
  if (!any) return undefined;
  return { initiatorBehindNat: iNat, responderBehindNat: rNat, evidence: [...new Set(evidence)] };
}

