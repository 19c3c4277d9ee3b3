/**
 * Streaming state of the diagnoser: per IKE SA the message timeline (with
 * the facts of each message), per ESP SA sequence accounting (the shared
 * {@link EspTracker}) plus ICV verdicts, ICMP errors, NAT-T flows. Every
 * table is capped so memory stays bounded on any capture.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { DecodedPacket, LayerBase } from "../core/layer.ts";
import type { Ikev2Message } from "../ike/v2/message.ts";
import type { IsakmpMessage } from "../ike/v1/message.ts";
import { EspTracker } from "../ipsec/esp-tracker.ts";
import type { EspLayer } from "../ipsec/esp.ts";
import type { NattLayer } from "../ipsec/natt.ts";
import type { Ipv4Layer } from "../net/ipv4.ts";
import type { Ipv6Layer } from "../net/ipv6.ts";
import type { UdpLayer } from "../net/udp.ts";
import type { IcmpLayer } from "../net/icmp.ts";
import type { Icmpv6Layer } from "../net/icmpv6.ts";
import { espDecryption, ikev2Content, innerLayers, isakmpContent, outerLayers } from "./access.ts";
import { ikev2Facts, isakmpFacts, type MsgFacts, tokens } from "./facts.ts";
import type { IkeSaIdentity, TimelineEntry } from "./types.ts";

export const MAX_IKE_SAS = 1024;
export const MAX_TIMELINE = 128;
const MAX_ICMP = 256;
const MAX_FLOWS = 4096;
const MAX_ESP_EXTRA = 4096;
const MAX_PENDING_FRAGS = 1024;
/** Idle time on a NAT-T flow after which a NAT mapping may be gone (strongSwan sends keepalives every 20 s). */
export const KEEPALIVE_IDLE_SEC = 21;

/** One IKE message with its facts. */
export interface MsgRec extends TimelineEntry {
  /** Who owns the message-ID space of this exchange: the original initiator ("I") or responder ("R"). */
  owner: "I" | "R";
  facts: MsgFacts;
  /** IKE_SA_INIT: the message's SPIs (hex), for NAT-D checks. */
  ispiHex: string;
  rspiHex: string;
  /** SKF fragment numbers seen for this message, and how many there are. */
  skf?: Set<number>;
  skfTotal?: number;
  /** A different message with the same message ID (IKE_SA_INIT retry after INVALID_KE_PAYLOAD or COOKIE). */
  retry?: boolean;
}

/** One IKE SA being observed. */
export interface IkeSaState extends IkeSaIdentity {
  firstTime: number;
  lastTime: number;
  msgs: MsgRec[];
  omitted: number;
}

/** An ICMP error seen. */
export interface IcmpRec {
  no: number;
  time: number;
  src: string;
  dst: string;
  v6: boolean;
  type: number;
  code: number;
  text: string;
  mtu?: number;
}

/** A NAT-T UDP flow, one direction. */
export interface FlowRec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  lastNo: number;
  lastTime: number;
  keepalives: number;
  esp: number;
  /** Longest silences (> KEEPALIVE_IDLE_SEC) between packets of this direction. */
  idle: { fromNo: number; toNo: number; sec: number }[];
}

/** An IP datagram seen only as non-first fragments (its first fragment never arrived). */
export interface OrphanFragments {
  src: string;
  dst: string;
  id: number;
  packets: number[];
  time: number;
  /** Highest fragment end seen (bytes of IP payload). */
  bytes: number;
}

/** Extra per-ESP-SA data the tracker does not keep. */
export interface EspExtra {
  icv: { good: number; bad: number; none: number };
  badPackets: number[];
  /** Inner packet kinds seen (decrypted), e.g. "ICMP Echo Request 198.51.100.1 > 203.0.113.1": count. */
  inner: Map<string, number>;
}

const SEC = (p: DecodedPacket) => p.tsSec + p.tsNsec / 1e9;

/** Accumulates everything the analysis needs. */
export class DiagnoseState {
  readonly ike = new Map<string, IkeSaState>();
  readonly ikeOrder: IkeSaState[] = [];
  ikeUntracked = 0;
  readonly esp: EspTracker;
  /** The tracker is the Decoder's (already fed by the pipeline): do not feed it again. */
  private readonly sharedEsp: boolean;
  readonly espExtra = new Map<string, EspExtra>();
  readonly icmp: IcmpRec[] = [];
  readonly flows = new Map<string, FlowRec>();
  /** Outer address pairs seen ("src>dst"), to tell a one-direction capture from one-way traffic. */
  readonly directions = new Set<string>();
  /** Datagrams with fragments but no first fragment (yet). */
  readonly orphans = new Map<string, OrphanFragments>();
  /** First-fragment packet number → timeline entry waiting for reassembly. */
  private readonly pendingFrag = new Map<number, MsgRec>();
  packets = 0;
  firstTime = 0;

  constructor(esp?: EspTracker) {
    this.esp = esp ?? new EspTracker();
    this.sharedEsp = esp !== undefined;
  }

  lastTime = 0;
  keysUsed = false;

  observe(p: DecodedPacket): void {
    this.packets++;
    const t = SEC(p);
    if (this.packets === 1) this.firstTime = t;
    if (t > this.lastTime) this.lastTime = t;
    const layers = outerLayers(p.layers);
    let ip: Ipv4Layer | Ipv6Layer | undefined;
    let udp: UdpLayer | undefined;
    let natt: NattLayer | undefined;
    let partial = false;
    let reassembledFrom: number[] | undefined;
    for (const l of layers) {
      switch (l.layer) {
        case "ipv4": {
          const v4 = l as Ipv4Layer;
          if (!ip) ip = v4;
          if (v4.mf && v4.fragOffset === 0) partial = true;
          break;
        }
        case "ipv6": {
          const v6 = l as Ipv6Layer;
          if (!ip) ip = v6;
          if (v6.fragment && v6.fragment.offset === 0 && v6.fragment.more) partial = true;
          break;
        }
        case "reassembled":
          partial = false;
          reassembledFrom = (l as LayerBase & { fragments: number[] }).fragments;
          break;
        case "udp":
          if (!udp) udp = l as UdpLayer;
          break;
        case "natt":
          natt = l as NattLayer;
          break;
        case "icmp":
        case "icmpv6":
          if (ip) this.icmpError(p, t, ip, l as IcmpLayer | Icmpv6Layer);
          break;
        case "ikev2":
          if (ip) this.ikev2(p, t, ip, udp, l as Ikev2Message, partial, reassembledFrom);
          break;
        case "isakmp":
          if (ip) this.isakmp(p, t, ip, udp, l as IsakmpMessage, partial);
          break;
        case "esp":
          if (ip && !partial) this.espPacket(p, t, ip, udp, l as EspLayer);
          break;
      }
    }
    if (ip && this.directions.size < MAX_FLOWS) this.directions.add(`${ip.src}>${ip.dst}`);
    if (ip) this.fragment(p, t, ip, !!reassembledFrom);
    if (ip && udp && natt && !partial) this.flow(p, t, ip, udp, natt);
  }

  /** Track fragments whose first fragment is missing (keyed by addresses and IP ID). */
  private fragment(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, done: boolean): void {
    let off: number, id: number, len: number;
    if (ip.layer === "ipv4") {
      if (!ip.mf && ip.fragOffset === 0) return;
      off = ip.fragOffset; id = ip.id; len = ip.payloadEnd - ip.payloadOffset;
    } else {
      if (!ip.fragment) return;
      off = ip.fragment.offset; id = ip.fragment.id; len = ip.payloadEnd - ip.payloadOffset;
    }
    const k = `${ip.src}|${ip.dst}|${id}`;
    if (done || off === 0) {
      this.orphans.delete(k);
      if (off === 0 && !done) this.orphans.set(k, { src: ip.src, dst: ip.dst, id, packets: [], time: t, bytes: -1 });
      return;
    }
    let o = this.orphans.get(k);
    if (!o) {
      if (this.orphans.size >= MAX_PENDING_FRAGS) return;
      o = { src: ip.src, dst: ip.dst, id, packets: [], time: t, bytes: 0 };
      this.orphans.set(k, o);
    }
    if (o.bytes < 0) return; // its first fragment was seen: not an orphan
    if (o.packets.length < 16) o.packets.push(p.no);
    o.bytes = Math.max(o.bytes, off + len);
  }

  /** Datagrams seen only as non-first fragments. */
  orphanList(): OrphanFragments[] {
    return [...this.orphans.values()].filter((o) => o.bytes > 0);
  }

  private icmpError(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, l: IcmpLayer | Icmpv6Layer): void {
    if (l.embeddedOffset === undefined || this.icmp.length >= MAX_ICMP) return;
    const rec: IcmpRec = { no: p.no, time: t, src: ip.src, dst: ip.dst, v6: l.layer === "icmpv6", type: l.type, code: l.code, text: `${l.typeName}: ${l.codeName}` };
    if (l.mtu !== undefined) rec.mtu = l.mtu;
    this.icmp.push(rec);
  }

  private sa(version: 1 | 2, ispi: string, rspi: string, fromInitiator: boolean, ip: Ipv4Layer | Ipv6Layer, no: number, t: number): IkeSaState | undefined {
    let st = this.ike.get(ispi);
    if (!st) {
      if (this.ike.size >= MAX_IKE_SAS) {
        this.ikeUntracked++;
        return undefined;
      }
      st = {
        version, ispi, rspi,
        initiator: fromInitiator ? ip.src : ip.dst,
        responder: fromInitiator ? ip.dst : ip.src,
        firstNo: no, lastNo: no, firstTime: t, lastTime: t, msgs: [], omitted: 0,
      };
      this.ike.set(ispi, st);
      this.ikeOrder.push(st);
    }
    if (/^0+$/.test(st.rspi) && !/^0+$/.test(rspi)) st.rspi = rspi;
    st.lastNo = no;
    st.lastTime = t;
    return st;
  }

  private push(st: IkeSaState, m: MsgRec): void {
    if (st.msgs.length < MAX_TIMELINE) st.msgs.push(m);
    else st.omitted++;
  }

  /** The earlier message this one repeats, if any (same sender, exchange, message ID, direction). */
  private previous(st: IkeSaState, m: MsgRec): MsgRec | undefined {
    for (let i = st.msgs.length - 1; i >= 0; i--) {
      const o = st.msgs[i];
      if (o.owner === m.owner && o.messageId === m.messageId && o.response === m.response && o.exchange === m.exchange && o.src === m.src) return o;
    }
    return undefined;
  }

  private ikev2(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, udp: UdpLayer | undefined, m: Ikev2Message, partial: boolean, reassembledFrom?: number[]): void {
    const c = ikev2Content(m);
    if (c.protection === "decrypted" || c.protection === "integrity-bad") this.keysUsed = true;
    // A reassembled datagram completes the entry made from its first fragment.
    if (reassembledFrom) {
      const first = reassembledFrom.find((n) => this.pendingFrag.has(n));
      const e = first === undefined ? undefined : this.pendingFrag.get(first);
      if (e && first !== undefined) {
        this.pendingFrag.delete(first);
        e.fragmentOnly = undefined;
        e.packets = [...reassembledFrom];
        e.note = `IP fragments ${reassembledFrom.join(", ")} reassembled`;
        e.payloads = tokens(c.payloads) || e.payloads;
        e.protection = c.protection;
        e.facts = ikev2Facts(c.payloads);
        e.errors = e.facts.notifies.filter((n) => n.error).map((n) => n.name);
        return;
      }
    }
    const ispi = toHex(m.ispi);
    const rspi = toHex(m.rspi);
    const st = this.sa(2, ispi, rspi, m.flags.initiator, ip, p.no, t);
    if (!st) return;
    const owner: "I" | "R" = m.flags.response ? (m.flags.initiator ? "R" : "I") : m.flags.initiator ? "I" : "R";
    const facts = ikev2Facts(c.payloads);
    let toks = tokens(c.payloads);
    if (c.protection === "encrypted" || c.protection === "integrity-bad") toks = toks ? `${toks} SK` : "SK";
    if (c.fragment && c.protection !== "decrypted") toks = toks.replace(/\bSK$/, `EF(${c.fragment.number}/${c.fragment.total})`);
    const rec: MsgRec = {
      no: p.no, packets: [p.no], time: t, src: ip.src, dst: ip.dst,
      dir: m.flags.initiator ? "I->R" : "R->I",
      exchange: m.exchangeName, messageId: m.messageId, response: m.flags.response,
      payloads: toks, length: m.declaredLength, protection: c.protection,
      errors: facts.notifies.filter((n) => n.error).map((n) => n.name),
      owner, facts, ispiHex: ispi, rspiHex: rspi,
    };
    if (udp) {
      rec.srcPort = udp.srcPort;
      rec.dstPort = udp.dstPort;
    }
    if (partial) {
      rec.fragmentOnly = true;
      rec.note = "first IP fragment only";
      if (this.pendingFrag.size >= MAX_PENDING_FRAGS) this.pendingFrag.clear();
      this.pendingFrag.set(p.no, rec);
    }
    const prev = this.previous(st, rec);
    if (c.fragment) {
      // SKF: fragments of one message join one entry; a repeated fragment number starts a retransmission.
      const n = c.fragment.number;
      if (prev && prev.skf && !prev.skf.has(n)) {
        prev.skf.add(n);
        prev.packets.push(p.no);
        if (c.protection === "decrypted") {
          prev.protection = "decrypted";
          prev.payloads = toks;
          prev.facts = facts;
          prev.errors = rec.errors;
        } else if (c.protection === "integrity-bad") prev.protection = "integrity-bad";
        prev.note = `${prev.skf.size} of ${c.fragment.total} IKE fragments (RFC 7383)`;
        return;
      }
      rec.skf = new Set([n]);
      rec.skfTotal = c.fragment.total;
      rec.note = `1 of ${c.fragment.total} IKE fragments (RFC 7383)`;
    }
    if (prev) {
      const first = prev.retransmitOf !== undefined ? st.msgs.find((x) => x.no === prev.retransmitOf) ?? prev : prev;
      if (prev.length === rec.length && (prev.facts.ke?.group ?? -1) === (facts.ke?.group ?? -1)) {
        rec.retransmission = (prev.retransmission ?? 0) + 1;
        rec.retransmitOf = first.no;
      } else rec.retry = true;
    }
    this.push(st, rec);
  }

  private isakmp(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, udp: UdpLayer | undefined, m: IsakmpMessage, partial: boolean): void {
    if (partial) return;
    const c = isakmpContent(m);
    if (c.protection === "decrypted") this.keysUsed = true;
    const ispi = toHex(m.icookie);
    const rspi = toHex(m.rcookie);
    const existing = this.ike.get(ispi);
    const fromInitiator = existing ? existing.initiator === ip.src : true;
    const st = this.sa(1, ispi, rspi, fromInitiator, ip, p.no, t);
    if (!st) return;
    const facts = isakmpFacts(c.payloads);
    const toks = c.protection === "encrypted" ? "encrypted" : c.payloads.map((x) => x.kind.toUpperCase()).join(" ");
    const rec: MsgRec = {
      no: p.no, packets: [p.no], time: t, src: ip.src, dst: ip.dst,
      dir: fromInitiator ? "I->R" : "R->I",
      exchange: m.exchangeName, messageId: m.messageId, response: !fromInitiator,
      payloads: toks, length: m.declaredLength, protection: c.protection,
      errors: facts.notifies.filter((n) => n.error).map((n) => n.name),
      owner: "I", facts, ispiHex: ispi, rspiHex: rspi,
    };
    if (udp) {
      rec.srcPort = udp.srcPort;
      rec.dstPort = udp.dstPort;
    }
    // IKEv1 reuses message ID 0 for all of Main Mode: only an identical repeat of the last message is a retransmission.
    const last = st.msgs[st.msgs.length - 1];
    if (last && last.src === rec.src && last.exchange === rec.exchange && last.messageId === rec.messageId && last.length === rec.length && last.payloads === rec.payloads) {
      rec.retransmission = (last.retransmission ?? 0) + 1;
      rec.retransmitOf = last.retransmitOf ?? last.no;
    }
    this.push(st, rec);
  }

  private espPacket(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, udp: UdpLayer | undefined, e: EspLayer): void {
    if (e.seq === null) return;
    if (!this.sharedEsp) this.esp.observe({ spi: e.spi, src: ip.src, dst: ip.dst, sport: udp?.srcPort, dport: udp?.dstPort }, e.seq, e.length, p.no, p.tsSec, p.tsNsec);
    const d = espDecryption(e);
    if (!d) return;
    this.keysUsed = true;
    const k = `${e.spi >>> 0}/${ip.src}/${ip.dst}`;
    let x = this.espExtra.get(k);
    if (!x) {
      if (this.espExtra.size >= MAX_ESP_EXTRA) return;
      x = { icv: { good: 0, bad: 0, none: 0 }, badPackets: [], inner: new Map() };
      this.espExtra.set(k, x);
    }
    x.icv[d.icv]++;
    if (d.icv === "bad" && x.badPackets.length < 16) x.badPackets.push(p.no);
    const inner = innerLayers(p.layers);
    const iip = inner.find((l) => l.layer === "ipv4" || l.layer === "ipv6") as Ipv4Layer | Ipv6Layer | undefined;
    if (iip && x.inner.size < 8) {
      const icmp = inner.find((l) => l.layer === "icmp" || l.layer === "icmpv6") as IcmpLayer | undefined;
      const what = icmp ? `${icmp.layer === "icmp" ? "ICMP" : "ICMPv6"} ${icmp.typeName}` : (iip as Ipv4Layer).protoName ?? (iip as Ipv6Layer).nextHeaderName;
      const key = `${what} ${iip.src} > ${iip.dst}`;
      x.inner.set(key, (x.inner.get(key) ?? 0) + 1);
    } else if (iip) {
      // Count into existing kinds only once the table is full.
      for (const [k2, v] of x.inner) if (k2.endsWith(`${iip.src} > ${iip.dst}`)) { x.inner.set(k2, v + 1); break; }
    }
  }

  private flow(p: DecodedPacket, t: number, ip: Ipv4Layer | Ipv6Layer, udp: UdpLayer, natt: NattLayer): void {
    const k = `${ip.src}|${udp.srcPort}|${ip.dst}|${udp.dstPort}`;
    let f = this.flows.get(k);
    if (!f) {
      if (this.flows.size >= MAX_FLOWS) return;
      f = { src: ip.src, dst: ip.dst, sport: udp.srcPort, dport: udp.dstPort, lastNo: p.no, lastTime: t, keepalives: 0, esp: 0, idle: [] };
      this.flows.set(k, f);
    } else {
      const gap = t - f.lastTime;
      if (gap > KEEPALIVE_IDLE_SEC) {
        f.idle.push({ fromNo: f.lastNo, toNo: p.no, sec: gap });
        if (f.idle.length > 4) {
          f.idle.sort((a, b) => b.sec - a.sec);
          f.idle.length = 4;
        }
      }
      f.lastNo = p.no;
      f.lastTime = t;
    }
    if (natt.kind === "keepalive") f.keepalives++;
    else if (natt.kind === "esp") f.esp++;
  }
}
