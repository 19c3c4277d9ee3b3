/** The MTU search core against a simulated path (test/probe/sim.ts): exact to the byte. */
import { describe, expect, test } from "bun:test";
import { MtuSearch } from "../../lib/probe/mtu.ts";
import { mulberry32, simulate } from "./sim.ts";

function sampleMtus(seed: number): number[] {
  const out = new Set([576, 577, 578, 1279, 1280, 1281, 1379, 1380, 1381, 1492, 1499, 1500, 1501, 4352, 8999, 9000]);
  for (let m = 576; m <= 9000; m += 53) out.add(m);
  const rnd = mulberry32(seed);
  for (let i = 0; i < 60; i++) out.add(576 + Math.floor(rnd() * (9000 - 576 + 1)));
  return [...out].sort((a, b) => a - b);
}

const MTUS = sampleMtus(42);

describe("MtuSearch: exact path MTU for every sampled MTU in 576..9000", () => {
  for (const icmp of [true, false]) {
    test(`${icmp ? "ICMP too-big answered" : "black hole (ICMP filtered)"}, no loss: ${MTUS.length} MTUs`, () => {
      let worstProbes = 0;
      for (const mtu of MTUS) {
        const r = simulate({ mtu, icmp, rtt: 20, seed: mtu }, { min: 576, max: 9000 });
        expect({ mtu, ok: r.ok, pathMtu: r.pathMtu }).toEqual({ mtu, ok: true, pathMtu: mtu });
        if (mtu === 9000) expect(r.bound).toBe("max");
        else if (icmp) expect(["icmp", "local"]).toContain(r.bound!);
        else expect(r.bound).toBe("timeout");
        worstProbes = Math.max(worstProbes, r.probes);
      }
      expect(worstProbes).toBeLessThanOrEqual(80);
    });
  }

  test("local interface MTU as max: a path as wide as the link ends after one round", () => {
    const r = simulate({ mtu: 1500, icmp: false }, { min: 576, max: 1500 });
    expect(r).toMatchObject({ ok: true, pathMtu: 1500, bound: "max", rounds: 1 });
  });

  for (const icmp of [true, false]) {
    test(`random loss 5% each way (acks too), ${icmp ? "ICMP" : "black hole"}, tries=5: still exact`, () => {
      for (const mtu of MTUS) {
        const r = simulate({ mtu, icmp, rtt: 30, jitter: 10, loss: 0.05, seed: mtu * 7 + (icmp ? 1 : 0) }, { min: 576, max: 9000, tries: 5 });
        expect({ mtu, pathMtu: r.pathMtu, ok: r.ok }).toEqual({ mtu, pathMtu: mtu, ok: true });
      }
    });
  }

  test("heavy loss (30%) with the default 2 tries: never reports more than the true MTU (acks are proof)", () => {
    let exact = 0;
    for (const mtu of MTUS) {
      const r = simulate({ mtu, icmp: false, loss: 0.3, seed: mtu }, { min: 576, max: 9000 });
      if (r.pathMtu !== null) expect(r.pathMtu).toBeLessThanOrEqual(mtu);
      if (r.ok && r.pathMtu === mtu) exact++;
    }
    expect(exact).toBeGreaterThan(0);
  });

  test("IPv6 range 1280..9000", () => {
    for (const mtu of [1280, 1281, 1380, 1500, 4000, 9000]) {
      for (const icmp of [true, false]) {
        const r = simulate({ mtu, icmp, seed: 3 }, { min: 1280, max: 9000 });
        expect(r.pathMtu).toBe(mtu);
        expect(r.ok).toBe(true);
      }
    }
  });
});

describe("MtuSearch: failures and hints", () => {
  test("nothing answers: fails after the base retries, with a reason", () => {
    const r = simulate({ mtu: 100, icmp: false }, { min: 576, max: 1500 });
    expect(r.ok).toBe(false);
    expect(r.pathMtu).toBeNull();
    expect(r.error).toContain("no authenticated answer");
    // base round (min, splits, max) then only the base is retried
    expect(r.sent.filter((s) => s === 576).length).toBe(3);
    expect(r.rounds).toBe(3);
  });

  test("a bogus ICMP hint above the real MTU is not believed", () => {
    const s = new MtuSearch({ min: 576, max: 1500, parallel: 4 });
    let now = 0;
    let st = s.step(now);
    const ids = st.send;
    s.hint(1450); // real MTU is 1300, black hole
    for (let i = 0; i < 200 && !st.done; i++) {
      for (const p of st.send) if (p.size <= 1300) s.ack(p.id, now + 1);
      now = st.send.length ? now + 1 : (st.wakeAt ?? now + 1);
      st = s.step(now);
    }
    expect(ids.length).toBeGreaterThan(0);
    expect(s.result(now)).toMatchObject({ ok: true, pathMtu: 1300, bound: "timeout" });
  });

  test("a bogus ICMP hint below the real MTU is overruled by acks", () => {
    const s = new MtuSearch({ min: 576, max: 1500 });
    let now = 0;
    let st = s.step(now);
    s.icmp(null, 1000); // spoofed: real path MTU 1400
    for (let i = 0; i < 200 && !st.done; i++) {
      for (const p of st.send) if (p.size <= 1400) s.ack(p.id, now + 2);
      now = st.send.length ? now + 2 : (st.wakeAt ?? now + 1);
      st = s.step(now);
    }
    expect(s.result(now)).toMatchObject({ ok: true, pathMtu: 1400 });
  });

  test("an ICMP hint is probed at mtu and mtu+1 in the next round", () => {
    const s = new MtuSearch({ min: 576, max: 1500, parallel: 4 });
    const st = s.step(0);
    for (const p of st.send) {
      if (p.size <= 1380) s.ack(p.id, 1);
      else s.icmp(p.id, 1380);
    }
    const st2 = s.step(1);
    const sizes = st2.send.map((p) => p.size);
    expect(sizes).toContain(1380);
    expect(sizes).toContain(1381);
  });

  test("late ack after a timeout still counts as proof", () => {
    const s = new MtuSearch({ min: 576, max: 1500, parallel: 1 });
    const st = s.step(0);
    const big = st.send.find((p) => p.size === 1500)!;
    for (const p of st.send) if (p.size !== 1500) s.ack(p.id, 5);
    s.step(2000); // 1500 timed out once
    s.ack(big.id, 2100); // ... but its ack arrives late
    expect(s.step(2100).done).toBe(true);
    expect(s.result(2100)).toMatchObject({ ok: true, pathMtu: 1500, bound: "max" });
  });

  test("bounded: gives up at maxProbes", () => {
    const r = simulate({ mtu: 1400, icmp: false, loss: 0.9, seed: 9 }, { min: 576, max: 9000, maxProbes: 40 });
    expect(r.probes).toBeLessThanOrEqual(40 + 13);
    expect(r.ok).toBe(false);
  });

  test("rejects a bad range", () => {
    expect(() => new MtuSearch({ min: 1500, max: 1400 })).toThrow();
    expect(() => new MtuSearch({ min: 576, max: 70000 })).toThrow();
  });
});
