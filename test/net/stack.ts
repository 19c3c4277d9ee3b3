/** Test-only: run the link/net/transport decoders over a frame (the real pipeline lives elsewhere). */
import type { Anomaly } from "../../lib/core/anomaly.ts";
import type { LayerBase } from "../../lib/core/layer.ts";
import { decodeLink } from "../../lib/link/link.ts";
import { decodeIcmp, type IcmpLayer } from "../../lib/net/icmp.ts";
import { decodeIcmpv6, type Icmpv6Layer } from "../../lib/net/icmpv6.ts";
import { decodeIpv4, type Ipv4Layer } from "../../lib/net/ipv4.ts";
import { decodeIpv6, type Ipv6Layer } from "../../lib/net/ipv6.ts";
import { decodeTcp } from "../../lib/net/tcp.ts";
import { decodeUdp } from "../../lib/net/udp.ts";

export function decodeNet(b: Uint8Array, net: "ipv4" | "ipv6" | null, off: number, end: number, an: Anomaly[], layers: LayerBase[], depth = 0): void {
  const quoted = depth > 0;
  if (depth > 3 || net === null) return;
  let proto: number, po: number, pe: number, complete: boolean, ipOff = off;
  if (net === "ipv4") {
    const ip = decodeIpv4(b, off, end, an, quoted);
    if (!ip) return;
    layers.push(ip);
    if (ip.fragOffset !== 0) return;
    proto = ip.proto; po = ip.payloadOffset; pe = ip.payloadEnd; complete = !ip.truncated && !ip.mf;
  } else {
    const ip = decodeIpv6(b, off, end, an, quoted);
    if (!ip) return;
    layers.push(ip);
    if (ip.fragment && ip.fragment.offset !== 0) return;
    proto = ip.nextHeader; po = ip.payloadOffset; pe = ip.payloadEnd; complete = !ip.truncated && !(ip.fragment?.more);
  }
  decodeTransport(b, proto, po, pe, an, layers, depth, complete, ipOff);
}

export function decodeTransport(b: Uint8Array, proto: number, po: number, pe: number, an: Anomaly[], layers: LayerBase[], depth: number, complete: boolean, ipOff: number): void {
  switch (proto) {
    case 6: { const t = decodeTcp(b, po, pe, an, depth > 0); if (t) layers.push(t); break; }
    case 17: { const u = decodeUdp(b, po, pe, an, depth > 0); if (u) layers.push(u); break; }
    case 1: {
      const i = decodeIcmp(b, po, pe, an, complete);
      if (i) { layers.push(i); if (i.embeddedOffset !== undefined) decodeNet(b, "ipv4", i.embeddedOffset, pe, an, layers, depth + 1); }
      break;
    }
    case 58: {
      const i = decodeIcmpv6(b, po, pe, an, ipOff, complete);
      if (i) { layers.push(i); if (i.embeddedOffset !== undefined) decodeNet(b, "ipv6", i.embeddedOffset, pe, an, layers, depth + 1); }
      break;
    }
    case 4: decodeNet(b, "ipv4", po, pe, an, layers, depth + 1); break;
    case 41: decodeNet(b, "ipv6", po, pe, an, layers, depth + 1); break;
  }
}

export function decodeFrame(linkType: number, b: Uint8Array): { layers: LayerBase[]; an: Anomaly[] } {
  const an: Anomaly[] = [];
  const l = decodeLink(linkType, b, an);
  const layers = [...l.layers];
  decodeNet(b, l.net, l.off, l.end, an, layers);
  return { layers, an };
}

export type { IcmpLayer, Icmpv6Layer, Ipv4Layer, Ipv6Layer };
