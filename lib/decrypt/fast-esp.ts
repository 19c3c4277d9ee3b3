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
const utf8 = (t: string) => new TextEncoder().encode(t);
const ICV_BAD = utf8(" ICV BAD");
const ICV_GOOD = utf8(" ICV good \u2192 ");
const ICV_NONE = utf8(" ICV unchecked \u2192 ");
const IP6 = utf8("IP6 ");
const GT = utf8(" > ");
const TCP = utf8("TCP ");
const SEQ = utf8(" seq ");
const ACK = utf8(" ack ");
const WIN = utf8(" win ");
const LEN = utf8(" len ");
const UDP_LEN = utf8("UDP len ");

/**
 * False only when `b[off..end)` cannot hold a UDP GSO run (a necessary condition of
 * findEspGsoRun with no minimum size): no 4-byte-aligned place at least 32 bytes in and 32
 * before the end repeats the SPI with the next sequence number. The native `indexOf` finds the
 * SPI's first byte (in ciphertext about once per 256 bytes) instead of a JS loop over every
 * aligned offset.
 */
export function mayHoldGsoRun(b: Uint8Array, off: number, end: number): boolean {
  if (end > b.length) end = b.length;
  if (!(off >= 0) || end - off < 64) return false;
  const s0 = b[off], s1 = b[off + 1], s2 = b[off + 2], s3 = b[off + 3];
  const next = (((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) + 1) >>> 0;
  const last = end - 32;
  for (let o = off + 32; o <= last; o++) {
    o = b.indexOf(s0, o);
    if (o < 0 || o > last) return false;
    if (((o - off) & 3) === 0 && b[o + 1] === s1 && b[o + 2] === s2 && b[o + 3] === s3 && (((b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7]) >>> 0) === next) return true;
  }
  return false;
}

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
    if (mayHoldGsoRun(b, off, end) && findEspGsoRun(b, off, end, 0) !== null) return FALLBACK;
    const k = this.dec.key(spi, src, dst);
    if (k === undefined) return NO_KEY;
    if (this.scratch.length < end - off) this.scratch = new Uint8Array(2 * (end - off));
    const o = this.dec.open(k, b.subarray(off, end), seq, src, dst, this.scratch);
    const d = o.info;
    const pt = o.plaintext;
    if (pt === undefined) {
      if (d.icv !== "bad") return FALLBACK; // a reason in parentheses: rare, left to the full decoder
      this.len = 0;
      this.head(ICV_BAD);
      return SUFFIX;
    }
    const nh = o.nextHeader!;
    this.len = 0;
    this.head(d.icv === "good" ? ICV_GOOD : ICV_NONE);
    const ok = nh === 4 ? this.ipv4(pt) : nh === 41 ? this.ipv6(pt) : false;
    return ok ? SUFFIX : FALLBACK;
  }

  private head(h: Uint8Array): void {
    this.text.set(h, this.len);
    this.len += h.length;
  }

  /** ASCII text (addresses, registry names); false when it is not ASCII or does not fit. */
  private str(s: string): boolean {
    const t = this.text;
    let p = this.len;
    // headroom for the fixed words and numbers written after it (each well under 128 bytes)
    if (p + s.length > MAX_TEXT - 128) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7e) return false;
      t[p++] = c;
    }
    this.len = p;
    return true;
  }

  /** A non-negative integer in decimal (as `String(n)`). */
  private num(n: number): void {
    const t = this.text;
    let p = this.len;
    if (n < 10) t[p++] = 48 + n;
    else {
      let digits = 1;
      for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
      p += digits;
      for (let i = p - 1, x = n; i >= p - digits; i--, x = Math.floor(x / 10)) t[i] = 48 + (x % 10);
    }
    this.len = p;
  }

  /** `A.P > B.Q what` of an inner IPv4 packet; false: fallback. */
  private ipv4(pt: Uint8Array): boolean {
    const an = this.an;
    an.length = 0;
    const ip = decodeIpv4(pt, 0, pt.length, an);
    if (ip === null || an.length !== 0 || ip.mf || ip.fragOffset !== 0) return false;
    return this.transport(pt, ip.proto, ip.payloadOffset, ip.payloadEnd, ip.src, ip.dst, false, ip.truncated, 0);
  }

  /** `IP6 A.P > B.Q what` of an inner IPv6 packet; false: fallback. */
  private ipv6(pt: Uint8Array): boolean {
    const an = this.an;
    an.length = 0;
    const ip = decodeIpv6(pt, 0, pt.length, an);
    if (ip === null || an.length !== 0 || ip.fragment !== undefined) return false;
    return this.transport(pt, ip.nextHeader, ip.payloadOffset, ip.payloadEnd, ip.src, ip.dst, true, ip.truncated, 0);
  }

  /** `[IP6 ]src.sport > dst.dport ` */
  private addr(v6: boolean, src: string, sport: number, dst: string, dport: number): boolean {
    if (v6) this.head(IP6);
    if (!this.str(src)) return false;
    this.text[this.len++] = 46; // '.'
    this.num(sport);
    this.head(GT);
    if (!this.str(dst)) return false;
    this.text[this.len++] = 46;
    this.num(dport);
    this.text[this.len++] = 32;
    return true;
  }

  /**
   * lib/decode/pipeline.ts `transport` + lib/decode/summary.ts `describe`, for TCP, UDP, ICMP,
   * ICMPv6 (the text bounded: addresses, ports and 32-bit numbers; registry names checked).
   */
  private transport(b: Uint8Array, proto: number, off: number, end: number, src: string, dst: string, v6: boolean, truncated: boolean, ipOff: number): boolean {
    const an = this.an;
    switch (proto) {
      case 6: {
        const t = decodeTcp(b, off, end, an);
        if (t === null || an.length !== 0 || this.tcpPorts.has(t.srcPort) || this.tcpPorts.has(t.dstPort)) return false;
        // `TCP ${flagsText} seq ${seq}${ACK ? ` ack ${ack}` : ""} win ${window} len ${payload}`
        if (!this.addr(v6, src, t.srcPort, dst, t.dstPort)) return false;
        this.head(TCP);
        if (!this.str(t.flagsText)) return false;
        this.head(SEQ);
        this.num(t.seq >>> 0);
        if (t.flags & 0x10) {
          this.head(ACK);
          this.num(t.ack >>> 0);
        }
        this.head(WIN);
        this.num(t.window);
        this.head(LEN);
        this.num(t.payloadEnd - t.payloadOffset);
        return true;
      }
      case 17: {
        const u = decodeUdp(b, off, end, an);
        if (u === null || an.length !== 0 || classifyUdp(u.srcPort, u.dstPort, this.ports) !== null) return false;
        if (!this.addr(v6, src, u.srcPort, dst, u.dstPort)) return false;
        this.head(UDP_LEN);
        this.num(u.payloadEnd - u.payloadOffset);
        return true;
      }
      case 1: {
        if (v6) return false;
        const c = decodeIcmp(b, off, end, an, !truncated);
        if (c === null || an.length !== 0) return false;
        let s = `${src} > ${dst} ICMP ${c.typeName}`;
        if (c.codeName && c.type !== 0 && c.type !== 8) s += `: ${c.codeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        if (c.id !== undefined) s += ` id ${c.id} seq ${c.seq}`;
        return this.str(s);
      }
      case 58: {
        if (!v6) return false;
        const c = decodeIcmpv6(b, off, end, an, ipOff, !truncated);
        if (c === null || an.length !== 0) return false;
        let s = `IP6 ${src} > ${dst} ICMP6 ${c.typeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        return this.str(s);
      }
    }
    return false;
  }
}
