/**
 * Certificate revocation lists (RFC 5280 §5): parse, check the issuer's signature, look a
 * serial number up. Never throws on input: `parseCrl` returns null when the DER is not a
 * CRL. At most {@link MAX_CRL_ENTRIES} revoked entries are read (a larger list is refused,
 * so an attacker-supplied CRL cannot cost unbounded memory).
 * @module
 */
import type { KeyObject } from "node:crypto";
import { toHex } from "../../core/bytes.ts";
import { oidText, readTlv, type Tlv } from "../v2/der.ts";
import { parseName, type Rdn } from "./dn.ts";
import { verifySignature } from "./sig.ts";
import { children, derTime } from "./x509.ts";

export const MAX_CRL_ENTRIES = 1_000_000;

export interface Crl {
  der: Uint8Array;
  tbs: Uint8Array;
  issuer: Rdn[];
  thisUpdate: number;
  /** NaN when absent. */
  nextUpdate: number;
  /** Revoked serial numbers (lower-case hex, leading zero octets removed) → revocation time. */
  revoked: Map<string, number>;
  /** authorityKeyIdentifier, when present. */
  authorityKeyId?: string;
  sigAlg: Tlv;
  signature: Uint8Array;
}

function serialHex(b: Uint8Array, t: Tlv): string {
  let s = t.start;
  while (s < t.end - 1 && b[s] === 0) s++;
  return toHex(b.subarray(s, t.end));
}

/** Parse a DER CRL; null when malformed. */
export function parseCrl(der: Uint8Array): Crl | null {
  const b = der;
  const top = readTlv(b, 0, b.length);
  const parts = top && top.tag === 0x30 ? children(b, top, 3) : null;
  if (!parts || parts.length !== 3 || parts[0].tag !== 0x30 || parts[1].tag !== 0x30 || parts[2].tag !== 0x03) return null;
  const f = children(b, parts[0], 7);
  if (!f) return null;
  let i = f[0]?.tag === 0x02 ? 1 : 0;
  const issuerT = f[i + 1];
  const thisT = f[i + 2];
  if (!issuerT || !thisT) return null;
  const issuer = parseName(b, issuerT.offset, issuerT.end);
  const thisUpdate = derTime(b, thisT);
  if (!issuer || Number.isNaN(thisUpdate)) return null;
  i += 3;
  let nextUpdate = NaN;
  if (f[i] && (f[i].tag === 0x17 || f[i].tag === 0x18)) nextUpdate = derTime(b, f[i++]);
  const revoked = new Map<string, number>();
  if (f[i] && f[i].tag === 0x30) {
    const list = children(b, f[i++], MAX_CRL_ENTRIES);
    if (!list) return null;
    for (const e of list) {
      const ef = e.tag === 0x30 ? children(b, e, 3) : null;
      if (!ef || ef.length < 2 || ef[0].tag !== 0x02) return null;
      revoked.set(serialHex(b, ef[0]), derTime(b, ef[1]));
    }
  }
  let authorityKeyId: string | undefined;
  if (f[i] && f[i].tag === 0xa0) {
    const seq = readTlv(b, f[i].start, f[i].end);
    for (const ext of (seq ? children(b, seq, 32) : null) ?? []) {
      const ep = children(b, ext, 3);
      if (!ep || ep[0]?.tag !== 0x06 || oidText(b, ep[0].start, ep[0].end) !== "2.5.29.35") continue;
      const v = ep[ep.length - 1];
      const aki = v.tag === 0x04 ? readTlv(b, v.start, v.end) : null;
      const kid = aki ? (children(b, aki, 3) ?? []).find((x) => x.tag === 0x80) : undefined;
      if (kid) authorityKeyId = toHex(b.subarray(kid.start, kid.end));
    }
  }
  const sig = parts[2];
  if (sig.end - sig.start < 1 || b[sig.start] !== 0) return null;
  return {
    der: b, tbs: b.subarray(parts[0].offset, parts[0].end), issuer, thisUpdate, nextUpdate, revoked, authorityKeyId,
    sigAlg: parts[1], signature: b.subarray(sig.start + 1, sig.end),
  };
}

/** Does the CRL's signature verify with `issuerKey`? */
export function crlSignedBy(crl: Crl, issuerKey: KeyObject): boolean {
  return verifySignature(crl.der, crl.sigAlg, crl.tbs, crl.signature, issuerKey);
}
