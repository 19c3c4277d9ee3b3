/**
 * Property / fuzz tests: random bytes, random well-framed payload chains and
 * byte-flipped / truncated real IKEv2 messages (every golden message) go
 * through decodeIkev2, decodeIkev2Payloads, validateIkev2, ikev2Summary and
 * JSON rendering; byte-flipped / truncated decrypted SK contents go through
 * decodeIkev2Payloads. Nothing may throw, every decode ends, and structural
 * invariants hold (payloads stay inside the input, lengths ≥ 4).
 * 48 000 fast-check cases plus every truncation of every golden message.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { jsonReplacer } from "../../../lib/core/layer.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Payload } from "../../../lib/ike/v2/message.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";
import { validateIkev2 } from "../../../lib/ike/v2/validate.ts";
import { decryptAll } from "./decrypt.ts";
import { allGolden, bytesOf } from "./helpers.ts";

const REAL: Uint8Array[] = allGolden().flatMap((g) => g.messages.map(bytesOf));
/** Decrypted SK/SKF contents (IDs, AUTH, CERT, TS, CP-free child SAs …) with their first payload type. */
const PLAIN: { plain: Uint8Array; first: number }[] = decryptAll().map((d) => ({ plain: d.plain, first: d.firstType }));

function checkPayloads(pls: Ikev2Payload[], start: number, end: number): void {
  let prev = start - 1;
  for (const p of pls) {
    if (p.offset < start || p.offset + p.length > end || p.length < 4 || p.offset <= prev) {
      throw new Error(`payload out of bounds: ${p.kind} @${p.offset}+${p.length} in [${start},${end})`);
    }
    prev = p.offset;
  }
}

/** Full pipeline on one buffer; throws only on an invariant violation (or a decoder bug). */
function run(b: Uint8Array, off = 0, end = b.length, firstType?: number): void {
  const an: Anomaly[] = [];
  const msg = decodeIkev2(b, off, end, an);
  if (msg) {
    if (msg.length < 0 || msg.offset + msg.length > end) throw new Error("message length out of bounds");
    checkPayloads(msg.payloads, off + 28, off + msg.length);
    validateIkev2(msg);
    ikev2Summary(msg, { spis: "prefix" });
    ikev2Summary(msg, { style: "strongswan" });
    JSON.stringify(msg, jsonReplacer);
  } else if (end - off >= 28) throw new Error("null for a buffer holding a whole header");
  for (const a of an) if (typeof a.reason !== "string" || typeof a.offset !== "number") throw new Error("bad anomaly");
  if (firstType !== undefined) {
    const an2: Anomaly[] = [];
    const pls = decodeIkev2Payloads(b, off, end, firstType, an2, "ikev2.sk");
    checkPayloads(pls, off, end);
    JSON.stringify(pls, jsonReplacer);
  }
}

const PAYLOAD_TYPES = [33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53, 49, 54, 200];

/** A header plus a chain of payloads with consistent lengths and random bodies. */
const framed = fc.tuple(
  fc.uint8Array({ minLength: 28, maxLength: 28 }),
  fc.array(fc.tuple(fc.constantFrom(...PAYLOAD_TYPES), fc.boolean(), fc.uint8Array({ maxLength: 80 })), { maxLength: 8 }),
).map(([hdr, pls]) => {
  let n = 28;
  for (const [, , body] of pls) n += 4 + body.length;
  const b = new Uint8Array(n);
  b.set(hdr);
  b[17] = 0x20;
  b[16] = pls.length ? pls[0][0] : 0;
  b[24] = (n >>> 24) & 0xff; b[25] = (n >>> 16) & 0xff; b[26] = (n >>> 8) & 0xff; b[27] = n & 0xff;
  let o = 28;
  pls.forEach(([, crit, body], i) => {
    b[o] = i + 1 < pls.length ? pls[i + 1][0] : 0;
    b[o + 1] = crit ? 0x80 : 0;
    b[o + 2] = ((4 + body.length) >> 8) & 0xff;
    b[o + 3] = (4 + body.length) & 0xff;
    b.set(body, o + 4);
    o += 4 + body.length;
  });
  return b;
});

/** A real message with byte flips, overwrites and a truncation. */
const mutated = fc.tuple(
  fc.nat({ max: REAL.length - 1 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
  fc.option(fc.nat(), { nil: undefined }),
).map(([i, muts, cut]) => {
  const src = REAL[i];
  const b = new Uint8Array(src);
  for (const [pos, v, flip] of muts) {
    const p = pos % b.length;
    b[p] = flip ? b[p] ^ (1 << (v & 7)) : v;
  }
  return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
});

const T = 60_000;

describe("IKEv2 decoders never throw and always end", () => {
  test("golden corpus is non-trivial", () => {
    expect(REAL.length).toBeGreaterThan(90);
  });

  test("every golden message, every truncation length", () => {
    let n = 0;
    for (const b of REAL) {
      for (let cut = 0; cut <= b.length; cut++) { run(b.subarray(0, cut), 0, cut, b[16]); n++; }
    }
    expect(n).toBeGreaterThan(20_000);
  }, T);

  test("random bytes (8 000 cases)", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.integer({ min: 0, max: 255 }), (b, t) => {
      run(b, 0, b.length, t);
    }), { numRuns: 8_000 });
  }, T);

  test("random bytes with a valid-looking header (8 000 cases)", () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 28, maxLength: 400 }), fc.boolean(), (b, fixLen) => {
      b[17] = 0x20;
      if (fixLen) { b[24] = 0; b[25] = 0; b[26] = (b.length >> 8) & 0xff; b[27] = b.length & 0xff; }
      run(b, 0, b.length);
    }), { numRuns: 8_000 });
  }, T);

  test("well-framed random payload chains (10 000 cases)", () => {
    fc.assert(fc.property(framed, (b) => {
      run(b, 0, b.length, b[16]);
      run(b, 28, b.length, b[16]);
    }), { numRuns: 10_000 });
  }, T);

  test("byte-flipped / truncated real messages (14 000 cases)", () => {
    fc.assert(fc.property(mutated, (b) => {
      run(b, 0, b.length, b.length > 16 ? b[16] : 33);
    }), { numRuns: 14_000 });
  }, T);

  test("byte-flipped / truncated decrypted SK contents (6 000 cases)", () => {
    expect(PLAIN.length).toBeGreaterThan(30);
    const mutatedPlain = fc.tuple(
      fc.nat({ max: PLAIN.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
    ).map(([i, muts, cut]) => {
      const b = new Uint8Array(PLAIN[i].plain);
      for (const [pos, v, flip] of muts) {
        if (b.length === 0) break;
        const p = pos % b.length;
        b[p] = flip ? b[p] ^ (1 << (v & 7)) : v;
      }
      return { b: cut === undefined ? b : b.subarray(0, cut % (b.length + 1)), first: PLAIN[i].first };
    });
    fc.assert(fc.property(mutatedPlain, ({ b, first }) => {
      const an: Anomaly[] = [];
      const pls = decodeIkev2Payloads(b, 0, b.length, first, an, "ikev2.sk");
      checkPayloads(pls, 0, b.length);
      JSON.stringify(pls, jsonReplacer);
    }), { numRuns: 6_000 });
  }, T);

  test("offsets inside a larger buffer, end beyond the array", () => {
    fc.assert(fc.property(mutated, fc.nat({ max: 8 }), (b, pad) => {
      const big = new Uint8Array(b.length + pad * 2);
      big.set(b, pad);
      run(big, pad, pad + b.length);
      const an: Anomaly[] = [];
      decodeIkev2(big, pad, big.length + 100, an);
      decodeIkev2Payloads(big, pad + 28, big.length + 100, 33, an);
    }), { numRuns: 2_000 });
  }, T);
});
