/**
 * ESP analysis: per-SA findings (one-way traffic, sequence gaps, replays,
 * ICV failures), CHILD SA and IKE SA rekey chains (from decrypted
 * CREATE_CHILD_SA / REKEY_SA / DELETE, otherwise by timing), and missing
 * NAT-keepalives.
 * @module
 */
import type { EspSaReport } from "../ipsec/esp-tracker.ts";
import { exchangesOf, type Exchange } from "./analyze-ike.ts";
import { dur, finding } from "./finding.ts";
import { type DiagnoseState, type IkeSaState, KEEPALIVE_IDLE_SEC, type MsgRec } from "./state.ts";
import type { EspSaDiagnosis, Evidence, Finding, IkeSaDiagnosis, RekeyLink } from "./types.ts";

const tOf = (r: { tsSec: number; tsNsec: number }) => r.tsSec + r.tsNsec / 1e9;
const ikeName = (st: IkeSaState) => `${st.ispi}/${st.rspi}`;

/** A CHILD SA from decrypted IKE messages. */
interface Child {
  /** SPI chosen by the requester (it receives on it) and by the responder. */
  spiReq: string;
  spiResp: string;
  ike: string;
  createNo: number;
  createResponseNo: number;
  rekeyOf?: string;
  deleteNo?: number;
}

/** A pair of ESP SAs (or a lone one) treated as one CHILD SA. */
interface Pair {
  spis: string[];
  first: number;
  last: number;
  firstNo: number;
  ends: string;
}

function endsKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Name of a CHILD SA: its SPIs in order of first appearance on the wire (alphabetical when unseen). */
export function childName(spis: string[], reports: EspSaReport[]): string {
  const firstNo = (s: string) => reports.find((r) => r.spiHex === s)?.first.no ?? Infinity;
  return [...spis].sort((a, b) => firstNo(a) - firstNo(b) || (a < b ? -1 : 1)).join("/");
}

/** Exchanges that create CHILD SAs (IKEv1: Quick Mode). */
function isChildExchange(e: Exchange): boolean {
  return e.exchange === "IKE_AUTH" || e.exchange === "CREATE_CHILD_SA" || e.exchange === "Quick Mode";
}

/** An SA payload for the IKE SA itself (IKEv2 IKE rekey, IKEv1 phase 1). */
const isIkeProtocol = (p: string) => p === "IKE" || p === "ISAKMP";

/** CHILD SAs and IKE rekeys read from decrypted IKE messages. */
function decryptedChildren(sas: IkeSaState[]): { children: Child[]; ikeRekeys: RekeyLink[] } {
  const children: Child[] = [];
  const ikeRekeys: RekeyLink[] = [];
  const deletes: MsgRec[] = [];
  for (const st of sas) {
    for (const e of exchangesOf(st)) {
      for (const m of [...e.requests, ...e.responses]) if (m.facts.deletes.length) deletes.push(m);
      if (!isChildExchange(e)) continue;
      const req = e.requests[0];
      const resp = e.responses.find((r) => r.facts.sa);
      const rq = req?.facts.sa?.proposals[0];
      const rs = resp?.facts.sa?.proposals[0];
      if (!req || !resp || !rq || !rs) continue;
      if (isIkeProtocol(rq.protocol)) {
        if (e.exchange !== "CREATE_CHILD_SA") continue;
        ikeRekeys.push({ kind: "ike", oldSa: ikeName(st), newSa: `${rq.spi}/${rs.spi}`, createNo: req.no, createResponseNo: resp.no, method: "decrypted" });
        continue;
      }
      const c: Child = { spiReq: rq.spi, spiResp: rs.spi, ike: ikeName(st), createNo: req.no, createResponseNo: resp.no };
      const rk = req.facts.notifies.find((n) => n.type === 16393 && n.spi);
      if (rk) c.rekeyOf = rk.spi;
      children.push(c);
    }
  }
  for (const m of deletes.sort((a, b) => a.no - b.no)) {
    for (const d of m.facts.deletes) {
      for (const spi of d.spis) {
        const c = children.find((x) => x.deleteNo === undefined && (x.spiReq === spi || x.spiResp === spi));
        if (c) c.deleteNo = m.no;
      }
    }
  }
  return { children, ikeRekeys };
}

/** Analyse ESP SAs and rekeys. Mutates `ikeDiags` (rekey links). */
export function analyzeEsp(s: DiagnoseState, ikeDiags: IkeSaDiagnosis[]): { esp: EspSaDiagnosis[]; rekeys: RekeyLink[]; findings: Finding[] } {
  const reports = s.esp.report();
  const byId = new Map(reports.map((r) => [r.id, r]));
  const findings: Finding[] = [];
  const sas = s.ikeOrder;
  const { children, ikeRekeys } = decryptedChildren(sas);
  const rekeys: RekeyLink[] = [];

  // ESP SA → IKE SA: from decrypted children, else the latest IKE SA between the same addresses started before it.
  const ikeOfSpi = new Map<string, string>();
  for (const c of children) {
    ikeOfSpi.set(c.spiReq, c.ike);
    ikeOfSpi.set(c.spiResp, c.ike);
  }
  const ikeFor = (r: EspSaReport): string | undefined => {
    const k = ikeOfSpi.get(r.spiHex);
    if (k) return k;
    const t = tOf(r.first);
    let best: IkeSaState | undefined;
    for (const st of sas) {
      if (endsKey(st.initiator, st.responder) !== endsKey(r.src, r.dst) || st.firstTime > t) continue;
      if (!best || st.firstTime > best.firstTime) best = st;
    }
    return best ? ikeName(best) : undefined;
  };

  // Child rekeys from decrypted REKEY_SA.
  for (const c of children) {
    if (!c.rekeyOf) continue;
    const old = children.find((o) => o !== c && (o.spiReq === c.rekeyOf || o.spiResp === c.rekeyOf));
    const oldSpis = old ? [old.spiReq, old.spiResp] : [c.rekeyOf];
    const link: RekeyLink = {
      kind: "child", oldSa: childName(oldSpis, reports), newSa: childName([c.spiReq, c.spiResp], reports),
      createNo: c.createNo, createResponseNo: c.createResponseNo, method: "decrypted",
    };
    if (old?.deleteNo !== undefined) link.deleteNo = old.deleteNo;
    rekeys.push(link);
  }
  const knownNew = new Set(rekeys.map((l) => l.newSa));

  // IKE rekeys: decrypted, else by timing (a new IKE SA that did not start with IKE_SA_INIT).
  const ikeLinks: RekeyLink[] = [...ikeRekeys];
  for (const st of sas) {
    if (st.version !== 2) continue;
    const first = st.msgs[0];
    const name = ikeName(st);
    if (!first || first.exchange === "IKE_SA_INIT" || ikeLinks.some((l) => l.newSa === name)) continue;
    let best: { st: IkeSaState; ex: Exchange } | undefined;
    for (const o of sas) {
      if (o === st || endsKey(o.initiator, o.responder) !== endsKey(st.initiator, st.responder)) continue;
      for (const e of exchangesOf(o)) {
        const r = e.responses[0];
        if (e.exchange !== "CREATE_CHILD_SA" || !r || r.time > first.time) continue;
        if (e.requests[0]?.facts.sa && !isIkeProtocol(e.requests[0].facts.sa.protocol)) continue;
        if (!best || r.time > best.ex.responses[0].time) best = { st: o, ex: e };
      }
    }
    if (!best) continue;
    const link: RekeyLink = { kind: "ike", oldSa: ikeName(best.st), newSa: name, createNo: best.ex.requests[0]?.no, createResponseNo: best.ex.responses[0].no, method: "timing" };
    if (!link.createNo) delete link.createNo;
    const r0 = best.ex.responses[0];
    const del = best.st.msgs.find((m) => !m.response && m.exchange === "INFORMATIONAL" && m.time >= r0.time && m.time <= r0.time + 10);
    if (del) link.deleteNo = del.no;
    ikeLinks.push(link);
  }
  // Child rekeys by timing, for ESP pairs not explained by decrypted messages.
  const pairs: Pair[] = [];
  const paired = new Set<number>();
  for (const p of s.esp.pairs()) {
    const a = byId.get(p.a)!, b = byId.get(p.b)!;
    paired.add(p.a);
    paired.add(p.b);
    pairs.push({ spis: [a.spiHex, b.spiHex], first: Math.min(tOf(a.first), tOf(b.first)), last: Math.max(tOf(a.last), tOf(b.last)), firstNo: Math.min(a.first.no, b.first.no), ends: endsKey(a.src, a.dst) });
  }
  for (const r of reports) {
    if (!paired.has(r.id)) pairs.push({ spis: [r.spiHex], first: tOf(r.first), last: tOf(r.last), firstNo: r.first.no, ends: endsKey(r.src, r.dst) });
  }
  pairs.sort((a, b) => a.first - b.first);
  const ccsa: { st: IkeSaState; ex: Exchange }[] = [];
  const infos: MsgRec[] = [];
  for (const st of sas) {
    for (const e of exchangesOf(st)) {
      if ((e.exchange === "CREATE_CHILD_SA" || e.exchange === "Quick Mode") && e.responses.length && e.requests.length) {
        const rq = e.requests[0].facts.sa;
        // Not an IKE rekey: neither decrypted as one nor followed by a new IKE SA (timing links above).
        if ((!rq || !isIkeProtocol(rq.protocol)) && !ikeLinks.some((l) => l.createResponseNo === e.responses[0].no)) ccsa.push({ st, ex: e });
      }
      if (e.exchange === "INFORMATIONAL" && e.requests.length) infos.push(e.requests[0]);
    }
  }
  const replaced = new Set<Pair>();
  for (let i = 0; i < pairs.length; i++) {
    const nw = pairs[i];
    const nwName = childName(nw.spis, reports);
    if (knownNew.has(nwName) || children.some((c) => nw.spis.includes(c.spiReq) || nw.spis.includes(c.spiResp))) continue;
    let old: Pair | undefined;
    for (let j = i - 1; j >= 0; j--) {
      const o = pairs[j];
      if (o.ends === nw.ends && !replaced.has(o) && o.first < nw.first && o.last >= nw.first - 60 && o.last <= nw.first + 30) {
        old = o;
        break;
      }
    }
    if (!old) continue;
    const o = old;
    const cand = ccsa.filter((c) => endsKey(c.st.initiator, c.st.responder) === nw.ends && c.ex.responses[0].time > o.first && c.ex.responses[0].time <= nw.first + 1);
    if (!cand.length) continue;
    const ex = cand.reduce((a, b) => (b.ex.responses[0].time > a.ex.responses[0].time ? b : a)).ex;
    replaced.add(o);
    const link: RekeyLink = { kind: "child", oldSa: childName(o.spis, reports), newSa: nwName, createNo: ex.requests[0].no, createResponseNo: ex.responses[0].no, method: "timing" };
    const del = infos.find((m) => m.time >= ex.responses[0].time && m.time <= ex.responses[0].time + 10 && endsKey(m.src, m.dst) === nw.ends);
    if (del) link.deleteNo = del.no;
    rekeys.push(link);
  }

  for (const l of ikeLinks) {
    const d = l.deleteNo === undefined ? undefined : l.deleteNo;
    if (d === undefined) {
      const old = sas.find((x) => ikeName(x) === l.oldSa);
      const del = old?.msgs.find((m) => !m.response && m.facts.deletes.some((x) => isIkeProtocol(x.protocol)));
      if (del) l.deleteNo = del.no;
    }
    const o = ikeDiags.find((x) => `${x.ispi}/${x.rspi}` === l.oldSa);
    const n = ikeDiags.find((x) => `${x.ispi}/${x.rspi}` === l.newSa);
    if (o) o.rekeyedBy = l.newSa;
    if (n) n.rekeyOf = l.oldSa;
  }
  rekeys.unshift(...ikeLinks);
  rekeys.sort((a, b) => (a.createNo ?? a.createResponseNo ?? 0) - (b.createNo ?? b.createResponseNo ?? 0));

  // Per ESP SA findings.
  const esp: EspSaDiagnosis[] = [];
  const oneWay = new Set(s.esp.oneWay());
  for (const r of reports) {
    const d: EspSaDiagnosis = {
      spi: r.spiHex, src: r.src, dst: r.dst, packets: r.packets, firstNo: r.first.no, lastNo: r.last.no,
      firstTime: tOf(r.first), lastTime: tOf(r.last), missing: r.missing, duplicates: r.duplicates, outOfOrder: r.outOfOrder, findings: [],
    };
    if (r.sport !== undefined) d.sport = r.sport;
    if (r.dport !== undefined) d.dport = r.dport;
    if (r.pairedWith !== null) d.reverse = byId.get(r.pairedWith)?.spiHex;
    const ike = ikeFor(r);
    if (ike) d.ikeSa = ike;
    const x = s.espExtra.get(`${r.spi}/${r.src}/${r.dst}`);
    if (x) d.icv = { ...x.icv };
    const tag = (f: Finding) => {
      findings.push(f);
      d.findings.push(f.code);
    };
    const sa = `ESP SA ${r.spiHex} (${r.src} -> ${r.dst})`;
    if (oneWay.has(r.id)) {
      const ev: Evidence[] = [
        { packet: r.first.no, time: tOf(r.first), text: `first ESP packet of SPI ${r.spiHex}, seq ${r.minSeq}` },
        { packet: r.last.no, time: tOf(r.last), text: `last ESP packet of SPI ${r.spiHex}, seq ${r.maxSeq} (${r.packets} packets, ${r.bytes} bytes)` },
      ];
      const child = children.find((c) => c.spiReq === r.spiHex || c.spiResp === r.spiHex);
      const expected = child ? (child.spiReq === r.spiHex ? child.spiResp : child.spiReq) : undefined;
      const back = reports.filter((o) => o.src === r.dst && o.dst === r.src && tOf(o.last) >= tOf(r.first) && tOf(o.first) <= tOf(r.last));
      const expl = [`${r.packets} ESP packets went from ${r.src} to ${r.dst} over ${dur(tOf(r.last) - tOf(r.first))}, and no ESP came back from ${r.dst}${expected ? ` on the reverse SA (SPI ${expected}, negotiated in packet ${child!.createResponseNo})` : ""}.`];
      if (!s.directions.has(`${r.dst}>${r.src}`)) expl.push(`Not a single packet from ${r.dst} to ${r.src} is in the capture (not even IKE): check first that the capture sees both directions (capture filter, one-way tap or mirror port).`);
      if (back.length) expl.push(`ESP from ${r.dst} to ${r.src} did flow on other SPIs (${back.map((o) => o.spiHex).join(", ")}): the peers may disagree on which SA is current (a rekey or restart on one side only).`);
      if (x?.inner.size) {
        for (const [k, v] of x.inner) ev.push({ text: `inside (decrypted): ${v} × ${k}` });
      }
      if (x && x.icv.bad > 0 && x.icv.good === 0) expl.push(`Every packet of this SA failed its integrity check with the key given (ESP_ICV_FAIL): that key is wrong, so nothing inside could be read. Fix the key first; the one-way traffic itself is real.`);
      expl.push(`If the capture is taken at ${r.src}'s side: ${r.dst} receives the traffic (or drops it) but sends nothing back. Typical causes: a firewall on or before ${r.dst} dropping its outgoing ESP/UDP 4500, ${r.dst} unable to decrypt (wrong keys, so it never answers), no route or policy back on ${r.dst}, or the return traffic taking another path.`);
      const big = r.packets >= 3 || tOf(r.last) - tOf(r.first) >= 2;
      tag(finding("ESP_ONE_WAY", big ? "error" : "warning", `one-way ESP: ${sa} carried ${r.packets} packets, nothing came back`, {
        ikeSa: ike, espSpis: [r.spiHex], explanation: expl, evidence: ev,
        suggestions: [`On ${r.dst}: check its SA counters (strongSwan: swanctl --list-sas: bytes in vs out), firewall rules for outgoing ESP / UDP 4500, and routes back to the inner source.`, "Capture on the other side too, to see whether the return traffic leaves it."],
        data: { spi: r.spiHex, src: r.src, dst: r.dst, packets: r.packets, expectedReverseSpi: expected ?? null, otherReverseSpis: back.map((o) => o.spiHex) },
      }));
    }
    if (r.missing > 0) {
      const ev: Evidence[] = r.gaps.map((g) => ({ packet: g.atPacket, text: `seq ${g.fromSeq}..${g.toSeq} (${g.count}) missing between packet ${g.afterPacket} and packet ${g.atPacket}${g.filledLate ? `, ${g.filledLate} arrived late` : ""}` }));
      tag(finding("ESP_SEQ_GAP", "warning", `${sa}: ${r.missing} packet${r.missing > 1 ? "s" : ""} missing (sequence gaps)`, {
        ikeSa: ike, espSpis: [r.spiHex], evidence: ev, packets: r.gaps.map((g) => g.afterPacket),
        explanation: [`Sequence numbers ${r.minSeq}..${r.maxSeq} were expected without holes; ${r.missing} never reached the capture point: loss between the sender and here (or the capture dropped them).`],
        suggestions: ["Check interface drop counters and the capture's own drop count; capture closer to the sender to locate the loss."],
        data: { missing: r.missing, gaps: r.gaps, gapsTruncated: r.gapsTruncated },
      }));
    }
    if (r.duplicates > 0) {
      tag(finding("ESP_REPLAY", "warning", `${sa}: ${r.duplicates} duplicate sequence number${r.duplicates > 1 ? "s" : ""} (replayed or duplicated packets)`, {
        ikeSa: ike, espSpis: [r.spiHex], packets: [r.first.no],
        explanation: ["The same sequence number appeared more than once. The receiver's anti-replay check drops the copies. Causes: a replay, a duplicating network path, or the capture seeing each packet twice (two interfaces, -i any)."],
        data: { duplicates: r.duplicates },
      }));
    }
    if (x && x.icv.bad > 0) {
      const all = x.icv.good === 0;
      const n = x.icv.good + x.icv.bad + x.icv.none;
      tag(finding("ESP_ICV_FAIL", "error", all ? `wrong key for ${sa}: all ${x.icv.bad} of ${n} packets failed the integrity check (ICV) with the key given` : `${sa}: ${x.icv.bad} of ${n} packets failed the integrity check (ICV)`, {
        ikeSa: ike, espSpis: [r.spiHex],
        evidence: x.badPackets.map((no) => ({ packet: no, text: "ICV mismatch" })),
        explanation: [all
          ? "Every packet fails: the keys used for this SPI are wrong (keys of another SA or run, or the SA was rekeyed and the old keys given)."
          : "Some packets fail and others verify: the failing ones were corrupted on the way (or the capture truncated them)."],
        suggestions: ["Check that the ESP keys given belong to this SPI and this run."],
        data: { good: x.icv.good, bad: x.icv.bad },
      }));
    }
    esp.push(d);
  }

  // Missing NAT-keepalives: the side(s) behind a NAT per NAT_DETECTION, or, when the capture
  // has no IKE_SA_INIT for the peers, both ends of UDP-encapsulated ESP.
  const flows = [...s.flows.values()];
  const candidates: { side: string; peer: string; ike?: IkeSaState; why: string; packets: number[] }[] = [];
  const covered = new Set<string>();
  for (const st of sas) {
    const nat = ikeDiags.find((x) => x.ispi === st.ispi)?.nat;
    if (!nat) continue;
    covered.add(endsKey(st.initiator, st.responder));
    if (nat.initiatorBehindNat) candidates.push({ side: st.initiator, peer: st.responder, ike: st, why: `NAT_DETECTION hashes put the initiator (${st.initiator}) behind a NAT (or UDP encapsulation was forced)`, packets: nat.evidence });
    if (nat.responderBehindNat) candidates.push({ side: st.responder, peer: st.initiator, ike: st, why: `NAT_DETECTION hashes put the responder (${st.responder}) behind a NAT (or UDP encapsulation was forced)`, packets: nat.evidence });
  }
  for (const f of flows) {
    if (f.esp === 0 || covered.has(endsKey(f.src, f.dst)) || candidates.some((c) => c.side === f.src && c.peer === f.dst)) continue;
    candidates.push({ side: f.src, peer: f.dst, why: `ESP is UDP-encapsulated (port ${f.dport}), so a NAT may be in between (no IKE_SA_INIT in the capture to tell)`, packets: [] });
  }
  const seenPair = new Set<string>();
  for (const c of candidates) {
    if (seenPair.has(`${c.side}>${c.peer}`)) continue;
    seenPair.add(`${c.side}>${c.peer}`);
    const espUsed = flows.some((f) => f.esp > 0 && endsKey(f.src, f.dst) === endsKey(c.side, c.peer));
    if (!espUsed) continue;
    for (const f of flows) {
      if (f.src !== c.side || f.dst !== c.peer || !f.idle.length) continue;
      const worst = f.idle.reduce((a, b) => (b.sec > a.sec ? b : a));
      findings.push(finding("NAT_KEEPALIVE_MISSING", "warning", `${c.ike ? "NAT detected" : "UDP-encapsulated ESP"} and ${c.side} sent nothing to ${c.peer} for ${dur(worst.sec)} (no NAT-keepalives): the NAT mapping may expire`, {
        ikeSa: c.ike ? ikeName(c.ike) : undefined,
        evidence: [
          { packet: c.ike?.msgs[0]?.no, text: c.why },
          ...f.idle.map((g) => ({ packet: g.toNo, text: `${dur(g.sec)} of silence from ${c.side}:${f.sport} to ${c.peer}:${f.dport} between packet ${g.fromNo} and packet ${g.toNo}` })),
          { text: `${f.keepalives} NAT-keepalive${f.keepalives === 1 ? "" : "s"} seen from ${c.side}` },
        ],
        packets: [...c.packets, ...f.idle.map((g) => g.fromNo)],
        explanation: [`The side behind a NAT must send a NAT-keepalive (one 0xFF byte on UDP 4500) after ${KEEPALIVE_IDLE_SEC - 1} s of silence so the NAT keeps its mapping; here nothing was sent for ${dur(worst.sec)}. When the mapping expires, ESP from the peer no longer gets through until ${c.side} sends again.`],
        suggestions: ["Enable NAT-keepalives on the side behind the NAT (strongSwan: charon.keep_alive = 20s, the default; do not set it to 0), or enable DPD."],
        data: { side: c.side, idle: f.idle, keepalives: f.keepalives, natConfirmed: !!c.ike },
      }));
    }
  }
  return { esp, rekeys, findings };
}

