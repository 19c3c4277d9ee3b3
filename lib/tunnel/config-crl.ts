/**
 * `ike.crl` (CRL files, or folders whose files are CRLs; DER or PEM) and `ike.revocation`
 * (strongSwan's policy: `strict` fails unless a certificate is known not to be revoked,
 * `ifuri` fails when a CRL URI is given but no CRL can be had, `relaxed` fails only on a
 * revoked certificate), and `ike.eku` (`warn`: an end entity whose extended key usage has
 * no IKE purpose is accepted with a warning, as strongSwan 5.9 does; `strict`: refused,
 * RFC 4945 §5.1.3.12). Read at start-up: a file that is not a CRL is a config error.
 * @module
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseCrl } from "../ike/pki/crl.ts";
import type { RevocationPolicy } from "../ike/pki/validate.ts";
import { derBlocks } from "../ike/pki/x509.ts";
import { ConfigError } from "./config-util.ts";

const POLICIES: readonly RevocationPolicy[] = ["strict", "ifuri", "relaxed"];

function paths(v: unknown): string[] {
  if (v === undefined) return [];
  const list = typeof v === "string" ? [v] : Array.isArray(v) && v.every((x) => typeof x === "string") ? (v as string[]) : null;
  if (!list) throw new ConfigError("ike.crl", "must be a path or a list of paths");
  return list;
}

/** Parse `ike.crl` and `ike.revocation` (both optional). */
export function loadCrlSettings(crl: unknown, revocation: unknown, eku?: unknown): { crls?: Uint8Array[]; revocation?: RevocationPolicy; eku?: "warn" | "strict" } {
  const out: { crls?: Uint8Array[]; revocation?: RevocationPolicy; eku?: "warn" | "strict" } = {};
  if (eku !== undefined) {
    if (eku !== "warn" && eku !== "strict") throw new ConfigError("ike.eku", `"${String(eku)}": give warn or strict`);
    out.eku = eku;
  }
  if (revocation !== undefined) {
    if (!POLICIES.includes(revocation as RevocationPolicy)) throw new ConfigError("ike.revocation", `"${String(revocation)}": give strict, ifuri or relaxed`);
    out.revocation = revocation as RevocationPolicy;
  }
  const crls: Uint8Array[] = [];
  for (const p of paths(crl)) {
    let files: string[];
    try {
      files = statSync(p).isDirectory() ? readdirSync(p).sort().map((f) => join(p, f)).filter((f) => statSync(f).isFile()) : [p];
    } catch (e) {
      throw new ConfigError("ike.crl", `cannot read ${p}: ${(e as Error).message}`);
    }
    for (const f of files) {
      const blocks = derBlocks(new Uint8Array(readFileSync(f)));
      if (!blocks.length || blocks.some((b) => parseCrl(b) === null)) throw new ConfigError("ike.crl", `${f} is not a CRL (DER or PEM "X509 CRL")`);
      crls.push(...blocks);
    }
  }
  if (crls.length) out.crls = crls;
  return out;
}
