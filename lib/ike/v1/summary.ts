/**
 * One-line ISAKMP message summaries in the style of strongSwan's log:
 * `Main Mode I mid 0 [ SA V V V ]`, `Quick Mode R mid 0x3c2d0a11 [ HASH SA No KE ID ID ]`,
 * `Informational mid 0x1a2b3c4d encrypted`.
 * @module
 */
import { toHex } from "../../core/bytes.ts";
import type { IsakmpMessage, IsakmpPayload } from "./message.ts";
import { EXCHANGE_SHORT, EXCHANGE_TYPES, PAYLOAD_SHORT, PAYLOAD_TYPES } from "./registry.ts";

export interface SummaryOptions {
  /** Sender role when the caller knows it (IKEv1 headers carry no I/R flag). */
  role?: "I" | "R";
  /** Payloads of the decrypted body, to list instead of `encrypted`. */
  decrypted?: IsakmpPayload[];
}

function payloadToken(p: IsakmpPayload): string {
  const short = PAYLOAD_SHORT[p.type] ?? PAYLOAD_TYPES.name(p.type);
  switch (p.kind) {
    case "notify":
      return p.notifyName ? `N(${p.notifyName})` : "N";
    case "natd":
      return "NAT-D";
    case "nat-oa":
      return "NAT-OA";
    default:
      return short;
  }
}

/** Message id as printed: `0` or `0x` + 8 hex digits. */
export function midText(mid: number): string {
  return mid === 0 ? "0" : "0x" + mid.toString(16).padStart(8, "0");
}

/** True when all 8 cookie bytes are zero. */
function zero(c: Uint8Array): boolean {
  for (let i = 0; i < c.length; i++) if (c[i] !== 0) return false;
  return true;
}

/**
 * One-line summary. The role is `opts.role` when given; otherwise `I` when
 * the responder cookie is zero (only the initiator's first message has that),
 * and omitted when unknown.
 */
export function isakmpSummary(msg: IsakmpMessage, opts: SummaryOptions = {}): string {
  const ex = EXCHANGE_SHORT[msg.exchange] ?? EXCHANGE_TYPES.name(msg.exchange);
  const role = opts.role ?? (zero(msg.rcookie) ? "I" : undefined);
  const head = `${ex}${role ? " " + role : ""} mid ${midText(msg.messageId)}`;
  const list = msg.flags.encryption ? opts.decrypted : msg.payloads;
  if (!list) return `${head} encrypted`;
  return `${head} [ ${list.map(payloadToken).join(" ")}${list.length ? " " : ""}]`;
}

/** Cookie pair as `icookie:rcookie` hex, for correlating messages of one SA. */
export function cookiePair(msg: IsakmpMessage): string {
  return `${toHex(msg.icookie)}:${toHex(msg.rcookie)}`;
}
