/**
 * Traffic selector narrowing shares what it can (issue 12, memory per held Child SA): a host
 * selector's start and end are one array, and a result equal to the configured list is that
 * (frozen, shared) list. The values stay those of a plain intersection.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { sharedSelectors } from "../../../../lib/ike/v2/sa/shared-config.ts";
import { tsFromText, tsIntersect, tsNarrow, tsText, type TrafficSelector } from "../../../../lib/ike/v2/sa/ts.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("traffic selector narrowing", () => {
  test("a host selector inside a range: one array for both ends, with the host's bytes", () => {
    const x = tsIntersect(tsFromText("10.1.2.3/32"), tsFromText("10.1.0.0/16"))!;
    expect(tsText(x)).toBe("10.1.2.3/32");
    expect(x.start).toBe(x.end);
    const r = tsIntersect(tsFromText("10.1.2.0/24"), tsFromText("10.1.0.0/16"))!;
    expect(r.start).not.toBe(r.end);
    expect(tsText(r)).toBe("10.1.2.0/24");
  });

  test("a result equal to the configured list is that list; a narrower one is new and the configured one is unchanged", () => {
    const cfg = sharedSelectors(["10.2.0.0/24"]);
    expect(tsNarrow([tsFromText("0.0.0.0/0")], cfg)).toBe(cfg);
    expect(tsNarrow([tsFromText("10.2.0.0/24")], cfg)).toBe(cfg);
    const narrow = tsNarrow([tsFromText("10.2.0.7/32")], cfg);
    expect(narrow).not.toBe(cfg);
    expect(narrow.map(tsText)).toEqual(["10.2.0.7/32"]);
    expect(cfg.map(tsText)).toEqual(["10.2.0.0/24"]);
  });

  test("property: the intersection's bytes are the larger start and the smaller end (IPv4 ranges)", () => {
    const ip = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 });
    const sel = fc.tuple(ip, ip).map(([a, b]): TrafficSelector => {
      const [lo, hi] = hex(Uint8Array.from(a)) <= hex(Uint8Array.from(b)) ? [a, b] : [b, a];
      return { tsType: 7, ipProtocol: 0, startPort: 0, endPort: 65535, start: Uint8Array.from(lo), end: Uint8Array.from(hi) };
    });
    fc.assert(fc.property(sel, sel, (a, b) => {
      const x = tsIntersect(a, b);
      const s = hex(a.start) > hex(b.start) ? hex(a.start) : hex(b.start);
      const e = hex(a.end) < hex(b.end) ? hex(a.end) : hex(b.end);
      if (s > e) return x === null;
      return x !== null && hex(x.start) === s && hex(x.end) === e && (s === e) === (x.start === x.end) && x.start !== a.start && x.start !== b.start;
    }), { numRuns: 500 });
  });
});
