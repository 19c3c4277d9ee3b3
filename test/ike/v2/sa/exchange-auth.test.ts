/**
 * IKE_AUTH on bare SA contexts (exchange-auth.ts alone): authentication, the
 * first Child SA, INITIAL_CONTACT (RFC 7296 §2.4) and what an SA manager reads.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import { tsText } from "../../../../lib/ike/v2/sa/ts.ts";
import { decode, establishCtx, ofType, openSk, sends } from "./ctx.ts";
import { baseCfg } from "./harness.ts";

describe("IKE_AUTH", () => {
  test("PSK: both authenticated, one Child SA pair, INITIAL_CONTACT sent by default → initial-contact on the responder", () => {
    const { i, r, ia, ra } = establishCtx(baseCfg("i"), baseCfg("r"), responderAuth);
    expect(ofType(ia, "failed")).toEqual([]);
    expect(ofType(ra, "failed")).toEqual([]);
    expect([i.state, r.state]).toEqual(["established", "established"]);
    expect([i.remoteIdText, r.remoteIdText]).toEqual(["vf2@example.org", "vf1@example.org"]);
    expect(i.establishedAt).not.toBeNull();
    const ci = ofType(ia, "install-child")[0].child, cr = ofType(ra, "install-child")[0].child;
    expect([ci.spiIn, ci.spiOut]).toEqual([cr.spiOut, cr.spiIn]);
    expect(toHex(ci.keyIn)).toBe(toHex(cr.keyOut));
    // the IKE_AUTH request carries INITIAL_CONTACT; the responder reports it once, with the authenticated identity
    const req = sends(ia).find((a) => decode(a.data).exchange === 35)!;
    const inner = openSk(r, decode(req.data), req.data);
    expect(inner.some((p) => p.kind === "notify" && p.notifyName === "INITIAL_CONTACT")).toBe(true);
    expect(ofType(ra, "initial-contact")).toEqual([{ type: "initial-contact", remoteId: "vf1@example.org" }]);
    expect(ofType(ia, "initial-contact")).toEqual([]);
    // reported after `established`
    expect(ra.findIndex((a) => a.type === "initial-contact")).toBeGreaterThan(ra.findIndex((a) => a.type === "established"));
  });

  test("initialContact: false → no INITIAL_CONTACT notify, no initial-contact action", () => {
    const { r, ia, ra } = establishCtx(baseCfg("i", { initialContact: false }), baseCfg("r"), responderAuth);
    const req = sends(ia).find((a) => decode(a.data).exchange === 35)!;
    expect(openSk(r, decode(req.data), req.data).some((p) => p.kind === "notify" && p.notifyName === "INITIAL_CONTACT")).toBe(false);
    expect(ofType(ra, "established").length).toBe(1);
    expect(ofType(ra, "initial-contact")).toEqual([]);
  });

  test("an IKE_AUTH that does not authenticate (wrong PSK) reports no initial-contact and no identity", () => {
    const { i, r, ia, ra } = establishCtx(baseCfg("i"), baseCfg("r", { psk: "another key" }), responderAuth);
    expect(ofType(ra, "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
    expect(ofType(ra, "initial-contact")).toEqual([]);
    expect(ofType(ra, "closed").length).toBe(1);
    expect(ofType(ia, "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
    expect([i.remoteIdText, r.remoteIdText]).toEqual([null, null]);
  });

  test("wrong peer identity → AUTHENTICATION_FAILED", () => {
    const { ra } = establishCtx(baseCfg("i", { localId: "mallory@example.org" }), baseCfg("r"), responderAuth);
    expect(ofType(ra, "failed")[0]).toMatchObject({ scope: "ike", notify: "AUTHENTICATION_FAILED" });
    expect(ofType(ra, "failed")[0].reason).toContain("is not the configured");
  });

  test("CP: the responder assigns a virtual IP and narrows TSi to it", () => {
    const { ia, ra } = establishCtx(baseCfg("i", { requestVirtualIp: true, localTs: undefined }), baseCfg("r", { virtualIpPool: ["10.9.0.7"], dns: ["10.9.0.1"], remoteTs: ["10.9.0.0/24"] }), responderAuth);
    expect(ofType(ia, "virtual-ip")).toEqual([{ type: "virtual-ip", address: "10.9.0.7", dns: ["10.9.0.1"] }]);
    expect(ofType(ra, "install-child")[0].child.tsRemote.map(tsText)).toEqual(["10.9.0.7/32"]);
  });
});
