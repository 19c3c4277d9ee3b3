/** Helpers for the release tests: run a program, decide whether a tool-dependent test runs. */

/**
 * Whether tests that need `tool` should run: when it is on PATH, and always with CI=true
 * (where a missing tool then fails the test, as CONTRIBUTING.md asks).
 */
export function runnable(tool: string): boolean {
  if (Bun.which(tool) !== null || process.env.CI === "true") return true;
  console.warn(`skip: ${tool} is not installed (apt-get install ${tool})`);
  return false;
}

/** Run a command; returns its exit code and output. */
export function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; stdin?: string } = {}) {
  if (Bun.which(cmd[0]!) === null && !cmd[0]!.includes("/")) throw new Error(`${cmd[0]} is not installed`);
  const r = Bun.spawnSync(cmd, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdin: opts.stdin === undefined ? "ignore" : Buffer.from(opts.stdin),
  });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}
