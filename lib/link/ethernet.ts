/**
 * Ethernet II / IEEE 802.3 with 802.1Q, 802.1ad and legacy QinQ (0x9100, 0x9200) tag stacks.
 * @module
 */
import { type Anomaly, anomaly, truncated } from "../core/anomaly.ts";
import { u16 } from "../core/bytes.ts";
import type { LayerBase } from "../core/layer.ts";
import { ETHERTYPES } from "./registries.ts";

/** One VLAN tag (802.1Q C-tag, 802.1ad S-tag or a legacy QinQ tag). */
export interface VlanTag {
  /** Offset of the tag's TPID. */
  offset: number;
  tpid: number;
  tpidName: string;
  /** Priority code point (3 bits). */
  pcp: number;
  /** Drop eligible indicator (the old CFI bit). */
  dei: number;
  /** VLAN identifier (12 bits). */
  vid: number;
}

/** Ethernet II or 802.3 frame header. */
export interface EthernetLayer extends LayerBase {
  layer: "eth";
  dst: Uint8Array;
  src: Uint8Array;
  /** VLAN tags, outermost first (a shared empty array when untagged). */
  vlans: readonly VlanTag[];
  /** EtherType after the tag stack; `null` for an 802.3 length frame. */
  etherType: number | null;
  etherTypeName: string;
  /** For 802.3 frames: the length field (non-IP; LLC follows). */
  ieee8023Length?: number;
  /** For 802.3 frames: the 802.2 LLC header, when captured. */
  llc?: { dsap: number; ssap: number; control: number };
  payloadOffset: number;
  payloadEnd: number;
}

/** Shared empty tag list (never mutated). */
export const NO_VLANS: readonly VlanTag[] = Object.freeze([]) as readonly VlanTag[];

/** Maximum VLAN tags followed before giving up (bounds pathological stacks). */
export const MAX_VLAN_TAGS = 8;

/** True for the TPIDs that start a VLAN tag. */
export function isVlanTpid(t: number): boolean {
  return t === 0x8100 || t === 0x88a8 || t === 0x9100 || t === 0x9200;
}

/**
 * Parse a VLAN tag stack at `o` whose first TPID is `tpid` (already read from `o - 2`).
 * Returns the tags, the inner EtherType and the offset after the stack; on truncation
 * the anomaly is recorded and `etherType` is -1.
 */
export function parseVlanStack(
  b: Uint8Array, o: number, end: number, tpid: number, layer: string, an: Anomaly[],
): { vlans: VlanTag[]; etherType: number; next: number } {
  const vlans: VlanTag[] = [];
  let t = tpid;
  while (isVlanTpid(t)) {
    if (vlans.length >= MAX_VLAN_TAGS) {
      anomaly(an, layer, o - 2, `more than ${MAX_VLAN_TAGS} VLAN tags; stopped`);
      return { vlans, etherType: -1, next: o };
    }
    if (o + 4 > end) {
      anomaly(an, layer, o, "VLAN tag " + truncated(4, end - o));
      return { vlans, etherType: -1, next: end };
    }
    const tci = u16(b, o);
    vlans.push({ offset: o - 2, tpid: t, tpidName: ETHERTYPES.name(t), pcp: tci >>> 13, dei: (tci >>> 12) & 1, vid: tci & 0xfff });
    t = u16(b, o + 2);
    o += 4;
  }
  return { vlans, etherType: t, next: o };
}

/** Decode an Ethernet header (with any VLAN tags) at `b[off..end)`. */
export function decodeEthernet(b: Uint8Array, off: number, end: number, an: Anomaly[]): EthernetLayer | null {
  if (end > b.length) end = b.length;
  if (off + 14 > end) return anomaly(an, "eth", off, truncated(14, end - off));
  let type = u16(b, off + 12);
  let o = off + 14;
  let vlans: readonly VlanTag[] = NO_VLANS;
  if (isVlanTpid(type)) {
    const s = parseVlanStack(b, o, end, type, "eth", an);
    vlans = s.vlans;
    type = s.etherType;
    o = s.next;
    if (type < 0) {
      return {
        layer: "eth", offset: off, length: o - off, dst: b.subarray(off, off + 6), src: b.subarray(off + 6, off + 12),
        vlans, etherType: null, etherTypeName: "truncated", payloadOffset: o, payloadEnd: o,
      };
    }
  }
  const layer: EthernetLayer = {
    layer: "eth", offset: off, length: o - off, dst: b.subarray(off, off + 6), src: b.subarray(off + 6, off + 12),
    vlans, etherType: type, etherTypeName: "", payloadOffset: o, payloadEnd: end,
  };
  if (type <= 1500) {
    layer.etherType = null;
    layer.etherTypeName = "802.3 length";
    layer.ieee8023Length = type;
    if (o + type < end) layer.payloadEnd = o + type;
    else if (o + type > end) anomaly(an, "eth", off + 12, "802.3 length field " + truncated(type, end - o));
    if (o + 3 <= end) layer.llc = { dsap: b[o], ssap: b[o + 1], control: b[o + 2] };
  } else if (type < 0x0600) {
    layer.etherTypeName = `invalid(${type})`;
    anomaly(an, "eth", o - 2, `type/length field ${type} is neither a length (<=1500) nor an EtherType (>=1536)`);
  } else {
    layer.etherTypeName = ETHERTYPES.name(type);
  }
  return layer;
}
