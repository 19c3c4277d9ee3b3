/** The IKE SA manager's held-entry list (lib/ike/v2/sa/held-list.ts): a Set's behaviour, insertion order, against a model. */
import { expect, test } from "bun:test";
import fc from "fast-check";
import { HeldList, type HeldLinks } from "../../../../lib/ike/v2/sa/held-list.ts";

interface E extends HeldLinks<E> { id: number }
const mk = (id: number): E => ({ id, lPrev: null, lNext: null, held: false });

test("add / delete / has / size / order match a Set, for random operation sequences", () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 9 })), { maxLength: 80 }), (ops) => {
    const es = Array.from({ length: 10 }, (_, i) => mk(i));
    const l = new HeldList<E>();
    const model = new Set<E>();
    for (const [add, i] of ops) {
      if (add) { l.add(es[i]); model.add(es[i]); } else expect(l.delete(es[i])).toBe(model.delete(es[i]));
      expect(l.size).toBe(model.size);
      expect(l.toArray().map((e) => e.id)).toEqual([...model].map((e) => e.id));
      for (const e of es) expect(l.has(e)).toBe(model.has(e));
    }
  }), { numRuns: 300 });
});

test("a snapshot may be walked while entries are deleted", () => {
  const l = new HeldList<E>();
  const es = [1, 2, 3, 4].map(mk);
  for (const e of es) l.add(e);
  for (const e of l.toArray()) { l.delete(e); if (e.id === 1) l.delete(es[2]); }
  expect(l.size).toBe(0);
  expect(l.toArray()).toEqual([]);
});
