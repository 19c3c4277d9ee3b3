/**
 * Property and fuzz tests (fast-check): random bytes, structured random
 * payload chains, and byte flips / truncations / splices of every real ISAKMP
 * message in test/ike/v1/golden through decodeIsakmp, decodeIsakmpPayloads,
 * validateIsakmp and isakmpSummary. No exception may escape, every decode
 * ends, every returned view lies inside [off, end), every anomaly offset is
 * inside the input. 36,000 cases in total.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { putU16, putU32 } from "../../../lib/core/bytes.ts";
import { decodeIsakmp, decodeIsakmpPayloads, type IsakmpPayload } from "../../../lib/ike/v1/message.ts";
import { isakmpSummary } from "../../../lib/ike/v1/summary.ts";
import { validateIsakmp } from "../../../lib/ike/v1/validate.ts";
import { ikeVersion } from "../../../lib/ike/version.ts";
import { GOLDEN_NAMES, golden } from "./helpers.ts";

const REAL: Uint8Array[] = GOLDEN_NAMES.flatMap((n) => golden(n).map((p) => p.bytes)).filter((b) => b.length > 0);
const TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 21, 130, 131, 132, 200];
const EXCHANGES = [undefined, 1, 2, 4, 5, 6, 32, 33];

function within(v: Uint8Array, b: Uint8Array, off: number, end: number): void {
  if (v.buffer !== b.buffer) throw new Error("view is a copy, not a subarray");
  const s = v.byteOffset - b.byteOffset;
  if (s < off || s + v.length > end) throw new Error(`view [${s}, ${s + v.length}) outside [${off}, ${end})`);
}

/** Walk a decoded payload and check every Uint8Array field is a view inside [off, end). */
function checkPayload(p: IsakmpPayload, b: Uint8Array, off: number, end: number): void {
  if (p.offset < off || p.offset + p.length > end) throw new Error(`payload ${p.typeName} outside bounds`);
  const stack: unknown[] = [p];
  while (stack.length) {
    const x = stack.pop();
    if (x instanceof Uint8Array) within(x, b, off, end);
    else if (Array.isArray(x)) stack.push(...x);
    else if (x && typeof x === "object") stack.push(...Object.values(x));
  }
}

function checkAnomalies(an: Anomaly[], n: number): void {
  for (const a of an) {
    if (!(a.offset >= 0 && a.offset <= n)) throw new Error(`anomaly offset ${a.offset} outside [0, ${n}]: ${a.reason}`);
    if (typeof a.reason !== "string" || a.reason.length === 0) throw new Error("empty reason");
  }
}

/** Run everything on `b` within [off, end); throws on any violated property. */
function exercise(b: Uint8Array, off: number, end: number, firstType: number, exchange?: number): void {
  const an: Anomaly[] = [];
  ikeVersion(b, off, end);
  const m = decodeIsakmp(b, off, end, an);
  if (m) {
    if (m.offset !== off || m.length > end - off) throw new Error("message bounds");
    for (const p of m.payloads) checkPayload(p, b, off, end);
    if (m.encrypted) within(m.encrypted, b, off, end);
    validateIsakmp(m, an);
    isakmpSummary(m);
    JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? v.length : v));
  }
  const an2: Anomaly[] = [];
  const list = decodeIsakmpPayloads(b, off, end, firstType, an2, exchange, "isakmp.decrypted");
  for (const p of list.payloads) checkPayload(p, b, off, end);
  if (list.trailing) within(list.trailing, b, off, end);
  checkAnomalies(an, b.length);
  checkAnomalies(an2, b.length);
}

/** Serialise a payload chain with correct lengths (for structured fuzzing). */
function chain(items: { type: number; body: Uint8Array }[]): { bytes: Uint8Array; first: number } {
  const n = items.reduce((s, i) => s + 4 + i.body.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  items.forEach((it, i) => {
    out[o] = i + 1 < items.length ? items[i + 1].type : 0;
    putU16(out, o + 2, 4 + it.body.length);
    out.set(it.body, o + 4);
    o += 4 + it.body.length;
  });
  return { bytes: out, first: items.length ? items[0].type : 0 };
}

const mutation = fc.record({
  idx: fc.nat(REAL.length - 1),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
  head: fc.nat(8),
  first: fc.constantFrom(...TYPES),
  exchange: fc.constantFrom(...EXCHANGES),
});

describe("ISAKMP decoder fuzzing", () => {
  test("random bytes (10,000 cases)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(40), fc.constantFrom(...TYPES), fc.constantFrom(...EXCHANGES), (b, o, t, ex) => {
        const off = Math.min(o, b.length);
        exercise(b, off, b.length, t, ex);
        exercise(b, 0, b.length + 10, t, ex); // end past the buffer is clamped
      }),
      { numRuns: 10_000, seed: 0x15a4b1 },
    );
  });

  test("random bytes behind a valid ISAKMP header (5,000 cases)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...TYPES), fc.constantFrom(1, 2, 4, 5, 6, 32), fc.boolean(), (body, np, ex, fixLen) => {
        const b = new Uint8Array(28 + body.length);
        b.fill(0x11, 0, 8);
        b[16] = np;
        b[17] = 0x10;
        b[18] = ex;
        putU32(b, 24, fixLen ? b.length : body.length * 7);
        b.set(body, 28);
        exercise(b, 0, b.length, np, ex);
      }),
      { numRuns: 5_000, seed: 0x15a4b2 },
    );
  });

  test("structured payload chains with random bodies and flips (6,000 cases)", () => {
    const item = fc.record({ type: fc.constantFrom(...TYPES.filter((t) => t !== 0)), body: fc.uint8Array({ maxLength: 60 }) });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 8 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.constantFrom(...EXCHANGES), (items, flips, ex) => {
        const { bytes, first } = chain(items);
        for (const [pos, v] of flips) if (bytes.length) bytes[pos % bytes.length] = v;
        exercise(bytes, 0, bytes.length, first, ex);
        // The clean chain (no flips) must decode completely without anomalies in the chain walk itself.
        const clean = chain(items);
        const an: Anomaly[] = [];
        const list = decodeIsakmpPayloads(clean.bytes, 0, clean.bytes.length, clean.first, an, ex);
        expect(list.payloads.length).toBe(items.length);
        expect(list.complete).toBe(true);
      }),
      { numRuns: 6_000, seed: 0x15a4b3 },
    );
  });

  test("byte flips, truncations and offsets of every real ISAKMP message (15,000 cases)", () => {
    expect(REAL.length).toBeGreaterThanOrEqual(40);
    fc.assert(
      fc.property(mutation, ({ idx, flips, cut, head, first, exchange }) => {
        const src = REAL[idx];
        const b = new Uint8Array(head + src.length);
        b.set(src, head);
        for (const [pos, v] of flips) b[head + (pos % src.length)] = v;
        const end = cut === undefined ? b.length : head + (cut % (src.length + 1));
        exercise(b, head, end, first, exchange);
        exercise(b, head, end, b[head + 16] ?? 0, b[head + 18]);
        if (end - head > 28) exercise(b, head + 28, end, b[head + 16], b[head + 18]);
      }),
      { numRuns: 15_000, seed: 0x15a4b4 },
    );
  });

  test("every real message decodes identically from any offset inside a larger buffer", () => {
    for (const src of REAL) {
      const b = new Uint8Array(src.length + 13);
      b.set(src, 7);
      const a1: Anomaly[] = [], a2: Anomaly[] = [];
      const m1 = decodeIsakmp(src, 0, src.length, a1);
      const m2 = decodeIsakmp(b, 7, 7 + src.length, a2);
      expect(m2 === null).toBe(m1 === null);
      if (m1 && m2) {
        expect(m2.payloads.map((p) => [p.type, p.offset - 7, p.length])).toEqual(m1.payloads.map((p) => [p.type, p.offset, p.length]));
        expect(a2.map((a) => [a.layer, a.offset - 7, a.reason])).toEqual(a1.map((a) => [a.layer, a.offset, a.reason]));
      }
    }
  });
});
