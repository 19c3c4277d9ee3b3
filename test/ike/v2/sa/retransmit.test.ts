/**
 * Retransmission timers (lib/ike/v2/sa/retransmit.ts): the usual schedule for every request,
 * the initiator's IKE_SA_INIT with two early retransmissions and the same give-up time, none
 * with retransmit_tries 0, and bounded counts for any configuration (fast-check).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { retransmitMax, retransmitWait } from "../../../../lib/ike/v2/sa/retransmit.ts";

const schedule = (c: Parameters<typeof retransmitWait>[0], initInit: boolean) =>
  Array.from({ length: retransmitMax(c, initInit) + 1 }, (_, k) => retransmitWait(c, initInit, k));
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

describe("retransmission timers", () => {
  test("defaults: every request 4, 7.2, 12.96, 23.3, 42, 75.6 s (165 s in all)", () => {
    const w = schedule({}, false);
    expect(w.map((x) => Math.round(x))).toEqual([4000, 7200, 12960, 23328, 41990, 75583]);
    expect(Math.round(sum(w))).toBe(165061);
  });

  test("the initiator's IKE_SA_INIT: 1 s, 2 s, then the usual schedule; gives up at the same time", () => {
    const w = schedule({}, true);
    expect(w.map((x) => Math.round(x))).toEqual([1000, 2000, 4000, 7200, 12960, 23328, 41990, 72583]);
    expect(retransmitMax({}, true)).toBe(7);
    expect(sum(w)).toBeCloseTo(sum(schedule({}, false)), 6);
  });

  test("retransmit_tries 0: no retransmission at all, IKE_SA_INIT included", () => {
    expect(retransmitMax({ retransmitTries: 0 }, true)).toBe(0);
    expect(schedule({ retransmitTries: 0 }, true)).toEqual([4000]);
  });

  test("any configuration: positive waits, at most 2 more IKE_SA_INITs, same total (fast-check)", () => {
    fc.assert(fc.property(
      fc.record({ retransmitTimeout: fc.integer({ min: 100, max: 60_000 }), retransmitBase: fc.double({ min: 1, max: 4, noNaN: true }), retransmitTries: fc.integer({ min: 0, max: 20 }) }),
      (c) => {
        const a = schedule(c, true), b = schedule(c, false);
        expect(a.every((x) => x > 0)).toBe(true);
        expect(a.length - b.length).toBe(c.retransmitTries >= 1 ? 2 : 0);
        expect(Math.abs(sum(a) - sum(b))).toBeLessThan(1e-6 * sum(b));
      },
    ));
  });
});
