/**
 * Distinguished Names compared as RFC 5280 §7.1 asks: RDN by RDN, attribute by attribute,
 * with case-insensitive matching and insignificant white space removed (a simplified
 * RFC 4518 string preparation), never as one rendered string. Text DNs ("C=CH, O=strongSwan,
 * CN=moon", as in IKE IDs and configs) parse to the same form; a value of `*` matches any
 * value of that attribute, as strongSwan's identity wildcards do.
 * @module
 */
import { NAME_ATTRIBUTE_OIDS, oidText, readTlv, valueText } from "../v2/der.ts";

/** One attribute type and value. */
export interface Ava {
  oid: string;
  value: string;
}
/** One RelativeDistinguishedName (a set; usually one attribute). */
export type Rdn = Ava[];

const OID_BY_NAME: Record<string, string> = {};
for (const [oid, name] of Object.entries(NAME_ATTRIBUTE_OIDS)) OID_BY_NAME[name.toLowerCase()] = oid;
Object.assign(OID_BY_NAME, { email: "1.2.840.113549.1.9.1", emailaddress: "1.2.840.113549.1.9.1", s: "2.5.4.8", gn: "2.5.4.42", surname: "2.5.4.4" });

/** Parse a DER Name `[off, end)` into RDNs; null when malformed. At most 64 attributes. */
export function parseName(b: Uint8Array, off: number, end: number): Rdn[] | null {
  const seq = readTlv(b, off, end);
  if (!seq || seq.tag !== 0x30 || seq.end !== end) return null;
  const rdns: Rdn[] = [];
  let count = 0;
  for (let p = seq.start; p < seq.end;) {
    const set = readTlv(b, p, seq.end);
    if (!set || set.tag !== 0x31) return null;
    const rdn: Rdn = [];
    for (let q = set.start; q < set.end;) {
      if (++count > 64) return null;
      const ava = readTlv(b, q, set.end);
      const oid = ava && ava.tag === 0x30 ? readTlv(b, ava.start, ava.end) : null;
      const val = oid && oid.tag === 0x06 ? readTlv(b, oid.end, ava!.end) : null;
      const dotted = oid ? oidText(b, oid.start, oid.end) : null;
      if (!ava || !val || val.end !== ava.end || dotted === null) return null;
      rdn.push({ oid: dotted, value: valueText(b, val) });
      q = ava.end;
    }
    if (!rdn.length) return null;
    rdns.push(rdn);
    p = set.end;
  }
  return rdns;
}

/**
 * Parse a text DN ("C=CH, O=strongSwan, CN=moon"; `,` `;` or `/` separated; `+` joins a
 * multi-valued RDN; `\,` and double quotes escape). Null when a part is not `type=value`
 * or names an unknown attribute type (dotted OIDs are accepted).
 */
export function parseDnText(text: string): Rdn[] | null {
  const parts: string[][] = [[]];
  let cur = "";
  let quoted = false;
  const src = text.trim().replace(/^\//, "");
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === "\\" && i + 1 < src.length) cur += src[++i];
    else if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === "," || ch === ";" || ch === "/")) {
      parts[parts.length - 1].push(cur);
      parts.push([]);
      cur = "";
    } else if (!quoted && ch === "+") {
      parts[parts.length - 1].push(cur);
      cur = "";
    } else cur += ch;
  }
  parts[parts.length - 1].push(cur);
  const rdns: Rdn[] = [];
  for (const p of parts) {
    const rdn: Rdn = [];
    for (const a of p) {
      const eq = a.indexOf("=");
      if (eq <= 0) return null;
      const type = a.slice(0, eq).trim();
      const oid = /^\d+(\.\d+)+$/.test(type) ? type : OID_BY_NAME[type.toLowerCase()];
      if (!oid) return null;
      rdn.push({ oid, value: a.slice(eq + 1).trim() });
    }
    rdns.push(rdn);
  }
  return rdns.length ? rdns : null;
}

/** RFC 4518-style preparation for caseIgnoreMatch: trim, collapse inner white space, lower-case. */
export function prepValue(v: string): string {
  return v.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();
}

function avaMatch(pattern: Ava, value: Ava, wildcards: boolean): boolean {
  if (pattern.oid !== value.oid) return false;
  if (wildcards && pattern.value === "*") return true;
  return prepValue(pattern.value) === prepValue(value.value);
}

/**
 * Does DN `a` equal DN `b`, RDN by RDN in order (a multi-valued RDN as a set)? With
 * `wildcards`, a `*` value in `a` matches any value (strongSwan's ID wildcards).
 */
export function dnEqual(a: readonly Rdn[], b: readonly Rdn[], wildcards = false): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x.length !== y.length) return false;
    const used = new Set<number>();
    for (const ava of x) {
      const j = y.findIndex((v, k) => !used.has(k) && avaMatch(ava, v, wildcards));
      if (j < 0) return false;
      used.add(j);
    }
  }
  return true;
}

/** Render RDNs as text ("C=CH, O=strongSwan, CN=moon"). */
export function dnText(rdns: readonly Rdn[]): string {
  return rdns.map((r) => r.map((a) => `${NAME_ATTRIBUTE_OIDS[a.oid] ?? a.oid}=${a.value}`).join("+")).join(", ");
}
