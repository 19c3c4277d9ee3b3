/**
 * The IKE gate's stateless core (lib/ike/v2/sa/cookie-gate.ts): its COOKIE answer is byte for
 * byte the IKE SA manager's, a COOKIE either makes is accepted by the other (shared secrets), a
 * real initiator gets through gate + manager, a flood gets only COOKIEs, secrets rotate, and
 * nothing thrown on any input (fast-check). In-memory, no I/O.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CookieGate, GATE_COOKIE, GATE_DROP, GATE_DROP_REASONS, GATE_FORWARD, SharedCookieJar } from "../../../../lib/ike/v2/sa/cookie-gate.ts";
import { IkeSa, type Action, type Endpoint } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { IkeSaManager } from "../../../../lib/ike/v2/sa/manager.ts";
import { parseIp } from "../../../../lib/net/cidr.ts";
import { baseCfg, I_ADDR, R_ADDR, seededRng } from "./harness.ts";

function initRequest(seed = 3): Uint8Array {
  const { actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(seed));
  const s = actions.find((a) => a.type === "send");
  if (!s || s.type !== "send") throw new Error("no IKE_SA_INIT");
  return s.data;
}

function withSpi(msg: Uint8Array, n: number): Uint8Array {
  const d = msg.slice();
  new DataView(d.buffer).setUint32(0, n);
  new DataView(d.buffer).setUint32(4, 0x5eed0000 ^ n);
  return d;
}

const ip = (a: string) => parseIp(a)!.addr;

/** A writer jar (the gate's), a reader jar (the manager's) over one buffer, and a responder manager using the reader. */
function setup(limits = { cookieThreshold: 0, initRate: 0 }) {
  const sab = SharedCookieJar.create(0, seededRng(9));
  const writer = new SharedCookieJar(sab, 60_000, true);
  const reader = new SharedCookieJar(sab, 60_000, false);
  const sent: { data: Uint8Array; to: Endpoint }[] = [];
  const r = new IkeSaManager({
    now: 0, limits, rng: seededRng(4), cookies: reader,
    responder: (from) => baseCfg("r", { remote: { ...from }, remoteId: undefined, keylog: false }),
    onActions: (_e, actions: Action[]) => {
      for (const a of actions) if (a.type === "send") sent.push({ data: a.data, to: a.to });
    },
  });
  return { gate: new CookieGate(writer), writer, reader, r, sent };
}

describe("IKE gate (stateless COOKIE front)", () => {
  test("its COOKIE answer is byte for byte the manager's, for IPv4 and IPv6 sources", () => {
    for (const src of ["192.0.2.1", "2001:db8::1"]) {
      const { gate, r, sent } = setup();
      const req = initRequest(5);
      r.receive(req, { address: src, port: 500 }, "ike", 10);
      expect(sent.length).toBe(1);
      expect(r.counters.cookiesSent).toBe(1);
      const a = ip(src);
      expect(gate.check(req, 0, req.length, a, 0, a.length, true, 10)).toBe(GATE_COOKIE);
      expect(Buffer.from(gate.reply).toString("hex")).toBe(Buffer.from(sent[0].data).toString("hex"));
      expect(gate.cookiesSent).toBe(1);
    }
  });

  test("a real initiator gets through gate and manager: COOKIE from the gate, returned, forwarded, accepted", () => {
    const { gate, r, sent } = setup({ cookieThreshold: 0, initRate: 0 });
    const isent: Uint8Array[] = [];
    const i = new IkeSaManager({ now: 0, rng: seededRng(8), onActions: (_e, acts) => acts.forEach((a) => a.type === "send" && isent.push(a.data)) });
    const { sa, actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(12));
    i.add(sa, actions, "ike", 0);
    const a = ip(I_ADDR.address);
    const first = isent.shift()!;
    expect(gate.check(first, 0, first.length, a, 0, 4, true, 1)).toBe(GATE_COOKIE);
    i.receive(gate.reply.slice(), R_ADDR, "ike", 2);
    const second = isent.shift()!;
    expect(second).toBeDefined();
    // it now carries the COOKIE: the gate forwards it, the manager (same secrets) accepts it
    expect(gate.check(second, 0, second.length, a, 0, 4, true, 3)).toBe(GATE_FORWARD);
    expect(gate.cookiesValid).toBe(1);
    r.receive(second, I_ADDR, "ike", 3);
    expect(r.counters.initAccepted).toBe(1);
    expect(r.counters.cookiesSent).toBe(0);
    expect(sent.length).toBe(1); // the IKE_SA_INIT response
    // and the rest of the exchange completes through the manager alone
    for (let n = 0; n < 10 && (sent.length || isent.length); n++) {
      while (sent.length) i.receive(sent.shift()!.data, R_ADDR, "ike", 4);
      while (isent.length) r.receive(isent.shift()!, I_ADDR, "ike", 4);
    }
    expect(sa.state).toBe("established");
  });

  test("a cookie the manager made passes the gate (the manager demanded it before the gate did)", () => {
    const { gate, r, sent } = setup();
    const isent: Uint8Array[] = [];
    const i = new IkeSaManager({ now: 0, rng: seededRng(8), onActions: (_e, acts) => acts.forEach((a) => a.type === "send" && isent.push(a.data)) });
    const { sa, actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(13));
    i.add(sa, actions, "ike", 0);
    r.receive(isent.shift()!, I_ADDR, "ike", 1);
    i.receive(sent.shift()!.data, R_ADDR, "ike", 2);
    const again = isent.shift()!;
    expect(gate.check(again, 0, again.length, ip(I_ADDR.address), 0, 4, true, 3)).toBe(GATE_FORWARD);
  });

  test("a flood gets only COOKIEs while they are demanded, and is forwarded while not; offsets in a slab give the same answer", () => {
    const { gate } = setup();
    const base = initRequest(7);
    const slab = new Uint8Array(4096 * 4);
    for (let n = 0; n < 10_000; n++) {
      const req = withSpi(base, n + 1);
      const a = new Uint8Array([198, 18, n >> 8, n & 255]);
      expect(gate.check(req, 0, req.length, a, 0, 4, false, n)).toBe(GATE_FORWARD);
      expect(gate.check(req, 0, req.length, a, 0, 4, true, n)).toBe(GATE_COOKIE);
      if (n % 1000 === 0) {
        const want = gate.reply.slice();
        const off = 4096 * (1 + (n % 3));
        slab.set(req, off);
        const names = new Uint8Array(64);
        names.set(a, 20);
        expect(gate.check(slab, off, req.length, names, 20, 4, true, n)).toBe(GATE_COOKIE);
        expect(gate.reply).toEqual(want);
      }
    }
    expect(gate.cookiesSent).toBe(10_000 + 10);
    expect(gate.cookiesValid).toBe(0);
  });

  test("a wrong COOKIE gets a new one and is counted; other messages are forwarded; junk is dropped by reason", () => {
    const { gate, r, sent } = setup();
    const isent: Uint8Array[] = [];
    const i = new IkeSaManager({ now: 0, rng: seededRng(8), onActions: (_e, acts) => acts.forEach((a) => a.type === "send" && isent.push(a.data)) });
    const { sa, actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(14));
    i.add(sa, actions, "ike", 0);
    r.receive(isent.shift()!, I_ADDR, "ike", 1);
    i.receive(sent.shift()!.data, R_ADDR, "ike", 2);
    const withCookie = isent.shift()!;
    const a = ip(I_ADDR.address);
    // from another address the same cookie is wrong
    expect(gate.check(withCookie, 0, withCookie.length, ip("192.0.2.9"), 0, 4, true, 3)).toBe(GATE_COOKIE);
    expect(gate.drops[GATE_DROP_REASONS.indexOf("gate-bad-cookie")]).toBe(1);
    expect(gate.check(withCookie, 0, withCookie.length, a, 0, 4, true, 3)).toBe(GATE_FORWARD);
    const auth = withCookie.slice();
    auth[18] = 35; // IKE_AUTH
    expect(gate.check(auth, 0, auth.length, a, 0, 4, true, 3)).toBe(GATE_FORWARD);
    const resp = withCookie.slice();
    resp[19] = 0x20; // a response
    expect(gate.check(resp, 0, resp.length, a, 0, 4, true, 3)).toBe(GATE_FORWARD);
    expect(gate.check(new Uint8Array(20), 0, 20, a, 0, 4, true, 3)).toBe(GATE_DROP);
    const marked = new Uint8Array(40);
    expect(gate.check(marked, 0, 40, a, 0, 4, true, 3)).toBe(GATE_DROP);
    const v1 = withCookie.slice();
    v1[17] = 0x10;
    expect(gate.check(v1, 0, v1.length, a, 0, 4, true, 3)).toBe(GATE_DROP);
    const noNonce = withCookie.slice(0, 28);
    noNonce[16] = 0;
    expect(gate.check(noNonce, 0, 28, a, 0, 4, true, 3)).toBe(GATE_DROP);
    const d = Object.fromEntries(GATE_DROP_REASONS.map((n, k) => [n, gate.drops[k]]));
    expect(d).toEqual({ "gate-short": 1, "gate-not-ikev2": 1, "gate-wrong-port": 1, "gate-malformed": 1, "gate-bad-cookie": 1 });
  });

  test("the secrets rotate in the writer; the previous one is still accepted by both sides, the one before not", () => {
    const { gate, writer, reader } = setup();
    const ni = new Uint8Array(32).fill(7), spi = new Uint8Array(8).fill(3);
    const c1 = reader.cookie(ni, "192.0.2.1", spi, 0);
    expect(writer.check(c1, ni, "192.0.2.1", spi, 0)).toBe(true);
    reader.rotate(70_000); // a reader never rotates
    expect(reader.version).toBe(1);
    writer.rotate(70_000);
    expect(reader.version).toBe(2);
    expect(reader.check(c1, ni, "192.0.2.1", spi, 70_001)).toBe(true);
    const c2 = reader.cookie(ni, "192.0.2.1", spi, 70_001);
    expect(c2.subarray(0, 4)).toEqual(new Uint8Array([0, 0, 0, 2]));
    writer.rotate(140_000);
    expect(reader.check(c1, ni, "192.0.2.1", spi, 140_001)).toBe(false);
    expect(reader.check(c2, ni, "192.0.2.1", spi, 140_001)).toBe(true);
    // idle for more than twice the period: both old secrets go
    writer.rotate(400_000);
    expect(reader.check(c2, ni, "192.0.2.1", spi, 400_001)).toBe(false);
    writer.destroy();
    expect(reader.slotOf(reader.version)).toBe(-1);
    const req = initRequest(6);
    // the gate checks with the same buffer: nothing it made before is accepted now
    expect(gate.check(req, 0, req.length, ip("192.0.2.1"), 0, 4, true, 400_002)).toBe(GATE_COOKIE);
  });

  test("never throws, whatever the datagram (random bytes and mutated requests)", () => {
    const { gate } = setup();
    const base = initRequest(21);
    const a = ip("198.18.0.1");
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), fc.boolean(), (b, demand) => {
      const v = gate.check(b, 0, b.length, a, 0, 4, demand, 0);
      return v === GATE_FORWARD || v === GATE_COOKIE || v === GATE_DROP;
    }), { numRuns: 2000 });
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(base.length), (muts, cut) => {
      const b = base.slice(0, Math.max(cut, 1));
      for (const [k, x] of muts) if (k < b.length) b[k] = x;
      b.fill(0, 8, 16);
      const v = gate.check(b, 0, b.length, a, 0, 4, true, 0);
      return v === GATE_FORWARD || v === GATE_COOKIE || v === GATE_DROP;
    }), { numRuns: 3000 });
  });
});
