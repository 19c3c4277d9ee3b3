/**
 * Linux cooked capture: SLL v1 (LINKTYPE_LINUX_SLL, 113) and v2 (LINKTYPE_LINUX_SLL2, 276).
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { u16, u32 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { isVlanTpid, NO_VLANS, parseVlanStack, type VlanTag } from "./ethernet.ts";
import { ARPHRD, ETHERTYPES, SLL_PACKET_TYPES, SLL_PROTOCOLS } from "./registries.ts";

/** Linux cooked capture header (either version). */
export interface SllLayer extends LayerBase {
  layer: "sll";
  version: 1 | 2;
  packetType: number;
  packetTypeName: string;
  /** ARPHRD_* link-layer address type. */
  hatype: number;
  hatypeName: string;
  addrLength: number;
  /** Link-layer source address (first min(addrLength, 8) bytes). */
  addr: Uint8Array;
  /** EtherType (>= 0x0600) or a Linux pseudo-protocol (see SLL_PROTOCOLS). */
  protocol: number;
  protocolName: string;
  /** SLL2 only: interface index. */
  ifindex?: number;
  /** VLAN tags when the protocol is a VLAN TPID (rare: the kernel usually strips them). */
  vlans: readonly VlanTag[];
  /** EtherType after any VLAN tags (equals `protocol` when untagged). */
  etherType: number;
  payloadOffset: number;
  payloadEnd: number;
}

function protoName(p: number): string {
  return p >= 0x0600 ? ETHERTYPES.name(p) : SLL_PROTOCOLS.name(p);
}

function finish(l: SllLayer, b: Uint8Array, end: number, an: Anomaly[]): SllLayer {
  if (isVlanTpid(l.protocol)) {
    const s = parseVlanStack(b, l.payloadOffset, end, l.protocol, "sll", an);
    l.vlans = s.vlans;
    l.etherType = s.etherType;
    l.payloadOffset = s.next;
    l.length = s.next - l.offset;
  }
  return l;
}

/** Decode an SLL v1 header (16 bytes). */
export function decodeSll(b: Uint8Array, off: number, end: number, an: Anomaly[]): SllLayer | null {
  if (end > b.length) end = b.length;
  if (off + 16 > end) return anomaly(an, "sll", off, truncated(16, end - off));
  const pt = u16(b, off), ha = u16(b, off + 2), al = u16(b, off + 4), proto = u16(b, off + 14);
  if (al > 8) anomaly(an, "sll", off + 4, `link-layer address length ${al} > 8`);
  return finish({
    layer: "sll", offset: off, length: 16, version: 1, packetType: pt, packetTypeName: SLL_PACKET_TYPES.name(pt),
    hatype: ha, hatypeName: ARPHRD.name(ha), addrLength: al, addr: b.subarray(off + 6, off + 6 + (al > 8 ? 8 : al)),
    protocol: proto, protocolName: protoName(proto), vlans: NO_VLANS, etherType: proto, payloadOffset: off + 16, payloadEnd: end,
  }, b, end, an);
}

/** Decode an SLL v2 header (20 bytes). */
export function decodeSll2(b: Uint8Array, off: number, end: number, an: Anomaly[]): SllLayer | null {
  if (end > b.length) end = b.length;
  if (off + 20 > end) return anomaly(an, "sll", off, truncated(20, end - off));
  const proto = u16(b, off), ifx = u32(b, off + 4), ha = u16(b, off + 8), pt = b[off + 10], al = b[off + 11];
  if (u16(b, off + 2) !== 0) anomaly(an, "sll", off + 2, "SLL2 reserved field is not zero");
  if (al > 8) anomaly(an, "sll", off + 11, `link-layer address length ${al} > 8`);
  return finish({
    layer: "sll", offset: off, length: 20, version: 2, packetType: pt, packetTypeName: SLL_PACKET_TYPES.name(pt),
    hatype: ha, hatypeName: ARPHRD.name(ha), addrLength: al, addr: b.subarray(off + 12, off + 12 + (al > 8 ? 8 : al)),
    protocol: proto, protocolName: protoName(proto), ifindex: ifx, vlans: NO_VLANS, etherType: proto,
    payloadOffset: off + 20, payloadEnd: end,
  }, b, end, an);
}
