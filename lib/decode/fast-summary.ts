/**
 * Summary fast path: the line for the commonest packet in a busy capture,
 * ESP in UDP on a NAT-T port over Ethernet/IPv4 (or a NAT-keepalive),
 * printed straight from the bytes, as tcpdump prints while it parses.
 *
 * It only answers when the packet is well-formed in every respect the full
 * decoder checks (IPv4 header checksum, lengths, no fragment, no reserved
 * bits, a valid SPI and room for the ESP trailer); anything else returns
 * null and the caller runs the full decoder. It feeds the same ESP tracker,
 * so sequence flags match. test/decode/fast-summary.test.ts proves the line
 * is identical to `summaryLine(decoder.decode(rec))` on every fixture and on
 * mutated packets.
 * @module
 */
import { ipv4Text } from "../core/bytes.ts";
import type { CaptureRecord } from "../capture/types.ts";
import type { EspTracker } from "../ipsec/esp-tracker.ts";
import type { IpsecPorts } from "../ipsec/natt.ts";
import { padNo, spiHex, timeOfDay } from "./summary.ts";

/** What the fast path needs from the Decoder. */
export interface FastPathContext {
  ports: IpsecPorts;
  esp: EspTracker;
}

function checksumOk(b: Uint8Array, off: number): boolean {
  let s = 0;
  for (let i = off; i < off + 20; i += 2) s += (b[i] << 8) | b[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

/** The summary line, or null when the full decoder must handle this packet. */
export function fastSummaryLine(ctx: FastPathContext, rec: CaptureRecord): string | null {
  if (rec.linkType !== 1) return null;
  const b = rec.data;
  const n = b.length;
  // Ethernet II, IPv4, no VLAN; IPv4 without options
  if (n < 42 || b[12] !== 0x08 || b[13] !== 0x00 || b[14] !== 0x45) return null;
  const total = (b[16] << 8) | b[17];
  const ipEnd = 14 + total;
  if (total < 28 || ipEnd > n) return null;
  // flags: reserved, MF, offset all zero (DF may be set)
  if ((b[20] & 0xbf) !== 0 || b[21] !== 0 || b[23] !== 17) return null;
  if (!checksumOk(b, 14)) return null;
  const sport = (b[34] << 8) | b[35];
  const dport = (b[36] << 8) | b[37];
  const ulen = (b[38] << 8) | b[39];
  if (ulen < 8 || 34 + ulen > ipEnd) return null;
  // classifyUdp(): destination first, NAT-T before IKE
  const { natt, ike } = ctx.ports;
  if (!(natt.has(dport) || (!ike.has(dport) && natt.has(sport)))) return null;
  const end = 34 + ulen;
  const have = end - 42;
  const src = ipv4Text(b, 26), dst = ipv4Text(b, 30);
  const head = `${padNo(rec.no)} ${timeOfDay(rec.tsSec, rec.tsNsec)} ${src}.${sport} > ${dst}.${dport} `;
  if (have === 1) return b[42] === 0xff ? head + "NAT-keepalive" : null;
  if (have < 10) return null;
  const spi = ((b[42] << 24) >>> 0) + ((b[43] << 16) | (b[44] << 8) | b[45]);
  if (spi <= 255) return null; // zero = non-ESP marker (IKE); 1-255 reserved (an anomaly)
  const seq = ((b[46] << 24) >>> 0) + ((b[47] << 16) | (b[48] << 8) | b[49]);
  const o = ctx.esp.observe({ spi, src, dst, sport, dport }, seq, have, rec.no, rec.tsSec, rec.tsNsec);
  let s = `${head}NAT-T ESP spi ${spiHex(spi)} seq ${seq} len ${have}`;
  if (o.status !== "in-order" && o.status !== "first") s += o.status === "gap" ? ` (gap: ${o.missing} missing)` : ` (${o.status})`;
  return s;
}
