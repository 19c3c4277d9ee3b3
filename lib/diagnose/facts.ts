/**
 * The facts the diagnoser keeps from one IKE message: small copies (text,
 * numbers), never views, so decoded packets can be released while the
 * diagnoser streams on.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { Ikev2Payload } from "../ike/v2/message.ts";
import type { IsakmpPayload } from "../ike/v1/message.ts";
import { ikev2PayloadToken } from "../ike/v2/summary.ts";
import { describeIsakmpSa, describeSa, type ProposalText, tsText } from "./describe.ts";

/** A notify, reduced to what the diagnosis uses. */
export interface NotifyFact {
  type: number;
  name: string;
  error: boolean;
  /** INVALID_KE_PAYLOAD: the group the responder asks for. */
  group?: number;
  groupName?: string;
  /** REKEY_SA and the like: the SPI (hex). */
  spi?: string;
  protocol?: string;
}

/** What one IKE message says, as far as it can be read. */
export interface MsgFacts {
  /** SA payload: protocol of the first proposal and every proposal as text. */
  sa?: { protocol: string; proposals: ProposalText[] };
  ke?: { group: number; name: string };
  idi?: string;
  idr?: string;
  auth?: { method: number; name: string };
  tsi?: string;
  tsr?: string;
  notifies: NotifyFact[];
  deletes: { protocol: string; spis: string[] }[];
  /** NAT_DETECTION_SOURCE_IP / _DESTINATION_IP hashes (hex). */
  natdSrc: string[];
  natdDst: string[];
  certs: number;
  /** X.509 certificates sent: "subject (issued by issuer)", at most 4. */
  certNames: string[];
  eap: boolean;
}

/** Payload tokens as in the one-line summary. */
export function tokens(pls: Ikev2Payload[]): string {
  return pls.map(ikev2PayloadToken).join(" ");
}

/** Facts from IKEv2 payloads (cleartext plus decrypted). */
export function ikev2Facts(pls: Ikev2Payload[]): MsgFacts {
  const f: MsgFacts = { notifies: [], deletes: [], natdSrc: [], natdDst: [], certs: 0, certNames: [], eap: false };
  for (const p of pls) {
    switch (p.kind) {
      case "sa":
        if (!f.sa) f.sa = { protocol: p.proposals[0]?.protocolName ?? "?", proposals: describeSa(p) };
        break;
      case "ke":
        f.ke = { group: p.group, name: p.groupName };
        break;
      case "id":
        if (p.type === 35) f.idi = `${p.idTypeName} ${p.text}`;
        else f.idr = `${p.idTypeName} ${p.text}`;
        break;
      case "auth":
        f.auth = { method: p.method, name: p.methodName };
        break;
      case "ts":
        if (p.type === 44) f.tsi = tsText(p);
        else f.tsr = tsText(p);
        break;
      case "cert":
        f.certs++;
        if (p.subject !== undefined && f.certNames.length < 4) f.certNames.push(`${p.subject}${p.issuer !== undefined ? ` (issued by ${p.issuer})` : ""}`);
        break;
      case "eap":
        f.eap = true;
        break;
      case "delete":
        f.deletes.push({ protocol: p.protocolName, spis: p.spis.map((s) => toHex(s)) });
        break;
      case "notify": {
        const n: NotifyFact = { type: p.notifyType, name: p.notifyName, error: p.isError };
        if (p.value?.group !== undefined) {
          n.group = p.value.group;
          n.groupName = p.value.groupName;
        }
        if (p.value?.spi !== undefined) n.spi = p.value.spi;
        else if (p.spi.length) n.spi = toHex(p.spi);
        if (p.protocol) n.protocol = p.protocolName;
        if (p.notifyType === 16388 && p.value?.hash) f.natdSrc.push(toHex(p.value.hash));
        if (p.notifyType === 16389 && p.value?.hash) f.natdDst.push(toHex(p.value.hash));
        f.notifies.push(n);
        break;
      }
    }
  }
  return f;
}

/** Facts from IKEv1 payloads: SA proposals, notifies, deletes. */
export function isakmpFacts(pls: IsakmpPayload[]): MsgFacts {
  const f: MsgFacts = { notifies: [], deletes: [], natdSrc: [], natdDst: [], certs: 0, certNames: [], eap: false };
  for (const p of pls) {
    if (p.kind === "sa" && !f.sa) f.sa = { protocol: p.proposals[0]?.protocolName ?? "?", proposals: describeIsakmpSa(p) };
    else if (p.kind === "notify") f.notifies.push({ type: p.notifyType, name: p.notifyName, error: p.error });
    else if (p.kind === "delete") f.deletes.push({ protocol: p.protocolName, spis: p.spis.map((s) => toHex(s)) });
    else if (p.kind === "cert") f.certs++;
  }
  return f;
}
