// IkeTracker and RFC 7383 fragments (decode --stats): property tests. A message sent k times
// in n fragments (any order within each copy) is k messages and k-1 retransmissions, never
// n*k; arbitrary fragment streams stay bounded and never throw.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { type IkeEvent, IkeTracker } from "../../lib/decode/ike-tracker.ts";

const ev = (no: number, o: Partial<IkeEvent>): IkeEvent => ({
  no, tsSec: no, tsNsec: 0, version: 2, ispi: "0102030405060708", rspi: "1112131415161718",
  exchange: "IKE_AUTH", messageId: 1, initiator: true, response: false, payloads: "EF", notifies: [],
  encrypted: true, src: "192.0.2.1", dst: "192.0.2.2", length: 500, ...o,
});

test("k copies of an n-fragment request: k messages, k-1 retransmits, n*k fragments", () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.infiniteStream(fc.double({ min: 0, max: 1, noNaN: true })), (n, k, rnd) => {
    const t = new IkeTracker();
    let no = 0;
    const it = rnd[Symbol.iterator]();
    for (let c = 0; c < k; c++) {
      const order = Array.from({ length: n }, (_, i) => i + 1).sort(() => it.next().value - 0.5);
      for (const f of order) t.observe(ev(++no, { fragment: { number: f, total: n } }));
    }
    t.observe(ev(++no, { response: true, initiator: false, src: "192.0.2.2", dst: "192.0.2.1", payloads: "SK" }));
    const [sa] = t.report();
    const auth = sa.exchanges[0];
    expect(auth.retransmits).toBe(k - 1);
    expect(auth.requestFragments).toBe(n * k);
    expect(sa.messages).toBe(k + 1);
    expect(sa.fragments).toBe(n * k);
  }), { numRuns: 200 });
});

test("arbitrary fragment streams: no exception, counts bounded by the events", () => {
  const event = fc.record({
    mid: fc.integer({ min: 0, max: 300 }),
    response: fc.boolean(),
    number: fc.integer({ min: 0, max: 70000 }),
    total: fc.integer({ min: 0, max: 70000 }),
    ispi: fc.constantFrom("0102030405060708", "a1a2a3a4a5a6a7a8"),
    frag: fc.boolean(),
  });
  fc.assert(fc.property(fc.array(event, { maxLength: 400 }), (evs) => {
    const t = new IkeTracker();
    evs.forEach((e, i) => t.observe(ev(i + 1, { messageId: e.mid, response: e.response, ispi: e.ispi, ...(e.frag ? { fragment: { number: e.number, total: e.total } } : {}) })));
    let messages = 0;
    for (const sa of t.report()) {
      messages += sa.messages;
      for (const x of sa.exchanges) expect(x.retransmits).toBeLessThanOrEqual(evs.length);
    }
    expect(messages).toBeLessThanOrEqual(evs.length);
  }), { numRuns: 200 });
});
