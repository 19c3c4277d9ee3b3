/**
 * Known IKE Vendor ID payloads (IKEv1 and IKEv2), as a data table.
 *
 * Many vendor IDs are MD5 hashes of a string; some are a fixed prefix
 * followed by version bytes. {@link knownVendorId} returns the name or
 * undefined.
 * @module
 */
import { toHex } from "../core/bytes.ts";

/** Exact-match vendor IDs: hex → name. Extended by the IKEv1 work. */
const EXACT: Record<string, string> = {
  "4a131c81070358455c5728f20e95452f": "RFC 3947 (NAT-T)",
  "afcad71368a1f1c96b8696fc77570100": "draft-ietf-ipsec-dpd (RFC 3706 DPD)",
  "882fe56d6fd20dbc2251613b2ebe5beb": "strongSwan",
};

/** Prefix-match vendor IDs: hex prefix → name. */
const PREFIX: [string, string][] = [];

/** Name of a known vendor ID, or undefined. */
export function knownVendorId(vid: Uint8Array): string | undefined {
  const h = toHex(vid);
  const e = EXACT[h];
  if (e !== undefined) return e;
  for (const [p, name] of PREFIX) if (h.startsWith(p)) return name;
  return undefined;
}
