/**
 * ESP for an unknown SPI (RFC 7296 §2.21), in the core alone (no I/O, time passed in):
 * the rate limiter (one INVALID_SPI per SPI per interval, a global rate, a bounded table —
 * also as a property over random report sequences), the notify payload (type 11, protocol 0,
 * no SPI field, the SPI as data), and the INFORMATIONAL request on established SA contexts:
 * protected in the IKE SA, answered, and logged by the peer.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { encodePayloadBody } from "../../../../lib/ike/v2/encode/payloads.ts";
import { responderAuth } from "../../../../lib/ike/v2/sa/exchange-auth.ts";
import { responderInfo } from "../../../../lib/ike/v2/sa/exchange-info.ts";
import { INVALID_SPI, InvalidSpiLimiter, invalidSpiNotify, invalidSpiRequest } from "../../../../lib/ike/v2/sa/invalid-spi.ts";
import { decode, establishCtx, NOW, ofType, openSk, roundTrip, sends } from "./ctx.ts";
import { baseCfg } from "./harness.ts";

describe("InvalidSpiLimiter", () => {
  test("one per SPI per interval; another SPI may go; the same SPI again after the interval", () => {
    const l = new InvalidSpiLimiter({ perSpiMs: 10_000, perSecond: 10 });
    expect(l.allow(0xdead, 0)).toBe(true);
    for (let t = 1; t < 10_000; t += 997) expect(l.allow(0xdead, t)).toBe(false);
    expect(l.allow(0xbeef, 5)).toBe(true);
    expect(l.allow(0xdead, 10_000)).toBe(true);
    expect(l.counters).toMatchObject({ allowed: 3, limitedSpi: 11 });
  });

  test("global rate: a burst of distinct SPIs gets `perSecond`, then one per 1/perSecond s", () => {
    const l = new InvalidSpiLimiter({ perSecond: 10 });
    let ok = 0;
    for (let i = 0; i < 1000; i++) if (l.allow(i, 0)) ok++;
    expect(ok).toBe(10);
    expect(l.allow(5000, 50)).toBe(false); // 0.5 token
    expect(l.allow(5001, 100)).toBe(true); // 1 token after 100 ms
    expect(l.counters.limitedRate).toBe(991);
  });

  test("the table is bounded: a flood of random SPIs never grows it past maxTracked", () => {
    const l = new InvalidSpiLimiter({ perSecond: 1e9, maxTracked: 64, perSpiMs: 10_000 });
    for (let i = 0; i < 10_000; i++) l.allow((i * 2654435761) >>> 0, i);
    expect(l.size).toBeLessThanOrEqual(64);
    // old entries expire: after the interval new SPIs get through again
    expect(l.allow(0x12345678, 40_000)).toBe(true);
  });

  test("property: never two allows for one SPI within perSpiMs, never more than perSecond + rate·t in total, table ≤ maxTracked", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 700 })), { maxLength: 300 }),
        fc.integer({ min: 1, max: 20 }),
        (events, perSecond) => {
          const perSpiMs = 1000;
          const l = new InvalidSpiLimiter({ perSpiMs, perSecond, maxTracked: 4 });
          const last = new Map<number, number>();
          let now = 0, allowed = 0;
          for (const [spi, dt] of events) {
            now += dt;
            if (l.allow(spi, now)) {
              const prev = last.get(spi);
              if (prev !== undefined && now - prev < perSpiMs) return false;
              last.set(spi, now);
              allowed++;
            }
            if (l.size > 4) return false;
          }
          return allowed <= perSecond + Math.floor((now * perSecond) / 1000) + 1;
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("INVALID_SPI notify and request", () => {
  test("the payload: notify type 11, protocol 0, SPI size 0, the SPI as data (RFC 7296 §3.10, §3.10.1)", () => {
    const n = invalidSpiNotify(0x0badf00d);
    expect(n).toMatchObject({ type: "notify", notifyType: INVALID_SPI });
    // protocol 0, SPI size 0, type 11, data 0badf00d
    expect(Array.from(encodePayloadBody(n))).toEqual([0, 0, 0, 11, 0x0b, 0xad, 0xf0, 0x0d]);
  });

  test("an INFORMATIONAL in the established IKE SA (protected); the peer answers and logs it", () => {
    const { i, r } = establishCtx(baseCfg("i"), baseCfg("r"), responderAuth);
    expect([i.state, r.state]).toEqual(["established", "established"]);
    r.request(invalidSpiRequest(r, 0x0badf00d), NOW);
    const out = r.flush();
    const req = sends(out)[0];
    const msg = decode(req.data);
    expect(msg.exchange).toBe(37);
    expect(msg.payloads[0].type).toBe(46); // SK: encrypted
    const t = roundTrip(r, out, i, responderInfo);
    const inner = openSk(i, decode(req.data), req.data);
    expect(inner.length).toBe(1);
    expect(inner[0].kind === "notify" && inner[0].notifyType).toBe(INVALID_SPI);
    expect(ofType(t.b, "log").some((l) => l.msg.includes("peer reported INVALID_SPI"))).toBe(true);
    expect(ofType(out, "log").some((l) => l.msg.includes("ESP with unknown SPI 0badf00d"))).toBe(true);
    // nothing failed or closed on either side
    expect([...ofType(t.a, "closed"), ...ofType(t.b, "closed"), ...ofType(t.b, "failed")]).toEqual([]);
  });

  test("not before the IKE SA is established: nothing is sent", () => {
    const { r } = establishCtx(baseCfg("i"), baseCfg("r"), responderAuth);
    r.state = "init-done";
    r.request(invalidSpiRequest(r, 1234), NOW);
    expect(sends(r.flush())).toEqual([]);
  });
});
