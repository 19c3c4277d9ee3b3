#!/usr/bin/env bun
/**
 * Build dist/vpnkit: one self-contained executable (bun build --compile).
 * Usage: bun scripts/build.ts [--target bun-linux-x64] [--outfile dist/vpnkit] [--release]
 * The version is package.json's, plus `git describe` when it differs (e.g. 0.1.0+g1234abc).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import pkg from "../package.json" with { type: "json" };

const args = process.argv.slice(2);
function opt(name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}
const release = args.includes("--release");
const target = opt("--target");
const outfile = opt("--outfile") ?? "dist/vpnkit";

let version = pkg.version;
try {
  const desc = execFileSync("git", ["describe", "--always", "--dirty", "--tags"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  if (desc && desc !== `v${pkg.version}`) version = `${pkg.version}+${desc.replace(/^v/, "")}`;
} catch {
  // not a git checkout: plain package version
}

mkdirSync(dirname(outfile), { recursive: true });
const cmd = [
  // Worker entry points are bundled as extra entry points; the code that starts them
  // names them by this path when compiled (lib/platform/bun/runtime.ts).
  "build", "cli/main.ts", "lib/platform/bun/dataplane-worker.ts", "lib/platform/bun/ike-gate-worker.ts", "--compile", `--outfile=${outfile}`,
  `--define=VPNKIT_VERSION=${JSON.stringify(version)}`,
  ...(target ? [`--target=${target}`] : []),
  ...(release ? ["--minify", "--bytecode"] : []),
];
execFileSync(process.execPath, cmd, { stdio: "inherit" });
console.log(`built ${outfile} (vpnkit ${version}${target ? `, ${target}` : ""})`);
