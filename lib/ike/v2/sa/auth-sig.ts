/**
 * RFC 7427 Digital Signature authentication (AUTH method 14): Ed25519 (RFC 8420),
 * ECDSA P-256/P-384 with SHA-256/384, RSASSA-PSS and RSA PKCS#1 v1.5 with SHA-256,
 * via node:crypto. AUTH data = ASN.1 length (1 octet) ‖ AlgorithmIdentifier (DER) ‖
 * signature over the same octets PSK AUTH covers (RFC 7296 §2.15).
 * Also: peer keys from X.509 certificates (CERT payloads) checked against a
 * configured CA or certificate/public key.
 * @module
 */
import { createPrivateKey, createPublicKey, sign, verify, X509Certificate, type KeyObject } from "node:crypto";
import { sha1 } from "@noble/hashes/legacy.js";
import { concat, fromHex } from "../../../core/bytes.ts";
import type { Ikev2AuthPayload } from "../payloads/auth.ts";
import { certNamesIdentity } from "../../pki/names.ts";
import { validateCertificate, type CrlLookup, type RevocationPolicy } from "../../pki/validate.ts";
import { derBlocks, type Certificate } from "../../pki/x509.ts";

/** RFC 7427 Appendix A AlgorithmIdentifier encodings (and RFC 8420 for Ed25519). */
const ALG = {
  ed25519: fromHex("300506032b6570")!,
  "ecdsa-sha256": fromHex("300a06082a8648ce3d040302")!,
  "ecdsa-sha384": fromHex("300a06082a8648ce3d040303")!,
  "ecdsa-sha512": fromHex("300a06082a8648ce3d040304")!,
  "rsa-sha256": fromHex("300d06092a864886f70d01010b0500")!,
  "rsa-sha384": fromHex("300d06092a864886f70d01010c0500")!,
  "rsa-sha512": fromHex("300d06092a864886f70d01010d0500")!,
  // RSASSA-PSS, SHA-256, MGF1 with SHA-256, salt length 32 (RFC 7427 A.4.3)
  "rsa-pss-sha256": fromHex("304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120")!,
} as const;

export type SignatureScheme = keyof typeof ALG;

const HASH_OIDS: Record<string, string> = { "608648016503040201": "sha256", "608648016503040202": "sha384", "608648016503040203": "sha512" };

/** A private key from PEM (PKCS#8, SEC1 or PKCS#1). Throws on bad input (config time). */
export function loadPrivateKey(pem: string | Uint8Array): KeyObject {
  return createPrivateKey(typeof pem === "string" ? pem : { key: Buffer.from(pem), format: "der", type: "pkcs8" });
}

/** A public key from PEM (SPKI) or from an X.509 certificate (PEM or DER). Throws on bad input. */
export function loadPublicKey(pemOrCert: string | Uint8Array): KeyObject {
  if (typeof pemOrCert === "string" && !pemOrCert.includes("CERTIFICATE")) return createPublicKey(pemOrCert);
  return new X509Certificate(typeof pemOrCert === "string" ? pemOrCert : Buffer.from(pemOrCert)).publicKey;
}

/** The scheme we sign with for a key (RSA: PSS unless `rsaPkcs1`). */
export function defaultScheme(key: KeyObject, rsaPkcs1 = false): SignatureScheme {
  switch (key.asymmetricKeyType) {
    case "ed25519": return "ed25519";
    case "ec": return key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "ecdsa-sha384" : "ecdsa-sha256";
    case "rsa": return rsaPkcs1 ? "rsa-sha256" : "rsa-pss-sha256";
    case "rsa-pss": return "rsa-pss-sha256";
    default: throw new Error(`unsupported private key type ${key.asymmetricKeyType}`);
  }
}

/** AUTH data (method 14) for `octets`. */
export function signAuth(key: KeyObject, octets: Uint8Array, scheme: SignatureScheme = defaultScheme(key)): Uint8Array {
  let sig: Buffer;
  if (scheme === "ed25519") sig = sign(null, octets, key);
  else if (scheme === "rsa-pss-sha256") sig = sign("sha256", octets, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 });
  else sig = sign(scheme.endsWith("384") ? "sha384" : scheme.endsWith("512") ? "sha512" : "sha256", octets, { key, dsaEncoding: "der" });
  const alg = ALG[scheme];
  return concat(new Uint8Array([alg.length]), alg, new Uint8Array(sig));
}

/**
 * Verify a decoded AUTH payload against `octets` with the peer's public key.
 * Method 14 with the algorithms above; also the classic methods 1 (RSA PKCS#1
 * SHA-1 is refused as too weak), 9/10 (ECDSA SHA-256/384 with P1363 r‖s).
 * Returns a reason string on failure, null on success. Never throws.
 */
export function verifyAuth(pub: KeyObject, auth: Ikev2AuthPayload, octets: Uint8Array): string | null {
  try {
    if (auth.method === 9 || auth.method === 10) {
      const h = auth.method === 9 ? "sha256" : "sha384";
      return verify(h, octets, { key: pub, dsaEncoding: "ieee-p1363" }, auth.data) ? null : "signature does not verify";
    }
    if (auth.method !== 14) return `authentication method ${auth.methodName} not supported for signatures`;
    const alg = auth.signatureAlgorithm, sig = auth.signature;
    if (!alg || !sig) return "malformed AlgorithmIdentifier";
    const type = pub.asymmetricKeyType;
    let ok = false;
    switch (alg.oid) {
      case "1.3.101.112":
        if (type !== "ed25519") return "Ed25519 signature but the peer key is not Ed25519";
        ok = verify(null, octets, pub, sig);
        break;
      case "1.2.840.10045.4.3.2": case "1.2.840.10045.4.3.3": case "1.2.840.10045.4.3.4":
        if (type !== "ec") return "ECDSA signature but the peer key is not EC";
        ok = verify({ "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512" }[alg.oid]!, octets, { key: pub, dsaEncoding: "der" }, sig);
        break;
      case "1.2.840.113549.1.1.11": case "1.2.840.113549.1.1.12": case "1.2.840.113549.1.1.13":
        if (type !== "rsa") return "RSA signature but the peer key is not RSA";
        ok = verify({ "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512" }[alg.oid]!, octets, pub, sig);
        break;
      case "1.2.840.113549.1.1.10": {
        if (type !== "rsa" && type !== "rsa-pss") return "RSA-PSS signature but the peer key is not RSA";
        const p = alg.params ? Buffer.from(alg.params).toString("hex") : "";
        const hashHex = Object.keys(HASH_OIDS).find((h) => p.includes(h));
        const hash = hashHex ? HASH_OIDS[hashHex] : "sha1";
        const m = p.match(/a203020(1|2)([0-9a-f]{2,4})$/);
        const salt = m ? parseInt(m[2], 16) : hash === "sha1" ? 20 : { sha256: 32, sha384: 48, sha512: 64 }[hash]!;
        ok = verify(hash, octets, { key: pub, padding: 6, saltLength: salt }, sig);
        break;
      }
      default:
        return `signature algorithm ${alg.oidName} not supported`;
    }
    return ok ? null : "signature does not verify";
  } catch (e) {
    return `signature check failed: ${(e as Error).message}`;
  }
}

/** Revocation inputs for {@link checkPeerCertificate} (see lib/ike/pki/validate.ts). */
export interface CertCheckOptions {
  crls?: readonly Uint8Array[];
  revocation?: RevocationPolicy;
  fetchCrl?: CrlLookup;
  eku?: "warn" | "strict";
}

/**
 * Check the peer's end-entity certificate (DER) against trust anchors (PEM): either it equals
 * a configured certificate, or a valid path leads through the given intermediates to one of
 * the CA certificates (RFC 5280 path validation, RFC 4945 profile, CRLs: lib/ike/pki).
 * Returns its public key and parsed certificate, or a one-line reason; `pending` lists CRL
 * URIs being fetched (the caller retries later).
 */
export function checkPeerCertificate(
  der: Uint8Array, intermediates: Uint8Array[], anchors: readonly string[], now: number, opts: CertCheckOptions = {},
): { key: KeyObject; cert: Certificate; warnings: string[] } | { error: string; pending?: string[] } {
  const r = validateCertificate(der, { now, anchors: anchors.flatMap((a) => derBlocks(a)), intermediates, ...opts });
  return r.ok ? { key: r.key, cert: r.leaf, warnings: r.warnings } : { error: r.reason, pending: r.pending };
}

/** Does the certificate name this identity (subjectAltName of the ID's kind, or the subject DN RDN by RDN)? */
export function certMatchesIdentity(cert: Certificate, idType: number, data: Uint8Array): boolean {
  return certNamesIdentity(cert, idType, data);
}

/** CERTREQ data (RFC 7296 §3.7): SHA-1 hashes of the CA certificates' SubjectPublicKeyInfo, concatenated. */
export function certreqData(caPems: readonly string[]): Uint8Array {
  return concat(...caPems.map((p) => sha1(new Uint8Array(new X509Certificate(p).publicKey.export({ type: "spki", format: "der" })))));
}
