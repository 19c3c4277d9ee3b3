/**
 * Certificate path validation for IKE peers (RFC 5280 §6, profiled by RFC 4945 §5): build
 * the path from the peer's certificate through the intermediates it sent to a configured
 * trust anchor, and check on every link the issuer's signature, validity times,
 * basicConstraints cA and pathLenConstraint, keyUsage keyCertSign; on the end entity
 * keyUsage digitalSignature/nonRepudiation and extended key usage; then revocation by CRL
 * under strongSwan's policy (`strict`, `ifuri`, `relaxed`). No I/O: CRLs come from the
 * caller (files read at start-up, and a lookup function that may answer "pending" while a
 * fetch runs elsewhere). Every refusal is one line naming the certificate and the rule.
 * @module
 */
import { X509Certificate, type KeyObject } from "node:crypto";
import { crlSignedBy, parseCrl, type Crl } from "./crl.ts";
import { dnEqual, dnText } from "./dn.ts";
import { EKU, KU, parseCertificate, type Certificate } from "./x509.ts";

export type RevocationPolicy = "strict" | "ifuri" | "relaxed";
/** A CRL by URI: its DER, "pending" (a fetch is under way: try again later) or "unreachable". */
export type CrlLookup = (uri: string) => Uint8Array | "pending" | "unreachable";

export interface ValidateOptions {
  now: number;
  /** Trust anchors (DER): CA certificates, or the peer's own certificate pinned. */
  anchors: readonly Uint8Array[];
  /** Intermediate certificates the peer sent (DER), in any order. */
  intermediates?: readonly Uint8Array[];
  /** CRLs loaded from files (DER). */
  crls?: readonly Uint8Array[];
  /** CRLs from the certificates' distribution points. */
  fetchCrl?: CrlLookup;
  /** strongSwan's `revocation`; default "relaxed" (fail only when known revoked). */
  revocation?: RevocationPolicy;
  /** Longest path (end entity + intermediates), default 8. */
  maxDepth?: number;
  /**
   * Extended key usage of the end entity when it has none of serverAuth, clientAuth,
   * ipsecIKE or anyExtendedKeyUsage: "warn" (default; accepted with a warning, as
   * strongSwan 5.9 accepts any EKU) or "strict" (refused, RFC 4945 §5.1.3.12).
   */
  eku?: "warn" | "strict";
}

export type ValidateResult =
  | { ok: true; leaf: Certificate; chain: Certificate[]; key: KeyObject; warnings: string[] }
  | { ok: false; reason: string; pending?: string[] };

/** Extended key usages an IKE end entity may carry (RFC 4945 §5.1.3.12, plus strongSwan's serverAuth/clientAuth). */
const IKE_EKUS: readonly string[] = [EKU.any, EKU.ipsecIKE, EKU.serverAuth, EKU.clientAuth];

const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.3": "codeSigning", "1.3.6.1.5.5.7.3.4": "emailProtection", "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning", [EKU.ikeIntermediate]: "iKEIntermediate",
};

/** "CN=moon" style label of a certificate for messages. */
export function certLabel(c: Certificate): string {
  return `"${dnText(c.subject)}"`;
}

function keyOf(c: Certificate): KeyObject | null {
  try {
    return new X509Certificate(c.der).publicKey;
  } catch {
    return null;
  }
}

function signedBy(c: Certificate, issuer: Certificate, key: KeyObject | null): boolean {
  if (!key || !dnEqual(c.issuer, issuer.subject)) return false;
  if (c.authorityKeyId && issuer.subjectKeyId && c.authorityKeyId !== issuer.subjectKeyId) return false;
  try {
    return new X509Certificate(c.der).verify(key);
  } catch {
    return false;
  }
}

function timeError(c: Certificate, now: number, role: string): string | null {
  if (now < c.notBefore) return `${role} ${certLabel(c)} is not valid before ${new Date(c.notBefore).toISOString()}`;
  if (now > c.notAfter) return `${role} ${certLabel(c)} expired on ${new Date(c.notAfter).toISOString()}`;
  return null;
}

/** Checks on a certificate used as an issuer at `below` intermediates above the end entity. */
function issuerError(c: Certificate, below: number): string | null {
  const bc = c.basicConstraints;
  if (c.version >= 3 && !bc?.ca) return `issuer ${certLabel(c)} is not a CA (basicConstraints cA is not set)`;
  if (c.keyUsage && !c.keyUsage.has(KU.keyCertSign)) return `issuer ${certLabel(c)} lacks keyUsage keyCertSign`;
  if (bc?.pathLen !== undefined && below > bc.pathLen) {
    return `path length constraint of ${certLabel(c)} violated: pathlen ${bc.pathLen}, ${below} intermediate CA certificate${below === 1 ? "" : "s"} below it`;
  }
  if (c.unknownCritical.length) return `${certLabel(c)} has an unsupported critical extension ${c.unknownCritical[0]}`;
  return null;
}

/** The end entity's extended key usage problem, if any (RFC 4945 §5.1.3.12). */
function ekuProblem(c: Certificate): string | null {
  if (!c.extKeyUsage || !c.extKeyUsage.length || c.extKeyUsage.some((o) => IKE_EKUS.includes(o))) return null;
  const names = c.extKeyUsage.map((o) => EKU_NAMES[o] ?? o).join(", ");
  return `certificate ${certLabel(c)} has extended key usage ${names}, none of serverAuth, clientAuth, ipsecIKE or anyExtendedKeyUsage`;
}

function endEntityError(c: Certificate): string | null {
  if (c.keyUsage && !c.keyUsage.has(KU.digitalSignature) && !c.keyUsage.has(KU.nonRepudiation)) {
    return `certificate ${certLabel(c)} has keyUsage without digitalSignature`;
  }
  if (c.unknownCritical.length) return `certificate ${certLabel(c)} has an unsupported critical extension ${c.unknownCritical[0]}`;
  return null;
}

type Status = { s: "good" } | { s: "revoked"; at: number } | { s: "stale" } | { s: "unknown"; uri: boolean } | { s: "pending"; uris: string[] };

function newest(crls: Crl[]): Crl | undefined {
  return crls.sort((a, b) => b.thisUpdate - a.thisUpdate)[0];
}

function revocationStatus(c: Certificate, issuer: Certificate, issuerKey: KeyObject, files: Crl[], o: ValidateOptions): Status {
  const fits = (crl: Crl) => dnEqual(crl.issuer, issuer.subject) && (!crl.authorityKeyId || !issuer.subjectKeyId || crl.authorityKeyId === issuer.subjectKeyId) && crlSignedBy(crl, issuerKey);
  let crl = newest(files.filter(fits));
  const pending: string[] = [];
  if (!crl && c.crlUris.length && o.fetchCrl) {
    const got: Crl[] = [];
    for (const uri of c.crlUris) {
      const r = o.fetchCrl(uri);
      if (r === "pending") pending.push(uri);
      else if (r !== "unreachable") {
        const p = parseCrl(r);
        if (p && fits(p)) got.push(p);
      }
    }
    crl = newest(got);
  }
  if (crl) {
    const at = crl.revoked.get(c.serial);
    if (at !== undefined) return { s: "revoked", at };
    return !Number.isNaN(crl.nextUpdate) && crl.nextUpdate < o.now ? { s: "stale" } : { s: "good" };
  }
  if (pending.length) return { s: "pending", uris: pending };
  return { s: "unknown", uri: c.crlUris.length > 0 };
}

/** Validate the peer's end-entity certificate `der` (see the module doc). */
export function validateCertificate(der: Uint8Array, o: ValidateOptions): ValidateResult {
  const leaf = parseCertificate(der);
  if (!leaf) return { ok: false, reason: "peer certificate does not parse" };
  const anchors = o.anchors.map(parseCertificate).filter((c): c is Certificate => c !== null);
  const pool = (o.intermediates ?? []).map(parseCertificate).filter((c): c is Certificate => c !== null);
  const leafKey = keyOf(leaf);
  if (!leafKey) return { ok: false, reason: `certificate ${certLabel(leaf)} has an unusable public key` };
  const tErr = timeError(leaf, o.now, "certificate");
  if (tErr) return { ok: false, reason: tErr };
  // a pinned end-entity certificate
  if (anchors.some((a) => a.der.length === der.length && a.der.every((x, i) => x === der[i]))) return { ok: true, leaf, chain: [leaf], key: leafKey, warnings: [] };
  const eErr = endEntityError(leaf);
  if (eErr) return { ok: false, reason: eErr };
  const warnings: string[] = [];
  const eku = ekuProblem(leaf);
  if (eku && o.eku === "strict") return { ok: false, reason: `${eku} (eku = strict)` };
  if (eku) warnings.push(`${eku}: accepted as strongSwan does (eku = strict refuses it)`);

  const chain: Certificate[] = [leaf];
  const keys: KeyObject[] = [leafKey];
  const max = o.maxDepth ?? 8;
  let cur = leaf;
  for (;;) {
    if (chain.length > max) return { ok: false, reason: `certificate path longer than ${max}` };
    const below = chain.length - 1; // intermediates between the next issuer and the end entity
    const anchor = anchors.find((a) => signedBy(cur, a, keyOf(a)));
    const next = anchor ?? pool.find((p) => !chain.includes(p) && signedBy(cur, p, keyOf(p)));
    if (!next) {
      const named = [...anchors, ...pool].find((a) => dnEqual(cur.issuer, a.subject));
      return { ok: false, reason: named ? `signature of ${certLabel(cur)} does not verify with the key of ${certLabel(named)}` : `no trusted CA certificate for issuer "${dnText(cur.issuer)}" of ${certLabel(cur)}` };
    }
    const iErr = timeError(next, o.now, anchor ? "CA certificate" : "intermediate CA certificate") ?? issuerError(next, below);
    if (iErr) return { ok: false, reason: iErr };
    chain.push(next);
    keys.push(keyOf(next)!);
    if (anchor) break;
    cur = next;
  }

  const files = (o.crls ?? []).map(parseCrl).filter((c): c is Crl => c !== null);
  const policy = o.revocation ?? "relaxed";
  const pending: string[] = [];
  for (let i = 0; i < chain.length - 1; i++) {
    const st = revocationStatus(chain[i], chain[i + 1], keys[i + 1], files, o);
    const who = i === 0 ? "certificate" : "intermediate CA certificate";
    if (st.s === "revoked") return { ok: false, reason: `${who} ${certLabel(chain[i])} is revoked (since ${new Date(st.at).toISOString()})` };
    if (st.s === "pending") pending.push(...st.uris);
    else if (st.s !== "good" && policy !== "relaxed") {
      if (policy === "strict" || (st.s === "stale" || st.uri)) {
        const what = st.s === "stale" ? "only a stale CRL is available" : st.uri ? "its CRL could not be fetched" : "no CRL is available";
        return { ok: false, reason: `revocation status of ${who} ${certLabel(chain[i])} unknown (${what}; revocation = ${policy})` };
      }
    }
  }
  if (pending.length) return { ok: false, reason: `waiting for CRL ${pending.join(", ")}`, pending };
  return { ok: true, leaf, chain, key: leafKey, warnings };
}
