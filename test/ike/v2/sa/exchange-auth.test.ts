/**
 * IKE_AUTH on bare SA contexts (exchange-auth.ts alone): authentication, the
 * first Child SA, INITIAL_CONTACT (RFC 7296 §2.4) and what an SA manager reads.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import type { VirtualIpPool } from "../../../../lib/ike/v2/sa/types.ts";
import { tsText } from "../../../../lib/ike/v2/sa/ts.ts";
import { decode, establishCtx, ofType, openSk, type RequestHandler, sends } from "./ctx.ts";
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

  /** responderAuth as if the IKE_AUTH request carried a CP request for these attribute types (1 IPv4, 8 IPv6). */
  const askingFor = (types: number[]): RequestHandler => (sa, msg, dg, p, now) =>
    responderAuth(sa, msg, dg, { ...p, cp: { cfgType: 1, attributes: types.map((type) => ({ type, value: new Uint8Array(0) })) } } as typeof p, now);
  const cpReply = (i: Parameters<typeof openSk>[0], ra: ReturnType<typeof establishCtx>["ra"]) => {
    const resp = sends(ra).at(-1)!;
    const cp = openSk(i, decode(resp.data), resp.data).find((x) => x.kind === "cp") as { cfgType: number; attributes: { type: number; value: Uint8Array }[] } | undefined;
    return cp ? cp.attributes.map((a) => [a.type, toHex(a.value)]) : null;
  };

  test("CP: INTERNAL_IP6_ADDRESS from the IPv6 pool (address + prefix length), both families when both are asked for, TSi narrowed to both; both released when the SA dies", () => {
    const given: string[] = [], back: string[] = [];
    const pool: VirtualIpPool = {
      allocate: (_peer, family = 4) => {
        const a = family === 6 ? "fd00::7" : "10.9.0.7";
        given.push(a);
        return a;
      },
      release: (a) => back.push(a),
    };
    const icfg = baseCfg("i", { localTs: ["0.0.0.0/0", "::/0"] });
    const { i, r, ra } = establishCtx(icfg, baseCfg("r", { virtualIpPool: pool, remoteTs: ["10.9.0.0/24", "fd00::/64"] }), askingFor([1, 8]));
    expect(ofType(ra, "failed")).toEqual([]);
    expect(cpReply(i, ra)).toEqual([[1, "0a090007"], [8, "fd000000000000000000000000000007" + "80"]]);
    expect(ofType(ra, "install-child")[0].child.tsRemote.map(tsText)).toEqual(["10.9.0.7/32", "fd00::7/128"]);
    expect(given).toEqual(["10.9.0.7", "fd00::7"]);
    r.die("test");
    expect(back).toEqual(["10.9.0.7", "fd00::7"]);
  });

  test("CP: an IPv6-only request gets only an IPv6 address; a pool without IPv6 gives INTERNAL_ADDRESS_FAILURE", () => {
    const icfg = baseCfg("i", { localTs: ["0.0.0.0/0", "::/0"] });
    const six = establishCtx(icfg, baseCfg("r", { virtualIpPool: ["10.9.0.7", "fd00::9"], remoteTs: ["fd00::/64"] }), askingFor([8]));
    expect(cpReply(six.i, six.ra)).toEqual([[8, "fd000000000000000000000000000009" + "80"]]);
    expect(ofType(six.ra, "install-child")[0].child.tsRemote.map(tsText)).toEqual(["fd00::9/128"]);
    // an IPv4-only pool that ignores the family: its IPv4 answer is given back, nothing assigned
    const back: string[] = [];
    const v4only: VirtualIpPool = { allocate: () => "10.9.0.8", release: (a) => back.push(a) };
    const none = establishCtx(baseCfg("i", { localTs: ["0.0.0.0/0", "::/0"] }), baseCfg("r", { virtualIpPool: v4only, remoteTs: ["10.9.0.0/24"] }), askingFor([8]));
    expect(ofType(none.ra, "failed")[0]).toMatchObject({ scope: "child", notify: "INTERNAL_ADDRESS_FAILURE" });
    expect(back).toEqual(["10.9.0.8"]);
    expect(ofType(none.ra, "install-child")).toEqual([]);
  });
});
