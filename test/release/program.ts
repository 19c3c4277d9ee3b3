/**
 * The program under test: buildProgram() (sync, or async when commands load lazily) plus
 * the completion and man commands if cli/main.ts does not register them yet.
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { buildProgram } from "../../cli/main.ts";
import { completionCommand } from "../../cli/completion.ts";
import { manCommand } from "../../cli/man.ts";

export async function program(): Promise<CommandUnknownOpts> {
  const p: CommandUnknownOpts = await buildProgram();
  const has = (n: string) => p.commands.some((c) => c.name() === n);
  if (!has("completion")) p.addCommand(completionCommand(program));
  if (!has("man")) p.addCommand(manCommand(program));
  return p;
}

/** Every command (depth-first) with its option flags, read from commander directly. */
export function everyCommand(c: CommandUnknownOpts): { path: string[]; options: string[] }[] {
  const out: { path: string[]; options: string[] }[] = [];
  const visit = (cmd: CommandUnknownOpts, path: string[]) => {
    out.push({ path, options: cmd.options.flatMap((o) => [o.short, o.long].filter((x): x is string => !!x)) });
    for (const s of cmd.commands) visit(s, [...path, s.name()]);
  };
  visit(c, []);
  return out;
}
