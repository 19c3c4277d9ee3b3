/**
 * The engine's outbound routing index (lib/tunnel/route-index.ts): longest remote selector
 * wins, local selectors must contain the source, ties go to the earlier child. Checked
 * against the linear-scan reference with random selectors and addresses (IPv4 and IPv6,
 * overlapping prefixes, hash collisions cannot make a wrong match).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type Cidr, parseCidr } from "../../lib/net/cidr.ts";
import { naiveRoute, RouteIndex, type RoutedChild } from "../../lib/tunnel/route-index.ts";

interface C extends RoutedChild {
  id: number;
}

const cidr = (s: string) => parseCidr(s)!;

function mask(family: 4 | 6, addr: Uint8Array, prefix: number): Cidr {
  const a = addr.slice();
  for (let bit = prefix; bit < a.length * 8; bit++) a[bit >> 3] &= ~(0x80 >> (bit & 7));
  return { family, addr: a, prefix, text: `${Array.from(a).join(".")}/${prefix}` };
}

/** A packet buffer holding src at 0 and dst right after it. */
function pkt(src: Uint8Array, dst: Uint8Array): Uint8Array {
  const b = new Uint8Array(src.length + dst.length);
  b.set(src, 0);
  b.set(dst, src.length);
  return b;
}

function v4(s: string): Uint8Array {
  return cidr(s).addr;
}

describe("RouteIndex", () => {
  test("longest prefix wins over child order; local selectors filter; ties go to the earlier child", () => {
    const wide: C = { id: 0, local: [], remote: [cidr("10.0.0.0/8")] };
    const host: C = { id: 1, local: [], remote: [cidr("10.1.2.3/32")] };
    const mid: C = { id: 2, local: [cidr("192.168.0.0/16")], remote: [cidr("10.1.0.0/16")] };
    const twin: C = { id: 3, local: [], remote: [cidr("10.1.2.3/32")] };
    const ix = new RouteIndex<C>();
    ix.rebuild([wide, host, mid, twin]);
    const at = (s: string, d: string) => ix.lookup(4, pkt(v4(s), v4(d)), 0, 4)?.id ?? null;
    expect(at("1.1.1.1", "10.1.2.3")).toBe(1); // /32, and before its twin
    expect(at("192.168.1.1", "10.1.9.9")).toBe(2); // /16 with a matching local selector
    expect(at("1.1.1.1", "10.1.9.9")).toBe(0); // /16's local does not match: the /8
    expect(at("1.1.1.1", "11.0.0.1")).toBeNull();
    expect(ix.lookup(6, pkt(cidr("fd00::1").addr, cidr("fd00::2").addr), 0, 16)).toBeNull();
    ix.rebuild([wide, twin, host]);
    expect(at("1.1.1.1", "10.1.2.3")).toBe(3);
    ix.rebuild([]);
    expect(at("1.1.1.1", "10.1.2.3")).toBeNull();
  });

  test("1,000 clients with /32 and /128 virtual IPs: each address finds its client", () => {
    const kids: C[] = [];
    for (let i = 0; i < 1000; i++) kids.push({ id: i, local: [cidr("0.0.0.0/0"), cidr("::/0")], remote: [cidr(`10.8.${i >> 8}.${i & 255}/32`), cidr(`fd00::${i.toString(16)}/128`)] });
    const ix = new RouteIndex<C>();
    ix.rebuild(kids);
    expect(ix.size).toBe(2000);
    for (let i = 0; i < 1000; i++) {
      expect(ix.lookup(4, pkt(v4("10.0.0.1"), v4(`10.8.${i >> 8}.${i & 255}`)), 0, 4)?.id).toBe(i);
      expect(ix.lookup(6, pkt(cidr("fd01::1").addr, cidr(`fd00::${i.toString(16)}`).addr), 0, 16)?.id).toBe(i);
    }
    expect(ix.lookup(4, pkt(v4("10.0.0.1"), v4("10.8.3.232")), 0, 4)).toBeNull(); // 1000 = 3.232
    // memory per client held (issue 12): a key with one entry holds it directly, not a list of one
    const levels = (ix as unknown as { v4: { map: Map<number, unknown> }[] }).v4;
    expect([...levels[0].map.values()].some((v) => Array.isArray(v))).toBe(false);
    // a second child on the same key makes a list (priority order); removing it goes back to one entry
    const twin: C = { id: 5000, local: [], remote: [cidr("10.8.0.7/32")] };
    ix.add(twin, 5000);
    expect(ix.lookup(4, pkt(v4("10.0.0.1"), v4("10.8.0.7")), 0, 4)?.id).toBe(7);
    expect([...levels[0].map.values()].filter((v) => Array.isArray(v)).length).toBe(1);
    ix.remove(kids[7]);
    expect(ix.lookup(4, pkt(v4("10.0.0.1"), v4("10.8.0.7")), 0, 4)?.id).toBe(5000);
    expect([...levels[0].map.values()].some((v) => Array.isArray(v))).toBe(false);
    ix.remove(twin);
    expect(ix.lookup(4, pkt(v4("10.0.0.1"), v4("10.8.0.7")), 0, 4)).toBeNull();
    expect(ix.size).toBe(1998);
  });

  for (const family of [4, 6] as const) {
    test(`IPv${family}: same answer as the linear scan, random selectors and addresses`, () => {
      const len = family === 4 ? 4 : 16;
      const max = len * 8;
      // few distinct base addresses, so that prefixes overlap and addresses hit them
      const base = fc.constantFrom(...Array.from({ length: 4 }, (_, k) => Uint8Array.from({ length: len }, (_, i) => (i < 2 ? 10 : (k * 37 + i * 11) & 0xff))));
      const addr = fc.oneof(
        fc.uint8Array({ minLength: len, maxLength: len }),
        fc.tuple(base, fc.integer({ min: 0, max: max - 1 }), fc.integer({ min: 0, max: 255 })).map(([b, bit, v]) => {
          const a = b.slice();
          a[bit >> 3] ^= v & (0xff >> (bit & 7)); // vary bits at or after `bit`
          return a;
        }),
      );
      const prefix = fc.oneof(fc.constant(max), fc.constant(0), fc.integer({ min: 0, max }));
      const sel = fc.tuple(addr, prefix).map(([a, p]) => mask(family, a, p));
      const other = family === 4 ? cidr("fd00::/8") : cidr("10.0.0.0/8");
      const child = fc.record({
        local: fc.oneof(fc.constant<Cidr[]>([]), fc.array(sel, { minLength: 1, maxLength: 2 })),
        remote: fc.array(fc.oneof(sel, sel, fc.constant(other)), { minLength: 0, maxLength: 3 }),
      });
      fc.assert(
        fc.property(fc.array(child, { minLength: 0, maxLength: 40 }), fc.array(fc.tuple(addr, addr), { minLength: 1, maxLength: 40 }), (cs, probes) => {
          const kids: C[] = cs.map((c, id) => ({ id, ...c }));
          const ix = new RouteIndex<C>();
          ix.rebuild(kids);
          for (const [s, d] of probes) {
            const b = pkt(s, d);
            expect(ix.lookup(family, b, 0, len)?.id ?? null).toBe(naiveRoute(kids, family, b, 0, len)?.id ?? null);
          }
        }),
        { numRuns: 400 },
      );
    });
  }

  test("incremental add / remove / re-add with new selectors: same answers as the linear scan over the current children", () => {
    const sel = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(8, 16, 24, 30, 32, 32, 32)).map(([k, p]) => cidr(`10.${k & 3}.${k}.${k * 3}/${p}`));
    const op = fc.oneof(
      fc.record({ kind: fc.constant("add" as const), remote: fc.array(sel, { minLength: 0, maxLength: 3 }), anyLocal: fc.boolean() }),
      fc.record({ kind: fc.constant("remove" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("change" as const), at: fc.nat(), remote: fc.array(sel, { minLength: 0, maxLength: 3 }) }),
    );
    const probe = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 30 }), fc.boolean());
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), fc.array(probe, { minLength: 1, maxLength: 20 }), (ops, probes) => {
        const ix = new RouteIndex<C>();
        const kids: C[] = [];
        let id = 0;
        let order = 0;
        const check = () => {
          for (const [a, b, c, fromLocal] of probes) {
            const p = pkt(fromLocal ? v4("192.168.1.1") : v4("172.16.0.1"), Uint8Array.of(10, a, b, c));
            expect(ix.lookup(4, p, 0, 4)?.id ?? null).toBe(naiveRoute(kids, 4, p, 0, 4)?.id ?? null);
          }
        };
        for (const o of ops) {
          if (o.kind === "add") {
            const k: C = { id: id++, local: o.anyLocal ? [] : [cidr("192.168.0.0/16")], remote: o.remote };
            kids.push(k);
            ix.add(k, order++);
          } else if (kids.length > 0) {
            const k = kids[o.at % kids.length];
            if (o.kind === "remove") {
              kids.splice(kids.indexOf(k), 1);
              expect(ix.remove(k)).toBe(true);
            } else {
              k.remote = o.remote;
              ix.add(k, ix.orderOf(k)!);
            }
          }
          check();
        }
        ix.rebuild(kids);
        check();
      }),
      { numRuns: 300 },
    );
  });
});
