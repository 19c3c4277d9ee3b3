#!/usr/bin/env bun
/**
 * Release executables for every supported platform, plus SHA256SUMS.
 *
 *   bun scripts/release.ts [--target linux-x64,darwin-arm64] [--out dist/release]
 *
 * Each target is built by scripts/build.ts (`--release`: --minify --bytecode, version
 * stamped from git) with Bun's cross-compilation, which fetches the target's runtime
 * from npm (@oven/bun-<platform>) on first use. Outputs:
 *   dist/release/vpnkit-<version>-<target>[.exe]
 *   dist/release/vpnkit.1, vpnkit.bash, vpnkit.zsh, vpnkit.fish   (man page, completions)
 *   dist/release/SHA256SUMS            (`sha256sum -c` format)
 * scripts/install.sh picks an asset from SHA256SUMS by its "-<target>" suffix.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/** Release target name -> Bun compile target. */
export const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-x64-musl": "bun-linux-x64-musl",
  "linux-arm64": "bun-linux-arm64",
  "darwin-arm64": "bun-darwin-arm64",
  "darwin-x64": "bun-darwin-x64",
  "windows-x64": "bun-windows-x64",
} as const;
export type Target = keyof typeof TARGETS;

export const assetName = (version: string, target: Target): string =>
  `vpnkit-${version}-${target}${target.startsWith("windows") ? ".exe" : ""}`;

/** The release target of the running machine, if it is one (musl: no glibc loader). */
export function hostTarget(): Target | undefined {
  const arch = process.arch === "x64" ? "x64" : process.arch === "arm64" ? "arm64" : undefined;
  if (!arch) return undefined;
  let t: string;
  if (process.platform === "linux") {
    const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
    t = `linux-${arch}${glibc ? "" : "-musl"}`;
  } else if (process.platform === "darwin") t = `darwin-${arch}`;
  else if (process.platform === "win32") t = `windows-${arch}`;
  else return undefined;
  return t in TARGETS ? (t as Target) : undefined;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

export interface Asset {
  target: Target;
  file: string;
  bytes: number;
  sha256: string;
  seconds: number;
}

/** The man page and the completion scripts of the program as it is now; returns [sha256, file] pairs. */
export async function writeDocs(out: string, version: string): Promise<[string, string][]> {
  // imported here, not at the top: the release helpers must not load the whole CLI
  const { buildProgram } = await import("../cli/main.ts");
  const { manPage } = await import("../cli/man.ts");
  const { completionScript, SHELLS } = await import("../cli/completion.ts");
  const program = await buildProgram(); // sync today; async once commands load lazily
  const files: [string, string][] = [[join(out, "vpnkit.1"), manPage(program, version)]];
  for (const shell of Object.keys(SHELLS) as (keyof typeof SHELLS)[]) {
    files.push([join(out, `vpnkit.${shell}`), completionScript(program, shell)]);
  }
  return files.map(([file, text]) => {
    writeFileSync(file, text);
    return [createHash("sha256").update(text).digest("hex"), file];
  });
}

/** Build `targets` into `out` with scripts/build.ts; returns the assets and the stamped version. */
export async function release(targets: Target[], outDir: string): Promise<{ version: string; assets: Asset[] }> {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  // stale assets from an earlier version must not end up in SHA256SUMS
  for (const f of readdirSync(out)) if (/^(vpnkit[-.]|SHA256SUMS$|\.building-)/.test(f)) rmSync(join(out, f));
  let version = "";
  const assets: Asset[] = [];
  for (const target of targets) {
    const t0 = performance.now();
    const tmp = join(out, `.building-${target}${target.startsWith("windows") ? ".exe" : ""}`);
    const buildArgs = ["scripts/build.ts", "--release", "--target", TARGETS[target], "--outfile", tmp];
    let log: string;
    try {
      log = execFileSync(process.execPath, buildArgs, { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    } catch (e) {
      // its stderr is above; a top-level-await error means build.ts lacks --format=esm with --bytecode
      throw new Error(`release: \`bun ${buildArgs.join(" ")}\` failed (${(e as Error).message.split("\n")[0]})`);
    }
    // scripts/build.ts ends with: built <outfile> (vpnkit <version>, <target>)
    const v = /\(vpnkit ([^,)\s]+)/.exec(log)?.[1];
    if (!v) throw new Error(`cannot read the version from scripts/build.ts output:\n${log}`);
    if (version && v !== version) throw new Error(`version changed during the release: ${version} then ${v}`);
    version = v;
    const file = join(out, assetName(version, target));
    renameSync(tmp, file);
    const seconds = (performance.now() - t0) / 1000;
    assets.push({ target, file, bytes: statSync(file).size, sha256: await sha256File(file), seconds });
    console.log(`${basename(file)}  ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB  ${seconds.toFixed(1)} s`);
  }
  const docs = await writeDocs(out, version);
  const sums = [...assets.map((a): [string, string] => [a.sha256, a.file]), ...docs].map(([h, f]) => `${h}  ${basename(f)}\n`).join("");
  writeFileSync(join(out, "SHA256SUMS"), sums);
  return { version, assets };
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = opt("--out") ?? "dist/release";
  const targets = (opt("--target")?.split(",") ?? Object.keys(TARGETS)) as Target[];
  const unknown = targets.filter((t) => !(t in TARGETS));
  if (unknown.length) {
    console.error(`release: unknown target ${unknown.join(", ")} (known: ${Object.keys(TARGETS).join(", ")})`);
    process.exit(2);
  }
  const t0 = performance.now();
  const { version } = await release(targets, out);
  console.log(`vpnkit ${version}: ${targets.length} target(s) and SHA256SUMS in ${out} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
