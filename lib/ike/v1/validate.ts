/**
 * Semantic checks on a structurally decoded ISAKMP message (principle 3:
 * parse structure first, validate meaning separately). Each finding is an
 * anomaly with layer `isakmp.semantic`; nothing here changes the decode.
 * @module
 */
import { type Anomaly, anomaly } from "../../core/anomaly.ts";
import type { IsakmpMessage, IsakmpPayload } from "./message.ts";
import { EXCHANGE_TYPES, PROTO_ISAKMP } from "./registry.ts";

const L = "isakmp.semantic";

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function has(ps: IsakmpPayload[], kind: IsakmpPayload["kind"]): boolean {
  return ps.some((p) => p.kind === kind);
}

/**
 * Validate header rules and the cleartext message shapes of Main Mode,
 * Aggressive Mode, Quick Mode and Informational exchanges (RFC 2408/2409).
 * Returns the number of findings appended to `an`.
 */
export function validateIsakmp(msg: IsakmpMessage, an: Anomaly[]): number {
  const before = an.length;
  const o = msg.offset;
  if (msg.majorVersion !== 1) anomaly(an, L, o + 17, `major version ${msg.majorVersion} is not ISAKMP/IKEv1`);
  if (msg.minorVersion !== 0) anomaly(an, L, o + 17, `minor version ${msg.minorVersion}, expected 0`);
  if (msg.flags.value & 0xf8) anomaly(an, L, o + 19, `reserved flag bits set (0x${msg.flags.value.toString(16)})`);
  if (!EXCHANGE_TYPES.has(msg.exchange)) anomaly(an, L, o + 18, `unknown exchange type ${msg.exchangeName}`);
  if (allZero(msg.icookie)) anomaly(an, L, o, "initiator cookie is zero");
  const ps = msg.payloads;
  const phase1 = msg.exchange === 2 || msg.exchange === 4;
  if (phase1 && msg.messageId !== 0) anomaly(an, L, o + 20, `${msg.exchangeName} with non-zero message id`);
  if ((msg.exchange === 32 || msg.exchange === 5 || msg.exchange === 6) && msg.messageId === 0) {
    anomaly(an, L, o + 20, `${msg.exchangeName} with message id 0`);
  }
  if (msg.exchange === 32 && !msg.flags.encryption) anomaly(an, L, o + 19, "Quick Mode message is not encrypted");
  if (allZero(msg.rcookie) && !msg.flags.encryption && phase1 && ps.length > 0 && ps[0].kind !== "sa") {
    anomaly(an, L, o + 28, `first ${msg.exchangeName} message does not start with SA`);
  }
  if (!msg.flags.encryption && msg.exchange === 2 && ps.length > 0) {
    // Main Mode cleartext messages: 1/2 = SA [VID...], 3/4 = KE NONCE [NAT-D...] [CR...] [VID...]
    if (ps[0].kind === "sa") {
      const extra = ps.slice(1).filter((p) => p.kind !== "vendor");
      if (extra.length) anomaly(an, L, extra[0].offset, `Main Mode SA message carries ${extra[0].typeName}`);
    } else if (ps[0].kind === "ke") {
      if (!has(ps, "nonce")) anomaly(an, L, o + 28, "Main Mode KE message without NONCE");
    } else if (ps[0].kind !== "notify") {
      anomaly(an, L, ps[0].offset, `cleartext Main Mode message starts with ${ps[0].typeName}`);
    }
  }
  if (!msg.flags.encryption && msg.exchange === 4 && ps.length > 0) {
    if (!has(ps, "sa") && !has(ps, "notify")) anomaly(an, L, o + 28, "Aggressive Mode message without SA");
  }
  for (const p of ps) {
    if (p.kind !== "sa") continue;
    for (const pr of p.proposals) {
      if (phase1 && pr.protocolId !== PROTO_ISAKMP) {
        anomaly(an, L, pr.offset, `phase 1 proposal for protocol ${pr.protocolName}`);
      }
      if (phase1 && pr.transforms.length === 0) anomaly(an, L, pr.offset, "phase 1 proposal without transforms");
    }
  }
  return an.length - before;
}
