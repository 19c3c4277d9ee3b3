/**
 * Fast paths for the commonest packet in a busy capture: ESP in UDP on a
 * NAT-T port over Ethernet/IPv4 (or a NAT-keepalive). The summary line, the
 * `-v` tree and the NDJSON object are printed straight from the bytes, as
 * tcpdump prints while it parses.
 *
 * They only answer when the packet is well-formed in every respect the full
 * decoder checks (IPv4 header checksum, lengths, no fragment, no reserved
 * bits, a valid SPI and room for the ESP trailer); anything else returns
 * null and the caller runs the full decoder. They feed the same ESP tracker,
 * so sequence flags match. test/decode/fast-summary.test.ts proves each
 * output is identical to the full decoder's rendering, on every fixture, on
 * mutated packets and on the benchmark capture.
 * @module
 */
import { hex2, ipv4Text, toHex } from "../core/bytes.ts";
import type { CaptureRecord } from "../capture/types.ts";
import type { EspTracker } from "../ipsec/esp-tracker.ts";
import type { IpsecPorts } from "../ipsec/natt.ts";
import { isoTime, padNo, spiHex, timeOfDay } from "./summary.ts";

/** What the fast paths need from the Decoder. */
export interface FastPathContext {
  ports: IpsecPorts;
  esp: EspTracker;
}

/** One well-formed NAT-T packet, parsed. */
interface Fast {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  total: number;
  ulen: number;
  /** UDP payload bytes (ESP length, or 1 for a keepalive). */
  have: number;
  keepalive: boolean;
  spi: number;
  seq: number;
  /** ESP tracker verdict when not in order (gap, duplicate, ...). */
  status?: string;
  missing: number;
}

function checksumOk(b: Uint8Array, off: number): boolean {
  let s = 0;
  for (let i = off; i < off + 20; i += 2) s += (b[i] << 8) | b[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

function parse(ctx: FastPathContext, rec: CaptureRecord): Fast | null {
  if (rec.linkType !== 1 || rec.comment !== undefined) return null;
  const b = rec.data;
  const n = b.length;
  // Ethernet II, IPv4, no VLAN; IPv4 without options
  if (n < 42 || b[12] !== 0x08 || b[13] !== 0x00 || b[14] !== 0x45) return null;
  const total = (b[16] << 8) | b[17];
  if (total < 28 || 14 + total > n) return null;
  // flags: reserved, MF, offset all zero (DF may be set); UDP
  if ((b[20] & 0xbf) !== 0 || b[21] !== 0 || b[23] !== 17) return null;
  if (!checksumOk(b, 14)) return null;
  const sport = (b[34] << 8) | b[35];
  const dport = (b[36] << 8) | b[37];
  const ulen = (b[38] << 8) | b[39];
  if (ulen < 8 || 34 + ulen > 14 + total) return null;
  // classifyUdp(): destination first, NAT-T before IKE
  const { natt, ike } = ctx.ports;
  if (!(natt.has(dport) || (!ike.has(dport) && natt.has(sport)))) return null;
  const have = ulen - 8;
  const f: Fast = { src: "", dst: "", sport, dport, total, ulen, have, keepalive: false, spi: 0, seq: 0, missing: 0 };
  if (have === 1) {
    if (b[42] !== 0xff) return null;
    f.keepalive = true;
  } else {
    if (have < 10) return null;
    f.spi = ((b[42] << 24) >>> 0) + ((b[43] << 16) | (b[44] << 8) | b[45]);
    if (f.spi <= 255) return null; // zero = non-ESP marker (IKE); 1-255 reserved (an anomaly)
    f.seq = ((b[46] << 24) >>> 0) + ((b[47] << 16) | (b[48] << 8) | b[49]);
  }
  f.src = ipv4Text(b, 26);
  f.dst = ipv4Text(b, 30);
  if (!f.keepalive) {
    const o = ctx.esp.observe({ spi: f.spi, src: f.src, dst: f.dst, sport, dport }, f.seq, have, rec.no, rec.tsSec, rec.tsNsec);
    if (o.status !== "in-order" && o.status !== "first") {
      f.status = o.status;
      f.missing = o.missing;
    }
  }
  return f;
}

/** The summary line, or null when the full decoder must handle this packet. */
export function fastSummaryLine(ctx: FastPathContext, rec: CaptureRecord): string | null {
  const f = parse(ctx, rec);
  if (!f) return null;
  const head = `${padNo(rec.no)} ${timeOfDay(rec.tsSec, rec.tsNsec)} ${f.src}.${f.sport} > ${f.dst}.${f.dport} `;
  if (f.keepalive) return head + "NAT-keepalive";
  let s = `${head}NAT-T ESP spi ${spiHex(f.spi)} seq ${f.seq} len ${f.have}`;
  if (f.status) s += f.status === "gap" ? ` (gap: ${f.missing} missing)` : ` (${f.status})`;
  return s;
}

function macAt(b: Uint8Array, o: number): string {
  return `${hex2(b[o])}:${hex2(b[o + 1])}:${hex2(b[o + 2])}:${hex2(b[o + 3])}:${hex2(b[o + 4])}:${hex2(b[o + 5])}`;
}

/** The NDJSON line (as `packetJson(decode(rec))`), or null. */
export function fastJsonLine(ctx: FastPathContext, rec: CaptureRecord): string | null {
  const f = parse(ctx, rec);
  if (!f) return null;
  const b = rec.data;
  const n = b.length;
  const fl = (b[20] << 8) | b[21];
  const natt = f.keepalive ? `{"layer":"natt","offset":42,"length":1,"kind":"keepalive","off":${34 + f.ulen}}` : `{"layer":"natt","offset":42,"length":0,"kind":"esp","off":42}`;
  let esp = "";
  if (!f.keepalive) {
    esp = `,{"layer":"esp","offset":42,"length":${f.have},"spi":${f.spi},"seq":${f.seq}`;
    if (f.status) esp += `,"seqInfo":{"status":"${f.status}","missing":${f.missing}}`;
    esp += `,"payloadLength":${f.have - 8}}`;
  }
  return (
    `{"no":${rec.no},"ts":"${rec.tsSec}.${String(rec.tsNsec).padStart(9, "0")}","iface":${rec.iface},"linkType":1,"caplen":${rec.caplen},"len":${rec.len},"layers":[` +
    `{"layer":"eth","offset":0,"length":14,"dst":"${toHex(b, 0, 6)}","src":"${toHex(b, 6, 12)}","vlans":[],"etherType":2048,"etherTypeName":"IPv4","payloadOffset":14,"payloadEnd":${n}},` +
    `{"layer":"ipv4","offset":14,"length":20,"version":4,"headerLength":20,"dscp":${b[15] >>> 2},"ecn":${b[15] & 3},"totalLength":${f.total},"id":${(b[18] << 8) | b[19]},"flags":${fl >>> 13},"reservedFlag":false,"df":${(fl & 0x4000) !== 0},"mf":false,"fragOffset":0,"ttl":${b[22]},"proto":17,"protoName":"UDP","checksum":${(b[24] << 8) | b[25]},"checksumOk":true,"src":"${f.src}","dst":"${f.dst}","options":[],"payloadOffset":34,"payloadEnd":${14 + f.total},"truncated":false},` +
    `{"layer":"udp","offset":34,"length":8,"srcPort":${f.sport},"dstPort":${f.dport},"udpLength":${f.ulen},"checksum":${(b[40] << 8) | b[41]},"payloadOffset":42,"payloadEnd":${34 + f.ulen},"truncated":false},` +
    natt + esp + `],"anomalies":[]}`
  );
}

/** The `-v` block (as `renderTree(decode(rec), packetHeaderLine(...))`), or null. */
export function fastTreeBlock(ctx: FastPathContext, rec: CaptureRecord): string | null {
  const f = parse(ctx, rec);
  if (!f) return null;
  const b = rec.data;
  const fl = (b[20] << 8) | b[21];
  const hex4 = (o: number) => `0x${hex2(b[o])}${hex2(b[o + 1])}`;
  let s =
    `packet ${rec.no}: ${isoTime(rec.tsSec, rec.tsNsec)}, ${rec.caplen}/${rec.len} bytes, iface ${rec.iface}, linktype 1\n` +
    `  eth @0, 14 bytes\n    dst: ${macAt(b, 0)}\n    src: ${macAt(b, 6)}\n    vlans: []\n    etherType: IPv4 (2048)\n` +
    `  ipv4 @14, 20 bytes\n    version: 4\n    headerLength: 20\n    dscp: ${b[15] >>> 2}\n    ecn: ${b[15] & 3}\n    totalLength: ${f.total}\n    id: ${(b[18] << 8) | b[19]}\n` +
    `    flags: ${fl >>> 13}\n    reservedFlag: false\n    df: ${(fl & 0x4000) !== 0}\n    mf: false\n    fragOffset: 0\n    ttl: ${b[22]}\n    proto: UDP (17)\n` +
    `    checksum: ${hex4(24)}\n    checksumOk: true\n    src: ${f.src}\n    dst: ${f.dst}\n    options: []\n    truncated: false\n` +
    `  udp @34, 8 bytes\n    srcPort: ${f.sport}\n    dstPort: ${f.dport}\n    udpLength: ${f.ulen}\n    checksum: ${hex4(40)}\n    truncated: false\n`;
  if (f.keepalive) return s + `  natt @42, 1 bytes\n    kind: keepalive\n    off: ${34 + f.ulen}`;
  const plen = f.have - 8;
  const payload = plen <= 48 ? `${toHex(b, 50, 50 + plen)} (${plen} bytes)` : `${toHex(b, 50, 98)}... (${plen} bytes)`;
  s += `  natt @42, 0 bytes\n    kind: esp\n    off: 42\n  esp @42, ${f.have} bytes\n    spi: ${spiHex(f.spi)}\n    seq: ${f.seq}\n    payload: ${payload}`;
  if (f.status) s += `\n    seqInfo:\n      status: ${f.status}\n      missing: ${f.missing}`;
  return s;
}
