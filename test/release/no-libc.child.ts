/**
 * Run by portability.test.ts in its own `bun test` process: bun:ffi's dlopen fails, as
 * it does for the Linux libc names on macOS and Windows, and each command module must
 * still load (only running a command that needs Linux may fail, with a clear message).
 */
import { expect, mock, test } from "bun:test";
import * as ffi from "bun:ffi";

mock.module("bun:ffi", () => ({
  ...ffi,
  dlopen: () => {
    throw new Error("dlopen: library not found (simulated macOS/Windows)");
  },
}));

test("cli/main.ts and every command module load without libc", async () => {
  const { buildProgram } = await import("../../cli/main.ts");
  const names = (await buildProgram()).commands.map((c) => c.name());
  expect(names).toContain("decode");
});
