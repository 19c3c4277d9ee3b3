/**
 * IkeSa's public accessors for an SA manager and `vpnkit status`: phase, spis(),
 * isInitiator, remoteIdentity, createdAt, children(), status(), and the
 * `closed` that ends a refused IKE_SA_INIT.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { baseCfg, Loop, seededRng } from "./harness.ts";

describe("IkeSa accessors", () => {
  test("half-open → established → closed; SPIs, identity, children and status", () => {
    const l = new Loop(baseCfg("i", { requestVirtualIp: true, localTs: undefined }), baseCfg("r", { virtualIpPool: ["10.9.0.7"], remoteTs: ["10.9.0.0/24"] }));
    const t0 = l.now;
    expect([l.i.phase, l.r.phase]).toEqual(["half-open", "half-open"]);
    expect([l.i.isInitiator, l.r.isInitiator]).toEqual([true, false]);
    expect(l.i.remoteIdentity).toBeNull();
    l.now += 250;
    l.run();
    expect([l.i.phase, l.r.phase]).toEqual(["established", "established"]);
    expect([l.i.remoteIdentity, l.r.remoteIdentity]).toEqual(["vf2@example.org", "vf1@example.org"]);
    const si = l.i.spis(), sr = l.r.spis();
    expect([toHex(si.ispi), toHex(si.rspi)]).toEqual([toHex(sr.ispi), toHex(sr.rspi)]);
    expect(toHex(si.rspi)).not.toBe("0000000000000000");
    si.ispi.fill(0); // a copy
    expect(toHex(l.i.spii)).toBe(toHex(sr.ispi));
    expect(l.i.createdAt).toBe(t0);
    expect(l.r.remote).toEqual({ address: "192.0.2.1", port: 500 });
    const ch = l.i.children();
    expect(ch.length).toBe(1);
    const inst = l.of("i", "install-child")[0].child;
    expect(ch[0]).toMatchObject({ spiIn: inst.spiIn, spiOut: inst.spiOut, cipher: inst.cipher, esn: false, tsLocal: ["10.9.0.7/32"], tsRemote: ["203.0.113.0/24"], installedAt: t0 + 250, retiring: false });
    expect(ch[0].proposal).toContain("AES_GCM_16");
    const st = l.r.status();
    expect(st).toMatchObject({
      ispi: toHex(sr.ispi), rspi: toHex(sr.rspi), role: "responder", phase: "established", state: "established",
      localId: "vf2@example.org", remoteId: "vf1@example.org", natt: false, localBehindNat: false, remoteBehindNat: false,
      createdAt: t0, establishedAt: t0 + 250, ikeRekeyedAt: null, lastReceived: t0 + 250, virtualIp: "10.9.0.7",
    });
    expect(st.proposal).toContain("CURVE_25519");
    expect(st.children.length).toBe(1);
    expect(l.i.virtualIp).toBe("10.9.0.7");
    // IKE SA rekey: new SPIs, rekey time
    l.now += 1000;
    l.take("i", l.i.rekeyIke(l.now));
    l.run();
    expect(toHex(l.i.spis().ispi)).not.toBe(toHex(sr.ispi));
    expect(l.i.status().ikeRekeyedAt).toBe(l.now);
    l.take("i", l.i.delete(l.now));
    l.run();
    expect([l.i.phase, l.r.phase]).toEqual(["closed", "closed"]);
    expect(l.i.children()).toEqual([]);
  });

  test("abandon(): closed without a message to the peer, Child SAs removed, keys gone", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.run();
    const out = l.r.abandon();
    expect(out.filter((a) => a.type === "send")).toEqual([]);
    expect(out.filter((a) => a.type !== "log").map((a) => a.type)).toEqual(["remove-child", "closed"]);
    expect(out.find((a) => a.type === "closed")).toEqual({ type: "closed", reason: "replaced (INITIAL_CONTACT)" });
    expect(l.r.phase).toBe("closed");
    expect(l.r.children()).toEqual([]);
  });

  test("a refused IKE_SA_INIT (INVALID_KE_PAYLOAD) ends the responder at once with closed", () => {
    const r = IkeSa.responder(baseCfg("r", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] }), 0, seededRng(5));
    const { actions } = IkeSa.initiator(baseCfg("i"), 0, seededRng(6));
    const req = actions.find((a) => a.type === "send")!;
    const out = r.receive(req.type === "send" ? req.data : new Uint8Array(0), { address: "192.0.2.1", port: 500 }, 0, { address: "192.0.2.2", port: 500 });
    expect(out.map((a) => a.type).filter((t) => t !== "log")).toEqual(["send", "closed"]);
    expect(r.phase).toBe("closed");
  });

  test("a responder fed something other than an IKE_SA_INIT request closes", () => {
    const r = IkeSa.responder(baseCfg("r"), 0, seededRng(5));
    const out = r.receive(new Uint8Array(40), { address: "192.0.2.1", port: 500 }, 0);
    expect(out.filter((a) => a.type === "closed").length).toBe(1);
    expect(out.filter((a) => a.type === "send")).toEqual([]);
  });
});
