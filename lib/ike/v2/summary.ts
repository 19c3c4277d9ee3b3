/**
 * One-line strongSwan-style summary of an IKEv2 message, e.g.
 * `IKE_SA_INIT request I mid 0 [ SA KE No N(NATD_S_IP) N(NATD_D_IP) N(FRAG_SUP) V ]`.
 * @module
 */
import { toHex } from "../../core/bytes.ts";
import type { Ikev2Message, Ikev2Payload } from "./message.ts";
import { PAYLOAD_ABBREV, notifyShortName } from "./registry.ts";

export interface Ikev2SummaryOptions {
  /** Where to print `ispi/rspi` (hex): not at all (default), before or after the rest. */
  spis?: "none" | "prefix" | "suffix";
  /**
   * `"vpnkit"` (default): `IKE_SA_INIT request I mid 0 [ … ]` (I/R = Initiator flag).
   * `"strongswan"`: exactly charon's log notation, `IKE_SA_INIT request 0 [ … ]`.
   */
  style?: "vpnkit" | "strongswan";
  /**
   * Decrypted content of the SK payload (or of the reassembled SKF
   * fragments): listed in place of `SK`, as charon logs a message once it
   * has decrypted it.
   */
  decrypted?: Ikev2Payload[];
}

const CP_ABBREV: Record<number, string> = { 1: "CPRQ", 2: "CPRP", 3: "CPS", 4: "CPA" };
const CP_ATTR_ABBREV: Record<number, string> = { 1: "ADDR", 2: "MASK", 3: "DNS", 4: "NBNS", 7: "VER", 8: "ADDR6", 10: "DNS6", 13: "SUBNET", 15: "SUBNET6" };
const EAP_CODE_ABBREV: Record<number, string> = { 1: "REQ", 2: "RES", 3: "SUCC", 4: "FAIL", 5: "INIT", 6: "FIN" };
const EAP_TYPE_ABBREV: Record<number, string> = {
  1: "ID", 2: "NTF", 3: "NAK", 4: "MD5", 5: "OTP", 6: "GTC", 13: "TLS", 18: "SIM", 21: "TTLS", 23: "AKA",
  25: "PEAP", 26: "MSCHAPV2", 43: "FAST", 49: "IKEV2", 50: "AKA'", 52: "PWD",
};

/** Summary token of one payload. */
export function ikev2PayloadToken(p: Ikev2Payload): string {
  switch (p.kind) {
    case "notify": return `N(${p.notifyType < 0 ? "?" : notifyShortName(p.notifyType)})`;
    case "cp": {
      const a = p.attributes.map((x) => CP_ATTR_ABBREV[x.type] ?? x.name).join(" ");
      return `${CP_ABBREV[p.cfgType] ?? "CP"}(${a})`;
    }
    case "eap": {
      let s = `EAP/${EAP_CODE_ABBREV[p.code] ?? p.code}`;
      if (p.eapType !== undefined) s += `/${EAP_TYPE_ABBREV[p.eapType] ?? p.eapType}`;
      return s;
    }
    case "skf": return `EF(${p.fragmentNumber}/${p.totalFragments})`;
    default: return PAYLOAD_ABBREV.name(p.type);
  }
}

/** One-line summary of a decoded message. */
export function ikev2Summary(msg: Ikev2Message, opts: Ikev2SummaryOptions = {}): string {
  const dir = msg.flags.response ? "response" : "request";
  const who = msg.flags.initiator ? "I" : "R";
  const tokens: string[] = [];
  for (const p of msg.payloads) {
    if (opts.decrypted && (p.kind === "sk" || p.kind === "skf")) tokens.push(...opts.decrypted.map(ikev2PayloadToken));
    else tokens.push(ikev2PayloadToken(p));
  }
  const list = tokens.join(" ");
  const body = opts.style === "strongswan"
    ? `${msg.exchangeName} ${dir} ${msg.messageId} [ ${list}${list ? " " : ""}]`
    : `${msg.exchangeName} ${dir} ${who} mid ${msg.messageId} [ ${list}${list ? " " : ""}]`;
  const spis = `${toHex(msg.ispi)}/${toHex(msg.rspi)}`;
  if (opts.spis === "prefix") return `${spis} ${body}`;
  if (opts.spis === "suffix") return `${body} ${spis}`;
  return body;
}
