/**
 * Cisco-style IKEv1 fragmentation payload (type 132), as sent by Cisco,
 * strongSwan and Libreswan after the "FRAGMENTATION" vendor ID:
 * fragment id (2), fragment number (1), flags (1, bit 0 = last), data.
 * @module
 */
import type { Anomaly } from "../../../core/anomaly.ts";
import { u16 } from "../../../core/bytes.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface FragmentPayload extends IsakmpPayloadBase {
  kind: "fragment";
  fragmentId: number;
  fragmentNumber: number;
  flags: number;
  last: boolean;
  data: Uint8Array;
}

/** Decode a fragment payload at `off`. */
export function decodeFragmentPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): FragmentPayload | null {
  const layer = `${ctx.prefix}.frag`;
  const h = readGenericHeader(b, off, end, an, 132, layer);
  if (!h) return null;
  const f: FragmentPayload = { ...h.base, kind: "fragment", fragmentId: 0, fragmentNumber: 0, flags: 0, last: false, data: b.subarray(h.pend, h.pend) };
  if (!need(an, layer, h.bodyOff, h.pend, 4, "fragment header")) return f;
  f.fragmentId = u16(b, h.bodyOff);
  f.fragmentNumber = b[h.bodyOff + 2];
  f.flags = b[h.bodyOff + 3];
  f.last = (f.flags & 1) !== 0;
  f.data = b.subarray(h.bodyOff + 4, h.pend);
  return f;
}
