/**
 * Plain-text descriptions of IKEv2 payload contents for the diagnosis:
 * SA proposals (every transform by name, key lengths), traffic selectors,
 * identities and authentication methods.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import type { Ikev2Proposal, Ikev2SaPayload } from "../ike/v2/payloads/sa.ts";
import type { Ikev2TsPayload, Ikev2TrafficSelector } from "../ike/v2/payloads/ts.ts";
import type { Ikev2Payload } from "../ike/v2/message.ts";
import type { SaPayload } from "../ike/v1/payloads/sa.ts";

/** A proposal as structured data (for --json) and text. */
export interface ProposalText {
  num: number;
  protocol: string;
  spi: string;
  /** Transforms grouped by type, e.g. `{ ENCR: ["AES_GCM_16 256-bit"], PRF: [...] }`. */
  transforms: Record<string, string[]>;
  /** One line, e.g. `ESP #1: ENCR AES_GCM_16 256-bit; ESN NO_ESN`. */
  text: string;
}

const PREFIX = /^(ENCR_|PRF_|AUTH_)/;

/** Transform name without the registry prefix, with its key length. */
function transformName(idName: string, keyLength?: number): string {
  const n = idName.replace(PREFIX, "");
  return keyLength !== undefined ? `${n} ${keyLength}-bit` : n;
}

/** Describe one proposal. */
export function describeProposal(p: Ikev2Proposal): ProposalText {
  const transforms: Record<string, string[]> = {};
  for (const t of p.transforms) (transforms[t.typeName] ??= []).push(transformName(t.idName, t.keyLength));
  const parts = Object.entries(transforms).map(([k, v]) => `${k} ${v.join(", ")}`);
  return {
    num: p.num,
    protocol: p.protocolName,
    spi: toHex(p.spi),
    transforms,
    text: `${p.protocolName} #${p.num}: ${parts.join("; ") || "no transforms"}`,
  };
}

/** Describe every proposal of an SA payload. */
export function describeSa(sa: Ikev2SaPayload): ProposalText[] {
  return sa.proposals.map(describeProposal);
}

/**
 * Describe an IKEv1 SA payload: in IKEv1 every transform is a complete
 * alternative, so each becomes one entry (its attributes grouped by name).
 */
export function describeIsakmpSa(sa: SaPayload): ProposalText[] {
  const out: ProposalText[] = [];
  for (const p of sa.proposals) {
    for (const t of p.transforms) {
      const transforms: Record<string, string[]> = { TRANSFORM: [t.transformIdName] };
      for (const a of t.attributes) (transforms[a.typeName] ??= []).push(a.valueName ?? String(a.value ?? ""));
      const attrs = t.attributes.map((a) => `${a.typeName} ${a.valueName ?? a.value ?? ""}`).join(", ");
      out.push({ num: p.proposalNumber, protocol: p.protocolName, spi: toHex(p.spi), transforms, text: `${p.protocolName} #${p.proposalNumber} transform ${t.transformNumber}: ${t.transformIdName}${attrs ? `; ${attrs}` : ""}` });
    }
  }
  return out;
}

/** First payload of a kind. */
export function findPayload<K extends Ikev2Payload["kind"]>(pls: Ikev2Payload[], kind: K, type?: number): Extract<Ikev2Payload, { kind: K }> | undefined {
  return pls.find((p) => p.kind === kind && (type === undefined || p.type === type)) as Extract<Ikev2Payload, { kind: K }> | undefined;
}

/** One traffic selector as text, e.g. `198.51.100.0-198.51.100.255 proto any ports 0-65535`. */
export function selectorText(s: Ikev2TrafficSelector): string {
  if (s.start === undefined) return s.typeName;
  const range = s.start === s.end ? s.start : `${s.start}-${s.end}`;
  const proto = s.ipProtocol ? `proto ${s.ipProtocol}` : "any protocol";
  const ports = s.startPort === 0 && s.endPort === 65535 ? "any port" : s.startPort === s.endPort ? `port ${s.startPort}` : `ports ${s.startPort}-${s.endPort}`;
  return `${range} (${proto}, ${ports})`;
}

/** A TS payload as text. */
export function tsText(ts: Ikev2TsPayload | undefined): string {
  return ts ? ts.selectors.map(selectorText).join(", ") || "(empty)" : "(not present)";
}

/** What an AUTH method tells about the likely cause of AUTHENTICATION_FAILED. */
export function authKind(method: number): "psk" | "signature" | "null" | "other" {
  if (method === 2) return "psk";
  if (method === 1 || method === 3 || method === 9 || method === 10 || method === 11 || method === 14) return "signature";
  if (method === 13) return "null";
  return "other";
}
