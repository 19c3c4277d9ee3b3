/**
 * Release binaries run on macOS and Windows, where the Linux libc cannot be dlopen'ed:
 * `vpnkit --version`, `decode` and the help must still work there. The check runs
 * no-libc.child.ts in its own `bun test` process (its bun:ffi mock must not leak).
 *
 * Keep it that way: a platform module (bun:ffi, /dev/net/tun) is imported inside the
 * action that needs it (`await import()`), after a `process.platform` check.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { run } from "./util.ts";

test("every command module loads where libc cannot be dlopen'ed (macOS, Windows)", () => {
  const r = run([process.execPath, "test", join(import.meta.dir, "no-libc.child.ts")]);
  if (r.code !== 0) console.error(r.stderr.split("\n").filter((l) => /error|cannot/i.test(l)).slice(0, 3).join("\n"));
  expect(r.code).toBe(0);
});
