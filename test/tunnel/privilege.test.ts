/**
 * Without CAP_NET_ADMIN, `vpnkit up` stops with a clear message and exit code 1.
 * Runs the test-only CLI as user nobody with no capabilities (setpriv); skips
 * when not root or setpriv is missing (fails instead with CI=true).
 */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
const hasSetpriv = spawnSync("sh", ["-c", "command -v setpriv"]).status === 0;
const reason = !isRoot ? "not root (cannot drop to nobody)" : !hasSetpriv ? "setpriv not installed" : null;
if (reason && process.env.CI !== "true") console.warn(`[skip] test/tunnel/privilege.test.ts: ${reason}`);
const maybe = reason && process.env.CI !== "true" ? test.skip : test;

maybe("vpnkit up without CAP_NET_ADMIN: clear error, exit 1, nothing left behind", () => {
  if (reason) throw new Error(`CI=true and a prerequisite is missing: ${reason}`);
  const d = mkdtempSync(join(tmpdir(), "vt-priv-"));
  try {
    chmodSync(d, 0o755);
    const cfg = join(d, "t.toml");
    // throwaway test keys, world-readable on purpose so that nobody can read the config
    writeFileSync(cfg, `local = "127.0.0.1"
local_port = 45999
remote = "127.0.0.1"
tun_name = "vtpriv0"
tun_addr = ["10.77.0.1/30"]
routes = ["10.77.0.2/32"]
control = "${join(d, "c.sock")}"
[sa]
cipher = "aes128gcm16"
spi_out = "0x1001"
spi_in = "0x2002"
key_out = "0x${"01".repeat(20)}"
key_in = "0x${"02".repeat(20)}"
`);
    chmodSync(cfg, 0o644);
    const r = spawnSync("setpriv", [
      "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
      process.execPath, join(ROOT, "test/tunnel/run-cli.ts"), "up", "--config", cfg,
    ], { encoding: "utf8", timeout: 30_000, env: { ...process.env, HOME: d, BUN_INSTALL_CACHE_DIR: d, TMPDIR: d } });
    expect(r.stderr).toContain("vpnkit up needs root or CAP_NET_ADMIN to create a TUN device");
    expect(r.status).toBe(1);
    expect(r.stderr).not.toContain("0101010101");
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
