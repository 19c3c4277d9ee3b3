/**
 * Default output: one line per packet, like tcpdump.
 *
 *     12 14:22:05.177459 192.0.2.1.4500 > 192.0.2.2.4500 NAT-T ESP spi 0xc4ba5861 seq 3 len 136
 *
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { DecodedPacket, LayerBase } from "../core/layer.ts";
import type { Ipv4Layer } from "../net/ipv4.ts";
import type { Ipv6Layer } from "../net/ipv6.ts";
import type { UdpLayer } from "../net/udp.ts";
import type { TcpLayer } from "../net/tcp.ts";
import type { IcmpLayer } from "../net/icmp.ts";
import type { Icmpv6Layer } from "../net/icmpv6.ts";
import type { EspLayer } from "../ipsec/esp.ts";
import type { AhLayer } from "../ipsec/ah.ts";
import type { NattLayer } from "../ipsec/natt.ts";
import type { Ikev2Message } from "../ike/v2/message.ts";
import { ikev2Summary } from "../ike/v2/summary.ts";
import type { IsakmpMessage } from "../ike/v1/message.ts";
import { isakmpSummary, cookiePair } from "../ike/v1/summary.ts";
import type { EspSeqInfo } from "./pipeline.ts";
import type { EspDecryptInfo, Ikev1Decrypted, Ikev2Decrypted } from "../decrypt/types.ts";
import { TimeFormatter } from "./time.ts";

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

let cachedSec = NaN;
let cachedHms = "";

/** `HH:MM:SS.uuuuuu` (UTC). The HH:MM:SS part is cached per second (hot path). */
export function timeOfDay(sec: number, nsec: number): string {
  if (sec !== cachedSec) {
    const d = ((sec % 86400) + 86400) % 86400;
    cachedHms = `${pad2(Math.floor(d / 3600))}:${pad2(Math.floor((d % 3600) / 60))}:${pad2(d % 60)}.`;
    cachedSec = sec;
  }
  const us = Math.floor(nsec / 1000);
  return cachedHms + (us >= 100000 ? "" : us >= 10000 ? "0" : us >= 1000 ? "00" : us >= 100 ? "000" : us >= 10 ? "0000" : "00000") + us;
}

const spiText = new Map<number, string>();
/** `0x` + 8 hex digits, cached (a capture has few SPIs). */
export function spiHex(spi: number): string {
  let s = spiText.get(spi);
  if (s === undefined) {
    s = "0x" + (spi >>> 0).toString(16).padStart(8, "0");
    if (spiText.size < 65536) spiText.set(spi, s);
  }
  return s;
}

const NUM_PAD = ["", "     ", "    ", "   ", "  ", " ", ""];
/** Packet number right-aligned in 6 columns. */
export function padNo(n: number): string {
  const s = String(n);
  return s.length >= 6 ? s : NUM_PAD[s.length] + s;
}

let isoSec = NaN;
let isoPrefix = "";

/** ISO-8601 UTC time with nanoseconds (date part cached per second). */
export function isoTime(sec: number, nsec: number): string {
  if (sec !== isoSec) {
    isoPrefix = new Date(sec * 1000).toISOString().slice(0, 19); // ...SS
    isoSec = sec;
  }
  return `${isoPrefix}.${String(nsec).padStart(9, "0")}Z`;
}

function espText(e: EspLayer & { seqInfo?: EspSeqInfo }): string {
  let s = e.seq !== null ? `ESP spi ${spiHex(e.spi)} seq ${e.seq} len ${e.length}` : `ESP spi ${spiHex(e.spi)} len ${e.length}`;
  const si = e.seqInfo;
  if (si) {
    if (si.status === "gap") s += ` (gap: ${si.missing} missing)`;
    else s += ` (${si.status})`;
  }
  return s;
}

function ikeText(l: LayerBase): string {
  if (l.layer === "ikev2") {
    const m = l as Ikev2Message;
    const sk = m.payloads[m.payloads.length - 1] as { decrypted?: Ikev2Decrypted } | undefined;
    const d = sk?.decrypted;
    if (!d) return `IKEv2 ${ikev2Summary(m, { spis: "suffix" })}`;
    let s = `IKEv2 ${ikev2Summary(m, { spis: "suffix", decrypted: d.payloads })}`;
    if (d.integrity === "bad") s += " integrity BAD";
    else if (d.fragments) s += ` [reassembled from packets ${d.fragments.join(", ")}]`;
    else if (d.reason) s += ` (${d.reason})`;
    return s;
  }
  const m = l as IsakmpMessage & { decrypted?: Ikev1Decrypted; role?: "I" | "R" };
  const s = `IKEv1 ${isakmpSummary(m, { role: m.role, decrypted: m.decrypted?.payloads })} ${cookiePair(m)}`;
  return m.decrypted?.reason && !m.decrypted.payloads ? `${s} (${m.decrypted.reason})` : s;
}

/** The "what is it" part of the summary line. */
function describe(p: DecodedPacket): { addr: string; what: string } {
  let ip: Ipv4Layer | Ipv6Layer | undefined;
  let sport = -1, dport = -1;
  const parts: string[] = [];
  let transport = "";
  for (let i = 0; i < p.layers.length; i++) {
    const l = p.layers[i];
    switch (l.layer) {
      case "ipv4":
      case "ipv6":
        if (!ip) ip = l as Ipv4Layer | Ipv6Layer;
        else parts.push(`${l.layer === "ipv4" ? "IP" : "IP6"} ${(l as Ipv4Layer).src} > ${(l as Ipv4Layer).dst}`);
        break;
      case "udp": {
        const u = l as UdpLayer;
        sport = u.srcPort;
        dport = u.dstPort;
        transport = `UDP len ${u.payloadEnd - u.payloadOffset}`;
        break;
      }
      case "tcp": {
        const t = l as TcpLayer;
        sport = t.srcPort;
        dport = t.dstPort;
        transport = `TCP ${t.flagsText} seq ${t.seq >>> 0}${t.flags & 0x10 ? ` ack ${t.ack >>> 0}` : ""} win ${t.window} len ${t.payloadEnd - t.payloadOffset}`;
        break;
      }
      case "natt": {
        const n = l as NattLayer;
        if (n.kind === "keepalive") parts.push("NAT-keepalive");
        else if (n.kind === "invalid") parts.push("NAT-T (invalid)");
        else parts.push("NAT-T");
        transport = "";
        break;
      }
      case "tcpencap":
        parts.push("TCP-encap");
        transport = "";
        break;
      case "esp": {
        const e = l as EspLayer & { decrypt?: EspDecryptInfo };
        let s = espText(e);
        const d = e.decrypt;
        if (d) {
          s += d.icv === "good" ? " ICV good" : d.icv === "bad" ? " ICV BAD" : " ICV unchecked";
          if (p.layers[i + 1]?.layer === "inner") {
            // The rest of the layers are the decrypted inner packet: render it in brief.
            const inner = describe({ ...p, layers: p.layers.slice(i + 2), anomalies: [], notes: undefined });
            s += ` → ${inner.addr ? inner.addr + " " : ""}${inner.what}`;
            i = p.layers.length;
          } else if (d.reason && d.icv !== "bad") s += ` (${d.reason})`;
        }
        parts.push(s);
        transport = "";
        break;
      }
      case "ah": {
        const a = l as AhLayer;
        parts.push(`AH spi 0x${(a.spi >>> 0).toString(16).padStart(8, "0")} seq ${a.seq} icv ${toHex(a.icv)}`);
        break;
      }
      case "ikev2":
      case "isakmp":
        parts.push(ikeText(l));
        transport = "";
        break;
      case "icmp": {
        const c = l as IcmpLayer;
        let s = `ICMP ${c.typeName}`;
        if (c.codeName && c.type !== 0 && c.type !== 8) s += `: ${c.codeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        if (c.id !== undefined) s += ` id ${c.id} seq ${c.seq}`;
        parts.push(s);
        break;
      }
      case "icmpv6": {
        const c = l as Icmpv6Layer;
        let s = `ICMP6 ${c.typeName}`;
        if (c.mtu !== undefined) s += ` mtu ${c.mtu}`;
        parts.push(s);
        break;
      }
      case "reassembled":
        break;
    }
  }
  if (transport) parts.push(transport);
  if (parts.length && p.notes && p.notes[0].includes("held for reassembly")) {
    // A first fragment decoded as far as it goes: say so.
    parts.push(`[first IP fragment only: ${p.notes[0]}]`);
  } else if (parts.length === 0 && p.notes) parts.push(p.notes[0]);
  else if (p.notes && p.layers.some((l) => l.layer === "reassembled")) parts.push(`[${p.notes[0]}]`);
  if (!ip) {
    const first = p.layers[0] as LayerBase & { etherTypeName?: string; protocolName?: string };
    const t = first?.etherTypeName ?? first?.protocolName;
    return { addr: "", what: parts.length ? parts.join(" ") : t ? `non-IP (${t})` : p.layers.length ? `non-IP (${first.layer})` : "" };
  }
  const v6 = ip.layer === "ipv6";
  const a = (addr: string, port: number) => (port >= 0 ? `${addr}.${port}` : addr);
  let addr = `${a(ip.src, sport)} > ${a(ip.dst, dport)}`;
  if (v6) addr = `IP6 ${addr}`;
  if (!parts.length) parts.push(ip.layer === "ipv4" ? (ip as Ipv4Layer).protoName : (ip as Ipv6Layer).nextHeaderName);
  return { addr, what: parts.join(" ") };
}

/** tcpdump's direction words for SLL packet types (print-sll.c). */
const DIRECTION = ["In", "B", "M", "P", "Out"];

/**
 * Interface and direction of a Linux cooked capture (SLL v1/v2, as tcpdump -i any
 * prints them: `eth0  In  `, `lo    Out `), "" for other link types. SLL2 names the
 * interface by index: the name when the capture source knew it (live capture), else
 * `ifindex N`. SLL v1 carries no interface: direction only.
 */
export function linkPrefix(p: DecodedPacket): string {
  const l = p.layers[0] as (LayerBase & { version?: number; packetType?: number; ifindex?: number }) | undefined;
  if (l === undefined || l.layer !== "sll") return "";
  const pt = l.packetType!;
  const dir = DIRECTION[pt] ?? `UNKNOWN(${pt})`;
  const d = dir.length < 3 ? dir + "   ".slice(dir.length) : dir;
  if (l.version !== 2) return `${d} `;
  const name = p.ifName ?? `ifindex ${l.ifindex}`;
  return `${name.length < 5 ? name + "     ".slice(name.length) : name} ${d} `;
}

const UTC_TIME_OF_DAY = new TimeFormatter();

/**
 * One summary line for a packet. `time` formats its time stamp (lib/decode/time.ts; one
 * formatter per run: delta and relative modes remember the packets before); the default
 * is UTC time of day.
 */
export function summaryLine(p: DecodedPacket, time: TimeFormatter = UTC_TIME_OF_DAY): string {
  const { addr, what } = describe(p);
  const head = `${padNo(p.no)} ${time.text(p.tsSec, p.tsNsec)}${p.linkType === 113 || p.linkType === 276 ? linkPrefix(p) : ""}`;
  let s = addr ? `${head}${addr} ${what}` : head + what;
  const an = p.anomalies;
  if (an.length) {
    s += ` !! ${an[0].layer}@${an[0].offset}: ${an[0].reason}`;
    if (an.length > 1) s += ` (+${an.length - 1} more)`;
  }
  return s;
}

/** Header line of a `-v` packet block. */
export function packetHeaderLine(p: DecodedPacket): string {
  return `packet ${p.no}: ${isoTime(p.tsSec, p.tsNsec)}, ${p.caplen}/${p.len} bytes, iface ${p.iface}, linktype ${p.linkType}`;
}
