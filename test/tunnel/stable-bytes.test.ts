/**
 * libc.ts stableBytes: memory whose address native code may keep. A small plain typed array
 * is moved by JavaScriptCore the first time it needs an ArrayBuffer (here forced with
 * `.buffer`; DFG tier-up does the same, Bun issue #32054), so a pointer taken before dangles.
 * stableBytes storage never moves. This is the bug that corrupted an ESP SA's nonce salt in
 * the data-plane worker (an eventfd read through a stale pointer).
 */
import { describe, expect, test } from "bun:test";
import { ptr } from "bun:ffi";
import { stableBytes } from "../../lib/platform/bun/libc.ts";

describe("stableBytes", () => {
  test("a small plain Uint8Array moves when it gets a buffer (the hazard)", () => {
    const a = new Uint8Array(8);
    const before = ptr(a);
    void a.buffer;
    expect(ptr(a)).not.toBe(before);
  });

  test("stableBytes keeps its address, at every size the platform code uses", () => {
    for (const n of [4, 8, 16, 24, 28, 56, 96, 512, 1024, 2048, 4096, 70000]) {
      const b = stableBytes(n);
      const before = ptr(b);
      void b.buffer;
      new DataView(b.buffer).setUint8(0, 1);
      expect(ptr(b)).toBe(before);
      expect(b.length).toBe(n);
    }
  });
});
