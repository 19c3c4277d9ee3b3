/**
 * Certificate path validation (lib/ike/pki) on a PKI made with strongSwan's `pki`: an
 * intermediate CA, an expired certificate, a wrong extended key usage, a path-length
 * violation, a revoked certificate (CRL file and CRL by URI), a SAN mismatch, an unknown
 * critical extension. The interop test (test/interop/pki.test.ts) checks the same cases
 * against charon's own verdicts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { parseCrl } from "../../../lib/ike/pki/crl.ts";
import { dnEqual, parseDnText } from "../../../lib/ike/pki/dn.ts";
import { certNamesIdentity } from "../../../lib/ike/pki/names.ts";
import { validateCertificate } from "../../../lib/ike/pki/validate.ts";
import { EKU, parseCertificate } from "../../../lib/ike/pki/x509.ts";
import { encodeDn } from "../../../lib/ike/v2/sa/identity.ts";
import { havePki, makePki, type TestPki } from "../../helpers/pki.ts";

const ok = havePki();
if (!ok && process.env.CI === "true") throw new Error("pki (strongswan-pki) is required under CI=true");
const d = ok ? describe : describe.skip;

let dir = "";
let P: TestPki;
let NOW = 0;
const ENC = new TextEncoder();

beforeAll(() => {
  if (!ok) return;
  dir = mkdtempSync(join(tmpdir(), "vk-pki-"));
  P = makePki(dir);
  P.issue("moon", "inter", "C=CH, O=vpnkit test, CN=moon.vk.test", ["--san", "moon.vk.test", "--san", "192.0.2.1", "--flag", "serverAuth"]);
  P.issue("old", "inter", "C=CH, O=vpnkit test, CN=old.vk.test", ["--san", "old.vk.test", "--not-before", "01.01.20 00:00:00", "--not-after", "01.01.21 00:00:00"]);
  P.issue("ocsp", "inter", "C=CH, O=vpnkit test, CN=ocsp.vk.test", ["--san", "ocsp.vk.test", "--flag", "ocspSigning"]);
  P.issue("inter2", "inter", "C=CH, O=vpnkit test, CN=vk Sub CA", ["--ca"]);
  P.issue("deep", "inter2", "C=CH, O=vpnkit test, CN=deep.vk.test", ["--san", "deep.vk.test"]);
  P.issue("cdp", "inter", "C=CH, O=vpnkit test, CN=cdp.vk.test", ["--san", "cdp.vk.test", "--crl", "http://192.0.2.9/inter.crl"]);
  P.issue("crit", "inter", "C=CH, O=vpnkit test, CN=crit.vk.test", ["--san", "crit.vk.test", "--critical", "1.3.6.1.4.1.99999.1"]);
  P.issue("sun", "root", "C=CH, O=vpnkit test, CN=sun.vk.test", ["--san", "sun.vk.test", "--flag", "clientAuth"]);
  NOW = Date.now() + 2000; // notBefore is the issuing second
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const viaInter = (name: string, extra: Record<string, unknown> = {}) =>
  validateCertificate(P.der(name), { now: NOW, anchors: [P.der("root")], intermediates: [P.der("inter")], ...extra });

d("path validation", () => {
  test("an end entity through an intermediate CA to the root: accepted, chain of 3", () => {
    const r = viaInter("moon");
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.chain.length).toBe(3);
    expect(validateCertificate(P.der("sun"), { now: NOW, anchors: [P.der("root")] }).ok).toBe(true);
  });
  test("the intermediate not sent: no trusted CA for its issuer", () => {
    const r = validateCertificate(P.der("moon"), { now: NOW, anchors: [P.der("root")] });
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining('no trusted CA certificate for issuer "C=CH, O=vpnkit test, CN=vk Intermediate CA"') });
  });
  test("an expired certificate is refused with its end date", () => {
    expect(viaInter("old")).toMatchObject({ ok: false, reason: expect.stringContaining("expired on 2021-01-01") });
  });
  test("a wrong extended key usage (OCSPSigning only): accepted with a warning as strongSwan does, refused with eku = strict", () => {
    expect(viaInter("ocsp")).toMatchObject({ ok: true, warnings: [expect.stringContaining("extended key usage OCSPSigning")] });
    expect(viaInter("ocsp", { eku: "strict" })).toMatchObject({ ok: false, reason: expect.stringContaining("extended key usage OCSPSigning") });
    expect(viaInter("moon", { eku: "strict" })).toMatchObject({ ok: true, warnings: [] });
    expect(parseCertificate(P.der("moon"))!.extKeyUsage).toEqual([EKU.serverAuth]);
  });
  test("a path-length violation (intermediate pathlen 0 above another CA) is refused", () => {
    const r = validateCertificate(P.der("deep"), { now: NOW, anchors: [P.der("root")], intermediates: [P.der("inter2"), P.der("inter")] });
    expect(r).toMatchObject({ ok: false, reason: expect.stringContaining("path length constraint") });
  });
  test("an unknown critical extension is refused", () => {
    expect(viaInter("crit")).toMatchObject({ ok: false, reason: expect.stringContaining("unsupported critical extension 1.3.6.1.4.1.99999.1") });
  });
  test("a pinned certificate is its own anchor", () => {
    expect(validateCertificate(P.der("moon"), { now: NOW, anchors: [P.der("moon")] }).ok).toBe(true);
  });
});

d("revocation", () => {
  test("a CRL file revoking the certificate: refused under every policy", () => {
    const crl = P.crl("inter", ["moon"], join(dir, "inter.crl"));
    for (const revocation of ["relaxed", "ifuri", "strict"]) {
      expect(viaInter("moon", { crls: [crl], revocation })).toMatchObject({ ok: false, reason: expect.stringContaining("is revoked") });
    }
    expect(parseCrl(crl)!.revoked.has(parseCertificate(P.der("moon"))!.serial)).toBe(true);
  });
  test("a CRL that does not list it: accepted even under strict", () => {
    const inter = P.crl("inter", ["old"], join(dir, "inter-other.crl"));
    const root = P.crl("root", [], join(dir, "root.crl"));
    expect(viaInter("moon", { crls: [inter, root], revocation: "strict" }).ok).toBe(true);
  });
  test("a CRL signed by the wrong CA is ignored", () => {
    const crl = P.crl("root", ["moon"], join(dir, "wrong.crl"));
    expect(viaInter("moon", { crls: [crl] }).ok).toBe(true);
  });
  test("no CRL: relaxed accepts, strict refuses, ifuri refuses only a certificate with a CRL URI", () => {
    expect(viaInter("moon", { revocation: "relaxed" }).ok).toBe(true);
    expect(viaInter("moon", { revocation: "strict" })).toMatchObject({ ok: false, reason: expect.stringContaining("revocation = strict") });
    expect(viaInter("moon", { revocation: "ifuri" }).ok).toBe(true);
    expect(viaInter("cdp", { revocation: "ifuri", fetchCrl: () => "unreachable" })).toMatchObject({ ok: false, reason: expect.stringContaining("could not be fetched") });
    expect(viaInter("cdp", { revocation: "relaxed", fetchCrl: () => "unreachable" }).ok).toBe(true);
  });
  test("a CRL by URI: pending while fetched, then revoked", () => {
    const crl = P.crl("inter", ["cdp"], join(dir, "cdp.crl"));
    const asked: string[] = [];
    const pend = viaInter("cdp", { fetchCrl: (u: string) => (asked.push(u), "pending") });
    expect(pend).toMatchObject({ ok: false, pending: ["http://192.0.2.9/inter.crl"] });
    expect(viaInter("cdp", { fetchCrl: () => crl })).toMatchObject({ ok: false, reason: expect.stringContaining("is revoked") });
  });
  test("a stale CRL (nextUpdate passed): strict and ifuri refuse, relaxed accepts", () => {
    const crl = P.crl("inter", [], join(dir, "stale.crl"), ["--this-update", "01.01.20 00:00:00", "--next-update", "02.01.20 00:00:00"]);
    expect(viaInter("moon", { crls: [crl], revocation: "strict" })).toMatchObject({ ok: false, reason: expect.stringContaining("stale") });
    expect(viaInter("moon", { crls: [crl], revocation: "ifuri" })).toMatchObject({ ok: false });
    expect(viaInter("moon", { crls: [crl], revocation: "relaxed" }).ok).toBe(true);
  });
});

d("identities", () => {
  test("subjectAltName: FQDN and IP match, another name does not (SAN mismatch)", () => {
    const c = parseCertificate(P.der("moon"))!;
    expect(certNamesIdentity(c, 2, ENC.encode("moon.vk.test"))).toBe(true);
    expect(certNamesIdentity(c, 2, ENC.encode("MOON.vk.test"))).toBe(true);
    expect(certNamesIdentity(c, 1, new Uint8Array([192, 0, 2, 1]))).toBe(true);
    expect(certNamesIdentity(c, 2, ENC.encode("sun.vk.test"))).toBe(false);
    expect(certNamesIdentity(c, 1, new Uint8Array([192, 0, 2, 2]))).toBe(false);
    expect(certNamesIdentity(c, 3, ENC.encode("moon@vk.test"))).toBe(false);
  });
  test("a DN identity matches the subject RDN by RDN, not as a string", () => {
    const c = parseCertificate(P.der("moon"))!;
    expect(certNamesIdentity(c, 9, encodeDn("C=CH, O=vpnkit test, CN=moon.vk.test"))).toBe(true);
    expect(certNamesIdentity(c, 9, encodeDn("c=ch,o=VPNKIT  test,cn=Moon.vk.test"))).toBe(true);
    expect(certNamesIdentity(c, 9, encodeDn("C=CH, CN=moon.vk.test, O=vpnkit test"))).toBe(false);
    expect(certNamesIdentity(c, 9, encodeDn("C=CH, O=vpnkit test"))).toBe(false);
  });
});

describe("distinguished names", () => {
  test("per-RDN comparison: case and white space do not count, order and attribute types do", () => {
    const a = parseDnText("C=CH, O=strongSwan, CN=moon")!;
    expect(dnEqual(a, parseDnText("c=ch; o=STRONGSWAN; cn=  moon ")!)).toBe(true);
    expect(dnEqual(a, parseDnText("C=CH, CN=moon, O=strongSwan")!)).toBe(false);
    expect(dnEqual(a, parseDnText("C=CH, OU=strongSwan, CN=moon")!)).toBe(false);
    expect(dnEqual(parseDnText("C=CH, O=strongSwan, CN=*")!, a, true)).toBe(true);
    expect(dnEqual(parseDnText("C=CH, O=strongSwan, CN=*")!, a, false)).toBe(false);
    expect(dnEqual(parseDnText("CN=a+OU=b")!, parseDnText("OU=b+CN=a")!)).toBe(true);
    expect(parseDnText('CN="a, b", O=x')![0][0].value).toBe("a, b");
    expect(parseDnText("nonsense")).toBeNull();
  });
});

d("decoders never throw", () => {
  test("parseCertificate / parseCrl / validateCertificate on mutated and truncated DER", () => {
    const certs = [P.der("moon"), P.der("inter"), P.der("cdp")];
    const crl = P.crl("inter", ["moon"], join(dir, "fuzz.crl"));
    fc.assert(fc.property(fc.integer({ min: 0, max: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(), (which, flips, cut) => {
      const src = which === 3 ? crl : certs[which];
      const b = src.slice(0, src.length - (cut % 8 === 0 ? cut % src.length : 0));
      for (const [i, v] of flips) if (b.length) b[i % b.length] = v;
      parseCertificate(b);
      parseCrl(b);
      validateCertificate(b, { now: NOW, anchors: [P.der("root")], intermediates: [b, P.der("inter")], crls: [b], fetchCrl: () => b, revocation: "strict" });
    }), { numRuns: 400 });
  });
});
