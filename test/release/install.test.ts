/**
 * scripts/install.sh against a local folder of release assets: target selection
 * (uname/ldd/sysctl shimmed on PATH), SHA-256 verification, refusal of a tampered asset.
 * The assets are small shell scripts with correct checksums (the real executables are
 * exercised by build.test.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { assetName, hostTarget, type Target, TARGETS } from "../../scripts/release.ts";
import { run } from "./util.ts";

const SCRIPT = resolve(import.meta.dir, "../../scripts/install.sh");
const VERSION = "9.9.9";
const root = mkdtempSync(join(tmpdir(), "vpnkit-install-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");
const fake = (t: Target) => `#!/bin/sh\necho "fake vpnkit ${VERSION} ${t}"\n`;

/** A release folder: every target's fake asset and SHA256SUMS (optionally with an asset tampered after hashing). */
function releaseDir(name: string, tamper?: Target, version = VERSION): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  let sums = "";
  for (const t of Object.keys(TARGETS) as Target[]) {
    const file = assetName(version, t);
    const body = fake(t);
    sums += `${sha256(body)}  ${file}\n`;
    writeFileSync(join(dir, file), t === tamper ? body.replace("fake", "evil") : body);
  }
  writeFileSync(join(dir, "SHA256SUMS"), sums);
  return dir;
}

/** A folder of stand-ins for uname/ldd/sysctl, put first on PATH. */
function shims(name: string, tools: Record<string, string>): string {
  const dir = join(root, `shims-${name}`);
  mkdirSync(dir, { recursive: true });
  for (const [tool, body] of Object.entries(tools)) {
    writeFileSync(join(dir, tool), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, tool), 0o755);
  }
  return dir;
}
const uname = (s: string, m: string) => `case "$1" in -s) echo ${s} ;; -m) echo ${m} ;; *) echo ${s} ;; esac`;

let n = 0;
function install(env: Record<string, string>, args: string[] = [], pathFirst?: string) {
  const prefix = join(root, `prefix-${n++}`, "bin");
  const r = run(["sh", SCRIPT, ...args], {
    env: {
      PATH: pathFirst ? `${pathFirst}:${process.env.PATH}` : process.env.PATH,
      TMPDIR: root,
      VPNKIT_PREFIX: prefix,
      ...env,
    },
  });
  const bin = join(prefix, "vpnkit");
  return { ...r, bin, installed: existsSync(bin) ? readFileSync(bin, "utf8") : undefined };
}

const good = releaseDir("good");

describe("install.sh", () => {
  test.skipIf(!hostTarget())("installs this machine's asset from a folder, executable", () => {
    const r = install({ VPNKIT_BASE_URL: good });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.installed).toBe(fake(hostTarget()!));
    expect(run([r.bin]).stdout.trim()).toBe(`fake vpnkit ${VERSION} ${hostTarget()}`);
    expect(r.stdout).toContain(`installed ${r.bin}`);
  });

  test("file:// URLs, --prefix and --version", () => {
    const prefix = join(root, "explicit-prefix");
    const r = install({ VPNKIT_TARGET: "linux-arm64" }, ["--base-url", `file://${good}`, "--prefix", prefix, "--version", `v${VERSION}`]);
    expect(r.code).toBe(0);
    expect(readFileSync(join(prefix, "vpnkit"), "utf8")).toBe(fake("linux-arm64"));
  });

  const cases: [string, Record<string, string>, Target][] = [
    ["Linux x86_64 glibc", { uname: uname("Linux", "x86_64"), ldd: `echo "ldd (GNU libc) 2.36"` }, "linux-x64"],
    ["Linux x86_64 musl", { uname: uname("Linux", "x86_64"), ldd: `echo "musl libc (x86_64)" >&2; exit 1` }, "linux-x64-musl"],
    ["Linux aarch64", { uname: uname("Linux", "aarch64"), ldd: `echo "ldd (GNU libc) 2.36"` }, "linux-arm64"],
    ["macOS arm64", { uname: uname("Darwin", "arm64") }, "darwin-arm64"],
    ["macOS x86_64", { uname: uname("Darwin", "x86_64"), sysctl: "echo 0" }, "darwin-x64"],
    ["macOS x86_64 shell under Rosetta", { uname: uname("Darwin", "x86_64"), sysctl: "echo 1" }, "darwin-arm64"],
  ];
  for (const [name, tools, want] of cases) {
    test(`picks ${want} on ${name}`, () => {
      const r = install({ VPNKIT_BASE_URL: good }, [], shims(name.replace(/\W+/g, "-"), tools));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${assetName(VERSION, want)} (${want})`);
      expect(r.installed).toBe(fake(want));
    });
  }

  test("linux-x64 does not pick the linux-x64-musl asset (or the reverse)", () => {
    for (const t of ["linux-x64", "linux-x64-musl"] as const) {
      expect(install({ VPNKIT_BASE_URL: good, VPNKIT_TARGET: t }).installed).toBe(fake(t));
    }
  });

  test("refuses a tampered asset, installs nothing", () => {
    const bad = releaseDir("tampered", "linux-x64");
    const r = install({ VPNKIT_BASE_URL: bad, VPNKIT_TARGET: "linux-x64" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`checksum mismatch for ${assetName(VERSION, "linux-x64")}`);
    expect(r.stderr).toContain("refusing to install");
    expect(r.installed).toBeUndefined();
    expect(existsSync(join(r.bin, ".."))).toBe(false);
  });

  test("clear errors: unknown version, unsupported platform, missing release", () => {
    const v = install({ VPNKIT_BASE_URL: good, VPNKIT_TARGET: "linux-x64" }, ["--version", "1.0.0"]);
    expect(v.code).not.toBe(0);
    expect(v.stderr).toContain("no linux-x64 asset for version 1.0.0");
    const p = install({ VPNKIT_BASE_URL: good }, [], shims("sunos", { uname: uname("SunOS", "x86_64") }));
    expect(p.code).not.toBe(0);
    expect(p.stderr).toContain("no release for SunOS");
    const m = install({ VPNKIT_BASE_URL: join(root, "nowhere"), VPNKIT_TARGET: "linux-x64" });
    expect(m.code).not.toBe(0);
    expect(m.stderr).toContain("cannot read");
  });
});
