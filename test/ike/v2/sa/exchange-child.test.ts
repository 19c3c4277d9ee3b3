/**
 * CREATE_CHILD_SA on bare, established SA contexts (exchange-child.ts alone):
 * a new Child SA, a rekey (REKEY_SA, old one deleted afterwards), PFS with the
 * INVALID_KE retry, unknown SPI → CHILD_SA_NOT_FOUND, TS narrowing.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import { childRequest, lowestNonceIn, responderChild } from "../../../../lib/ike/v2/sa/exchange-child.ts";
import { responderInfo } from "../../../../lib/ike/v2/sa/exchange-info.ts";
import { tsFromText, tsText } from "../../../../lib/ike/v2/sa/ts.ts";
import type { IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";
import { decode, establishCtx, NOW, ofType, openSk, roundTrip, sends } from "./ctx.ts";
import { baseCfg } from "./harness.ts";

function up(i: Partial<IkeSaConfig> = {}, r: Partial<IkeSaConfig> = {}) {
  const e = establishCtx(baseCfg("i", i), baseCfg("r", r), responderAuth);
  expect([e.i.state, e.r.state]).toEqual(["established", "established"]);
  return e;
}

describe("CREATE_CHILD_SA", () => {
  test("a new Child SA with narrowed selectors; keys pair up", () => {
    const { i, r } = up();
    i.request(childRequest(i, [tsFromText("198.51.100.0/25")], [tsFromText("0.0.0.0/0")], undefined), NOW);
    const t = roundTrip(i, i.flush(), r, responderChild);
    const ci = ofType(t.a, "install-child")[0].child, cr = ofType(t.b, "install-child")[0].child;
    expect([ci.spiIn, ci.spiOut]).toEqual([cr.spiOut, cr.spiIn]);
    expect(toHex(ci.keyOut)).toBe(toHex(cr.keyIn));
    expect(ci.tsRemote.map(tsText)).toEqual(["203.0.113.0/24"]);
    expect(ci.tsLocal.map(tsText)).toEqual(["198.51.100.0/25"]);
    expect(i.children.length).toBe(2);
    expect(r.children.length).toBe(2);
  });

  test("rekey: REKEY_SA names the old SPI, the new SA says rekeyOf, then our Delete removes the old one on both sides", () => {
    const { i, r } = up();
    const old = i.children[0];
    i.request(childRequest(i, old.tsLocal, old.tsRemote, old), NOW);
    const a0 = i.flush();
    const req = sends(a0)[0];
    const inner = openSk(r, decode(req.data), req.data);
    const rk = inner.find((p) => p.kind === "notify" && p.notifyName === "REKEY_SA");
    expect(rk && rk.kind === "notify" && toHex(rk.spi)).toBe(old.spiIn.toString(16).padStart(8, "0"));
    const t = roundTrip(i, a0, r, responderChild);
    expect(ofType(t.a, "install-child")[0].child.rekeyOf).toEqual({ spiIn: old.spiIn, spiOut: old.spiOut });
    expect(ofType(t.b, "install-child")[0].child.rekeyOf).toEqual({ spiIn: old.spiOut, spiOut: old.spiIn });
    // the Delete of the old SA went out right after the response
    const d = roundTrip(i, t.a, r, responderInfo);
    expect(ofType(d.a, "remove-child")).toMatchObject([{ spiIn: old.spiIn, spiOut: old.spiOut }]);
    expect(ofType(d.b, "remove-child")).toMatchObject([{ spiIn: old.spiOut, spiOut: old.spiIn }]);
    expect(i.children.length).toBe(1);
    expect(r.children.length).toBe(1);
  });

  test("PFS: the responder wants another group (INVALID_KE_PAYLOAD), the initiator retries with it", () => {
    const { i, r } = up({ espProposals: ["aes256gcm16-x25519", "aes256gcm16-ecp256"] }, { espProposals: ["aes256gcm16-ecp256"] });
    i.request(childRequest(i, i.localTs, i.remoteTs, undefined), NOW);
    const t1 = roundTrip(i, i.flush(), r, responderChild);
    expect(ofType(t1.b, "install-child")).toEqual([]);
    expect(ofType(t1.a, "log").some((l) => l.msg.includes("peer wants PFS group 19"))).toBe(true);
    const t2 = roundTrip(i, t1.a, r, responderChild);
    expect(ofType(t2.a, "install-child").length).toBe(1);
    expect(ofType(t2.b, "install-child").length).toBe(1);
  });

  test("rekey of an SPI the responder does not know → CHILD_SA_NOT_FOUND, nothing installed", () => {
    const { i, r } = up();
    const old = i.children[0];
    r.children = []; // the responder lost it
    i.request(childRequest(i, old.tsLocal, old.tsRemote, old), NOW);
    const t = roundTrip(i, i.flush(), r, responderChild);
    const resp = sends(t.b)[0];
    expect(openSk(i, decode(resp.data), resp.data).map((p) => (p.kind === "notify" ? p.notifyName : p.kind))).toEqual(["CHILD_SA_NOT_FOUND"]);
    expect(ofType(t.a, "install-child")).toEqual([]);
    expect(i.children).toEqual([old]);
  });

  test("selectors outside the responder's → TS_UNACCEPTABLE, a child-scope failure on both sides", () => {
    const { i, r } = up();
    i.request(childRequest(i, [tsFromText("10.77.0.0/16")], i.remoteTs, undefined), NOW);
    const t = roundTrip(i, i.flush(), r, responderChild);
    expect(ofType(t.b, "failed")[0]).toMatchObject({ scope: "child", notify: "TS_UNACCEPTABLE" });
    expect(ofType(t.a, "failed")[0]).toMatchObject({ scope: "child", notify: "TS_UNACCEPTABLE" });
    expect(i.state).toBe("established");
  });

  test("rekey collision rule: the lowest of the four nonces marks the redundant exchange", () => {
    const n = (x: number) => new Uint8Array([x, 0, 0]);
    expect(lowestNonceIn([n(1), n(9)], [n(5), n(7)])).toBe(true);
    expect(lowestNonceIn([n(6), n(9)], [n(5), n(7)])).toBe(false);
    expect(lowestNonceIn([new Uint8Array([5, 0])], [new Uint8Array([5, 0, 0])])).toBe(true); // shorter prefix sorts first
  });
});
