/**
 * What a raw ESP socket hands over (lib/platform/bun/raw-esp.ts `espStart`): the IPv4 header
 * is stripped by its IHL, IPv6 payloads are ESP as they are; bad headers, runts and SPI 0 are
 * refused. Property and fuzz: never throws, never points outside the datagram, and a result
 * always leaves at least 8 bytes with a non-zero SPI.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { espStart } from "../../lib/platform/bun/raw-esp.ts";

function v4(ihlWords: number, esp: number[]): Uint8Array {
  const h = new Uint8Array(ihlWords * 4);
  h[0] = 0x40 | ihlWords;
  h[9] = 50;
  return new Uint8Array([...h, ...esp]);
}

describe("raw ESP socket: where the ESP packet starts", () => {
  const esp = [0x0b, 0xad, 0xf0, 0x0d, 0, 0, 0, 1, 9, 9];
  test("IPv4: after a 20-byte header and after one with options; IPv6: at once", () => {
    expect(espStart(v4(5, esp), 0, 30, 4)).toBe(20);
    expect(espStart(v4(7, esp), 0, 38, 4)).toBe(28);
    expect(espStart(new Uint8Array(esp), 0, esp.length, 6)).toBe(0);
    const slab = new Uint8Array(100);
    slab.set(v4(5, esp), 40);
    expect(espStart(slab, 40, 30, 4)).toBe(60);
  });
  test("refused: not IPv4, IHL < 5 or past the end, runts, SPI 0", () => {
    const b = v4(5, esp);
    b[0] = 0x65;
    expect(espStart(b, 0, 30, 4)).toBe(-1);
    expect(espStart(v4(5, esp).map((x, i) => (i === 0 ? 0x44 : x)), 0, 30, 4)).toBe(-1);
    expect(espStart(v4(15, []), 0, 20, 4)).toBe(-1);
    expect(espStart(v4(5, [1, 2, 3, 4, 5, 6, 7]), 0, 27, 4)).toBe(-1);
    expect(espStart(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1]), 0, 8, 6)).toBe(-1);
    expect(espStart(new Uint8Array(4), 0, 8, 6)).toBe(-1);
  });
  test("property: arbitrary bytes, offsets and lengths never throw; a result is inside with ≥ 8 bytes and SPI ≠ 0", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.integer({ min: -4, max: 130 }), fc.integer({ min: -4, max: 130 }), fc.constantFrom(4 as const, 6 as const), (b, off, len, fam) => {
        const s = espStart(b, off, len, fam);
        if (s === -1) return true;
        const end = off + len;
        return s >= off && end <= b.length && end - s >= 8 && (b[s] | b[s + 1] | b[s + 2] | b[s + 3]) !== 0;
      }),
      { numRuns: 5000 },
    );
  });
});
