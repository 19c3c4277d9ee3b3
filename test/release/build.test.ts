/**
 * scripts/release.ts: cross-compiles every target (slow: runs only with
 * VPNKIT_RELEASE_TEST=1 or CI=true), checks each executable's format with `file`,
 * SHA256SUMS with `sha256sum -c`, and runs the host's executable.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Asset, assetName, hostTarget, release, type Target, TARGETS } from "../../scripts/release.ts";
import { run, runnable } from "./util.ts";

const enabled = process.env.VPNKIT_RELEASE_TEST === "1" || process.env.CI === "true";
if (!enabled) console.warn("skip: release cross-builds run only with VPNKIT_RELEASE_TEST=1 or CI=true");

const FILE_TYPE: Record<Target, RegExp> = {
  "linux-x64": /ELF 64-bit LSB .*x86-64.*interpreter \/lib64\/ld-linux-x86-64\.so\.2/,
  "linux-x64-musl": /ELF 64-bit LSB .*x86-64.*interpreter \/lib\/ld-musl-x86_64\.so\.1/,
  "linux-arm64": /ELF 64-bit LSB .*ARM aarch64.*interpreter \/lib\/ld-linux-aarch64\.so\.1/,
  "darwin-arm64": /Mach-O 64-bit arm64 executable/,
  "darwin-x64": /Mach-O 64-bit x86_64 executable/,
  "windows-x64": /PE32\+ executable \(console\) x86-64/,
};

test("asset names", () => {
  expect(assetName("0.1.0", "linux-x64-musl")).toBe("vpnkit-0.1.0-linux-x64-musl");
  expect(assetName("0.1.0+g1234", "windows-x64")).toBe("vpnkit-0.1.0+g1234-windows-x64.exe");
  expect(Object.keys(FILE_TYPE).sort()).toEqual(Object.keys(TARGETS).sort());
});

describe.skipIf(!enabled)("release (every target)", () => {
  let out = ""; // made in beforeAll: a skipped run leaves nothing behind
  let assets: Asset[] = [];
  let version = "";
  let seconds = 0;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), "vpnkit-release-test-"));
    const t0 = performance.now();
    ({ assets, version } = await release(Object.keys(TARGETS) as Target[], out));
    seconds = (performance.now() - t0) / 1000;
    console.log(`release: ${assets.length} targets in ${seconds.toFixed(1)} s`);
  }, 900_000);
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  test("one executable per target, named with the stamped version", () => {
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(assets.map((a): string => a.target).sort()).toEqual(Object.keys(TARGETS).sort());
    for (const a of assets) expect(a.file).toBe(join(out, assetName(version, a.target)));
  });

  test.skipIf(!runnable("file"))("file(1) recognises each executable's platform", () => {
    for (const a of assets) {
      const r = run(["file", "-b", a.file]);
      expect(`${a.target}: ${r.stdout}`).toMatch(new RegExp(`${a.target}: ${FILE_TYPE[a.target].source}`));
    }
  });

  test("SHA256SUMS verifies with sha256sum -c", () => {
    const sums = readFileSync(join(out, "SHA256SUMS"), "utf8");
    expect(sums.trim().split("\n")).toHaveLength(assets.length + 4); // + vpnkit.1 and three completion scripts
    const r = run(["sha256sum", "-c", "--strict", "SHA256SUMS"], { cwd: out });
    expect(r.code).toBe(0);
  }, 120_000); // ~600 MiB to hash

  test("the host's executable runs: --version and decode", () => {
    const host = hostTarget();
    const a = assets.find((x) => x.target === host);
    if (!a) return; // no release target for this machine
    const v = run([a.file, "--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(version);
    const d = run([a.file, "decode", "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap"]);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("IKE_SA_INIT");
  }, 60_000);

  test("install.sh installs the host's executable from the release folder", () => {
    const host = hostTarget();
    if (!host) return;
    const prefix = join(out, "prefix");
    const r = run(["sh", "scripts/install.sh", "--base-url", out, "--prefix", prefix], { env: { ...process.env, VPNKIT_TARGET: "" } });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(run([join(prefix, "vpnkit"), "--version"]).stdout.trim()).toBe(version);
  }, 60_000);
});
