/**
 * A small, bounded DER reader: enough to render X.501 Names (ID_DER_ASN1_DN)
 * as text and to name the AlgorithmIdentifier of RFC 7427 Digital Signature
 * AUTH payloads. Never throws; returns null on anything it cannot parse.
 * @module
 */
import { escapeControls, toHex } from "../../core/bytes.ts";

/** One DER TLV. */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  offset: number;
  /** First content byte. */
  start: number;
  /** End of content (exclusive). */
  end: number;
}

/** Read one TLV at `off` within `[off, end)`; single-byte tags only, definite lengths ≤ 4 length octets. */
export function readTlv(b: Uint8Array, off: number, end: number): Tlv | null {
  if (end > b.length) end = b.length;
  if (off + 2 > end) return null;
  const tag = b[off];
  if ((tag & 0x1f) === 0x1f) return null; // high tag numbers: not used in Names
  let p = off + 1;
  let len = b[p++];
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > end) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++];
  }
  if (p + len > end) return null;
  return { tag, offset: off, start: p, end: p + len };
}

/** Dotted text of the OID content bytes `[start, end)`; null when malformed. */
export function oidText(b: Uint8Array, start: number, end: number): string | null {
  if (start >= end || end - start > 64) return null;
  const parts: number[] = [];
  let v = 0;
  let inArc = false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (!inArc && c === 0x80) return null; // non-minimal encoding
    v = v * 128 + (c & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) return null;
    inArc = (c & 0x80) !== 0;
    if (!inArc) {
      if (parts.length === 0) {
        const first = v < 40 ? 0 : v < 80 ? 1 : 2;
        parts.push(first, v - first * 40);
      } else parts.push(v);
      v = 0;
    }
  }
  if (inArc) return null;
  return parts.join(".");
}

/** Short names for X.520 / PKCS #9 / LDAP attribute types in Names. */
export const NAME_ATTRIBUTE_OIDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.13": "description",
  "2.5.4.17": "postalCode",
  "2.5.4.41": "N",
  "2.5.4.42": "G",
  "2.5.4.43": "I",
  "2.5.4.44": "generationQualifier",
  "2.5.4.45": "ID",
  "2.5.4.46": "dnQualifier",
  "2.5.4.65": "pseudonym",
  "2.5.4.97": "organizationIdentifier",
  "1.2.840.113549.1.9.1": "E",
  "1.2.840.113549.1.9.2": "unstructuredName",
  "0.9.2342.19200300.100.1.1": "UID",
  "0.9.2342.19200300.100.1.25": "DC",
};

/** Names of signature AlgorithmIdentifier OIDs seen in RFC 7427 AUTH payloads. */
export const SIGNATURE_OIDS: Record<string, string> = {
  "1.2.840.113549.1.1.1": "rsaEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.2.840.113549.1.1.10": "RSASSA-PSS",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.10045.4.1": "ecdsa-with-SHA1",
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.2.840.10040.4.3": "dsa-with-sha1",
  "2.16.840.1.101.3.4.3.2": "dsa-with-sha256",
  "1.3.101.112": "Ed25519",
  "1.3.101.113": "Ed448",
  "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
  "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
  "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
};

const LATIN1 = (b: Uint8Array, s: number, e: number): string => {
  let t = "";
  for (let i = s; i < e; i++) t += String.fromCharCode(b[i]);
  return t;
};

/** Text of a directory-string value; `#hex` for other types (RFC 4514 style). Control characters escaped (\\xNN): the text goes into log lines. */
export function valueText(b: Uint8Array, v: Tlv): string {
  return escapeControls(rawValueText(b, v));
}

function rawValueText(b: Uint8Array, v: Tlv): string {
  switch (v.tag) {
    case 0x0c: // UTF8String
      return new TextDecoder("utf-8", { fatal: false }).decode(b.subarray(v.start, v.end));
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x14: // TeletexString
    case 0x1a: // VisibleString
    case 0x12: // NumericString
      return LATIN1(b, v.start, v.end);
    case 0x1e: { // BMPString (UCS-2 BE)
      let t = "";
      for (let i = v.start; i + 1 < v.end; i += 2) t += String.fromCharCode((b[i] << 8) | b[i + 1]);
      return t;
    }
    default:
      return "#" + toHex(b, v.offset, v.end);
  }
}

/**
 * Render the DER X.501 Name in `b[off, end)` as `C=CH, O=strongSwan, CN=moon`
 * (attribute order as encoded; multi-valued RDNs joined with `+`).
 * Returns null when the bytes are not exactly one well-formed Name.
 * Bounded: at most `maxAttrs` attributes.
 */
export function derNameText(b: Uint8Array, off: number, end: number, maxAttrs = 64): string | null {
  const seq = readTlv(b, off, end);
  if (!seq || seq.tag !== 0x30 || seq.end !== end) return null;
  const rdns: string[] = [];
  let count = 0;
  let p = seq.start;
  while (p < seq.end) {
    const set = readTlv(b, p, seq.end);
    if (!set || set.tag !== 0x31) return null;
    const avas: string[] = [];
    let q = set.start;
    while (q < set.end) {
      if (++count > maxAttrs) return null;
      const ava = readTlv(b, q, set.end);
      if (!ava || ava.tag !== 0x30) return null;
      const oid = readTlv(b, ava.start, ava.end);
      if (!oid || oid.tag !== 0x06) return null;
      const val = readTlv(b, oid.end, ava.end);
      if (!val || val.end !== ava.end) return null;
      const dotted = oidText(b, oid.start, oid.end);
      if (dotted === null) return null;
      avas.push(`${NAME_ATTRIBUTE_OIDS[dotted] ?? dotted}=${valueText(b, val)}`);
      q = ava.end;
    }
    if (avas.length === 0) return null;
    rdns.push(avas.join("+"));
    p = set.end;
  }
  return rdns.join(", ");
}

/** A decoded AlgorithmIdentifier. */
export interface AlgorithmIdentifier {
  oid: string;
  oidName: string;
  /** DER of the parameters, when present. */
  params?: Uint8Array;
}

/** Decode `SEQUENCE { OID, params OPTIONAL }` filling exactly `[off, end)`; null when malformed. */
export function decodeAlgorithmIdentifier(b: Uint8Array, off: number, end: number): AlgorithmIdentifier | null {
  const seq = readTlv(b, off, end);
  if (!seq || seq.tag !== 0x30 || seq.end !== end) return null;
  const oid = readTlv(b, seq.start, seq.end);
  if (!oid || oid.tag !== 0x06) return null;
  const dotted = oidText(b, oid.start, oid.end);
  if (dotted === null) return null;
  const out: AlgorithmIdentifier = { oid: dotted, oidName: SIGNATURE_OIDS[dotted] ?? dotted };
  if (oid.end < seq.end) out.params = b.subarray(oid.end, seq.end);
  return out;
}

/** Issuer and subject of a DER X.509 certificate, as Name strings. */
export interface X509Names {
  issuer: string;
  subject: string;
}

/**
 * Issuer and subject of the DER X.509 certificate in `b[off, end)`
 * (Certificate → tbsCertificate → [version] serial signature issuer validity
 * subject). Null when the structure is not recognised.
 */
export function x509Names(b: Uint8Array, off: number, end: number): X509Names | null {
  const cert = readTlv(b, off, end);
  if (!cert || cert.tag !== 0x30) return null;
  const tbs = readTlv(b, cert.start, cert.end);
  if (!tbs || tbs.tag !== 0x30) return null;
  const fields: Tlv[] = [];
  let p = tbs.start;
  while (p < tbs.end && fields.length < 6) {
    const t = readTlv(b, p, tbs.end);
    if (!t) return null;
    fields.push(t);
    p = t.end;
  }
  const i = fields[0]?.tag === 0xa0 ? 1 : 0; // optional [0] version
  const issuer = fields[i + 2];
  const subject = fields[i + 4];
  if (!issuer || !subject || issuer.tag !== 0x30 || subject.tag !== 0x30) return null;
  const it = derNameText(b, issuer.offset, issuer.end);
  const st = subject.end === subject.start ? "" : derNameText(b, subject.offset, subject.end);
  if (it === null || st === null) return null;
  return { issuer: it, subject: st };
}
