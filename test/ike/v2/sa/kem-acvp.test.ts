/**
 * ML-KEM-768 (what lib/ike/v2/sa/kem.ts uses for RFC 9370 additional key exchanges) against
 * NIST's own ACVP-Server FIPS 203 vectors, copied byte-exact into fixtures/mlkem/acvp-ml-kem-768.json
 * (provenance: fixtures/mlkem/README.md).
 *
 * - encapsulation (tgId 2, tcIds 26-28): encapsulate(ek, m) gives exactly c and k, through
 *   @noble/post-quantum and through vpnkit's respondKe (its Rng supplies m);
 * - decapsulation (tgId 5, tcIds 86, 87, 89, 91; 89 and 91 have a modified ciphertext, so
 *   they check FIPS 203 implicit rejection): decapsulate(c, dk) gives exactly k;
 * - keyGen (tgId 2, tcIds 26-28): the stored copy of NIST's keyGen file is in the FIPS 203
 *   *initial public draft* form (ρ‖σ = G(d), no domain-separation byte k), which final FIPS 203
 *   (G(d‖k), what noble and OpenSSL implement) does not reproduce. The exact-match expectation is
 *   kept as `test.failing` (it turns red if the fixture is ever replaced by final-form vectors,
 *   so the marker must then go); a passing test shows the cause.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sha3_256, sha3_512 } from "@noble/hashes/sha3.js";
import { ml_kem768 } from "@noble/post-quantum/ml-kem.js";
import { respondKe } from "../../../../lib/ike/v2/sa/kem.ts";

interface KeyGen { tgId: number; tcId: number; z: string; d: string; ek: string; dk: string }
interface Encap { tgId: number; tcId: number; ek: string; m: string; c: string; k: string; reason: string }
interface Decap { tgId: number; tcId: number; c: string; k: string; reason: string }
const doc = JSON.parse(readFileSync(join(import.meta.dir, "../../../../fixtures/mlkem/acvp-ml-kem-768.json"), "utf8")) as {
  source: string;
  commit: string;
  parameterSet: string;
  keyGen: { tests: KeyGen[] };
  encapsulation: { tests: Encap[] };
  decapsulation: { dk: string; tests: Decap[] };
};
const h = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const HEX = (b: Uint8Array) => Buffer.from(b).toString("hex").toUpperCase();

/** Rng handing out exactly the given bytes once (the test fails if vpnkit asks for anything else). */
function replay(bytes: Uint8Array) {
  let used = false;
  return (n: number) => {
    if (used || n !== bytes.length) throw new Error(`replay: wanted ${n} bytes`);
    used = true;
    return bytes.slice();
  };
}

test("the fixture is NIST ACVP ML-KEM-768 with the expected case counts and lengths", () => {
  expect(doc.source).toContain("NIST ACVP-Server FIPS 203");
  expect(doc.commit).toMatch(/^[0-9a-f]{40}$/);
  expect(doc.parameterSet).toBe("ML-KEM-768");
  expect(doc.keyGen.tests.map((t) => t.tcId)).toEqual([26, 27, 28]);
  expect(doc.encapsulation.tests.map((t) => t.tcId)).toEqual([26, 27, 28]);
  expect(doc.decapsulation.tests.map((t) => t.tcId)).toEqual([86, 87, 89, 91]);
  expect(doc.decapsulation.tests.filter((t) => t.reason === "modify ciphertext").length).toBe(2);
  expect(h(doc.decapsulation.dk).length).toBe(2400);
  for (const t of doc.keyGen.tests) expect([t.d, t.z, t.ek, t.dk].map((s) => h(s).length)).toEqual([32, 32, 1184, 2400]);
  for (const t of doc.encapsulation.tests) expect([t.ek, t.m, t.c, t.k].map((s) => h(s).length)).toEqual([1184, 32, 1088, 32]);
  for (const t of doc.decapsulation.tests) expect([t.c, t.k].map((s) => h(s).length)).toEqual([1088, 32]);
});

describe("encapsulation (ACVP tgId 2)", () => {
  for (const t of doc.encapsulation.tests) {
    test(`tcId ${t.tcId}: noble encapsulate(ek, m) gives exactly c and k`, () => {
      const { cipherText, sharedSecret } = ml_kem768.encapsulate(h(t.ek), h(t.m));
      expect(HEX(cipherText)).toBe(t.c);
      expect(HEX(sharedSecret)).toBe(t.k);
    });
    test(`tcId ${t.tcId}: vpnkit respondKe(36, ek) with m from its Rng gives exactly c and k`, () => {
      const r = respondKe(36, h(t.ek), replay(h(t.m)));
      expect(r).not.toBeNull();
      expect(HEX(r!.publicValue)).toBe(t.c);
      expect(HEX(r!.shared)).toBe(t.k);
    });
  }
});

describe("decapsulation (ACVP tgId 5, incl. implicit rejection of modified ciphertexts)", () => {
  const dk = h(doc.decapsulation.dk);
  for (const t of doc.decapsulation.tests) {
    test(`tcId ${t.tcId} (${t.reason}): decapsulate(c, dk) gives exactly k`, () => {
      expect(HEX(ml_kem768.decapsulate(h(t.c), dk))).toBe(t.k);
    });
  }
});

describe("keyGen (ACVP tgId 2): stored NIST file is FIPS 203 ipd form", () => {
  for (const t of doc.keyGen.tests) {
    test(`tcId ${t.tcId}: the NIST dk is well formed (dk_pke ‖ ek ‖ H(ek) ‖ z)`, () => {
      const dk = h(t.dk);
      expect(HEX(dk.subarray(1152, 2336))).toBe(t.ek);
      expect(HEX(dk.subarray(2336, 2368))).toBe(HEX(sha3_256(h(t.ek))));
      expect(HEX(dk.subarray(2368))).toBe(t.z);
    });
    test(`tcId ${t.tcId}: NIST's ρ is G(d) (draft), noble's is G(d‖3) (final FIPS 203 §6.1)`, () => {
      const rhoNist = t.ek.slice(-64);
      expect(HEX(sha3_512(h(t.d)).subarray(0, 32))).toBe(rhoNist);
      const { publicKey } = ml_kem768.keygen(h(t.d + t.z));
      expect(HEX(publicKey.subarray(1152))).toBe(HEX(sha3_512(h(t.d + "03")).subarray(0, 32)));
    });
    // KNOWN FAILURE (reported, vector not changed): draft-form vector vs final-form implementation.
    test.failing(`tcId ${t.tcId}: EXPECTED TO FAIL (draft-form vector): noble keygen(d‖z) gives exactly ek and dk`, () => {
      const { publicKey, secretKey } = ml_kem768.keygen(h(t.d + t.z));
      expect(HEX(publicKey)).toBe(t.ek);
      expect(HEX(secretKey)).toBe(t.dk);
    });
  }
});
