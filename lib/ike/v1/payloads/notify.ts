/**
 * ISAKMP Notification payload (RFC 2408 §3.14, IPsec DOI RFC 2407 §4.6.3):
 * DOI (4), protocol (1), SPI size (1), message type (2), SPI, data.
 * Data is interpreted for RESPONDER-LIFETIME (attributes), REPLAY-STATUS,
 * and DPD R-U-THERE / R-U-THERE-ACK (sequence number, RFC 3706).
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { u16, u32 } from "../../../core/bytes.ts";
import { decodeAttributes, type IsakmpAttribute } from "../attributes.ts";
import {
  DOI,
  IKE_ATTR_CLASSES,
  IKE_ATTR_VALUES,
  IPSEC_ATTR_CLASSES,
  IPSEC_ATTR_VALUES,
  N_R_U_THERE,
  N_R_U_THERE_ACK,
  N_REPLAY_STATUS,
  N_RESPONDER_LIFETIME,
  NOTIFY_TYPES,
  PROTO_ISAKMP,
  PROTOCOL_IDS,
} from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface NotifyPayload extends IsakmpPayloadBase {
  kind: "notify";
  doi: number;
  doiName: string;
  protocolId: number;
  protocolName: string;
  spiSize: number;
  notifyType: number;
  notifyName: string;
  /** True for error types (1..16383). */
  error: boolean;
  spi: Uint8Array;
  data: Uint8Array;
  /** RESPONDER-LIFETIME: the lifetime attributes. */
  attributes?: IsakmpAttribute[];
  /** R-U-THERE / R-U-THERE-ACK: the DPD sequence number. */
  sequence?: number;
  /** REPLAY-STATUS: whether the responder does replay detection. */
  replayEnabled?: boolean;
}

/** Decode a Notification payload at `off`. */
export function decodeNotifyPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): NotifyPayload | null {
  const layer = `${ctx.prefix}.n`;
  const h = readGenericHeader(b, off, end, an, 11, layer);
  if (!h) return null;
  const { bodyOff, pend } = h;
  const empty = b.subarray(pend, pend);
  const n: NotifyPayload = {
    ...h.base,
    kind: "notify",
    doi: 0,
    doiName: "",
    protocolId: 0,
    protocolName: "",
    spiSize: 0,
    notifyType: 0,
    notifyName: "",
    error: false,
    spi: empty,
    data: empty,
  };
  if (!need(an, layer, bodyOff, pend, 8, "notify header")) return n;
  n.doi = u32(b, bodyOff);
  n.doiName = DOI.name(n.doi);
  n.protocolId = b[bodyOff + 4];
  n.protocolName = PROTOCOL_IDS.name(n.protocolId);
  n.spiSize = b[bodyOff + 5];
  n.notifyType = u16(b, bodyOff + 6);
  n.notifyName = NOTIFY_TYPES.name(n.notifyType);
  n.error = n.notifyType > 0 && n.notifyType < 16384;
  let o = bodyOff + 8;
  if (!need(an, layer, o, pend, n.spiSize, "notify SPI")) {
    n.spi = b.subarray(o, pend);
    return n;
  }
  n.spi = b.subarray(o, o + n.spiSize);
  o += n.spiSize;
  n.data = b.subarray(o, pend);
  switch (n.notifyType) {
    case N_RESPONDER_LIFETIME:
      n.attributes = decodeAttributes(
        b,
        o,
        pend,
        an,
        `${layer}.attr`,
        n.protocolId === PROTO_ISAKMP ? { classes: IKE_ATTR_CLASSES, values: IKE_ATTR_VALUES } : { classes: IPSEC_ATTR_CLASSES, values: IPSEC_ATTR_VALUES },
      );
      break;
    case N_R_U_THERE:
    case N_R_U_THERE_ACK:
      if (n.data.length === 4) n.sequence = u32(b, o);
      else anomaly(an, layer, o, `${n.notifyName} data is ${n.data.length} bytes, expected 4`);
      break;
    case N_REPLAY_STATUS:
      if (n.data.length === 4) n.replayEnabled = u32(b, o) !== 0;
      else anomaly(an, layer, o, `${n.notifyName} data is ${n.data.length} bytes, expected 4`);
      break;
  }
  return n;
}
