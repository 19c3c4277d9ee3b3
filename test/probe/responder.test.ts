/**
 * The responder core: only authenticated, fresh, unreplayed, consistent probes get a
 * (never larger) ack; everything else gets no answer. Plus rate limits and fuzzing.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { attachResponder, MtuResponder } from "../../lib/probe/responder.ts";
import { buildProbe, deriveProbeKey, parseHeader, PROBE_HEADER_LEN, TYPE_ACK, verifyMac } from "../../lib/probe/wire.ts";
import type { DatagramSocket } from "../../lib/tunnel/engine.ts";

const SECRET = new TextEncoder().encode("correct horse battery staple");
const KEY = deriveProbeKey(SECRET);
const NOW = 1_760_000_000_000;
const NONCE = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

function probe(id: number, size = 1400, o: { key?: Uint8Array; ts?: number; nonce?: Uint8Array; family?: 4 | 6 } = {}): Uint8Array {
  return buildProbe(o.key ?? KEY, { size, nonce: o.nonce ?? NONCE, id, ts: o.ts ?? NOW }, o.family ?? 4);
}

function responder(extra: Partial<ConstructorParameters<typeof MtuResponder>[0]> = {}): MtuResponder {
  return new MtuResponder({ secret: SECRET, ...extra }, NOW);
}

describe("MtuResponder answers valid probes", () => {
  test("ack: 44 bytes, type ack, same nonce/id/size, MAC valid, never larger than the probe", () => {
    const r = responder();
    let id = 0;
    for (const [size, fam, addr] of [[1400, 4, "192.0.2.1"], [72, 4, "192.0.2.1"], [1280, 6, "2001:db8::1"], [92, 6, "2001:db8::1"], [9216, 6, "2001:db8::1"]] as const) {
      const p = probe(++id, size, { family: fam });
      const ack = r.handle(p, addr, NOW)!;
      expect(ack).not.toBeNull();
      expect(ack.length).toBe(PROBE_HEADER_LEN);
      expect(ack.length).toBeLessThanOrEqual(p.length);
      const h = parseHeader(ack)!;
      expect(h.type).toBe(TYPE_ACK);
      expect(h.id).toBe(id);
      expect(h.size).toBe(size);
      expect([...h.nonce]).toEqual([...NONCE]);
      expect(verifyMac(KEY, ack)).toBe(true);
    }
    expect(r.stats.answered).toBe(5);
  });

  test("IPv4-mapped IPv6 source (dual-stack socket) counts as IPv4", () => {
    expect(responder().handle(probe(1, 1000), "::ffff:192.0.2.9", NOW)).not.toBeNull();
  });

  test("attachResponder replies to the sender's address and port", () => {
    let cb: ((b: Uint8Array, a: string, p: number) => void) | null = null;
    const sent: [number, string, number][] = [];
    const sock: DatagramSocket = { onMessage: (f) => (cb = f), send: (b, a, p) => void sent.push([b.length, a, p]) };
    const stop = attachResponder(sock, responder(), () => NOW);
    cb!(probe(1), "192.0.2.5", 33333);
    cb!(new Uint8Array(100), "192.0.2.5", 33333);
    stop();
    cb!(probe(2), "192.0.2.5", 33333);
    expect(sent).toEqual([[44, "192.0.2.5", 33333]]);
  });
});

describe("MtuResponder gives no answer at all to", () => {
  test("unauthenticated junk, short datagrams, wrong magic/version", () => {
    const r = responder();
    expect(r.handle(new Uint8Array(0), "192.0.2.1", NOW)).toBeNull();
    expect(r.handle(new Uint8Array(43), "192.0.2.1", NOW)).toBeNull();
    expect(r.handle(new Uint8Array(1372), "192.0.2.1", NOW)).toBeNull();
    const p = probe(1);
    p[0] ^= 1;
    expect(r.handle(p, "192.0.2.1", NOW)).toBeNull();
    const q = probe(2);
    q[4] = 2;
    expect(r.handle(q, "192.0.2.1", NOW)).toBeNull();
    expect(r.stats.answered).toBe(0);
    expect(r.stats.malformed).toBe(5);
  });

  test("a probe under the wrong secret", () => {
    const r = responder();
    const other = deriveProbeKey(new TextEncoder().encode("correct horse battery stapl3"));
    expect(r.handle(probe(1, 1400, { key: other }), "192.0.2.1", NOW)).toBeNull();
    expect(r.stats.badMac).toBe(1);
  });

  test("any single-bit change in the MACed header or the MAC", () => {
    const r = responder();
    let id = 1;
    for (let byte = 0; byte < PROBE_HEADER_LEN; byte++) {
      for (const bit of [0, 7]) {
        const p = probe(id++);
        p[byte] ^= 1 << bit;
        expect(r.handle(p, "192.0.2.1", NOW)).toBeNull();
      }
    }
    expect(r.stats.answered).toBe(0);
  });

  test("a replayed probe (same session and id), also from another source", () => {
    const r = responder();
    const p = probe(7);
    expect(r.handle(p, "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(p, "192.0.2.1", NOW + 5)).toBeNull();
    expect(r.handle(p, "198.51.100.66", NOW + 5)).toBeNull();
    expect(r.stats.replayed).toBe(2);
    // other ids of the session, and the same id in another session, are fine
    expect(r.handle(probe(8), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(probe(7, 1400, { nonce: new Uint8Array(8).fill(9) }), "192.0.2.1", NOW)).not.toBeNull();
    // ids far below the window top are refused; id 0 is never valid
    expect(r.handle(probe(5000), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(probe(100), "192.0.2.1", NOW)).toBeNull();
    expect(r.handle(probe(0), "192.0.2.1", NOW)).toBeNull();
  });

  test("stale or future timestamps (beyond the skew)", () => {
    const r = responder({ maxSkewMs: 30_000 });
    expect(r.handle(probe(1, 1400, { ts: NOW - 30_001 }), "192.0.2.1", NOW)).toBeNull();
    expect(r.handle(probe(2, 1400, { ts: NOW + 30_001 }), "192.0.2.1", NOW)).toBeNull();
    expect(r.handle(probe(3, 1400, { ts: NOW - 29_000 }), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.stats.stale).toBe(2);
  });

  test("oversized probes, and probes whose length does not match the declared size", () => {
    const r = responder({ maxSize: 1500 });
    expect(r.handle(probe(1, 1501), "192.0.2.1", NOW)).toBeNull();
    expect(r.stats.oversized).toBe(1);
    const p = probe(2, 1400);
    expect(r.handle(p.subarray(0, p.length - 1), "192.0.2.1", NOW)).toBeNull(); // truncated
    const longer = new Uint8Array(p.length + 1);
    longer.set(p);
    expect(r.handle(longer, "192.0.2.1", NOW)).toBeNull(); // padded
    expect(r.handle(probe(3, 1400, { family: 4 }), "2001:db8::1", NOW)).toBeNull(); // IPv4 sizing from IPv6
    expect(r.stats.malformed).toBe(3);
    expect(r.stats.answered).toBe(0);
  });

  test("acks sent back at it (a reflection loop between two responders is impossible)", () => {
    const a = responder(), b = responder();
    const ack = a.handle(probe(1), "192.0.2.1", NOW)!;
    expect(b.handle(ack, "192.0.2.2", NOW)).toBeNull();
  });

  test("anything after close()", () => {
    const r = responder();
    r.close();
    expect(r.handle(probe(1), "192.0.2.1", NOW)).toBeNull();
  });
});

describe("MtuResponder limits", () => {
  test("per-source token bucket; other sources unaffected; refills with time", () => {
    const r = responder({ perSource: { rate: 10, burst: 5 } });
    let id = 1;
    const ok = (src: string, t: number) => r.handle(probe(id++, 1000, { ts: t }), src, t) !== null;
    expect([...Array(8)].map(() => ok("192.0.2.1", NOW))).toEqual([true, true, true, true, true, false, false, false]);
    expect(ok("192.0.2.2", NOW)).toBe(true);
    expect(ok("192.0.2.1", NOW + 100)).toBe(true); // 1 token after 100 ms at 10/s
    expect(ok("192.0.2.1", NOW + 100)).toBe(false);
    expect(r.stats.rateLimitedSource).toBe(4);
  });

  test("global token bucket across sources", () => {
    const r = responder({ perSource: { rate: 100, burst: 100 }, global: { rate: 1, burst: 3 } });
    const got = [1, 2, 3, 4, 5].map((i) => r.handle(probe(i), `192.0.2.${i}`, NOW) !== null);
    expect(got).toEqual([true, true, true, false, false]);
    expect(r.stats.rateLimitedGlobal).toBe(2);
  });

  test("MAC verification budget caps work under a flood of junk", () => {
    const r = responder({ verifyPerSecond: { rate: 1, burst: 10 } });
    const other = deriveProbeKey(new TextEncoder().encode("an attacker's own secret!"));
    for (let i = 1; i <= 20; i++) r.handle(probe(i, 1400, { key: other }), "203.0.113.1", NOW);
    expect(r.stats.badMac).toBe(10);
    expect(r.stats.verifyBudget).toBe(10);
  });

  test("session table full: new sessions refused (fail closed) until old ones are stale", () => {
    const r = responder({ maxSessions: 2, maxSkewMs: 1000 });
    const n = (i: number) => new Uint8Array(8).fill(i);
    expect(r.handle(probe(1, 1000, { nonce: n(1) }), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(probe(1, 1000, { nonce: n(2) }), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(probe(1, 1000, { nonce: n(3) }), "192.0.2.1", NOW)).toBeNull();
    expect(r.stats.sessionsFull).toBe(1);
    // once sessions 1 and 2 are older than the skew, their replays are stale anyway
    expect(r.handle(probe(1, 1000, { nonce: n(3), ts: NOW + 1500 }), "192.0.2.1", NOW + 1500)).not.toBeNull();
    expect(r.handle(probe(1, 1000, { nonce: n(1) }), "192.0.2.1", NOW + 1500)).toBeNull();
  });

  test("per-source table full: new sources refused until idle buckets refill", () => {
    const r = responder({ maxSources: 2, perSource: { rate: 10, burst: 2 } });
    expect(r.handle(probe(1), "192.0.2.1", NOW)).not.toBeNull();
    expect(r.handle(probe(2), "192.0.2.2", NOW)).not.toBeNull();
    expect(r.handle(probe(3), "192.0.2.3", NOW)).toBeNull();
    expect(r.handle(probe(4, 1400, { ts: NOW + 1000 }), "192.0.2.3", NOW + 1000)).not.toBeNull();
  });
});

describe("fuzz", () => {
  test("random datagrams: never throw, never answered", () => {
    const r = responder();
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 2000 }), fc.constantFrom("192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1"), (b, a) => {
        expect(r.handle(b, a, NOW)).toBeNull();
      }),
      { numRuns: 3000 },
    );
  });

  test("mutated valid probes (header bytes): never throw; answered only if unchanged", () => {
    const r = responder({ perSource: { rate: 1e6, burst: 1e6 }, global: { rate: 1e6, burst: 1e6 }, verifyPerSecond: { rate: 1e6, burst: 1e6 } });
    let id = 1;
    let unchanged = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(PROBE_HEADER_LEN - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), (muts) => {
        const p = probe(id++, 600);
        const orig = p.slice();
        for (const [o, x] of muts) p[o] ^= x;
        // two flips of the same byte by the same value cancel out: that probe is valid again
        if (p.every((b, i) => b === orig[i])) {
          unchanged++;
          expect(r.handle(p, "192.0.2.1", NOW)).not.toBeNull();
        } else {
          expect(r.handle(p, "192.0.2.1", NOW)).toBeNull();
        }
      }),
      { numRuns: 3000 },
    );
    expect(r.stats.answered).toBe(unchanged);
  });

  test("parseHeader never throws on any input", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => void parseHeader(b)), { numRuns: 2000 });
  });
});
