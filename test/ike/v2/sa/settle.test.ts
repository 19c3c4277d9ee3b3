/**
 * Memory per held IKE SA (issue 12): once established, an IKE SA keeps only what RFC 7296
 * needs afterwards (SPIs, message IDs, SK_* in one slab, the last response with a digest of
 * its request, Child SA SPIs and selectors). The handshake's nonces and PSK copy are zeroed
 * and released, the IKE_SA_INIT messages dropped; keys are zeroed when the SA dies or is
 * rekeyed; rekeys and retransmission answers still work afterwards; configuration parses
 * are shared between SAs.
 */
import { describe, expect, test } from "bun:test";
import { toHex } from "../../../../lib/core/bytes.ts";
import type { IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { IkeKeySlab } from "../../../../lib/ike/v2/sa/key-slab.ts";
import type { SaState } from "../../../../lib/ike/v2/sa/state.ts";
import { baseCfg, Loop } from "./harness.ts";

/** The SA's state object (tests only). */
const st = (sa: IkeSa): SaState => (sa as unknown as { s: SaState }).s;
const zero = (b: Uint8Array) => b.every((x) => x === 0);

function expectSettled(s: SaState): void {
  for (const f of ["ni", "nr", "ni2", "nr2", "initRequest", "initResponse", "lastRaw", "psk"] as const) expect(s[f].length).toBe(0);
  expect(s.ke).toBeNull();
  expect(s.cookie).toBeNull();
  expect(s.lastInstalled).toBeNull();
  // the handshake-only fields' object is gone (handshake-state.ts), its fields read as defaults
  expect(s.hs).toBeNull();
  expect(s.exchangeInitiator).toBe(true);
  expect(s.pendingIkeRekey).toBeNull();
  expect(s.keys).toBeInstanceOf(IkeKeySlab);
  expect((s.keys as IkeKeySlab).skpi.length + (s.keys as IkeKeySlab).skpr.length).toBe(0);
}

describe("an established IKE SA holds no handshake state", () => {
  test("nonces and PSK copies zeroed and released, IKE_SA_INIT messages dropped (both sides)", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    const held: Uint8Array[] = [];
    l.run(1); // the responder answered IKE_SA_INIT
    held.push(st(l.r).ni, st(l.r).nr, st(l.r).psk);
    expect(st(l.r).initRequest.length).toBeGreaterThan(200);
    l.run(1); // the initiator sent IKE_AUTH
    held.push(st(l.i).ni, st(l.i).nr, st(l.i).psk);
    for (const b of held) expect(zero(b)).toBe(false);
    l.run();
    expect(l.i.state).toBe("established");
    expect(l.r.state).toBe("established");
    for (const b of held) expect(zero(b)).toBe(true);
    expectSettled(st(l.i));
    expectSettled(st(l.r));
    // the last response is kept for retransmissions with a 16-byte digest of its request, not a copy
    const cr = st(l.r).cachedResponse!;
    expect(cr.mid).toBe(1);
    expect(cr.digest.length).toBe(16);
  });

  test("a retransmitted IKE_AUTH request still gets the cached response; another request with that message ID does not", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.run();
    const auth = l.sent.find((w) => w.from === "i" && w.data[18] === 35)!;
    const answer = l.sent.find((w) => w.from === "r" && w.data[18] === 35)!;
    const again = l.r.receive(auth.data, { address: "192.0.2.1", port: 500 }, l.now);
    const sends = again.filter((a) => a.type === "send");
    expect(sends.length).toBe(1);
    expect(toHex(sends[0].type === "send" ? sends[0].data : new Uint8Array(0))).toBe(toHex(answer.data));
    const other = auth.data.slice();
    other[other.length - 1] ^= 1;
    expect(l.r.receive(other, { address: "192.0.2.1", port: 500 }, l.now).filter((a) => a.type === "send")).toEqual([]);
  });

  test("keys are zeroed when the SA is deleted, and the old ones when the IKE SA is rekeyed", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.run();
    const k0 = [st(l.i).keys as IkeKeySlab, st(l.r).keys as IkeKeySlab];
    for (const k of k0) expect(k.isZero()).toBe(false);
    l.take("i", l.i.rekeyIke(l.now));
    l.run();
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    for (const k of k0) expect(k.isZero()).toBe(true);
    // the rekey's own nonces are released too
    expectSettled(st(l.i));
    expectSettled(st(l.r));
    const k1 = [st(l.i).keys as IkeKeySlab, st(l.r).keys as IkeKeySlab];
    l.take("i", l.i.delete(l.now));
    l.run();
    expect(l.i.state).toBe("dead");
    expect(l.r.state).toBe("dead");
    for (const k of k1) expect(k.isZero()).toBe(true);
    expect(st(l.i).keys).toBeNull();
    expect(st(l.r).keys).toBeNull();
  });

  test("after settling: Child SA rekeys from both sides, a new Child SA, DPD and an IKE SA rekey all still work", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.run();
    expectSettled(st(l.r));
    const c = l.of("i", "install-child")[0].child;
    l.clear();
    l.take("i", l.i.rekeyChild(c.spiIn, l.now));
    l.run();
    const ni = l.of("i", "install-child"), nr = l.of("r", "install-child");
    expect(ni.length).toBe(1);
    expect(nr.length).toBe(1);
    expect(toHex(ni[0].child.keyIn)).toBe(toHex(nr[0].child.keyOut));
    expect(ni[0].child.rekeyOf?.spiIn).toBe(c.spiIn);
    l.clear();
    l.take("r", l.r.rekeyChild(nr[0].child.spiIn, l.now));
    l.run();
    expect(l.of("r", "install-child").length).toBe(1);
    expect(toHex(l.of("r", "install-child")[0].child.keyOut)).toBe(toHex(l.of("i", "install-child")[0].child.keyIn));
    l.clear();
    l.take("i", l.i.initiateChild({}, l.now));
    l.take("r", l.r.dpd(l.now));
    l.run();
    expect(l.of("i", "install-child").length).toBe(1);
    expect(l.of("i", "failed")).toEqual([]);
    expect(l.of("r", "failed")).toEqual([]);
    l.clear();
    l.take("r", l.r.rekeyIke(l.now));
    l.run();
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    expect(l.of("r", "ike-rekeyed").length).toBe(1);
    expectSettled(st(l.i));
    expectSettled(st(l.r));
    expect(l.i.childSas.length).toBe(2);
  });
});

describe("a held IKE SA keeps no empty per-SA arrays or copies", () => {
  test("no action or request arrays between messages, no reassembly slots, certificates shared, NAT-detection endpoint shared", () => {
    const a = new Loop(baseCfg("i"), baseCfg("r"), 1);
    const b = new Loop(baseCfg("i"), baseCfg("r"), 2);
    a.run();
    b.run();
    for (const sa of [a.i, a.r]) {
      const s = st(sa) as unknown as { o: unknown; q: unknown; lastFrom: unknown; remote: unknown };
      expect(s.o).toBeNull();
      expect(s.q).toBeNull();
      expect(s.lastFrom).toBe(s.remote);
      expect((sa as unknown as { frags: unknown }).frags).toBeNull();
    }
    expect(st(a.r).certs).toBe(st(b.r).certs);
    expect(st(a.r).hasQueued()).toBe(false);
    // a request queued behind an outstanding one is still sent after it
    a.clear();
    a.take("i", a.i.dpd(a.now));
    a.take("i", a.i.initiateChild({}, a.now));
    expect(st(a.i).hasQueued()).toBe(true);
    a.run();
    expect(a.of("i", "install-child").length).toBe(1);
    expect(st(a.i).hasQueued()).toBe(false);
    expect((st(a.i) as unknown as { q: unknown }).q).toBeNull();
  });
});

describe("handshake-only fields live in a sub-object while an exchange needs them", () => {
  test("made by a write, kept while an IKE SA rekey is pending, dropped once settled; state objects have none of those fields of their own", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    expect(st(l.i).hs).not.toBeNull();
    l.run();
    const s = st(l.r);
    expect(s.hs).toBeNull();
    for (const f of ["ni", "nr", "psk", "ke", "eap", "cookie", "initRequest", "lastRaw", "pendingIkeRekey"]) expect(Object.hasOwn(s, f)).toBe(false);
    // writing a default makes nothing; another value makes the sub-object, settle() drops it again
    s.cookie = null;
    expect(s.hs).toBeNull();
    s.nr2 = new Uint8Array([1, 2, 3]);
    expect(s.hs).not.toBeNull();
    expect([...s.nr2]).toEqual([1, 2, 3]);
    s.settle();
    expect(s.hs).toBeNull();
    expect(s.nr2.length).toBe(0);
    // an IKE SA rekey from the initiator: the responder holds the pending rekey (and its shared secret) across messages
    l.clear();
    l.take("i", l.i.rekeyIke(l.now));
    l.run(1);
    const pending = [st(l.i), st(l.r)].filter((x) => x.pendingIkeRekey !== null);
    expect(pending.length).toBeGreaterThan(0);
    for (const x of pending) expect(x.hs).not.toBeNull();
    l.run();
    expect(l.of("i", "ike-rekeyed").length).toBe(1);
    expectSettled(st(l.i));
    expectSettled(st(l.r));
  });
});

describe("configuration parsed once, shared by the SAs made from it", () => {
  test("proposals, selectors, identity and the negotiated ESP suite are the same frozen objects in two SAs", () => {
    const a = new Loop(baseCfg("i"), baseCfg("r"), 1);
    const b = new Loop(baseCfg("i"), baseCfg("r"), 2);
    a.run();
    b.run();
    for (const f of ["ikeSuites", "espSuites", "localTs", "remoteTs", "localId"] as const) {
      expect(st(a.r)[f]).toBe(st(b.r)[f]);
      expect(Object.isFrozen(st(a.r)[f])).toBe(true);
    }
    expect(st(a.r).children[0].suite).toBe(st(b.r).children[0].suite);
    expect(Object.isFrozen(st(a.r).children[0].suite)).toBe(true);
    // our configured selector is not copied per Child SA
    expect(st(a.r).children[0].tsLocal[0]).toBe(st(a.r).localTs[0]);
    // the PSK stays a per-SA copy (zeroed on its own)
    expect(toHex(st(a.r).psk)).toBe("");
  });
});

describe("an established IKE SA's arrays stay plain (issue 12: a view would move them into ArrayBuffers of their own)", () => {
  test("SK_pi/SK_pr zeroed and released; DPD, a Child SA rekey and a retransmitted request take no view or buffer of the SPIs, keys or cached response", () => {
    const l = new Loop(baseCfg("i"), baseCfg("r"));
    l.run(1); // the responder derived its keys in IKE_SA_INIT
    const skp = [(st(l.r).keys as IkeKeySlab).skpi, (st(l.r).keys as IkeKeySlab).skpr];
    for (const k of skp) expect(zero(k)).toBe(false);
    l.run();
    for (const k of skp) expect(zero(k)).toBe(true);
    const watched = new Set<Uint8Array>();
    for (const s of [st(l.i), st(l.r)]) {
      const k = s.keys as IkeKeySlab;
      for (const a of [s.spii, s.spir, k.skd, k.skei, k.sker, k.skai, k.skar, ...(s.cachedResponse?.data ?? [])]) if (a.length) watched.add(a);
    }
    expect(watched.size).toBeGreaterThanOrEqual(11);
    const touched: Uint8Array[] = [];
    const proto = Object.getPrototypeOf(Uint8Array.prototype) as object;
    const buf = Object.getOwnPropertyDescriptor(proto, "buffer")!;
    const sub = Uint8Array.prototype.subarray;
    Object.defineProperty(proto, "buffer", { ...buf, get(this: Uint8Array) { if (watched.has(this)) touched.push(this); return buf.get!.call(this); } });
    Uint8Array.prototype.subarray = function (this: Uint8Array, a?: number, b?: number) {
      if (watched.has(this)) touched.push(this);
      return sub.call(this, a, b);
    } as typeof sub;
    try {
      const auth = l.sent.find((w) => w.from === "i" && w.data[18] === 35)!;
      expect(l.r.receive(auth.data, { address: "192.0.2.1", port: 500 }, l.now).filter((a) => a.type === "send").length).toBe(1);
      l.clear();
      l.take("i", l.i.dpd(l.now));
      l.run();
      l.take("i", l.i.rekeyChild(l.i.childSas[0].spiIn, l.now));
      l.run();
      expect(l.of("i", "install-child").length).toBe(1);
      expect(l.of("r", "failed")).toEqual([]);
    } finally {
      Object.defineProperty(proto, "buffer", buf);
      Uint8Array.prototype.subarray = sub;
    }
    expect(touched.length).toBe(0);
  });
});
