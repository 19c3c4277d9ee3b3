/**
 * Semantic validation of a decoded IKEv2 message, kept apart from parsing:
 * which payloads an exchange must carry, header flag sanity, ordering.
 * Returns anomalies (layer `ikev2.validate`); the message is not modified.
 * @module
 */
import type { Anomaly } from "../../core/anomaly.ts";
import type { Ikev2Message, Ikev2Payload } from "./message.ts";
import { PAYLOAD_ABBREV } from "./registry.ts";

const LAYER = "ikev2.validate";

function isZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Checks on a payload list (also usable for decrypted SK content). */
export function validateIkev2Payloads(payloads: Ikev2Payload[], out: Anomaly[] = []): Anomaly[] {
  let sk = 0;
  payloads.forEach((p, i) => {
    if (p.kind === "sk" || p.kind === "skf") {
      sk++;
      if (i !== payloads.length - 1) out.push({ layer: LAYER, offset: p.offset, reason: `${PAYLOAD_ABBREV.name(p.type)} payload is not the last payload` });
    }
    if (p.kind === "nonce" && (p.nonce.length < 16 || p.nonce.length > 256)) {
      out.push({ layer: LAYER, offset: p.offset, reason: `nonce length ${p.nonce.length} outside 16..256` });
    }
    if (p.kind === "sa") {
      for (const pr of p.proposals) {
        const types = new Set(pr.transforms.map((t) => t.type));
        if (pr.protocol === 1 && !types.has(1)) out.push({ layer: LAYER, offset: pr.offset, reason: `IKE proposal #${pr.num} has no ENCR transform` });
        if (pr.protocol === 1 && !types.has(2)) out.push({ layer: LAYER, offset: pr.offset, reason: `IKE proposal #${pr.num} has no PRF transform` });
        if (pr.protocol === 3 && !types.has(1)) out.push({ layer: LAYER, offset: pr.offset, reason: `ESP proposal #${pr.num} has no ENCR transform` });
      }
    }
  });
  if (sk > 1) out.push({ layer: LAYER, offset: payloads[0]?.offset ?? 0, reason: `${sk} SK/SKF payloads in one message` });
  return out;
}

/** Semantic checks of a decoded message; returns new anomalies. */
export function validateIkev2(msg: Ikev2Message): Anomaly[] {
  const out: Anomaly[] = [];
  const at = msg.offset;
  const kinds = msg.payloads.map((p) => p.kind);
  const has = (k: string) => (kinds as string[]).includes(k);
  const encrypted = has("sk") || has("skf");
  const resp = msg.flags.response;

  if (msg.majorVersion !== 2) out.push({ layer: LAYER, offset: at + 17, reason: `not IKEv2 (major version ${msg.majorVersion})` });
  if (isZero(msg.ispi)) out.push({ layer: LAYER, offset: at, reason: "initiator SPI is zero" });

  // Offers (requests) number their proposals from 1; a response echoes the accepted one's number.
  if (!resp) {
    for (const p of msg.payloads) {
      if (p.kind === "sa" && p.proposals.length && p.proposals[0].num !== 1) {
        out.push({ layer: LAYER, offset: p.proposals[0].offset + 4, reason: `first proposal number is ${p.proposals[0].num}, must be 1` });
      }
    }
  }

  switch (msg.exchange) {
    case 34: { // IKE_SA_INIT
      if (msg.messageId !== 0) out.push({ layer: LAYER, offset: at + 20, reason: `IKE_SA_INIT with message ID ${msg.messageId}, must be 0` });
      if (encrypted) out.push({ layer: LAYER, offset: at, reason: "IKE_SA_INIT must not be encrypted" });
      if (!resp) {
        if (!msg.flags.initiator) out.push({ layer: LAYER, offset: at + 19, reason: "IKE_SA_INIT request without the Initiator flag" });
        if (!isZero(msg.rspi)) out.push({ layer: LAYER, offset: at + 8, reason: "IKE_SA_INIT request with a non-zero responder SPI" });
        for (const k of ["sa", "ke", "nonce"]) {
          if (!has(k)) out.push({ layer: LAYER, offset: at, reason: `IKE_SA_INIT request without ${k === "nonce" ? "Ni" : k.toUpperCase()} payload` });
        }
      } else {
        if (msg.flags.initiator) out.push({ layer: LAYER, offset: at + 19, reason: "IKE_SA_INIT response with the Initiator flag" });
        const notifyOnly = msg.payloads.some((p) => p.kind === "notify" && (p.isError || p.notifyType === 16390)) && !has("sa");
        if (!notifyOnly) {
          for (const k of ["sa", "ke", "nonce"]) {
            if (!has(k)) out.push({ layer: LAYER, offset: at, reason: `IKE_SA_INIT response without ${k === "nonce" ? "Nr" : k.toUpperCase()} payload` });
          }
          if (isZero(msg.rspi)) out.push({ layer: LAYER, offset: at + 8, reason: "IKE_SA_INIT response with a zero responder SPI" });
        }
      }
      for (const p of msg.payloads) {
        if (p.kind === "sa") {
          for (const pr of p.proposals) {
            if (pr.protocol !== 1) out.push({ layer: LAYER, offset: pr.offset, reason: `IKE_SA_INIT proposal #${pr.num} has protocol ${pr.protocolName}, expected IKE` });
            if (pr.spiSize !== 0) out.push({ layer: LAYER, offset: pr.offset, reason: `IKE_SA_INIT proposal #${pr.num} has SPI size ${pr.spiSize}, expected 0` });
          }
        }
      }
      break;
    }
    case 35: case 36: case 37: case 43: case 44: // IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_INTERMEDIATE, IKE_FOLLOWUP_KE
      if (!encrypted) out.push({ layer: LAYER, offset: at, reason: `${msg.exchangeName} message without an SK/SKF payload` });
      else if (msg.payloads.length !== 1) out.push({ layer: LAYER, offset: at, reason: `${msg.exchangeName} message has payloads outside SK` });
      // Each peer numbers its own requests from 0, so only exchanges that always
      // follow IKE_SA_INIT from the original initiator can be checked.
      if (msg.messageId === 0 && (msg.exchange === 35 || msg.exchange === 43)) out.push({ layer: LAYER, offset: at + 20, reason: `${msg.exchangeName} with message ID 0` });
      if (isZero(msg.rspi)) out.push({ layer: LAYER, offset: at + 8, reason: `${msg.exchangeName} with a zero responder SPI` });
      break;
    default:
      if (msg.exchange < 34 || msg.exchange > 44) out.push({ layer: LAYER, offset: at + 18, reason: `exchange type ${msg.exchangeName}` });
  }
  validateIkev2Payloads(msg.payloads, out);
  return out;
}
