/**
 * IKEv2 identities (RFC 7296 §3.5) from configuration text, strongSwan-style:
 * an IPv4/IPv6 literal → ID_IPV4_ADDR/ID_IPV6_ADDR, "user@host" → ID_RFC822_ADDR,
 * "C=CH, O=x, CN=y" → ID_DER_ASN1_DN (DER-encoded here), anything else →
 * ID_FQDN. Prefixes "fqdn:", "email:", "dn:", "ipv4:", "ipv6:", "keyid:" force a type.
 * @module
 */
import { concat, ctEqual, fromHex } from "../../../core/bytes.ts";
import { derNameText, NAME_ATTRIBUTE_OIDS } from "../der.ts";
import { parseIp } from "../../../net/cidr.ts";

export interface Identity {
  /** 1 IPv4, 2 FQDN, 3 RFC822, 5 IPv6, 9 DER_ASN1_DN, 11 KEY_ID. */
  idType: number;
  data: Uint8Array;
}

const ENC = new TextEncoder();

function derLen(n: number): Uint8Array {
  if (n < 0x80) return new Uint8Array([n]);
  if (n < 0x100) return new Uint8Array([0x81, n]);
  return new Uint8Array([0x82, n >> 8, n & 0xff]);
}

function tlv(tag: number, body: Uint8Array): Uint8Array {
  return concat(new Uint8Array([tag]), derLen(body.length), body);
}

function oidBytes(dotted: string): Uint8Array {
  const p = dotted.split(".").map(Number);
  const out = [40 * p[0] + p[1]];
  for (const v of p.slice(2)) {
    const bytes = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) bytes.unshift((x & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return new Uint8Array(out);
}

const OID_BY_NAME: Record<string, string> = {};
for (const [oid, name] of Object.entries(NAME_ATTRIBUTE_OIDS)) OID_BY_NAME[name.toUpperCase()] = oid;
OID_BY_NAME.E = OID_BY_NAME.EMAIL = "1.2.840.113549.1.9.1";

/** DER Name from "C=CH, O=strongSwan, CN=moon" (one AVA per RDN, UTF8String; emailAddress as IA5String). */
export function encodeDn(text: string): Uint8Array {
  const rdns: Uint8Array[] = [];
  for (const part of text.split(/\s*[,/]\s*/).filter((s) => s.length)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new Error(`DN "${text}": "${part}" is not attribute=value`);
    const key = part.slice(0, eq).trim();
    const oid = OID_BY_NAME[key.toUpperCase()] ?? (/^\d+(\.\d+)+$/.test(key) ? key : undefined);
    if (!oid) throw new Error(`DN "${text}": unknown attribute "${key}"`);
    const value = ENC.encode(part.slice(eq + 1).trim());
    const str = oid === "1.2.840.113549.1.9.1" ? tlv(0x16, value) : oid === "2.5.4.6" ? tlv(0x13, value) : tlv(0x0c, value);
    rdns.push(tlv(0x31, tlv(0x30, concat(tlv(0x06, oidBytes(oid)), str))));
  }
  return tlv(0x30, concat(...rdns));
}

/** Identity from configuration text (throws on bad input: config time). */
export function parseIdentity(text: string): Identity {
  const m = text.match(/^(fqdn|email|rfc822|dn|asn1dn|ipv4|ipv6|keyid):(.*)$/i);
  const kind = m?.[1].toLowerCase();
  const v = m ? m[2] : text.trim();
  if (kind === "keyid") {
    const b = fromHex(v);
    if (!b) throw new Error(`identity "${text}": keyid needs hex`);
    return { idType: 11, data: b };
  }
  const ip = kind === undefined || kind === "ipv4" || kind === "ipv6" ? parseIp(v) : null;
  if (ip) return { idType: ip.family === 4 ? 1 : 5, data: ip.addr };
  if (kind === "ipv4" || kind === "ipv6") throw new Error(`identity "${text}": not an IP address`);
  if (kind === "dn" || kind === "asn1dn" || (kind === undefined && /^\s*[A-Za-z][\w.]*\s*=/.test(v))) return { idType: 9, data: encodeDn(v) };
  if (kind === "email" || kind === "rfc822" || (kind === undefined && v.includes("@") && !v.startsWith("@"))) return { idType: 3, data: ENC.encode(v) };
  return { idType: 2, data: ENC.encode(v.startsWith("@") ? v.slice(1) : v) };
}

/** ID payload body (type, 3 reserved octets, data): what AUTH's prf(SK_p, IDx') covers. */
export function idBody(id: Identity): Uint8Array {
  return concat(new Uint8Array([id.idType, 0, 0, 0]), id.data);
}

/** Exact match of a received identity with an expected one (DNs compared as rendered text). */
export function identityMatches(expected: Identity, got: Identity): boolean {
  if (expected.idType === 9 && got.idType === 9) {
    const a = derNameText(expected.data, 0, expected.data.length), b = derNameText(got.data, 0, got.data.length);
    return a !== null && a === b;
  }
  return expected.idType === got.idType && ctEqual(expected.data, got.data);
}
