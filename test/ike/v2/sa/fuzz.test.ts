/**
 * Robustness: mutated and random datagrams fed to initiator and responder at every
 * stage of a negotiation never throw, never hit the internal-error path, and never
 * produce an install/established action for an unauthenticated message.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { IkeSa, type Action } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { baseCfg, Loop, seededRng } from "./harness.ts";

function noInternalError(acts: Action[]): void {
  for (const a of acts) if (a.type === "log") expect(a.msg).not.toContain("internal error");
}

describe("IkeSa.receive on hostile input", () => {
  // record a complete exchange once: its datagrams are the seeds for mutation
  const ref = new Loop(baseCfg("i"), baseCfg("r"));
  ref.run();
  const seeds = ref.sent.map((w) => w.data);

  test("mutated real messages at each stage (fast-check)", () => {
    fc.assert(fc.property(
      fc.nat({ max: seeds.length - 1 }), fc.nat({ max: 3 }),
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.nat({ max: 40 }), (si, stage, flips, cut) => {
        const l = new Loop(baseCfg("i"), baseCfg("r"));
        l.run(stage); // advance the real exchange to some stage
        const d = seeds[si].slice(0, Math.max(0, seeds[si].length - cut));
        for (const [pos, v] of flips) if (d.length) d[pos % d.length] ^= v || 1;
        for (const side of ["i", "r"] as const) {
          const sa = side === "i" ? l.i : l.r;
          const before = l.of(side, "install-child").length + l.of(side, "established").length;
          const acts = sa.receive(d, { address: "198.18.0.1", port: 500 }, l.now);
          noInternalError(acts);
          l.take(side, acts);
          // a corrupted message cannot complete authentication
          if (si >= 2) expect(l.of(side, "install-child").length + l.of(side, "established").length).toBe(before);
        }
        l.run();
      },
    ), { numRuns: 300 });
  });

  test("mutated SKF fragments (RFC 7383) at each stage (fast-check)", () => {
    const cfg = (side: "i" | "r") => baseCfg(side, { fragmentSize: 200, ikeProposals: ["aes128-sha256-ecp256"] });
    const ref2 = new Loop(cfg("i"), cfg("r"));
    ref2.run();
    const frags = ref2.sent.filter((w) => w.data[16] === 53).map((w) => w.data);
    expect(frags.length).toBeGreaterThan(2);
    fc.assert(fc.property(
      fc.nat({ max: frags.length - 1 }), fc.nat({ max: 6 }), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 4 }),
      (fi, stage, flips) => {
        const l = new Loop(cfg("i"), cfg("r"));
        l.run(stage);
        const d = frags[fi].slice();
        for (const [pos, v] of flips) d[pos % d.length] ^= v || 1;
        for (const side of ["i", "r"] as const) {
          const acts = (side === "i" ? l.i : l.r).receive(d, { address: "192.0.2.9", port: 4500 }, l.now);
          noInternalError(acts);
          l.take(side, acts);
        }
        l.run();
      },
    ), { numRuns: 150 });
  });

  test("mutated IKE_SA_INIT requests to fresh responders: answered and kept (init-done), or closed at once (fast-check)", () => {
    const init = seeds[0];
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat({ max: 60 }), fc.boolean(),
      (flips, cut, natt) => {
        const d = init.slice(0, Math.max(0, init.length - cut));
        for (const [pos, v] of flips) if (d.length) d[pos % d.length] ^= v || 1;
        const r = IkeSa.responder(baseCfg("r"), 0, seededRng(3));
        const acts = r.receive(d, { address: "192.0.2.1", port: natt ? 4500 : 500 }, 0, { address: "192.0.2.2", port: natt ? 4500 : 500 });
        noInternalError(acts);
        const closed = acts.filter((a) => a.type === "closed").length;
        expect(["init-done", "dead"]).toContain(r.state);
        expect(closed).toBe(r.state === "dead" ? 1 : 0);
        for (const a of acts) if (a.type === "send") expect(a.natt).toBe(natt);
      },
    ), { numRuns: 300 });
  });

  test("random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), (d) => {
      const l = new Loop(baseCfg("i"), baseCfg("r"));
      for (const sa of [l.i, l.r]) noInternalError(sa.receive(d, { address: "198.18.0.1", port: 500 }, l.now));
    }), { numRuns: 300 });
  });
});
