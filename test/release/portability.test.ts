/**
 * Release binaries run on macOS and Windows, where the Linux libc cannot be dlopen'ed:
 * `vpnkit --version`, `decode` and the help must still work there. The check runs
 * no-libc.child.ts in its own `bun test` process (its bun:ffi mock must not leak).
 *
 * KNOWN FAILURE (marked test.failing): cli/up.ts and cli/mtu.ts import
 * lib/platform/bun/{up,probe-socket}.ts statically, which load libc.ts, whose top level
 * dlopens libc, so every command dies with "cannot load libc" off Linux. The fix is a
 * lazy `await import()` of those modules inside the actions (as cli/responder.ts does).
 * When it lands this test fails as "passed unexpectedly": change test.failing to test.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { run } from "./util.ts";

test.failing("every command module loads where libc cannot be dlopen'ed (macOS, Windows)", () => {
  const r = run([process.execPath, "test", join(import.meta.dir, "no-libc.child.ts")]);
  if (r.code !== 0) console.error(r.stderr.split("\n").filter((l) => /error|cannot/i.test(l)).slice(0, 3).join("\n"));
  expect(r.code).toBe(0);
});
