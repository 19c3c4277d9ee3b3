/**
 * RFC 7427 signature authentication between two in-memory IkeSa instances:
 * Ed25519, ECDSA P-256/P-384, RSA-PSS, with raw trusted public keys and with
 * X.509 certificates from a throw-away CA (made with strongSwan's pki when present).
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { decodeIkev2Payloads } from "../../../../lib/ike/v2/message.ts";
import { signAuth, verifyAuth } from "../../../../lib/ike/v2/sa/auth-sig.ts";
import { decodeAuthPayload } from "../../../../lib/ike/v2/payloads/auth.ts";
import { encodePayload } from "../../../../lib/ike/v2/encode/payloads.ts";
import { baseCfg, Loop } from "./harness.ts";

function expectPairOk(l: Loop): void {
  const ci = l.of("i", "install-child")[0].child, cr = l.of("r", "install-child")[0].child;
  expect([ci.spiIn, ci.spiOut]).toEqual([cr.spiOut, cr.spiIn]);
  expect(Buffer.from(ci.keyIn).equals(Buffer.from(cr.keyOut))).toBe(true);
}

const pem = (k: KeyObject, t: "private" | "public") => (t === "private" ? k.export({ type: "pkcs8", format: "pem" }) : k.export({ type: "spki", format: "pem" })).toString();

function pair(kind: string): { priv: string; pub: string } {
  const k = kind === "ed25519" ? generateKeyPairSync("ed25519")
    : kind === "p256" ? generateKeyPairSync("ec", { namedCurve: "P-256" })
    : kind === "p384" ? generateKeyPairSync("ec", { namedCurve: "P-384" })
    : generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { priv: pem(k.privateKey, "private"), pub: pem(k.publicKey, "public") };
}

describe("RFC 7427 signatures with trusted public keys", () => {
  const oids: Record<string, string> = { ed25519: "Ed25519", p256: "ecdsa-with-SHA256", p384: "ecdsa-with-SHA384", rsa: "RSASSA-PSS" };
  for (const kind of ["ed25519", "p256", "p384", "rsa"]) {
    test(kind, () => {
      const a = pair(kind), b = pair(kind);
      const l = new Loop(
        baseCfg("i", { psk: undefined, privateKey: a.priv, peerPublicKey: b.pub }),
        baseCfg("r", { psk: undefined, privateKey: b.priv, peerPublicKey: a.pub }),
      );
      l.run();
      expect(l.of("r", "failed")).toEqual([]);
      expect(l.of("i", "failed")).toEqual([]);
      expect(l.of("i", "established").length).toBe(1);
      expect(l.of("r", "install-child").length).toBe(1);
      // the algorithm really is the one we expect: sign/verify round trip through the decoder
      const octets = new Uint8Array([1, 2, 3]);
      const enc = encodePayload({ type: "auth", method: 14, data: signAuth((require("node:crypto") as typeof import("node:crypto")).createPrivateKey(a.priv), octets) }, 0);
      const dec = decodeAuthPayload(enc, 0, enc.length, [])!;
      expect(dec.signatureAlgorithm?.oidName).toBe(oids[kind]);
      expect(verifyAuth((require("node:crypto") as typeof import("node:crypto")).createPublicKey(a.pub), dec, octets)).toBeNull();
      expect(verifyAuth((require("node:crypto") as typeof import("node:crypto")).createPublicKey(a.pub), dec, new Uint8Array([1, 2, 4]))).toBe("signature does not verify");
      void decodeIkev2Payloads;
    });
  }

  test("IKE fragmentation (RFC 7383): RSA-signed IKE_AUTH split into SKF fragments; a lost fragment is recovered", () => {
    const a = pair("rsa"), b = pair("rsa");
    const l = new Loop(
      baseCfg("i", { psk: undefined, privateKey: a.priv, peerPublicKey: b.pub, fragmentSize: 300 }),
      baseCfg("r", { psk: undefined, privateKey: b.priv, peerPublicKey: a.pub, fragmentSize: 300 }),
    );
    let dropped = false;
    // lose the second fragment of the IKE_AUTH response once
    l.drop = (w) => {
      const skf = w.data[16] === 53 && w.data[18] === 35 && (w.data[19] & 0x20) !== 0 && w.data[32] === 0 && w.data[33] === 2;
      if (skf && !dropped) { dropped = true; return true; }
      return false;
    };
    l.run();
    expect(dropped).toBe(true);
    expect(l.of("i", "established").length).toBe(0);
    l.tick(4000);
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    expect(l.of("r", "failed")).toEqual([]);
    expect(l.of("i", "established").length).toBe(1);
    expectPairOk(l);
    const frags = l.sent.filter((w) => w.data[16] === 53);
    expect(frags.length).toBeGreaterThan(4);
    for (const w of frags) expect(w.data.length).toBeLessThanOrEqual(300 - 28); // 300 minus IPv4 and UDP headers
  });

  test("initiator signs, responder uses a PSK", () => {
    const a = pair("ed25519");
    const l = new Loop(baseCfg("i", { privateKey: a.priv }), baseCfg("r", { peerPublicKey: a.pub }));
    l.run();
    expect(l.of("i", "established").length).toBe(1);
    expect(l.of("r", "established").length).toBe(1);
  });

  test("wrong trusted key → AUTHENTICATION_FAILED with a clear reason", () => {
    const a = pair("p256"), b = pair("p256"), c = pair("p256");
    const l = new Loop(
      baseCfg("i", { psk: undefined, privateKey: a.priv, peerPublicKey: b.pub }),
      baseCfg("r", { psk: undefined, privateKey: b.priv, peerPublicKey: c.pub }),
    );
    l.run();
    expect(l.of("r", "failed")[0]).toMatchObject({ notify: "AUTHENTICATION_FAILED" });
    expect(l.of("r", "failed")[0].reason).toContain("signature does not verify");
    expect(l.of("i", "failed")[0]).toMatchObject({ notify: "AUTHENTICATION_FAILED" });
  });
});

const PKI = existsSync("/usr/bin/pki") ? "/usr/bin/pki" : "";
const ptest = PKI ? test : test.skip;
if (!PKI) console.warn("skipping certificate tests: strongSwan pki not installed");

describe("X.509 certificates (CA made with strongSwan pki)", () => {
  ptest("CA-signed certificates, IDs as DN and as SAN; an unknown CA is refused", () => {
    const d = mkdtempSync(`${tmpdir()}/vi4pki-`);
    try {
      const run = (args: string, out: string) => {
        const r = spawnSync("sh", ["-c", `${PKI} ${args} > ${d}/${out}`], { encoding: "utf8" });
        expect(r.status).toBe(0);
      };
      run("--gen --type ecdsa --size 256 --outform pem", "ca.key");
      run(`--self --ca --lifetime 30 --in ${d}/ca.key --type ecdsa --dn "C=XX, O=vpnkit, CN=test CA" --outform pem`, "ca.crt");
      run("--gen --type ecdsa --size 256 --outform pem", "other.key");
      run(`--self --ca --lifetime 30 --in ${d}/other.key --type ecdsa --dn "C=XX, O=vpnkit, CN=other CA" --outform pem`, "other.crt");
      for (const [n, type, size] of [["i", "ed25519", ""], ["r", "ecdsa", "--size 384"]]) {
        run(`--gen --type ${type} ${size} --outform pem`, `${n}.key`);
        spawnSync("sh", ["-c", `${PKI} --pub --in ${d}/${n}.key --type ${type === "ed25519" ? "priv" : type} | ${PKI} --issue --lifetime 30 --cacert ${d}/ca.crt --cakey ${d}/ca.key --dn "C=XX, O=vpnkit, CN=${n}.example.org" --san ${n}.example.org --outform pem > ${d}/${n}.crt`]);
        expect(readFileSync(`${d}/${n}.crt`, "utf8")).toContain("BEGIN CERTIFICATE");
      }
      const f = (n: string) => readFileSync(`${d}/${n}`, "utf8");
      const side = (s: "i" | "r", id: string, peer: string, ca = "ca.crt") => baseCfg(s, {
        psk: undefined, localId: id, remoteId: peer, privateKey: f(`${s}.key`), certificate: f(`${s}.crt`), peerCa: [f(ca)],
      });
      // FQDN identities (SAN)
      let l = new Loop(side("i", "i.example.org", "r.example.org"), side("r", "r.example.org", "i.example.org"));
      l.run();
      expect(l.of("r", "failed")).toEqual([]);
      expect(l.of("i", "failed")).toEqual([]);
      expect(l.of("i", "established").length).toBe(1);
      // DN identities
      l = new Loop(side("i", "C=XX, O=vpnkit, CN=i.example.org", "C=XX, O=vpnkit, CN=r.example.org"), side("r", "C=XX, O=vpnkit, CN=r.example.org", "C=XX, O=vpnkit, CN=i.example.org"));
      l.run();
      expect(l.of("i", "established").length).toBe(1);
      expect(l.of("r", "established").length).toBe(1);
      // identity not in the certificate
      l = new Loop(side("i", "x.example.org", "r.example.org"), side("r", "r.example.org", "%any"));
      l.run();
      expect(l.of("r", "failed")[0].reason).toContain("does not name that identity");
      // responder trusts another CA
      l = new Loop(side("i", "i.example.org", "r.example.org"), side("r", "r.example.org", "i.example.org", "other.crt"));
      l.run();
      expect(l.of("r", "failed")[0].reason).toContain("not trusted");
      expect(l.of("i", "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
