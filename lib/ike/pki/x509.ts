/**
 * X.509 certificate fields for path validation (RFC 5280 §4.1, §4.2): the parts that
 * node:crypto's X509Certificate does not expose (basicConstraints pathLen, keyUsage bits,
 * extended key usage OIDs, subjectAltName entries, CRL distribution points, key
 * identifiers) read with the bounded DER reader. Never throws: `parseCertificate` returns
 * null when the DER is not a certificate.
 * @module
 */
import { toHex } from "../../core/bytes.ts";
import { oidText, readTlv, type Tlv } from "../v2/der.ts";
import { parseName, type Rdn } from "./dn.ts";

/** keyUsage bits (RFC 5280 §4.2.1.3), bit 0 first. */
export const KU = {
  digitalSignature: 0, nonRepudiation: 1, keyEncipherment: 2, dataEncipherment: 3,
  keyAgreement: 4, keyCertSign: 5, cRLSign: 6, encipherOnly: 7, decipherOnly: 8,
} as const;

/** Extended key usage OIDs that matter to IKE (RFC 4945 §5.1.3.12, strongSwan's x509 flags). */
export const EKU = {
  any: "2.5.29.37.0",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ipsecIKE: "1.3.6.1.5.5.7.3.17",
  ikeIntermediate: "1.3.6.1.5.5.8.2.2",
} as const;

/** One subjectAltName / GeneralName entry we understand; other kinds are kept as `other`. */
export type GeneralName =
  | { kind: "dns"; value: string }
  | { kind: "email"; value: string }
  | { kind: "uri"; value: string }
  | { kind: "ip"; value: Uint8Array }
  | { kind: "dn"; value: Rdn[] }
  | { kind: "other"; tag: number };

export interface Certificate {
  /** The whole certificate's DER. */
  der: Uint8Array;
  /** tbsCertificate bytes (what the signature covers). */
  tbs: Uint8Array;
  version: number;
  /** Serial number, lower-case hex of its content octets (leading zero octets removed). */
  serial: string;
  issuer: Rdn[];
  subject: Rdn[];
  /** Raw DER of the issuer and subject Names. */
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** basicConstraints: present, cA, pathLenConstraint. */
  basicConstraints?: { ca: boolean; pathLen?: number; critical: boolean };
  /** keyUsage bits, when the extension is present. */
  keyUsage?: Set<number>;
  /** extendedKeyUsage OIDs, when present. */
  extKeyUsage?: string[];
  subjectAltNames: GeneralName[];
  /** URIs of the CRL distribution points' full names. */
  crlUris: string[];
  subjectKeyId?: string;
  authorityKeyId?: string;
  /** OIDs of critical extensions this reader does not process (RFC 5280: such a certificate must be refused). */
  unknownCritical: string[];
}

const OID_BC = "2.5.29.19", OID_KU = "2.5.29.15", OID_EKU = "2.5.29.37", OID_SAN = "2.5.29.17";
const OID_CDP = "2.5.29.31", OID_SKI = "2.5.29.14", OID_AKI = "2.5.29.35";
/** Critical extensions we accept without enforcing their content. */
const TOLERATED_CRITICAL = new Set(["2.5.29.32" /* certificatePolicies */, "2.5.29.36" /* policyConstraints */, "2.5.29.54" /* inhibitAnyPolicy */]);

/** Children TLVs of a constructed TLV (at most `max`); null on any malformed element. */
export function children(b: Uint8Array, t: Tlv, max = 256): Tlv[] | null {
  const out: Tlv[] = [];
  let p = t.start;
  while (p < t.end) {
    if (out.length >= max) return null;
    const c = readTlv(b, p, t.end);
    if (!c) return null;
    out.push(c);
    p = c.end;
  }
  return out;
}

/** UTCTime (0x17) or GeneralizedTime (0x18), "Z" form, to ms since the epoch; NaN when malformed. */
export function derTime(b: Uint8Array, t: Tlv): number {
  const s = String.fromCharCode(...b.subarray(t.start, t.end));
  const m = t.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : t.tag === 0x18 ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s) : null;
  if (!m) return NaN;
  let y = Number(m[1]);
  if (t.tag === 0x17) y += y >= 50 ? 1900 : 2000; // RFC 5280 §4.1.2.5.1
  return Date.UTC(y, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** Non-negative INTEGER content as a number (≤ 2^48), else -1. */
function smallInt(b: Uint8Array, t: Tlv): number {
  if (t.tag !== 0x02 || t.end - t.start > 6 || t.end === t.start || b[t.start] & 0x80) return -1;
  let v = 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + b[i];
  return v;
}

function latin1(b: Uint8Array, t: Tlv): string {
  return new TextDecoder("latin1").decode(b.subarray(t.start, t.end));
}

/** GeneralNames (SEQUENCE OF GeneralName, RFC 5280 §4.2.1.6) from a constructed TLV. */
export function generalNames(b: Uint8Array, seq: Tlv): GeneralName[] {
  const out: GeneralName[] = [];
  for (const g of children(b, seq) ?? []) {
    switch (g.tag) {
      case 0x81: out.push({ kind: "email", value: latin1(b, g) }); break;
      case 0x82: out.push({ kind: "dns", value: latin1(b, g) }); break;
      case 0x86: out.push({ kind: "uri", value: latin1(b, g) }); break;
      case 0x87: out.push({ kind: "ip", value: b.slice(g.start, g.end) }); break;
      case 0xa4: {
        const name = readTlv(b, g.start, g.end);
        const rdns = name ? parseName(b, name.offset, name.end) : null;
        if (rdns) out.push({ kind: "dn", value: rdns });
        break;
      }
      default: out.push({ kind: "other", tag: g.tag });
    }
  }
  return out;
}

function parseExtension(c: Certificate, b: Uint8Array, oid: string, v: Tlv, critical: boolean): boolean {
  const inner = readTlv(b, v.start, v.end);
  switch (oid) {
    case OID_BC: {
      if (!inner || inner.tag !== 0x30) return false;
      const els = children(b, inner, 2);
      if (!els) return false;
      let ca = false;
      let pathLen: number | undefined;
      for (const e of els) {
        if (e.tag === 0x01) ca = e.end > e.start && b[e.start] !== 0;
        else if (e.tag === 0x02) {
          const n = smallInt(b, e);
          if (n < 0) return false;
          pathLen = n;
        }
      }
      c.basicConstraints = { ca, pathLen, critical };
      return true;
    }
    case OID_KU: {
      if (!inner || inner.tag !== 0x03 || inner.end <= inner.start) return false;
      const unused = b[inner.start];
      const bits = new Set<number>();
      const n = (inner.end - inner.start - 1) * 8 - unused;
      for (let i = 0; i < n && i < 16; i++) if (b[inner.start + 1 + (i >> 3)] & (0x80 >> (i & 7))) bits.add(i);
      c.keyUsage = bits;
      return true;
    }
    case OID_EKU: {
      if (!inner || inner.tag !== 0x30) return false;
      const oids: string[] = [];
      for (const e of children(b, inner) ?? []) {
        const o = e.tag === 0x06 ? oidText(b, e.start, e.end) : null;
        if (o) oids.push(o);
      }
      c.extKeyUsage = oids;
      return true;
    }
    case OID_SAN:
      if (!inner || inner.tag !== 0x30) return false;
      c.subjectAltNames = generalNames(b, inner);
      return true;
    case OID_CDP: {
      if (!inner || inner.tag !== 0x30) return false;
      for (const dp of children(b, inner, 32) ?? []) {
        const dpn = dp.tag === 0x30 ? readTlv(b, dp.start, dp.end) : null; // [0] distributionPoint
        if (!dpn || dpn.tag !== 0xa0) continue;
        const full = readTlv(b, dpn.start, dpn.end); // [0] fullName (IMPLICIT GeneralNames)
        if (!full || full.tag !== 0xa0) continue;
        for (const g of generalNames(b, full)) if (g.kind === "uri") c.crlUris.push(g.value);
      }
      return true;
    }
    case OID_SKI:
      if (!inner || inner.tag !== 0x04) return false;
      c.subjectKeyId = toHex(b.subarray(inner.start, inner.end));
      return true;
    case OID_AKI: {
      if (!inner || inner.tag !== 0x30) return false;
      const kid = (children(b, inner, 3) ?? []).find((e) => e.tag === 0x80);
      if (kid) c.authorityKeyId = toHex(b.subarray(kid.start, kid.end));
      return true;
    }
    default:
      if (critical && !TOLERATED_CRITICAL.has(oid)) c.unknownCritical.push(oid);
      return true;
  }
}

/** Parse a DER certificate; null when it is not one. */
export function parseCertificate(der: Uint8Array): Certificate | null {
  const b = der;
  const cert = readTlv(b, 0, b.length);
  if (!cert || cert.tag !== 0x30) return null;
  const top = children(b, cert, 3);
  if (!top || top.length !== 3 || top[0].tag !== 0x30) return null;
  const tbsT = top[0];
  const f = children(b, tbsT, 10);
  if (!f) return null;
  let i = 0;
  let version = 1;
  if (f[0]?.tag === 0xa0) {
    const v = readTlv(b, f[0].start, f[0].end);
    if (!v) return null;
    version = smallInt(b, v) + 1;
    i++;
  }
  const [serialT, , issuerT, validityT, subjectT] = f.slice(i, i + 5);
  if (!serialT || serialT.tag !== 0x02 || !issuerT || !validityT || validityT.tag !== 0x30 || !subjectT) return null;
  const issuer = parseName(b, issuerT.offset, issuerT.end);
  const subject = parseName(b, subjectT.offset, subjectT.end);
  const validity = children(b, validityT, 2);
  if (!issuer || !subject || !validity || validity.length !== 2) return null;
  let s = serialT.start;
  while (s < serialT.end - 1 && b[s] === 0) s++;
  const c: Certificate = {
    der: b, tbs: b.subarray(tbsT.offset, tbsT.end), version,
    serial: toHex(b.subarray(s, serialT.end)),
    issuer, subject,
    issuerDer: b.subarray(issuerT.offset, issuerT.end), subjectDer: b.subarray(subjectT.offset, subjectT.end),
    notBefore: derTime(b, validity[0]), notAfter: derTime(b, validity[1]),
    subjectAltNames: [], crlUris: [], unknownCritical: [],
  };
  if (Number.isNaN(c.notBefore) || Number.isNaN(c.notAfter)) return null;
  const extWrap = f.slice(i + 5).find((t) => t.tag === 0xa3);
  if (extWrap) {
    const seq = readTlv(b, extWrap.start, extWrap.end);
    const exts = seq && seq.tag === 0x30 ? children(b, seq, 64) : null;
    if (!exts) return null;
    for (const e of exts) {
      const parts = e.tag === 0x30 ? children(b, e, 3) : null;
      if (!parts || parts.length < 2 || parts[0].tag !== 0x06) return null;
      const oid = oidText(b, parts[0].start, parts[0].end);
      const critical = parts.length === 3 && parts[1].tag === 0x01 && b[parts[1].start] !== 0;
      const v = parts[parts.length - 1];
      if (!oid || v.tag !== 0x04) return null;
      if (!parseExtension(c, b, oid, v, critical)) return null;
    }
  }
  return c;
}

/** PEM (one or more blocks) or DER to DER buffers. */
export function derBlocks(input: string | Uint8Array): Uint8Array[] {
  const text = typeof input === "string" ? input : input[0] === 0x30 ? null : new TextDecoder().decode(input);
  if (text === null) return [input as Uint8Array];
  const out: Uint8Array[] = [];
  for (const m of text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const bin = atob(m[2].replace(/\s+/g, ""));
    const u = new Uint8Array(bin.length);
    for (let k = 0; k < bin.length; k++) u[k] = bin.charCodeAt(k);
    out.push(u);
  }
  return out;
}
