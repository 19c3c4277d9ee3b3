/**
 * UDP header (RFC 768). The checksum is reported but verified only on request
 * ({@link udpChecksumOk}), keeping the summary path free of payload sums.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { u16 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { transportChecksumOk } from "./checksum.ts";

/** Decoded UDP header. */
export interface UdpLayer extends LayerBase {
  layer: "udp";
  srcPort: number;
  dstPort: number;
  /** Length field (header + data). */
  udpLength: number;
  checksum: number;
  payloadOffset: number;
  /** Clamped to the length field and to the capture. */
  payloadEnd: number;
  truncated: boolean;
}

/**
 * Decode a UDP header at `b[off..end)`.
 * `quoted`: the header sits inside an ICMP/ICMPv6 error, where truncation is normal: it is
 * then flagged (`truncated`) but not reported as an anomaly.
 */
export function decodeUdp(b: Uint8Array, off: number, end: number, an: Anomaly[], quoted = false): UdpLayer | null {
  if (end > b.length) end = b.length;
  if (off + 8 > end) return anomaly(an, "udp", off, truncated(8, end - off));
  const len = u16(b, off + 4);
  const l: UdpLayer = {
    layer: "udp", offset: off, length: 8, srcPort: u16(b, off), dstPort: u16(b, off + 2), udpLength: len,
    checksum: u16(b, off + 6), payloadOffset: off + 8, payloadEnd: end, truncated: false,
  };
  if (len < 8) {
    // 0 is legal only for IPv6 jumbograms (RFC 2675); anything else is bogus. Use the captured bytes.
    anomaly(an, "udp", off + 4, `length field ${len} < 8`);
  } else if (off + len > end) {
    if (!quoted) anomaly(an, "udp", off + 4, "datagram " + truncated(len, end - off));
    l.truncated = true;
  } else {
    l.payloadEnd = off + len;
  }
  return l;
}

/**
 * Verify the UDP checksum against the IP header at `ipOff`; null when not checkable
 * (checksum 0 over IPv4 = none sent, or datagram truncated).
 */
export function udpChecksumOk(b: Uint8Array, ipOff: number, udp: UdpLayer): boolean | null {
  if (udp.truncated || udp.udpLength < 8) return null;
  if (udp.checksum === 0 && b[ipOff] >>> 4 === 4) return null;
  return transportChecksumOk(b, ipOff, 17, udp.offset, udp.offset + udp.udpLength);
}
