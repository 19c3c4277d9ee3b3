/**
 * scanInit (the COOKIE path's payload-header walk) agrees with the full decoder on the Nonce and
 * the COOKIE notify of any IKE message, and never throws or reads out of bounds on arbitrary bytes.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { encodeIkev2Message } from "../../../../lib/ike/v2/encode/message.ts";
import type { PayloadSpec } from "../../../../lib/ike/v2/encode/payloads.ts";
import { decodeIkev2 } from "../../../../lib/ike/v2/message.ts";
import { scanInit } from "../../../../lib/ike/v2/sa/init-scan.ts";

const N_COOKIE = 16390;
const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });

function viaDecoder(d: Uint8Array): { nonce?: Uint8Array; cookie?: Uint8Array } {
  const an: Anomaly[] = [];
  const out: { nonce?: Uint8Array; cookie?: Uint8Array } = {};
  for (const p of decodeIkev2(d, 0, d.length, an)?.payloads ?? []) {
    if (p.kind === "nonce") out.nonce ??= p.nonce;
    else if (p.kind === "notify" && p.notifyType === N_COOKIE) out.cookie ??= p.data;
  }
  return out;
}

const payload: fc.Arbitrary<PayloadSpec> = fc.oneof(
  bytes(16, 64).map((nonce) => ({ type: "nonce" as const, nonce })),
  fc.record({ data: bytes(0, 64), notifyType: fc.constantFrom(N_COOKIE, 16388, 16389, 16430) }).map((x) => ({ type: "notify" as const, ...x })),
  fc.record({ data: bytes(0, 40), notifyType: fc.constant(N_COOKIE), spi: bytes(4, 4), protocol: fc.constant(3) }).map((x) => ({ type: "notify" as const, ...x })),
  fc.record({ group: fc.constantFrom(19, 31), data: bytes(32, 64) }).map((x) => ({ type: "ke" as const, ...x })),
);

describe("scanInit", () => {
  test("a charon-style IKE_SA_INIT with a COOKIE: both found, as views of the message", () => {
    const cookie = new Uint8Array(36).fill(7), nonce = new Uint8Array(32).fill(9);
    const d = encodeIkev2Message({ ispi: new Uint8Array(8).fill(1), rspi: new Uint8Array(8), exchange: 34, initiator: true, response: false, messageId: 0 }, [
      { type: "notify", notifyType: N_COOKIE, data: cookie }, { type: "ke", group: 31, data: new Uint8Array(32) }, { type: "nonce", nonce },
    ]);
    const s = scanInit(d);
    expect(s.cookie).toEqual(cookie);
    expect(s.nonce).toEqual(nonce);
    expect(s.nonce!.buffer).toBe(d.buffer);
  });

  test("property: on encoded messages it finds what the decoder finds", () => {
    fc.assert(fc.property(fc.array(payload, { maxLength: 8 }), bytes(8, 8), (ps, ispi) => {
      const d = encodeIkev2Message({ ispi, rspi: new Uint8Array(8), exchange: 34, initiator: true, response: false, messageId: 0 }, ps);
      const a = scanInit(d), b = viaDecoder(d);
      expect(a.nonce && [...a.nonce]).toEqual(b.nonce && [...b.nonce]);
      expect(a.cookie && [...a.cookie]).toEqual(b.cookie && [...b.cookie]);
    }), { numRuns: 500 });
  });

  test("fuzz: arbitrary and truncated bytes never throw, results stay inside the input", () => {
    fc.assert(fc.property(bytes(0, 400), fc.nat(400), (d, cut) => {
      for (const x of [d, d.subarray(0, cut)]) {
        const s = scanInit(x);
        for (const v of [s.nonce, s.cookie]) if (v) expect(v.byteOffset + v.length).toBeLessThanOrEqual(x.byteOffset + x.length);
      }
    }), { numRuns: 2000 });
  });
});
