/**
 * Link-layer entry point: dispatch on the capture's LINKTYPE and report where the
 * network layer starts.
 * @module
 */
import { type Anomaly, anomaly } from "../core/anomaly.ts";
import type { LayerBase } from "../core/layer.ts";
import { decodeEthernet } from "./ethernet.ts";
import { decodeLoopback } from "./loopback.ts";
import { LINKTYPES } from "./registries.ts";
import { decodeSll, decodeSll2 } from "./sll.ts";

/** Result of {@link decodeLink}. */
export interface LinkResult {
  /** Link-layer layers (empty for raw IP). */
  layers: LayerBase[];
  /** Network layer that follows, or null (non-IP, unknown link type, truncated). */
  net: "ipv4" | "ipv6" | null;
  /** Start of the network layer (or of the undecoded payload). */
  off: number;
  /** End of the captured network-layer bytes. */
  end: number;
}

/** LINKTYPE values {@link decodeLink} understands. */
export const SUPPORTED_LINKTYPES: readonly number[] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];


function etherNet(t: number | null): "ipv4" | "ipv6" | null {
  return t === 0x0800 ? "ipv4" : t === 0x86dd ? "ipv6" : null;
}

function rawNet(b: Uint8Array, off: number, end: number, an: Anomaly[], want: 0 | 4 | 6): "ipv4" | "ipv6" | null {
  if (off >= end) {
    anomaly(an, "raw", off, "empty raw IP packet");
    return null;
  }
  const v = b[off] >>> 4;
  if (want !== 0 && v !== want) anomaly(an, "raw", off, `IP version ${v} on a LINKTYPE_IPV${want} interface`);
  if (v === 4) return "ipv4";
  if (v === 6) return "ipv6";
  anomaly(an, "raw", off, `raw packet has IP version ${v}`);
  return null;
}

/** Decode the link layer of one captured frame. Never throws. */
export function decodeLink(linkType: number, b: Uint8Array, an: Anomaly[]): LinkResult {
  const end = b.length;
  switch (linkType) {
    case 1: {
      const e = decodeEthernet(b, 0, end, an);
      if (!e) return { layers: [], net: null, off: 0, end };
      return { layers: [e], net: etherNet(e.etherType), off: e.payloadOffset, end: e.payloadEnd };
    }
    case 113:
    case 276: {
      const s = linkType === 113 ? decodeSll(b, 0, end, an) : decodeSll2(b, 0, end, an);
      if (!s) return { layers: [], net: null, off: 0, end };
      return { layers: [s], net: etherNet(s.etherType), off: s.payloadOffset, end: s.payloadEnd };
    }
    case 0:
    case 108: {
      const l = decodeLoopback(b, 0, end, an, linkType);
      if (!l) return { layers: [], net: null, off: 0, end };
      return { layers: [l], net: l.net, off: 4, end };
    }
    case 101:
    case 12:
    case 14:
      return { layers: [], net: rawNet(b, 0, end, an, 0), off: 0, end };
    case 228:
      return { layers: [], net: rawNet(b, 0, end, an, 4), off: 0, end };
    case 229:
      return { layers: [], net: rawNet(b, 0, end, an, 6), off: 0, end };
    default:
      anomaly(an, "link", 0, `unsupported link type ${linkType} (${LINKTYPES.name(linkType)})`);
      return { layers: [], net: null, off: 0, end };
  }
}
