/**
 * INFORMATIONAL and the IKE SA rekey on bare, established SA contexts
 * (exchange-info.ts alone): liveness check, Child SA and IKE SA Delete,
 * AUTHENTICATION_FAILED notify, IKE SA rekey (new SPIs, new keys, message IDs restart).
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import { responderChild } from "../../../../lib/ike/v2/sa/exchange-child.ts";
import { deleteChildRequest, deleteIkeRequest, dpdRequest, ikeRekeyRequest, responderInfo } from "../../../../lib/ike/v2/sa/exchange-info.ts";
import { decode, establishCtx, NOW, ofType, openSk, roundTrip, sends } from "./ctx.ts";
import { baseCfg } from "./harness.ts";

function up() {
  const e = establishCtx(baseCfg("i"), baseCfg("r"), responderAuth);
  expect([e.i.state, e.r.state]).toEqual(["established", "established"]);
  return e;
}

describe("INFORMATIONAL", () => {
  test("liveness check: an empty request, an empty answer", () => {
    const { i, r } = up();
    i.request(dpdRequest(i), NOW);
    const t = roundTrip(i, i.flush(), r, responderInfo);
    const resp = sends(t.b)[0];
    expect(openSk(i, decode(resp.data), resp.data)).toEqual([]);
    expect(ofType(t.a, "log").some((l) => l.msg.includes("liveness check answered"))).toBe(true);
    expect(i.myMid).toBe(3);
    expect(r.peerMid).toBe(3);
  });

  test("Delete of a Child SA: the responder answers with its own SPI and both remove it", () => {
    const { i, r } = up();
    const c = i.children[0];
    i.request(deleteChildRequest(i, c), NOW);
    const t = roundTrip(i, i.flush(), r, responderInfo);
    const inner = openSk(i, decode(sends(t.b)[0].data), sends(t.b)[0].data);
    expect(inner[0].kind === "delete" && inner[0].spis.map((x) => toHex(x))).toEqual([c.spiOut.toString(16).padStart(8, "0")]);
    expect(ofType(t.a, "remove-child")).toMatchObject([{ spiIn: c.spiIn, spiOut: c.spiOut, reason: "deleted" }]);
    expect(ofType(t.b, "remove-child")).toMatchObject([{ spiIn: c.spiOut, spiOut: c.spiIn, reason: "deleted by peer" }]);
  });

  test("Delete of the IKE SA: both close, every Child SA removed", () => {
    const { i, r } = up();
    i.state = "deleting";
    i.request(deleteIkeRequest(i), NOW);
    const t = roundTrip(i, i.flush(), r, responderInfo);
    expect(ofType(t.b, "remove-child").length).toBe(1);
    expect(ofType(t.b, "closed")).toEqual([{ type: "closed", reason: "deleted by peer" }]);
    expect(ofType(t.a, "closed")).toEqual([{ type: "closed", reason: "deleted" }]);
    expect([i.state, r.state, i.keys, r.keys]).toEqual(["dead", "dead", null, null]);
  });

  test("IKE SA rekey: new SPIs and keys on both sides after the Delete of the old SA; message IDs restart", () => {
    const { i, r } = up();
    const oldI = toHex(i.spii), oldSkd = toHex(i.keys!.skd);
    i.request(ikeRekeyRequest(i), NOW);
    const t = roundTrip(i, i.flush(), r, responderChild); // CREATE_CHILD_SA with an IKE proposal
    expect(r.pendingIkeRekey).not.toBeNull();
    const d = roundTrip(i, t.a, r, responderInfo); // Delete of the old IKE SA, over the old keys
    const ri = ofType(d.a, "ike-rekeyed"), rr = ofType(d.b, "ike-rekeyed");
    expect(ri.length).toBe(1);
    expect(toHex(ri[0].ispi)).toBe(toHex(rr[0].ispi));
    expect(toHex(ri[0].rspi)).toBe(toHex(rr[0].rspi));
    expect(toHex(ri[0].ispi)).not.toBe(oldI);
    expect(toHex(i.keys!.skd)).toBe(toHex(r.keys!.skd));
    expect(toHex(i.keys!.skd)).not.toBe(oldSkd);
    expect([i.myMid, r.peerMid, i.ikeRekeyedAt]).toEqual([0, 0, NOW]);
    expect(i.children.length).toBe(1); // Child SAs move to the new IKE SA
    // the new SA works: a liveness check over the new keys
    i.request(dpdRequest(i), NOW);
    const l = roundTrip(i, i.flush(), r, responderInfo);
    expect(ofType(l.a, "log").some((x) => x.msg.includes("liveness check answered"))).toBe(true);
  });

  test("AUTHENTICATION_FAILED notify before the SA is up fails it", () => {
    const { i, r } = up();
    r.state = "init-done"; // as if IKE_AUTH had not completed on this side
    i.request(() => ({ exchange: 37, payloads: [{ type: "notify", notifyType: 24 }], onResponse: () => {} }), NOW);
    const t = roundTrip(i, i.flush(), r, responderInfo);
    expect(ofType(t.b, "failed")[0]).toMatchObject({ scope: "ike", notify: "AUTHENTICATION_FAILED" });
    expect(ofType(t.b, "closed").length).toBe(1);
  });
});
