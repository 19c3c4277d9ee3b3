/**
 * Two in-memory IkeSa instances (initiator ↔ responder): full negotiations,
 * Child SA rekey, DPD, delete, retransmission, failures. Every message is checked
 * to decode (outer and decrypted) without anomalies.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import { decodeIkev2 } from "../../../../lib/ike/v2/message.ts";
import { tsText } from "../../../../lib/ike/v2/sa/ts.ts";
import type { ChildSaInfo } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { baseCfg, Loop } from "./harness.ts";

function expectPair(a: ChildSaInfo, b: ChildSaInfo): void {
  expect(a.spiIn).toBe(b.spiOut);
  expect(a.spiOut).toBe(b.spiIn);
  expect(toHex(a.keyIn)).toBe(toHex(b.keyOut));
  expect(toHex(a.keyOut)).toBe(toHex(b.keyIn));
  expect(toHex(a.keyIn)).not.toBe(toHex(a.keyOut));
  expect(a.cipher).toBe(b.cipher);
}

function established(l: Loop): void {
  expect(l.of("i", "failed")).toEqual([]);
  expect(l.of("r", "failed")).toEqual([]);
  expect(l.of("i", "established").length).toBe(1);
  expect(l.of("r", "established").length).toBe(1);
}

const SUITES: [string, string, number][] = [
  ["aes256gcm16-prfsha256-x25519", "aes256gcm16", 36],
  ["aes128gcm16-prfsha256-ecp256", "aes128gcm16", 20],
  ["aes256gcm16-prfsha384-ecp384", "chacha20poly1305", 36],
  ["chacha20poly1305-prfsha512-x25519", "aes256gcm16", 36],
  ["aes128-sha256-ecp256", "aes128gcm16", 20],
  ["aes256-sha512-modp2048", "chacha20poly1305", 36],
];

describe("IKE_SA_INIT + IKE_AUTH (PSK) for each proposal", () => {
  for (const [ike, esp, klen] of SUITES) {
    test(`${ike} / ${esp}`, () => {
      const l = new Loop(baseCfg("i", { ikeProposals: [ike], espProposals: [esp] }), baseCfg("r", { ikeProposals: [ike], espProposals: [esp] }));
      l.run();
      established(l);
      const ci = l.of("i", "install-child"), cr = l.of("r", "install-child");
      expect(ci.length).toBe(1);
      expect(cr.length).toBe(1);
      expectPair(ci[0].child, cr[0].child);
      expect(ci[0].child.cipher).toBe(esp as ChildSaInfo["cipher"]);
      expect(ci[0].child.keyIn.length).toBe(klen);
      expect(ci[0].child.tsLocal.map(tsText)).toEqual(["198.51.100.0/24"]);
      expect(ci[0].child.tsRemote.map(tsText)).toEqual(["203.0.113.0/24"]);
      expect(cr[0].child.tsLocal.map(tsText)).toEqual(["203.0.113.0/24"]);
      expect(l.sent.length).toBe(4);
      expect(l.i.state).toBe("established");
      expect(l.r.state).toBe("established");
    });
  }

  test("default proposals; TS narrowing to the intersection", () => {
    const l = new Loop(baseCfg("i", { localTs: ["198.51.100.0/24"], remoteTs: ["0.0.0.0/0"] }), baseCfg("r", { localTs: ["203.0.113.0/25"], remoteTs: ["198.51.100.0/23"] }));
    l.run();
    established(l);
    const ci = l.of("i", "install-child")[0].child;
    expect(ci.cipher).toBe("aes256gcm16");
    expect(ci.tsRemote.map(tsText)).toEqual(["203.0.113.0/25"]);
    expect(ci.tsLocal.map(tsText)).toEqual(["198.51.100.0/24"]);
    expect(l.of("i", "established")[0].proposal).toContain("CURVE_25519");
  });

  test("identities: IPv4, IPv6, FQDN, DN", () => {
    for (const [a, b] of [["192.0.2.1", "2001:db8::2"], ["moon.example.org", "C=CH, O=vpnkit, CN=sun"], ["@fqdn-only", "keyid:0a0b0c"]]) {
      const l = new Loop(baseCfg("i", { localId: a, remoteId: b }), baseCfg("r", { localId: b, remoteId: a }));
      l.run();
      established(l);
    }
  });

  test("wrong identity → AUTHENTICATION_FAILED", () => {
    const l = new Loop(baseCfg("i", { localId: "mallory@example.org" }), baseCfg("r"));
    l.run();
    expect(l.of("r", "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
    expect(l.of("i", "failed")[0].notify).toBe("AUTHENTICATION_FAILED");
  });
});

describe("failures", () => {
  test("initiator rejects the responder's identity → INFORMATIONAL AUTHENTICATION_FAILED tears down the responder", () => {
    const l = new Loop(baseCfg("i", { remoteId: "someone-else@example.org" }), baseCfg("r"));
    l.run();
    expect(l.of("i", "failed")[0].reason).toContain("is not the configured");
    expect(l.of("r", "established").length).toBe(1);
    expect(l.of("r", "failed")[0]).toMatchObject({ scope: "ike", notify: "AUTHENTICATION_FAILED" });
    expect(l.of("r", "remove-child").length).toBe(1);
    expect(l.r.state).toBe("dead");
  });

  test("NO_PROPOSAL_CHOSEN response has the shape strongSwan sends (fixture f2)", async () => {
    const { readFileSync } = await import("node:fs");
    const pcap = new Uint8Array(readFileSync(new URL("../../../../fixtures/strongswan/f2_ikev2_ike_no_proposal/f2_ikev2_ike_no_proposal.pcap", import.meta.url)));
    // last record of the capture: Ethernet/IPv4/UDP(500) with the responder's answer
    const n = pcap.length;
    let ike: Uint8Array | null = null;
    for (let off = 24; off + 16 <= n;) {
      const incl = pcap[off + 8] | (pcap[off + 9] << 8) | (pcap[off + 10] << 16) | (pcap[off + 11] << 24);
      const frame = pcap.subarray(off + 16, off + 16 + incl);
      if (frame.length > 42 && frame[12] === 8 && frame[13] === 0 && frame[23] === 17) ike = frame.subarray(14 + (frame[14] & 15) * 4 + 8);
      off += 16 + incl;
    }
    const theirs = decodeIkev2(ike!, 0, ike!.length, [])!;
    const l = new Loop(baseCfg("i", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] }), baseCfg("r", { ikeProposals: ["aes256gcm16-prfsha384-ecp384"] }));
    l.run();
    const ours = decodeIkev2(l.sent[1].data, 0, l.sent[1].data.length, [])!;
    const shape = (m: typeof ours) => ({ ex: m.exchange, flags: m.flags.raw, mid: m.messageId, rspi: toHex(m.rspi), pl: m.payloads.map((p) => (p.kind === "notify" ? [p.notifyName, p.protocol, p.spi.length, p.data.length] : p.kind)) });
    expect(shape(ours)).toEqual(shape(theirs));
  });

  test("wrong PSK → AUTHENTICATION_FAILED on both sides, one clear line each", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r", { psk: "something else" }));
    l.run();
    const fi = l.of("i", "failed"), fr = l.of("r", "failed");
    expect(fr.length).toBe(1);
    expect(fr[0].notify).toBe("AUTHENTICATION_FAILED");
    expect(fr[0].reason).toContain("wrong PSK");
    expect(fi.length).toBe(1);
    expect(fi[0].notify).toBe("AUTHENTICATION_FAILED");
    expect(fi[0].reason).toContain("AUTHENTICATION_FAILED");
    expect(l.of("i", "install-child")).toEqual([]);
    expect(l.of("r", "install-child")).toEqual([]);
    expect(l.of("i", "closed").length).toBe(1);
    expect(l.of("i", "log").filter((x) => x.level === "error").length).toBe(1);
  });

  test("no common IKE proposal → NO_PROPOSAL_CHOSEN", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] }), baseCfg("r", { ikeProposals: ["aes256gcm16-prfsha384-ecp384"] }));
    l.run();
    expect(l.of("i", "failed")[0].notify).toBe("NO_PROPOSAL_CHOSEN");
    expect(l.of("i", "failed")[0].reason).toContain("NO_PROPOSAL_CHOSEN");
    expect(l.of("r", "failed")[0].notify).toBe("NO_PROPOSAL_CHOSEN");
    const m = decodeIkev2(l.sent[1].data, 0, l.sent[1].data.length, [])!;
    expect(m.payloads.map((p) => (p.kind === "notify" ? p.notifyName : p.kind))).toEqual(["NO_PROPOSAL_CHOSEN"]);
  });

  test("no common ESP proposal → IKE SA up, Child SA NO_PROPOSAL_CHOSEN", () => {
    const l = new Loop(baseCfg("i", { espProposals: ["aes128gcm16"] }), baseCfg("r", { espProposals: ["chacha20poly1305"] }));
    l.run();
    expect(l.of("i", "established").length).toBe(1);
    expect(l.of("i", "failed")[0]).toMatchObject({ scope: "child", notify: "NO_PROPOSAL_CHOSEN" });
    expect(l.of("r", "failed")[0]).toMatchObject({ scope: "child", notify: "NO_PROPOSAL_CHOSEN" });
    expect(l.of("i", "install-child")).toEqual([]);
  });

  test("TS mismatch → TS_UNACCEPTABLE", () => {
    const l = new Loop(baseCfg("i", { remoteTs: ["10.99.0.0/16"] }), baseCfg("r"));
    l.run();
    expect(l.of("i", "established").length).toBe(1);
    expect(l.of("i", "failed")[0]).toMatchObject({ scope: "child", notify: "TS_UNACCEPTABLE" });
    expect(l.of("r", "failed")[0]).toMatchObject({ scope: "child", notify: "TS_UNACCEPTABLE" });
    expect(l.of("i", "log").filter((x) => x.level === "error").length).toBe(1);
  });

  test("INVALID_KE_PAYLOAD: initiator retries with the requested group", () => {
    const l = new Loop(
      baseCfg("i", { ikeProposals: ["aes256gcm16-prfsha256-x25519", "aes128gcm16-prfsha256-ecp256"] }),
      baseCfg("r", { ikeProposals: ["aes128gcm16-prfsha256-ecp256"] }),
    );
    l.run();
    established(l);
    expect(l.sent.length).toBe(6);
    const m = decodeIkev2(l.sent[1].data, 0, l.sent[1].data.length, [])!;
    const n = m.payloads[0];
    expect(n.kind === "notify" && n.notifyName).toBe("INVALID_KE_PAYLOAD");
    expect(n.kind === "notify" && n.value?.group).toBe(19);
    expect(l.of("i", "established")[0].proposal).toContain("ECP_256");
  });

  test("COOKIE: responder demands one, initiator retries with it", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r", { cookieSecret: new Uint8Array(32).fill(9) }));
    l.run();
    established(l);
    expect(l.sent.length).toBe(6);
    const again = decodeIkev2(l.sent[2].data, 0, l.sent[2].data.length, [])!;
    expect(again.payloads[0].kind === "notify" && again.payloads[0].notifyName).toBe("COOKIE");
  });

  test("peer not responding: retransmissions with backoff, then failure", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    const t0 = l.now;
    l.drop = () => true;
    l.run();
    const times: number[] = [];
    for (let k = 0; k < 1000 && l.i.state !== "dead"; k++) {
      const before = l.of("i", "send").length;
      l.tick(500);
      if (l.of("i", "send").length > before) times.push(l.now);
    }
    // IKE_SA_INIT (lib/ike/v2/sa/retransmit.ts): two early retransmissions (1 s, 2 s), then the
    // usual 4 s x 1.8^k, 5 of them; it gives up when the usual schedule does (4 x (1.8^6 - 1) / 0.8 = 165.1 s)
    expect(times.length).toBe(7);
    expect(times.map((t) => t - t0)).toEqual([1000, 3000, 7000, 14500, 27500, 51000, 93000]);
    const gaps = times.slice(1).map((t, k) => t - times[k]);
    for (let k = 1; k < gaps.length; k++) expect(gaps[k]).toBeGreaterThan(gaps[k - 1]);
    expect(l.of("i", "failed")[0].reason).toContain("not responding");
    // at 500 ms ticks the usual schedule failed at 166 s too (sends at 4, 11.5, 24.5, 48, 90 s, + 75.6 s)
    expect(l.now - t0).toBe(166000);
  });

  test("peer stops answering after IKE_SA_INIT: IKE_AUTH keeps the usual schedule (4 s x 1.8^k, 5 retransmissions)", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.drop = (w) => w.from === "i" && w.data[18] !== 34;
    l.run();
    const t0 = l.now;
    const times: number[] = [];
    for (let k = 0; k < 1000 && l.i.state !== "dead"; k++) {
      const before = l.of("i", "send").length;
      l.tick(500);
      if (l.of("i", "send").length > before) times.push(l.now);
    }
    expect(times.map((t) => t - t0)).toEqual([4000, 11500, 24500, 48000, 90000]);
    expect(l.of("i", "failed")[0].reason).toContain("IKE_AUTH");
  });
});

describe("half-open SAs", () => {
  test("responder drops an SA that never gets IKE_AUTH", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.drop = (w) => w.from === "i" && l.sent.length >= 2;
    l.run();
    expect(l.r.state).toBe("init-done");
    l.tick(29000);
    expect(l.r.state).toBe("init-done");
    l.tick(1000);
    expect(l.r.state).toBe("dead");
    expect(l.of("r", "closed")[0].reason).toBe("half-open timeout");
  });
});

describe("retransmission and cached responses", () => {
  test("lost IKE_AUTH response: initiator retransmits, responder replays the cached response", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.drop = (w, n) => w.from === "r" && n === 3 && !(l as unknown as { dropped?: boolean }).dropped && ((l as unknown as { dropped?: boolean }).dropped = true);
    l.run();
    expect(l.of("i", "established").length).toBe(0);
    expect(l.of("r", "established").length).toBe(1);
    const firstResp = l.of("r", "send")[1].data;
    l.tick(4000);
    l.run();
    established(l);
    const sends = l.of("r", "send");
    expect(sends.length).toBe(3);
    expect(toHex(sends[2].data)).toBe(toHex(firstResp));
    expect(l.of("r", "install-child").length).toBe(1);
  });

  test("retransmitted IKE_SA_INIT gets the same response", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    const init = l.wire[0].data;
    l.run(1); // only the request; the response stays queued
    const resp0 = l.of("r", "send")[0].data;
    l.clear();
    l.take("r", l.r.receive(init, { address: "192.0.2.1", port: 500 }, l.now));
    expect(toHex(l.of("r", "send")[0].data)).toBe(toHex(resp0));
    l.run();
    established(l);
  });
});

describe("after establishment", () => {
  function up(iOver = {}, rOver = {}): Loop {
    const l = new Loop(baseCfg("i", iOver), baseCfg("r", rOver));
    l.run();
    established(l);
    return l;
  }

  for (const [who, pfs] of [["initiator", false], ["initiator", true], ["responder", false], ["responder", true]] as const) {
    test(`rekey Child SA from the ${who}${pfs ? " with PFS (x25519)" : ""}`, () => {
      const esp = pfs ? ["aes256gcm16-x25519"] : ["aes256gcm16"];
      const l = up({ espProposals: esp }, { espProposals: esp });
      const oldI = l.of("i", "install-child")[0].child;
      l.clear();
      const side = who === "initiator" ? "i" : "r";
      const sa = side === "i" ? l.i : l.r;
      const old = side === "i" ? oldI : l.of("r", "install-child")[0]?.child ?? { spiIn: oldI.spiOut };
      l.take(side, sa.rekeyChild(side === "i" ? oldI.spiIn : oldI.spiOut, l.now));
      l.run();
      void old;
      const ni = l.of("i", "install-child"), nr = l.of("r", "install-child");
      expect(ni.length).toBe(1);
      expect(nr.length).toBe(1);
      expectPair(ni[0].child, nr[0].child);
      expect(ni[0].child.rekeyOf).toEqual({ spiIn: oldI.spiIn, spiOut: oldI.spiOut });
      expect(l.of("i", "remove-child")).toMatchObject([{ spiIn: oldI.spiIn, spiOut: oldI.spiOut }]);
      expect(l.of("r", "remove-child")).toMatchObject([{ spiIn: oldI.spiOut, spiOut: oldI.spiIn }]);
      expect(l.i.childSas.length).toBe(1);
      expect(l.r.childSas.length).toBe(1);
      expect(toHex(ni[0].child.keyIn)).not.toBe(toHex(oldI.keyIn));
      if (pfs) {
        const m = l.sent.find((w) => decodeIkev2(w.data, 0, w.data.length, [])!.exchange === 36)!;
        expect(m.data.length).toBeGreaterThan(150);
      }
    });
  }

  /** Both sides act on the first Child SA at the same moment; no failure may result. */
  function crossed(seed: number, onI: (l: Loop, c: ChildSaInfo) => void, onR: (l: Loop, c: ChildSaInfo) => void): { l: Loop; c: ChildSaInfo } {
    const l = new Loop(baseCfg("i"), baseCfg("r"), seed);
    l.run();
    const c = l.of("i", "install-child")[0].child;
    l.clear();
    onI(l, c);
    onR(l, c);
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    expect(l.of("r", "failed")).toEqual([]);
    return { l, c };
  }

  const outcomes = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    test(`simultaneous Child SA rekey from both sides (collision, RFC 7296 §2.8.1), seed ${seed}`, () => {
      const { l, c } = crossed(seed, (l, c) => l.take("i", l.i.rekeyChild(c.spiIn)), (l, c) => l.take("r", l.r.rekeyChild(c.spiOut)));
      expect(l.i.childSas.length).toBe(1);
      expect(l.r.childSas.length).toBe(1);
      const si = l.i.childSas[0], sr = l.r.childSas[0];
      expect([si.spiIn, si.spiOut]).toEqual([sr.spiOut, sr.spiIn]);
      expect(si.spiIn).not.toBe(c.spiIn);
      // what was installed and not removed must be that pair, with matching keys
      const live = (side: "i" | "r") => l.of(side, "install-child").map((a) => a.child).filter((x) => !l.of(side, "remove-child").some((r) => r.spiIn === x.spiIn));
      expect(live("i").length).toBe(1);
      expectPair(live("i")[0], live("r")[0]);
      expect(l.of("i", "remove-child").map((r) => r.spiIn)).toContain(c.spiIn);
      for (const a of l.of("i", "log")) if (a.msg.includes("rekey collision on") && a.msg.includes(":")) outcomes.add(a.msg.includes("ours wins") ? "win" : a.msg.includes("redundant") ? "lose" : "seen");
    });
  }
  test("the collision seeds exercise both outcomes", () => {
    expect(outcomes.has("win") && outcomes.has("lose")).toBe(true);
  });

  test("peer rekeys a Child SA we are deleting → TEMPORARY_FAILURE, no failure reported", () => {
    const { l } = crossed(1, (l, c) => l.take("i", l.i.deleteChild(c.spiIn)), (l, c) => l.take("r", l.r.rekeyChild(c.spiOut)));
    expect(l.i.childSas.length).toBe(0);
    expect(l.r.childSas.length).toBe(0);
  });

  test("second Child SA via initiateChild", () => {
    const l = up();
    l.clear();
    l.take("i", l.i.initiateChild({ local: ["198.51.100.0/25"], remote: ["203.0.113.0/25"] }, l.now));
    l.run();
    const ni = l.of("i", "install-child"), nr = l.of("r", "install-child");
    expectPair(ni[0].child, nr[0].child);
    expect(ni[0].child.tsLocal.map(tsText)).toEqual(["198.51.100.0/25"]);
    expect(l.i.childSas.length).toBe(2);
  });

  test("DPD: empty INFORMATIONAL answered; periodic check after dpdDelay", () => {
    const l = up({ dpdDelay: 10000 }, { dpdDelay: 0 });
    l.clear();
    l.take("i", l.i.dpd()); // `now` defaults to the last time the SA saw
    l.run();
    expect(l.sent.length).toBe(6);
    l.tick(5000);
    expect(l.wire.length).toBe(0);
    l.tick(5000);
    expect(l.wire.length).toBe(1);
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    // peer gone: DPD fails after the retransmissions
    l.drop = () => true;
    for (let k = 0; k < 400 && l.i.state !== "dead"; k++) { l.tick(1000); l.run(); }
    expect(l.i.state).toBe("dead");
    expect(l.of("i", "remove-child").length).toBe(1);
    expect(l.of("i", "failed")[0].reason).toContain("not responding");
  });

  test("delete Child SA, then the IKE SA", () => {
    const l = up();
    const c = l.of("i", "install-child")[0].child;
    l.clear();
    l.take("r", l.r.deleteChild(c.spiOut, l.now));
    l.run();
    expect(l.of("i", "remove-child")).toMatchObject([{ spiIn: c.spiIn }]);
    expect(l.of("r", "remove-child")).toMatchObject([{ spiIn: c.spiOut }]);
    l.take("i", l.i.delete(l.now));
    l.run();
    expect(l.i.state).toBe("dead");
    expect(l.r.state).toBe("dead");
    expect(l.of("i", "closed").length).toBe(1);
    expect(l.of("r", "closed").length).toBe(1);
  });

  test("rekey the IKE SA, then keep using it (DPD, Child SA rekey)", () => {
    const l = up();
    const c = l.of("i", "install-child")[0].child;
    const spi0 = toHex(l.i.spii);
    l.clear();
    l.take("i", l.i.rekeyIke(l.now));
    l.run();
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    expect(l.of("r", "ike-rekeyed").length).toBe(1);
    expect(toHex(l.i.spii)).not.toBe(spi0);
    expect(toHex(l.r.spii)).toBe(toHex(l.i.spii));
    expect(l.of("i", "remove-child")).toEqual([]);
    l.clear();
    l.take("r", l.r.dpd(l.now));
    l.take("i", l.i.rekeyChild(c.spiIn, l.now));
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    expectPair(l.of("i", "install-child")[0].child, l.of("r", "install-child")[0].child);
  });

  test("rekey the IKE SA from the responder: roles swap, both keep working", () => {
    const l = up();
    const c = l.of("i", "install-child")[0].child;
    l.clear();
    l.take("r", l.r.rekeyIke(l.now));
    l.run();
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    expect(l.of("r", "ike-rekeyed").length).toBe(1);
    expect(l.r.initiator).toBe(true);
    expect(l.i.initiator).toBe(false);
    l.clear();
    l.take("i", l.i.dpd(l.now));
    l.take("r", l.r.rekeyChild(c.spiOut, l.now));
    l.run();
    l.take("i", l.i.rekeyIke(l.now));
    l.run();
    expect(l.of("i", "failed")).toEqual([]);
    expect(l.of("r", "failed")).toEqual([]);
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    expect(l.i.initiator).toBe(true);
    expectPair(l.of("i", "install-child")[0].child, l.of("r", "install-child")[0].child);
    l.take("i", l.i.delete(l.now));
    l.run();
    expect(l.r.state).toBe("dead");
  });

  test("virtual IP pool shared by responders; exhausted → INTERNAL_ADDRESS_FAILURE; released when the SA dies", () => {
    const free = ["10.9.0.7"];
    const pool = { allocate: () => free.shift() ?? null, release: (a: string) => { free.push(a); } };
    const r = { virtualIpPool: pool, remoteTs: ["10.9.0.0/24"] };
    const a = up({ requestVirtualIp: true, localTs: undefined }, r);
    expect(a.of("i", "virtual-ip")[0].address).toBe("10.9.0.7");
    const b = new Loop(baseCfg("i", { requestVirtualIp: true, localTs: undefined }), baseCfg("r", r), 2);
    b.run();
    expect(b.of("r", "failed")[0]).toMatchObject({ scope: "child", notify: "INTERNAL_ADDRESS_FAILURE" });
    expect(b.of("i", "failed")[0]).toMatchObject({ scope: "child" });
    a.take("i", a.i.delete(a.now));
    a.run();
    expect(free).toEqual(["10.9.0.7"]);
  });

  test("virtual IP via CP", () => {
    const l = up({ requestVirtualIp: true, localTs: undefined }, { virtualIpPool: ["10.9.0.7"], dns: ["10.9.0.1"], remoteTs: ["10.9.0.0/24"] });
    expect(l.of("i", "virtual-ip")).toEqual([{ type: "virtual-ip", address: "10.9.0.7", dns: ["10.9.0.1"] }]);
    expect(l.of("i", "install-child")[0].child.tsLocal.map(tsText)).toEqual(["10.9.0.7/32"]);
    expect(l.of("r", "install-child")[0].child.tsRemote.map(tsText)).toEqual(["10.9.0.7/32"]);
  });

  test("NAT detected: switch to port 4500 before IKE_AUTH; keep-alives; address change only from authenticated messages", () => {
    const l = new Loop(baseCfg("i", { local: { address: "10.0.0.1", port: 500 } }), baseCfg("r"));
    l.run();
    established(l);
    expect(l.of("i", "nat-detected")[0]).toMatchObject({ localBehindNat: true, keepalive: true });
    expect(l.of("i", "switch-port")[0]).toMatchObject({ localPort: 4500, remote: { port: 4500 } });
    expect(l.sent[2].natt).toBe(true);
    expect(l.sent[3].natt).toBe(true);
    l.clear();
    l.tick(20000);
    expect(l.of("i", "nat-keepalive").length).toBe(1);
    // an authenticated request from a new address → peer-address-changed
    l.iSeenAs = () => ({ address: "198.18.0.9", port: 31000 });
    l.take("i", l.i.dpd(l.now));
    l.run();
    expect(l.of("r", "peer-address-changed")).toEqual([{ type: "peer-address-changed", remote: { address: "198.18.0.9", port: 31000 } }]);
    // garbage from elsewhere does not move the peer
    l.clear();
    l.take("r", l.r.receive(new Uint8Array(60), { address: "203.0.113.66", port: 4500 }, l.now));
    expect(l.of("r", "peer-address-changed")).toEqual([]);
  });

  test("directly connected hosts: no NAT detected, every message on port 500 without the marker, no keep-alives", () => {
    const l = up();
    for (const side of ["i", "r"] as const) {
      expect(l.of(side, "nat-detected")).toEqual([]);
      expect(l.of(side, "switch-port")).toEqual([]);
      expect(l.of(side, "log").filter((x) => x.msg.includes("NAT"))).toEqual([]);
    }
    expect(l.sent.map((w) => [w.natt, w.to.port])).toEqual([[false, 500], [false, 500], [false, 500], [false, 500]]);
    expect(l.of("i", "established")[0].natt).toBe(false);
    l.clear();
    l.tick(20000);
    l.run();
    expect(l.of("i", "nat-keepalive")).toEqual([]);
  });

  test("startOn4500 (today's driver): IKE_SA_INIT and everything after on 4500 with the marker, no NAT reported", () => {
    const l = up({ startOn4500: true, local: { address: "192.0.2.1", port: 4500 }, remote: { address: "192.0.2.2", port: 4500 } }, { local: { address: "192.0.2.2", port: 4500 } });
    expect(l.sent.map((w) => [w.natt, w.to.port])).toEqual([[true, 4500], [true, 4500], [true, 4500], [true, 4500]]);
    expect(l.of("i", "nat-detected")).toEqual([]);
    expect(l.of("r", "established")[0].natt).toBe(true);
  });

  test("keys are never in log lines", () => {
    const l = up();
    const k = l.of("i", "install-child")[0].child;
    for (const side of ["i", "r"] as const) for (const a of l.of(side, "log")) {
      expect(a.msg).not.toContain(toHex(k.keyIn).slice(0, 16));
      expect(a.msg).not.toContain("vpnkit-test-psk");
    }
  });
});
