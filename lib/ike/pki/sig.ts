/**
 * Signature checks over DER structures (certificates, CRLs): map the AlgorithmIdentifier
 * to node:crypto's verify. RSA PKCS#1 v1.5, RSASSA-PSS (with its parameters), ECDSA and
 * EdDSA. Never throws: an unknown algorithm or a bad key is `false`.
 * @module
 */
import { verify, type KeyObject } from "node:crypto";
import { oidText, readTlv, type Tlv } from "../v2/der.ts";

const HASH_BY_OID: Record<string, string | null> = {
  "1.2.840.113549.1.1.5": "sha1", "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
  "1.2.840.10045.4.1": "sha1", "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
  "1.3.101.112": null, "1.3.101.113": null,
};
const DIGEST_OIDS: Record<string, string> = {
  "1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384", "2.16.840.1.101.3.4.2.3": "sha512",
};
const PSS = "1.2.840.113549.1.1.10";

/** Verify `sig` over `data` with the algorithm `alg` (an AlgorithmIdentifier TLV inside `b`). */
export function verifySignature(b: Uint8Array, alg: Tlv, data: Uint8Array, sig: Uint8Array, key: KeyObject): boolean {
  try {
    const oidT = readTlv(b, alg.start, alg.end);
    const oid = oidT && oidT.tag === 0x06 ? oidText(b, oidT.start, oidT.end) : null;
    if (!oid) return false;
    if (oid === PSS) {
      let hash = "sha1";
      let salt = 20;
      const params = readTlv(b, oidT!.end, alg.end);
      if (params && params.tag === 0x30) {
        for (let p = params.start; p < params.end;) {
          const f = readTlv(b, p, params.end);
          if (!f) return false;
          const inner = readTlv(b, f.start, f.end);
          if (f.tag === 0xa0 && inner) {
            const h = readTlv(b, inner.start, inner.end);
            const o = h ? oidText(b, h.start, h.end) : null;
            if (!o || !DIGEST_OIDS[o]) return false;
            hash = DIGEST_OIDS[o];
          } else if (f.tag === 0xa2 && inner && inner.tag === 0x02 && inner.end - inner.start <= 2) {
            salt = 0;
            for (let i = inner.start; i < inner.end; i++) salt = salt * 256 + b[i];
          }
          p = f.end;
        }
      }
      return verify(hash, data, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: salt }, sig);
    }
    if (!(oid in HASH_BY_OID)) return false;
    return verify(HASH_BY_OID[oid], data, key, sig);
  } catch {
    return false;
  }
}
