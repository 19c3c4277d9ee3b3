/**
 * IKE_SA_INIT on bare SA contexts (exchange-init.ts alone): NAT detection over
 * the real endpoints (RFC 7296 §2.23), the switch to port 4500 only behind a NAT
 * or when forced, startOn4500, and refused requests closing the responder.
 */
import { createHash } from "node:crypto";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { toHex } from "../../../../lib/core/bytes.ts";
import { cookieFor, verifyCookie } from "../../../../lib/ike/v2/sa/cookie.ts";
import type { IkeSaConfig } from "../../../../lib/ike/v2/sa/types.ts";
import { baseCfg, I_ADDR, R_ADDR } from "./harness.ts";
import { decode, initiatorCtx, initToResponder, ofType, responderCtx, responseTo, sends } from "./ctx.ts";

function natd(spii: Uint8Array, spir: Uint8Array, ip: number[], port: number): string {
  return createHash("sha1").update(spii).update(spir).update(Uint8Array.from(ip)).update(Uint8Array.from([port >> 8, port & 0xff])).digest("hex");
}

function notifies(data: Uint8Array): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const p of decode(data).payloads) if (p.kind === "notify") m.set(p.notifyName, p.data);
  return m;
}

/** Run IKE_SA_INIT: initiator request → responder (seeing it from `seenFrom`, on `to`) → response back. */
function runInit(icfg: IkeSaConfig, rcfg: IkeSaConfig, seenFrom = { ...I_ADDR }, to?: { address: string; port: number; natt?: boolean }) {
  const { i, acts: a0 } = initiatorCtx(icfg);
  const req = sends(a0)[0];
  const r = responderCtx(rcfg);
  const ra = initToResponder(r, req.data, seenFrom, to);
  const resp = sends(ra)[0];
  const ia = resp ? responseTo(i, resp.data, { address: icfg.remote.address, port: req.to.port }) : [];
  return { i, r, req, resp, ra, ia };
}

describe("NAT detection (RFC 7296 §2.23)", () => {
  test("NAT-D hashes are SHA-1(SPIi | SPIr | IP | port) of the real endpoints", () => {
    const { i, r, req, resp } = runInit(baseCfg("i"), baseCfg("r"));
    const q = notifies(req.data), s = notifies(resp.data);
    const zero = new Uint8Array(8);
    expect(toHex(q.get("NAT_DETECTION_SOURCE_IP")!)).toBe(natd(i.spii, zero, [192, 0, 2, 1], 500));
    expect(toHex(q.get("NAT_DETECTION_DESTINATION_IP")!)).toBe(natd(i.spii, zero, [192, 0, 2, 2], 500));
    expect(toHex(s.get("NAT_DETECTION_SOURCE_IP")!)).toBe(natd(i.spii, r.spir, [192, 0, 2, 2], 500));
    expect(toHex(s.get("NAT_DETECTION_DESTINATION_IP")!)).toBe(natd(i.spii, r.spir, [192, 0, 2, 1], 500));
  });

  test("directly connected hosts: no NAT, no port switch, IKE_AUTH to port 500 without the marker", () => {
    const { i, r, req, resp, ra, ia } = runInit(baseCfg("i"), baseCfg("r"), { ...I_ADDR }, { ...R_ADDR });
    expect(req).toMatchObject({ natt: false, to: { port: 500 } });
    expect(resp.natt).toBe(false);
    for (const acts of [ra, ia]) {
      expect(ofType(acts, "nat-detected")).toEqual([]);
      expect(ofType(acts, "switch-port")).toEqual([]);
      expect(ofType(acts, "log").filter((l) => l.msg.includes("NAT"))).toEqual([]);
    }
    expect(sends(ia)[0]).toMatchObject({ natt: false, to: { address: R_ADDR.address, port: 500 } });
    expect([i.natt, i.localBehindNat, i.remoteBehindNat, r.natt, r.localBehindNat, r.remoteBehindNat]).toEqual([false, false, false, false, false, false]);
    expect(i.state).toBe("auth-sent");
  });

  test("initiator behind a NAT: both see it; the initiator switches to 4500 for IKE_AUTH and sends keep-alives", () => {
    const { r, ra, ia } = runInit(baseCfg("i", { local: { address: "10.0.0.1", port: 500 } }), baseCfg("r"), { address: "192.0.2.1", port: 31000 });
    expect(ofType(ra, "nat-detected")).toEqual([{ type: "nat-detected", localBehindNat: false, remoteBehindNat: true, keepalive: false }]);
    expect(ofType(ia, "nat-detected")).toEqual([{ type: "nat-detected", localBehindNat: true, remoteBehindNat: false, keepalive: true }]);
    expect(ofType(ia, "switch-port")).toEqual([{ type: "switch-port", localPort: 4500, remote: { address: R_ADDR.address, port: 4500 } }]);
    expect(sends(ia)[0]).toMatchObject({ natt: true, to: { port: 4500 } });
    expect(r.natt).toBe(false); // until the initiator's IKE_AUTH arrives on 4500
  });

  test("responder behind a NAT (port forward): the initiator switches, the responder keeps alive", () => {
    const icfg = baseCfg("i", { remote: { address: "203.0.113.5", port: 500 } });
    const rcfg = baseCfg("r", { local: { address: "10.1.0.2", port: 500 } });
    const { ra, ia } = runInit(icfg, rcfg, { ...I_ADDR }, { address: "10.1.0.2", port: 500 });
    expect(ofType(ra, "nat-detected")[0]).toMatchObject({ localBehindNat: true, remoteBehindNat: false, keepalive: true });
    expect(ofType(ia, "nat-detected")[0]).toMatchObject({ localBehindNat: false, remoteBehindNat: true, keepalive: false });
    expect(sends(ia)[0]).toMatchObject({ natt: true, to: { address: "203.0.113.5", port: 4500 } });
  });

  test("the responder hashes the endpoint the request arrived on, not its configured one", () => {
    const rcfg = baseCfg("r", { local: { address: "0.0.0.0", port: 500 } });
    const withTo = runInit(baseCfg("i"), rcfg, { ...I_ADDR }, { ...R_ADDR });
    expect(ofType(withTo.ia, "nat-detected")).toEqual([]);
    expect(ofType(withTo.ra, "nat-detected")).toEqual([]);
    const without = runInit(baseCfg("i"), rcfg, { ...I_ADDR });
    expect(ofType(without.ia, "nat-detected")[0]).toMatchObject({ remoteBehindNat: true });
  });

  test("forceEncap: random source hash (the peer sees a NAT), UDP encapsulation without a NAT, no keep-alives", () => {
    const { req, ra, ia, i } = runInit(baseCfg("i", { forceEncap: true }), baseCfg("r"), { ...I_ADDR }, { ...R_ADDR });
    expect(toHex(notifies(req.data).get("NAT_DETECTION_SOURCE_IP")!)).not.toBe(natd(i.spii, new Uint8Array(8), [192, 0, 2, 1], 500));
    expect(ofType(ra, "nat-detected")[0]).toMatchObject({ remoteBehindNat: true, localBehindNat: false });
    expect(ofType(ia, "nat-detected")[0]).toMatchObject({ localBehindNat: false, remoteBehindNat: false, keepalive: false });
    expect(ofType(ia, "switch-port").length).toBe(1);
    expect(sends(ia)[0].natt).toBe(true);
  });

  test("startOn4500: IKE_SA_INIT already carries the marker; the responder answers on 4500; no switch-port", () => {
    const icfg = baseCfg("i", { startOn4500: true, local: { ...I_ADDR, port: 4500 }, remote: { ...R_ADDR, port: 4500 } });
    const { req, resp, ia } = runInit(icfg, baseCfg("r", { local: { ...R_ADDR, port: 4500 } }), { ...I_ADDR, port: 4500 }, { ...R_ADDR, port: 4500 });
    expect(req).toMatchObject({ natt: true, to: { port: 4500 } });
    expect(resp.natt).toBe(true);
    expect(ofType(ia, "nat-detected")).toEqual([]);
    expect(ofType(ia, "switch-port")).toEqual([]);
    expect(sends(ia)[0]).toMatchObject({ natt: true, to: { port: 4500 } });
  });
});

describe("NAT detection, property (fast-check)", () => {
  const ip = fc.tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 254 })).map((a) => a.join("."));
  const port = fc.oneof(fc.constant(500), fc.integer({ min: 1024, max: 65535 }));
  test("each side reports exactly the translations on the path; UDP encapsulation iff any", () => {
    fc.assert(fc.property(ip, port, ip, fc.boolean(), fc.boolean(), (iIp, iPort, rIp, natI, natR) => {
      // the initiator's real address/port (what it hashes) and what the responder sees (after a NAT or not)
      const iLocal = { address: iIp, port: 500 };
      const seen = natI ? { address: iIp === "198.18.0.1" ? "198.18.0.2" : "198.18.0.1", port: iPort } : { ...iLocal };
      // the responder's real endpoint and where the initiator sends (a port forward or not)
      const rLocal = { address: rIp, port: 500 };
      const target = natR ? { address: rIp === "203.0.113.9" ? "203.0.113.8" : "203.0.113.9", port: 500 } : { ...rLocal };
      const { ra, ia, i } = runInit(baseCfg("i", { local: iLocal, remote: target }), baseCfg("r", { local: { address: "0.0.0.0", port: 500 } }), seen, rLocal);
      const rd = ofType(ra, "nat-detected"), id = ofType(ia, "nat-detected");
      expect(rd.length).toBe(natI || natR ? 1 : 0);
      expect(id.length).toBe(natI || natR ? 1 : 0);
      if (rd.length) expect(rd[0]).toMatchObject({ remoteBehindNat: natI, localBehindNat: natR, keepalive: natR });
      if (id.length) expect(id[0]).toMatchObject({ localBehindNat: natI, remoteBehindNat: natR, keepalive: natI });
      expect(ofType(ia, "switch-port").length).toBe(natI || natR ? 1 : 0);
      expect(sends(ia)[0].natt).toBe(natI || natR);
      expect(i.natt).toBe(natI || natR);
    }), { numRuns: 60 });
  });
});

describe("refused IKE_SA_INIT requests close the responder", () => {
  test("INVALID_KE_PAYLOAD: answered, then closed; the initiator retries with the group", () => {
    const icfg = baseCfg("i", { ikeProposals: ["aes256gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"] });
    const rcfg = baseCfg("r", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] });
    const { i, r, resp, ra, ia } = runInit(icfg, rcfg);
    expect([...notifies(resp.data).keys()]).toEqual(["INVALID_KE_PAYLOAD"]);
    expect(ofType(ra, "closed").length).toBe(1);
    expect(r.state).toBe("dead");
    expect(i.state).toBe("init-sent");
    const retry = decode(sends(ia)[0].data);
    expect(retry.payloads.find((p) => p.kind === "ke")).toMatchObject({ group: 19 });
  });

  test("NO_PROPOSAL_CHOSEN and a bad message ID also end with closed", () => {
    const { ra } = runInit(baseCfg("i", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] }), baseCfg("r", { ikeProposals: ["aes256gcm16-prfsha384-ecp384"] }));
    expect(ofType(ra, "failed")[0].notify).toBe("NO_PROPOSAL_CHOSEN");
    expect(ofType(ra, "closed").length).toBe(1);
    const { acts } = initiatorCtx(baseCfg("i"));
    const bad = sends(acts)[0].data.slice();
    bad[23] = 7; // message ID 7
    const r = responderCtx(baseCfg("r"));
    const out = initToResponder(r, bad, { ...I_ADDR });
    expect(sends(out)).toEqual([]);
    expect(ofType(out, "closed").length).toBe(1);
  });

  test("COOKIE: demanded statelessly (closed), the retry with it is accepted by a new responder", () => {
    const secret = new Uint8Array(32).fill(9);
    const rcfg = baseCfg("r", { cookieSecret: secret });
    const { i, acts: a0 } = initiatorCtx(baseCfg("i"));
    const r1 = responderCtx(rcfg);
    const ra = initToResponder(r1, sends(a0)[0].data, { ...I_ADDR });
    expect(ofType(ra, "closed").length).toBe(1);
    const cookie = notifies(sends(ra)[0].data).get("COOKIE")!;
    const ni = decode(sends(a0)[0].data).payloads.find((p) => p.kind === "nonce")!;
    expect(ni.kind === "nonce" && toHex(cookieFor(secret, ni.nonce, I_ADDR.address, i.spii))).toBe(toHex(cookie));
    const ia = responseTo(i, sends(ra)[0].data, { ...R_ADDR });
    const r2 = responderCtx(rcfg, 3);
    const rb = initToResponder(r2, sends(ia)[0].data, { ...I_ADDR });
    expect(ofType(rb, "closed")).toEqual([]);
    expect(r2.state).toBe("init-done");
  });
});

describe("cookieFor / verifyCookie", () => {
  const secret = new Uint8Array(32).fill(1), ni = new Uint8Array(32).fill(2), spii = new Uint8Array(8).fill(3);
  test("deterministic, 36 bytes, bound to nonce, address, SPI and secret", () => {
    const c = cookieFor(secret, ni, "192.0.2.1", spii);
    expect(c.length).toBe(36);
    expect(verifyCookie(secret, c, ni, "192.0.2.1", spii)).toBe(true);
    expect(verifyCookie(secret, c, ni, "192.0.2.9", spii)).toBe(false);
    expect(verifyCookie(secret, c, ni.map((x) => x ^ 1), "192.0.2.1", spii)).toBe(false);
    expect(verifyCookie(secret, c, ni, "192.0.2.1", spii.map((x) => x ^ 1))).toBe(false);
    expect(verifyCookie(secret.map((x) => x ^ 1), c, ni, "192.0.2.1", spii)).toBe(false);
    expect(verifyCookie(secret, c.subarray(0, 35), ni, "192.0.2.1", spii)).toBe(false);
  });
});
