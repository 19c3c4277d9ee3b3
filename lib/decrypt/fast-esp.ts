/**
 * The decrypting part of the summary fast path (`vpnkit decode --keys`, summary mode): for
 * one ESP packet the fast path (lib/decode/fast-summary.ts) has matched, open it with its SA's
 * key and write the end of its summary line, ` ICV good → <inner packet>`, as
 * `summaryLine(decode(rec))` would. The inner packet is decoded by the same dissectors the
 * pipeline uses (decodeIpv4/6, decodeTcp, decodeUdp, decodeIcmp/v6), into no layer list, and
 * its brief text written as `describe` in lib/decode/summary.ts writes it; the plaintext is
 * decrypted into a reused buffer (the text is all that is kept).
 *
 * Only the common case is answered: a tunnel-mode inner IPv4/IPv6 packet, not a fragment,
 * carrying TCP, UDP, ICMP or ICMPv6 that the pipeline would not decode further (no IKE /
 * NAT-T / RFC 9329 port, no nested IP, ESP or AH), with no anomaly at any layer; also an ICV
 * that fails (` ICV BAD`). Anything else returns FALLBACK and the full decoder decodes the
 * packet (decrypting it again: decryption state advances only with a good ICV and to the same
 * values, so a second opening gives the same result). test/decrypt/fast-esp.test.ts compares
 * every line with the full decoder's, on fixtures, the benchmark mixes and mutated packets.
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { decodeIpv4 } from "../net/ipv4.ts";
import { decodeIpv6 } from "../net/ipv6.ts";
import { decodeTcp } from "../net/tcp.ts";
import { decodeUdp } from "../net/udp.ts";
import { decodeIcmp } from "../net/icmp.ts";
import { decodeIcmpv6 } from "../net/icmpv6.ts";
import { findEspGsoRun } from "../ipsec/gso.ts";
import { classifyUdp, type IpsecPorts } from "../ipsec/natt.ts";
import type { EspDecryptor } from "./esp.ts";

/** {@link KeyedEspFast.prepare}: the full decoder must handle this packet. */
export const FALLBACK = -1;
/** {@link KeyedEspFast.prepare}: no key for this SA; the line is the one without keys. */
export const NO_KEY = 0;
/** {@link KeyedEspFast.prepare}: `text[0..len)` ends the line (before its newline). */
export const SUFFIX = 1;

/** Longest suffix written (addresses, ports and numbers are bounded; longer: fallback). */
const MAX_TEXT = 512;
const ICV_BAD = " ICV BAD";
const ICV_GOOD = " ICV good \u2192 ";
const ICV_NONE = " ICV unchecked \u2192 ";

export class KeyedEspFast {
  /** The suffix of the last {@link prepare} that returned SUFFIX (UTF-8). */
  readonly text = new Uint8Array(MAX_TEXT);
  len = 0;
  /** Plaintext buffer, reused from packet to packet. */
  private scratch = new Uint8Array(2048);
  private readonly an: Anomaly[] = [];

  constructor(private readonly dec: EspDecryptor, private readonly ports: IpsecPorts, private readonly tcpPorts: ReadonlySet<number>) {}

  /**
   * The ESP packet `b[off..end)` (SPI, sequence number `seq`) from `src` to `dst` in UDP:
   * NO_KEY, SUFFIX (then `text[0..len)`), or FALLBACK. Changes no state the full decoder
   * would not change in the same way for this packet.
   */
  prepare(b: Uint8Array, off: number, end: number, spi: number, seq: number, src: string, dst: string): number {
    // with keys the pipeline looks for a UDP GSO run in every payload (lib/ipsec/gso.ts)
    if (findEspGsoRun(b, off, end, 0) !== null) return FALLBACK;
    const k = this.dec.key(spi, src, dst);
    if (k === undefined) return NO_KEY;
    if (this.scratch.length < end - off) this.scratch = new Uint8Array(2 * (end - off));
    const o = this.dec.open(k, b.subarray(off, end), seq, src, dst, this.scratch);
    const d = o.info;
    const pt = o.plaintext;
    if (pt === undefined) {
      if (d.icv !== "bad") return FALLBACK; // a reason in parentheses: rare, left to the full decoder
      return this.put(ICV_BAD, "");
    }
    const nh = o.nextHeader!;
    const inner = nh === 4 ? this.ipv4(pt) : nh === 41 ? this.ipv6(pt) : null;
    if (inner === null) return FALLBACK;
    return this.put(d.icv === "good" ? ICV_GOOD : ICV_NONE, inner);
  }

  private put(head: string, inner: string): number {
    const t = this.text;
    let p = 0;
    for (let i = 0; i < head.length; i++) {
      const c = head.charCodeAt(i);
      if (c === 0x2192) {
        t[p++] = 0xe2;
        t[p++] = 0x86;
        t[p++] = 0x92;
      } else t[p++] = c;
    }
    if (p + inner.length > MAX_TEXT) return FALLBACK;
    for (let i = 0; i < inner.length; i++) {
      const c = inner.charCodeAt(i);
      if (c > 0x7e) return FALLBACK; // only ASCII here (registry names, numbers, addresses)
      t[p++] = c;
    }
    this.len = p;
    return SUFFIX;
  }

  /** `A.P > B.Q what` of an inner IPv4 packet, or null. */
  private ipv4(pt: Uint8Array): string | null {
    const an = this.an;
    an.length = 0;
    const ip = decodeIpv4(pt, 0, pt.length, an);
    if (ip === null || an.length !== 0 || ip.mf || ip.fragOffset !== 0) return null;
    return this.transport(pt, ip.proto, ip.payloadOffset, ip.payloadEnd, ip.src, ip.dst, "", ip.truncated, 0);
  }

  /** `IP6 A.P > B.Q what` of an inner IPv6 packet, or null. */
  private ipv6(pt: Uint8Array): string | null {
    const an = this.an;
    an.length = 0;
    const ip = decodeIpv6(pt, 0, pt.length, an);
    if (ip === null || an.length !== 0 || ip.fragment !== undefined) return null;
    return this.transport(pt, ip.nextHeader, ip.payloadOffset, ip.payloadEnd, ip.src, ip.dst, "IP6 ", ip.truncated, 0);
  }

  /** lib/decode/pipeline.ts `transport` + lib/decode/summary.ts `describe`, for TCP, UDP, ICMP, ICMPv6. */
  private transport(b: Uint8Array, proto: number, off: number, end: number, src: string, dst: string, v6: string, truncated: boolean, ipOff: number): string | null {
    const an = this.an;
    switch (proto) {
      case 6: {
        const t = decodeTcp(b, off, end, an);
        if (t === null || an.length !== 0 || this.tcpPorts.has(t.srcPort) || this.tcpPorts.has(t.dstPort)) return null;
        return `${v6}${src}.${t.srcPort} > ${dst}.${t.dstPort} TCP ${t.flagsText} seq ${t.seq >>> 0}${t.flags & 0x10 ? ` ack ${t.ack >>> 0}` : ""} win ${t.window} len ${t.payloadEnd - t.payloadOffset}`;
      }
      case 17: {
        const u = decodeUdp(b, off, end, an);
        if (u === null || an.length !== 0 || classifyUdp(u.srcPort, u.dstPort, this.ports) !== null) return null;
        return `${v6}${src}.${u.srcPort} > ${dst}.${u.dstPort} UDP len ${u.payloadEnd - u.payloadOffset}`;
      }
      case 1: {
        if (v6 !== "") return null;
        const c = decodeIcmp(b, off, end, an, !truncated);
        if (c === null || an.length !== 0) return null;
        let s = `${src} > ${dst} ICMP ${c.typeName}`;
        if (c.codeName && c.type !== 0 && c.type !== 8) s += `: ${c.codeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        if (c.id !== undefined) s += ` id ${c.id} seq ${c.seq}`;
        return s;
      }
      case 58: {
        if (v6 === "") return null;
        const c = decodeIcmpv6(b, off, end, an, ipOff, !truncated);
        if (c === null || an.length !== 0) return null;
        let s = `IP6 ${src} > ${dst} ICMP6 ${c.typeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        return s;
      }
    }
    return null;
  }
}
