/** The program under test: buildProgram() plus the completion and man commands if cli/main.ts does not register them yet. */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { buildProgram } from "../../cli/main.ts";
import { completionCommand } from "../../cli/completion.ts";
import { manCommand } from "../../cli/man.ts";

export function program(): CommandUnknownOpts {
  const p = buildProgram() as unknown as CommandUnknownOpts;
  const has = (n: string) => p.commands.some((c) => c.name() === n);
  if (!has("completion")) p.addCommand(completionCommand(program));
  if (!has("man")) p.addCommand(manCommand(program));
  return p;
}

/** Every command (depth-first) with its option flags, read from commander directly. */
export function everyCommand(c: CommandUnknownOpts = program()): { path: string[]; options: string[] }[] {
  const out: { path: string[]; options: string[] }[] = [];
  const visit = (cmd: CommandUnknownOpts, path: string[]) => {
    out.push({ path, options: cmd.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)) });
    for (const s of cmd.commands) visit(s, [...path, s.name()]);
  };
  visit(c, []);
  return out;
}

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
