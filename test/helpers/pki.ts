/**
 * Test PKI made with strongSwan's `pki` tool (Debian package strongswan-pki): a root CA, an
 * intermediate CA, end-entity certificates for each validation case of issue #15, and
 * CRLs. ECDSA P-256 keys keep it fast. Files are written to `dir`; names are returned.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function havePki(): boolean {
  try {
    execFileSync("pki", ["--help"], { stdio: "ignore" });
    return true;
  } catch (e) {
    return (e as { status?: number }).status !== undefined && existsSync("/usr/bin/pki");
  }
}

function pki(args: string[], input?: Uint8Array): Buffer {
  return execFileSync("pki", args, { input, stdio: ["pipe", "pipe", "ignore"] });
}

export interface TestPki {
  dir: string;
  /** Path of `name`.pem / `name`.key.pem in dir. */
  cert(name: string): string;
  key(name: string): string;
  der(name: string): Uint8Array;
  /** Issue `name` signed by `issuer` (extra pki --issue flags in `args`). */
  issue(name: string, issuer: string, dn: string, args?: string[]): void;
  /** A CRL by `issuer` revoking `revoked` certificates, written to `file` (DER). */
  crl(issuer: string, revoked: string[], file: string, args?: string[]): Uint8Array;
}

/** Root "vk Root CA" and intermediate "vk Intermediate CA" (pathlen 0) in `dir`. */
export function makePki(dir: string): TestPki {
  const cert = (n: string) => join(dir, `${n}.pem`);
  const key = (n: string) => join(dir, `${n}.key.pem`);
  const gen = (n: string) => writeFileSync(key(n), pki(["--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem"]));
  const pub = (n: string) => pki(["--pub", "--in", key(n), "--outform", "der"]);
  const t: TestPki = {
    dir, cert, key,
    der: (n) => {
      const pem = readFileSync(cert(n), "latin1");
      return new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64"));
    },
    issue(name, issuer, dn, args = []) {
      gen(name);
      writeFileSync(cert(name), pki(["--issue", "--cacert", cert(issuer), "--cakey", key(issuer), "--dn", dn, ...args, "--outform", "pem"], pub(name)));
    },
    crl(issuer, revoked, file, args = []) {
      const a = ["--signcrl", "--cacert", cert(issuer), "--cakey", key(issuer), ...args];
      for (const r of revoked) a.push("--reason", "key-compromise", "--cert", cert(r));
      const der = pki([...a, "--outform", "der"]);
      writeFileSync(file, der);
      return new Uint8Array(der);
    },
  };
  gen("root");
  writeFileSync(cert("root"), pki(["--self", "--ca", "--in", key("root"), "--dn", "C=CH, O=vpnkit test, CN=vk Root CA", "--outform", "pem"]));
  t.issue("inter", "root", "C=CH, O=vpnkit test, CN=vk Intermediate CA", ["--ca", "--pathlen", "0", "--flag", "crlSign"]);
  return t;
}
