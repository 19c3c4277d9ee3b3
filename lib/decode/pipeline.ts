/**
 * The decode pipeline: one captured frame in, one {@link DecodedPacket} out.
 *
 * link → IPv4/IPv6 (with fragment reassembly) → UDP/TCP/ICMP/ESP/AH →
 * NAT-T framing (UDP 4500) / RFC 9329 (TCP) → IKEv1 / IKEv2 / ESP.
 *
 * Stateful parts are bounded: the IP reassembler, the TCP stream table, and
 * the per-SA trackers that feed `--stats` and the per-packet flags.
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { toHex } from "../core/bytes.ts";
import type { CaptureRecord } from "../capture/types.ts";
import { decodeLink } from "../link/link.ts";
import { decodeIpv4, ipv4FragmentKey, isIpv4Fragment, type Ipv4Layer } from "../net/ipv4.ts";
import { decodeIpv6, ipv6FragmentKey, type Ipv6Layer } from "../net/ipv6.ts";
import { decodeUdp } from "../net/udp.ts";
import { decodeTcp, TCP_FIN, TCP_SYN, type TcpLayer } from "../net/tcp.ts";
import { decodeIcmp } from "../net/icmp.ts";
import { decodeIcmpv6 } from "../net/icmpv6.ts";
import { Reassembler } from "../net/reassembly.ts";
import { TcpStreams } from "../net/tcp-stream.ts";
import { decodeEsp, type EspLayer } from "../ipsec/esp.ts";
import { decodeAh } from "../ipsec/ah.ts";
import { decodeNatt, makeIpsecPorts, classifyUdp, type IpsecPorts } from "../ipsec/natt.ts";
import { type EspGsoRun, findEspGsoRun, GSO_MIN_PAYLOAD } from "../ipsec/gso.ts";
import { TcpEncapParser } from "../ipsec/tcpencap.ts";
import { EspTracker, type EspObservation, type EspSaReport, type EspSaPair } from "../ipsec/esp-tracker.ts";
import { ikeVersion } from "../ike/version.ts";
import { decodeIkev2 } from "../ike/v2/message.ts";
import { validateIkev2 } from "../ike/v2/validate.ts";
import { validateIsakmp } from "../ike/v1/validate.ts";
import { IsakmpRoles } from "../ike/v1/roles.ts";
import { decodeIsakmp, type IsakmpMessage } from "../ike/v1/message.ts";
import { isakmpSummary } from "../ike/v1/summary.ts";
import type { DecodedPacket, LayerBase } from "../core/layer.ts";
import { IkeTracker, ikev2Event, type IkeEvent, type IkeSaReport } from "./ike-tracker.ts";
import type { KeyStore } from "../keys/store.ts";
import type { EspDecryptor } from "../decrypt/esp.ts";
import type { Ikev2Decryptor } from "../decrypt/ikev2.ts";
import type { Ikev1Decryptor } from "../decrypt/ikev1.ts";
import type { EspDecryptInfo, Ikev1Decrypted, InnerLayer } from "../decrypt/types.ts";
import { FastPaths } from "./fast-summary.ts";
import { KeyedEspFast } from "../decrypt/fast-esp.ts";
import type { ByteWriter } from "./output.ts";
import { TimeFormatter } from "./time.ts";

/** The summary line's default time format (UTC time of day). */
const UTC_TIME_OF_DAY = new TimeFormatter();

/** Pipeline options (the CLI's --ike-port, --natt-port, --tcp-port, --no-reassemble). */
export interface DecoderOptions {
  ikePorts?: number[];
  nattPorts?: number[];
  /** TCP ports carrying RFC 9329 (default 4500). */
  tcpPorts?: number[];
  reassemble?: boolean;
  /**
   * Also decode IKEv2 plaintext whose integrity check FAILED (CBC ciphers only; AEAD cannot
   * decrypt without its tag). Such payloads carry `integrity: "bad"` and a reason. Off by
   * default: unauthenticated plaintext is never shown unless asked for.
   */
  showUnverified?: boolean;
  /**
   * Allow the fast paths (default true). With ESP keys only the summary one runs, decrypting
   * through lib/decrypt/fast-esp.ts.
   */
  fastPath?: boolean;
  /** @internal Flow cache slots of the fast paths (tests: 1). */
  fastPathSlots?: number;
  /** Keys for ESP / IKE decryption (`--keys`, `--keys-inline`); with them only the summary fast path runs (ESP; IKE takes the full decoder). */
  keys?: KeyStore;
  /**
   * Feed the IKE tracker (default true). Only {@link Decoder.stats} reads it (`--stats`), never a
   * packet's text: runDecode turns it off when no stats are printed.
   */
  trackIke?: boolean;
}

/** The per-packet ESP sequence flag attached to ESP layers. */
export interface EspSeqInfo {
  /** Tracker verdict: first, in-order, gap, duplicate, out-of-order, too-old. */
  status: EspObservation["status"];
  /** Sequence numbers skipped before this packet (status "gap"). */
  missing: number;
}

/** Everything `--stats` prints. */
export interface DecodeStats {
  ikeSas: IkeSaReport[];
  ikeSasUntracked: number;
  espSas: EspSaReport[];
  espPairs: EspSaPair[];
  espOneWay: number[];
  fragments: { held: number; reassembled: number; expired: number };
}

const MAX_IP_NESTING = 4;

/** Stateful decoder for one capture. */
export class Decoder {
  /** @internal read by the summary fast path */
  readonly ports: IpsecPorts;
  private readonly fastPath: boolean;
  /** Summary fast path with ESP decryption (keys given). */
  private readonly fastKeyed: boolean;
  private readonly tcpPorts: Set<number>;
  private readonly reassemble: boolean;
  private readonly v4frag = new Reassembler({ timeoutSec: 30 });
  private readonly v6frag = new Reassembler({ timeoutSec: 60 });
  private readonly streams = new TcpStreams();
  private readonly encap = new Map<string, TcpEncapParser>();
  readonly esp = new EspTracker();
  private readonly roles = new IsakmpRoles();
  readonly ike = new IkeTracker();
  private fragHeld = 0;
  private fragDone = 0;
  private fragExpired = 0;
  private lastTs = 0;
  /** Decoding a first fragment: do not feed trackers or stream state. */
  private partial = false;
  /** Decryptors, only when keys were given (the hot path checks one field). */
  private readonly espDec?: EspDecryptor;
  private readonly v2Dec?: Ikev2Decryptor;
  private readonly v1Dec?: Ikev1Decryptor;
  /** ESP-in-ESP nesting while decoding decrypted inner packets. */
  private espNest = 0;
  /** Flow cache and writers of the fast paths (made on first use). */
  private fastPaths?: FastPaths;
  private readonly fastPathSlots?: number;
  private readonly trackIke: boolean;

  constructor(opts: DecoderOptions = {}) {
    this.trackIke = opts.trackIke !== false;
    this.ports = makeIpsecPorts({ ike: opts.ikePorts ?? [], natt: opts.nattPorts ?? [] });
    this.tcpPorts = new Set([4500, ...(opts.tcpPorts ?? [])]);
    this.reassemble = opts.reassemble !== false;
    this.fastPath = opts.fastPath !== false && !opts.keys;
    this.fastPathSlots = opts.fastPathSlots;
    if (opts.keys) {
      const d = opts.keys.decryptors({ unverified: opts.showUnverified === true });
      this.espDec = d.esp;
      this.v2Dec = d.ikev2;
      this.v1Dec = d.ikev1;
    }
    this.fastKeyed = opts.fastPath !== false && this.espDec !== undefined;
  }

  /** Decode one record. The returned packet holds views into `rec.data`. */
  decode(rec: CaptureRecord): DecodedPacket {
    const p: DecodedPacket = {
      no: rec.no,
      tsSec: rec.tsSec,
      tsNsec: rec.tsNsec,
      iface: rec.iface,
      linkType: rec.linkType,
      caplen: rec.caplen,
      len: rec.len,
      layers: [],
      anomalies: [],
    };
    if (rec.comment !== undefined) p.comment = rec.comment;
    if (rec.ifName !== undefined) p.ifName = rec.ifName;
    // Plain Uint8Array views only: a Node Buffer's slice() is a view, not a copy,
    // and its toJSON differs; normalise once here.
    const d = rec.data;
    const data = d.constructor === Uint8Array ? d : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    try {
      const link = decodeLink(rec.linkType, data, p.anomalies);
      for (const l of link.layers) p.layers.push(l);
      if (link.net) this.ip(p, data, link.net, link.off, link.end, 0);
      if (rec.tsSec - this.lastTs >= 1) {
        this.lastTs = rec.tsSec;
        this.expire(p, rec.tsSec);
      }
    } catch (e) {
      // A dissector bug must never take the whole decode down: report it on the packet.
      p.anomalies.push({ layer: "vpnkit", offset: 0, reason: `internal decoder error: ${(e as Error)?.message ?? e}` });
    }
    return p;
  }

  /**
   * Write the summary line (with its newline) from the fast path
   * (lib/decode/fast-summary.ts); false when this packet needs the full
   * decoder. Only valid in summary mode (with ESP keys: lib/decrypt/fast-esp.ts); state (ESP
   * tracker, time) advances exactly as {@link decode} would advance it.
   */
  fastSummary(w: ByteWriter, rec: CaptureRecord, time: TimeFormatter = UTC_TIME_OF_DAY): boolean {
    return this.fast(w, rec, 0, time);
  }

  /** Write the `--json` line from the fast path, or false (see {@link fastSummary}). */
  fastJson(w: ByteWriter, rec: CaptureRecord): boolean {
    return this.fast(w, rec, 1);
  }

  /** Write the `-v` block (and the blank line after it) from the fast path, or false (see {@link fastSummary}). */
  fastTree(w: ByteWriter, rec: CaptureRecord): boolean {
    return this.fast(w, rec, 2);
  }

  /** @internal IKEv2 messages the fast paths wrote from a template (tests). */
  get fastIkeTemplateHits(): number {
    return this.fastPaths?.ikeTemplateHits ?? 0;
  }

  private fast(w: ByteWriter, rec: CaptureRecord, mode: 0 | 1 | 2, time = UTC_TIME_OF_DAY): boolean {
    if (!this.fastPath && (!this.fastKeyed || mode !== 0)) return false;
    const fp = (this.fastPaths ??= new FastPaths(this.ports, this.esp, this.trackIke ? this.ike : null, this.fastPathSlots, this.fastKeyed ? new KeyedEspFast(this.espDec!, this.ports, this.tcpPorts) : null));
    if (rec.tsSec - this.lastTs >= 1) {
      // decode() would run reassembly expiry here; only skip it when nothing is in flight
      if (this.v4frag.stats().inFlight || this.v6frag.stats().inFlight) return false;
      const ok = mode === 0 ? fp.summary(w, rec, time) : mode === 1 ? fp.json(w, rec) : fp.tree(w, rec);
      if (ok) this.lastTs = rec.tsSec;
      return ok;
    }
    return mode === 0 ? fp.summary(w, rec, time) : mode === 1 ? fp.json(w, rec) : fp.tree(w, rec);
  }

  /** End of input: notes on state that never completed (IP datagrams missing fragments). */
  finish(): string[] {
    const left: string[] = [];
    for (const r of [this.v4frag, this.v6frag]) {
      for (const x of r.expire(Number.MAX_SAFE_INTEGER)) {
        this.fragExpired++;
        left.push(`incomplete IP datagram ${x.key.replace(/\|/g, " ")}: fragments in packets ${x.fragments.join(", ")}; ${x.missing}`);
      }
    }
    // RFC 7383 messages whose SKF fragments never all arrived (only tracked with keys)
    if (this.v2Dec) for (const m of this.v2Dec.incomplete()) left.push(`incomplete ${m}`);
    return left;
  }

  /** Per-SA summaries for `--stats`. */
  stats(): DecodeStats {
    return {
      ikeSas: this.ike.report(),
      ikeSasUntracked: this.ike.overflow,
      espSas: this.esp.report(),
      espPairs: this.esp.pairs(),
      espOneWay: this.esp.oneWay(),
      fragments: { held: this.fragHeld, reassembled: this.fragDone, expired: this.fragExpired },
    };
  }

  private expire(p: DecodedPacket, now: number): void {
    for (const r of [this.v4frag, this.v6frag]) {
      for (const x of r.expire(now)) {
        this.fragExpired++;
        (p.notes ??= []).push(`reassembly timed out for ${x.key.replace(/\|/g, " ")}: fragments in packets ${x.fragments.join(", ")}; ${x.missing}`);
      }
    }
  }

  private ip(p: DecodedPacket, b: Uint8Array, net: "ipv4" | "ipv6", off: number, end: number, depth: number): void {
    if (depth >= MAX_IP_NESTING) {
      p.anomalies.push({ layer: net, offset: off, reason: "too many nested IP headers" });
      return;
    }
    if (net === "ipv4") {
      const ip = decodeIpv4(b, off, end, p.anomalies);
      if (!ip) return;
      p.layers.push(ip);
      if (isIpv4Fragment(ip)) {
        if (!this.reassemble) return this.fragmentNote(p, ip.fragOffset, ip.mf, "IPv4", ip.id);
        const done = this.v4frag.add(ipv4FragmentKey(ip), ip.fragOffset, ip.mf, b.subarray(ip.payloadOffset, ip.payloadEnd), p.no, p.tsSec, p.anomalies);
        if (!done) {
          this.fragHeld++;
          this.fragmentNote(p, ip.fragOffset, ip.mf, "IPv4", ip.id);
          if (ip.fragOffset === 0) this.firstFragment(p, b, ip.proto, ip.payloadOffset, ip.payloadEnd, ip, off, depth);
          return;
        }
        this.fragDone++;
        (p.notes ??= []).push(`IPv4 datagram id 0x${ip.id.toString(16)} reassembled from packets ${done.fragments.join(", ")} (${done.datagram.length} bytes)`);
        p.layers.push({ layer: "reassembled", offset: 0, length: done.datagram.length, fragments: done.fragments } as LayerBase);
        return this.transport(p, done.datagram, ip.proto, 0, done.datagram.length, ip, -1, depth);
      }
      return this.transport(p, b, ip.proto, ip.payloadOffset, ip.payloadEnd, ip, off, depth);
    }
    const ip6 = decodeIpv6(b, off, end, p.anomalies);
    if (!ip6) return;
    p.layers.push(ip6);
    if (ip6.fragment && (ip6.fragment.offset !== 0 || ip6.fragment.more)) {
      const f = ip6.fragment;
      if (!this.reassemble) return this.fragmentNote(p, f.offset, f.more, "IPv6", f.id);
      const done = this.v6frag.add(ipv6FragmentKey(ip6), f.offset, f.more, b.subarray(ip6.payloadOffset, ip6.payloadEnd), p.no, p.tsSec, p.anomalies);
      if (!done) {
        this.fragHeld++;
        this.fragmentNote(p, f.offset, f.more, "IPv6", f.id);
        if (f.offset === 0) this.firstFragment(p, b, ip6.nextHeader, ip6.payloadOffset, ip6.payloadEnd, ip6, off, depth);
        return;
      }
      this.fragDone++;
      (p.notes ??= []).push(`IPv6 datagram id 0x${f.id.toString(16)} reassembled from packets ${done.fragments.join(", ")} (${done.datagram.length} bytes)`);
      p.layers.push({ layer: "reassembled", offset: 0, length: done.datagram.length, fragments: done.fragments } as LayerBase);
      return this.transport(p, done.datagram, ip6.nextHeader, 0, done.datagram.length, ip6, -1, depth);
    }
    this.transport(p, b, ip6.nextHeader, ip6.payloadOffset, ip6.payloadEnd, ip6, off, depth);
  }

  /**
   * A first fragment held for reassembly: decode what it carries anyway (like
   * tcpdump), so a lost later fragment still shows which message it was. The
   * result is marked partial: trackers ignore it, and its anomalies (mostly
   * "truncated", expected here) become notes rather than packet anomalies.
   */
  private firstFragment(p: DecodedPacket, b: Uint8Array, proto: number, off: number, end: number, ip: Ipv4Layer | Ipv6Layer, ipOff: number, depth: number): void {
    const real = p.anomalies;
    const scratch: Anomaly[] = [];
    p.anomalies = scratch;
    this.partial = true;
    try {
      this.transport(p, b, proto, off, end, ip, ipOff, depth);
    } finally {
      this.partial = false;
      p.anomalies = real;
    }
    for (const a of scratch) (p.notes ??= []).push(`first fragment only: ${a.layer}@${a.offset}: ${a.reason}`);
  }

  private fragmentNote(p: DecodedPacket, offset: number, more: boolean, v: string, id: number): void {
    (p.notes ??= []).push(`${v} fragment id 0x${id.toString(16)} offset ${offset}${more ? " (more follow)" : " (last)"}${this.reassemble ? ", held for reassembly" : ""}`);
  }

  private transport(p: DecodedPacket, b: Uint8Array, proto: number, off: number, end: number, ip: Ipv4Layer | Ipv6Layer, ipOff: number, depth: number): void {
    switch (proto) {
      case 17: {
        const udp = decodeUdp(b, off, end, p.anomalies);
        if (!udp) return;
        p.layers.push(udp);
        const cls = classifyUdp(udp.srcPort, udp.dstPort, this.ports);
        if (cls === "natt") {
          const n = decodeNatt(b, udp.payloadOffset, udp.payloadEnd, p.anomalies);
          p.layers.push(n);
          if (n.kind === "esp") {
            // a UDP GSO run captured before segmentation (lib/ipsec/gso.ts): decode the first
            // datagram, count the rest in the ESP tracker, and say what the record is
            // (every payload when decrypting; without keys only those too big for one frame)
            const run = findEspGsoRun(b, n.off, udp.payloadEnd, this.espDec !== undefined ? 0 : GSO_MIN_PAYLOAD);
            if (run !== null) {
              p.anomalies.push({
                layer: "esp", offset: n.off,
                reason: `UDP GSO run captured before segmentation: ${run.count} ESP datagrams of ${run.size} bytes (the last ${run.last}), SPI 0x${run.spi.toString(16).padStart(8, "0")} seq ${run.firstSeq}-${(run.firstSeq + run.count - 1) >>> 0}, in one record; only the first is decoded (the interface offloads UDP segmentation: capture on the peer, or with ethtool -K DEV tx-udp-segmentation off)`,
              });
            }
            this.esp_(p, b, n.off, run !== null ? n.off + run.size : udp.payloadEnd, ip, udp.srcPort, udp.dstPort, run);
          }
          else if (n.kind === "ike") this.ikeMsg(p, b, n.off, udp.payloadEnd, ip);
        } else if (cls === "ike") {
          this.ikeMsg(p, b, udp.payloadOffset, udp.payloadEnd, ip);
        }
        return;
      }
      case 6: {
        const tcp = decodeTcp(b, off, end, p.anomalies);
        if (!tcp) return;
        p.layers.push(tcp);
        if (!this.partial && (this.tcpPorts.has(tcp.srcPort) || this.tcpPorts.has(tcp.dstPort))) this.tcpEncap(p, b, tcp, ip);
        return;
      }
      case 50:
        return this.esp_(p, b, off, end, ip);
      case 51: {
        const ah = decodeAh(b, off, end, p.anomalies, { ipv6: ip.layer === "ipv6" });
        if (!ah) return;
        p.layers.push(ah);
        const nh = ah.nextHeader;
        if (nh === 4) return this.ip(p, b, "ipv4", ah.payloadOffset, end, depth + 1);
        if (nh === 41) return this.ip(p, b, "ipv6", ah.payloadOffset, end, depth + 1);
        return this.transport(p, b, nh, ah.payloadOffset, end, ip, ipOff, depth + 1);
      }
      case 1: {
        const icmp = decodeIcmp(b, off, end, p.anomalies, !(ip as Ipv4Layer).truncated);
        if (icmp) p.layers.push(icmp);
        return;
      }
      case 58: {
        const icmp = decodeIcmpv6(b, off, end, p.anomalies, ipOff, !(ip as Ipv6Layer).truncated);
        if (icmp) p.layers.push(icmp);
        return;
      }
      case 4:
        return this.ip(p, b, "ipv4", off, end, depth + 1);
      case 41:
        return this.ip(p, b, "ipv6", off, end, depth + 1);
    }
  }

  private esp_(p: DecodedPacket, b: Uint8Array, off: number, end: number, ip: Ipv4Layer | Ipv6Layer, sport?: number, dport?: number, run: EspGsoRun | null = null): void {
    const esp = decodeEsp(b, off, end, p.anomalies) as (EspLayer & { seqInfo?: EspSeqInfo; decrypt?: EspDecryptInfo }) | null;
    if (!esp) return;
    p.layers.push(esp);
    if (esp.seq !== null && !this.partial) {
      const flow = { spi: esp.spi, src: ip.src, dst: ip.dst, sport, dport };
      const o = this.esp.observe(flow, esp.seq, end - off, p.no, p.tsSec, p.tsNsec);
      if (o.status !== "in-order" && o.status !== "first") esp.seqInfo = { status: o.status, missing: o.missing };
      // the other datagrams of a GSO run: in sequence, so the tracker sees no gap
      if (run !== null) for (let k = 1; k < run.count; k++) this.esp.observe(flow, (run.firstSeq + k) >>> 0, k === run.count - 1 ? run.last : run.size, p.no, p.tsSec, p.tsNsec);
      if (this.espDec !== undefined) this.decryptEsp(p, b, off, end, esp, ip);
    }
  }

  /** Decrypt one ESP packet when its SA has keys, and decode the inner packet with the same dissectors. */
  private decryptEsp(p: DecodedPacket, b: Uint8Array, off: number, end: number, esp: EspLayer & { decrypt?: EspDecryptInfo }, ip: Ipv4Layer | Ipv6Layer): void {
    const dec = this.espDec!;
    const k = dec.key(esp.spi, ip.src, ip.dst);
    if (!k) return;
    const o = dec.open(k, b.subarray(off, end), esp.seq!, ip.src, ip.dst);
    esp.decrypt = o.info;
    const pt = o.plaintext;
    if (!pt || this.espNest >= 2) return;
    const nh = o.nextHeader!;
    const inner: InnerLayer = { layer: "inner", offset: 0, length: pt.length, spi: esp.spi, seq: esp.seq!, mode: nh === 4 || nh === 41 ? "tunnel" : "transport" };
    Object.defineProperty(inner, "plaintext", { value: pt, enumerable: false });
    p.layers.push(inner);
    const real = p.anomalies;
    const scratch: Anomaly[] = [];
    p.anomalies = scratch;
    this.espNest++;
    try {
      if (nh === 4) this.ip(p, pt, "ipv4", 0, pt.length, 1);
      else if (nh === 41) this.ip(p, pt, "ipv6", 0, pt.length, 1);
      else this.transport(p, pt, nh, 0, pt.length, ip, -1, 1);
    } finally {
      this.espNest--;
      p.anomalies = real;
    }
    for (const a of scratch) real.push({ layer: `inner.${a.layer}`, offset: a.offset, reason: a.reason });
  }

  private ikeMsg(p: DecodedPacket, b: Uint8Array, off: number, end: number, ip: Ipv4Layer | Ipv6Layer): void {
    const v = ikeVersion(b, off, end);
    if (v === 2) {
      const m = decodeIkev2(b, off, end, p.anomalies);
      if (!m) return;
      p.layers.push(m);
      // meaning, checked separately from structure (principle 3)
      for (const a of validateIkev2(m)) p.anomalies.push(a);
      const d = this.v2Dec !== undefined && !this.partial ? this.v2Dec.decrypt(b, m, p.no, p.anomalies) : undefined;
      if (!this.partial && this.trackIke) this.ike.observe(ikev2Event(p.no, p.tsSec, p.tsNsec, m, ip.src, ip.dst, d));
    } else if (v === 1) {
      const m = decodeIsakmp(b, off, end, p.anomalies) as (IsakmpMessage & { role?: "I" | "R" }) | null;
      if (!m) return;
      p.layers.push(m);
      validateIsakmp(m, p.anomalies);
      if (!this.partial) {
        const role = this.roles.role(m, ip.src);
        if (role) m.role = role;
      }
      const d = this.v1Dec !== undefined && !this.partial ? this.v1Dec.decrypt(b, m, ip, p.anomalies) : undefined;
      if (!this.partial && this.trackIke) this.ike.observe(isakmpEvent(p, m, ip, d));
    } else if (end - off > 0) {
      p.anomalies.push({ layer: "ike", offset: off, reason: end - off < 28 ? `truncated: need 28 bytes, have ${end - off}` : `unknown IKE major version ${b[off + 17] >> 4}` });
    }
  }

  private tcpEncap(p: DecodedPacket, b: Uint8Array, tcp: TcpLayer, ip: Ipv4Layer | Ipv6Layer): void {
    const key = `${ip.src}|${tcp.srcPort}|${ip.dst}|${tcp.dstPort}`;
    const bytes = this.streams.push(key, tcp.seq, (tcp.flags & TCP_SYN) !== 0, (tcp.flags & TCP_FIN) !== 0, b.subarray(tcp.payloadOffset, tcp.payloadEnd), p.no, p.anomalies);
    if (!bytes || bytes.length === 0) return;
    let parser = this.encap.get(key);
    if (!parser) {
      if (this.encap.size > 4096) this.encap.clear();
      parser = new TcpEncapParser({ prefix: "auto" });
      this.encap.set(key, parser);
    }
    for (const f of parser.push(bytes, p.anomalies)) {
      p.layers.push({ layer: "tcpencap", offset: 0, length: f.length, kind: f.kind, streamOffset: f.streamOffset } as LayerBase);
      if (f.kind === "ike") this.ikeMsg(p, f.data, 0, f.data.length, ip);
      else if (f.kind === "esp") this.esp_(p, f.data, 0, f.data.length, ip, tcp.srcPort, tcp.dstPort);
    }
  }
}

function isakmpEvent(p: DecodedPacket, m: IsakmpMessage, ip: Ipv4Layer | Ipv6Layer, d?: Ikev1Decrypted): IkeEvent {
  const notifies = [];
  for (const pl of d?.payloads ?? m.payloads ?? []) {
    if (pl.kind === "notify") notifies.push({ type: pl.notifyType, name: pl.notifyName, error: pl.error });
  }
  const sum = isakmpSummary(m, { decrypted: d?.payloads });
  const lb = sum.indexOf("[ ");
  return {
    no: p.no, tsSec: p.tsSec, tsNsec: p.tsNsec, version: 1,
    ispi: toHex(m.icookie), rspi: toHex(m.rcookie), exchange: m.exchangeName, messageId: m.messageId,
    payloads: lb >= 0 ? sum.slice(lb + 2, sum.lastIndexOf(" ]")).trim() : "encrypted", notifies, encrypted: m.flags.encryption && !d?.payloads,
    src: ip.src, dst: ip.dst, length: m.length,
  };
}
