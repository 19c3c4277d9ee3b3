/**
 * `vpnkit completion bash|zsh|fish`: shell completion scripts generated from the
 * commander program tree, so every registered command and option is completed
 * without further work. `commandTree()` is also what `vpnkit man` renders.
 */
import { Argument, Command, type CommandUnknownOpts } from "@commander-js/extra-typings";
import type { EventEmitter } from "node:events";
import { EXIT } from "./exit.ts";

export interface OptionSpec {
  short?: string;
  long?: string;
  description: string;
  /** Value placeholder (`hex` for `--spi <hex>`), when the option takes a value. */
  value?: string;
  /** The value may be omitted (`--opt [x]`). */
  valueOptional: boolean;
  choices?: string[];
  /** The value names a file or path (completed as a file name). */
  file: boolean;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
  choices?: string[];
}

export interface CommandSpec {
  name: string;
  /** Names from the program down to this command, e.g. ["vpnkit", "decode"]. */
  path: string[];
  aliases: string[];
  description: string;
  usage: string;
  options: OptionSpec[];
  arguments: ArgumentSpec[];
  commands: CommandSpec[];
  /** Commander's implicit `help [command]`: its argument is a sibling command. */
  isHelp: boolean;
  /** Text added with addHelpText("after", ...) (examples), if any. */
  afterHelp: string;
}

const FILE_VALUE = /file|path|dir|capture|socket|config|keylog/i;

function afterHelpText(cmd: CommandUnknownOpts): string {
  let text = "";
  // addHelpText() registers listeners on this event; let them write into a string.
  (cmd as unknown as EventEmitter).emit("afterHelp", { error: false, command: cmd, write: (s: string) => (text += s) });
  return text.replace(/^\n+|\s+$/g, "");
}

/** A plain description of `cmd` and every visible subcommand, option and argument. */
export function commandTree(cmd: CommandUnknownOpts, parent: string[] = [], isHelp = false): CommandSpec {
  const help = cmd.createHelp();
  const path = [...parent, cmd.name()];
  const own = new Set<CommandUnknownOpts>(cmd.commands);
  return {
    name: cmd.name(),
    path,
    aliases: cmd.aliases(),
    description: cmd.description(),
    usage: cmd.usage(),
    options: help.visibleOptions(cmd).map((o) => {
      const value = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
      return {
        short: o.short,
        long: o.long,
        description: o.description,
        value,
        valueOptional: o.optional,
        choices: o.argChoices,
        file: value !== undefined && !o.argChoices && FILE_VALUE.test(value),
      };
    }),
    // all arguments: Help.visibleArguments() hides them unless one has a description
    arguments: cmd.registeredArguments.map((a: Argument) => ({
      name: a.name(),
      description: a.description,
      required: a.required,
      variadic: a.variadic,
      choices: a.argChoices,
    })),
    commands: help.visibleCommands(cmd).map((c) => commandTree(c, path, !own.has(c) && c.name() === "help")),
    isHelp,
    afterHelp: afterHelpText(cmd),
  };
}

function walk(c: CommandSpec, f: (c: CommandSpec) => void): void {
  f(c);
  for (const s of c.commands) walk(s, f);
}

/** Words an argument position completes to: choices, or sibling commands for `help`. */
function argWords(c: CommandSpec, siblings: CommandSpec[]): string[] | undefined {
  if (c.isHelp) return siblings.filter((s) => !s.isHelp).map((s) => s.name);
  const choices = c.arguments.flatMap((a) => a.choices ?? []);
  return choices.length ? choices : undefined;
}

function optionWords(o: OptionSpec): string[] {
  return [o.short, o.long].filter((x): x is string => !!x);
}

const ident = (path: string[]) => path.join("_").replace(/[^A-Za-z0-9_]/g, "_");
const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

// ---------------------------------------------------------------- bash

export function bashCompletion(root: CommandSpec): string {
  const fn = `_${ident([root.name])}_complete`;
  const transitions: string[] = [];
  const values: string[] = [];
  const nodes: string[] = [];
  const visit = (c: CommandSpec, siblings: CommandSpec[]) => {
    const id = ident(c.path);
    for (const s of c.commands) {
      for (const n of [s.name, ...s.aliases]) transitions.push(`      ${sq(`${id} ${n}`)}) node=${ident(s.path)} ;;`);
    }
    for (const o of c.options.filter((o) => o.value && !o.valueOptional)) {
      const pats = optionWords(o).map((w) => sq(`${id} ${w}`)).join("|");
      transitions.push(`      ${pats}) skip=1 ;;`);
      const reply = o.choices ? `COMPREPLY=($(compgen -W ${sq(o.choices.join(" "))} -- "$cur"))` : `COMPREPLY=()`;
      values.push(`    ${pats}) ${reply}; return ;;`);
    }
    const opts = c.options.flatMap(optionWords).join(" ");
    const subs = c.commands.flatMap((s) => [s.name, ...s.aliases]);
    const args = subs.length ? subs : (argWords(c, siblings) ?? []);
    nodes.push(`    ${id}) opts=${sq(opts)}; words=${sq(args.join(" "))} ;;`);
    for (const s of c.commands) visit(s, c.commands);
  };
  visit(root, []);
  return `# bash completion for ${root.name} (generated by \`${root.name} completion bash\`)
# Load now:      source <(${root.name} completion bash)
# Install:       ${root.name} completion bash > /etc/bash_completion.d/${root.name}
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local node=${ident(root.path)} skip=0 i w opts words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if ((skip)); then skip=0; continue; fi
    case "$node $w" in
${transitions.join("\n")}
    esac
  done
  case "$node $prev" in
${values.join("\n")}
  esac
  case $node in
${nodes.join("\n")}
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ -n $words ]]; then
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  else
    COMPREPLY=()
  fi
}
complete -o default -o bashdefault -F ${fn} ${root.name}
`;
}

// ---------------------------------------------------------------- zsh

/** Escape text for a zsh _arguments/_describe spec inside single quotes. */
const zq = (s: string) => s.replace(/\\/g, "\\\\").replace(/([[\]:])/g, "\\$1").replace(/'/g, `'\\''`);

function zshOption(o: OptionSpec): string {
  const words = optionWords(o);
  // value options without choices may repeat (--spi a --spi b); the others exclude their aliases
  const repeat = o.value && !o.choices ? "*" : "";
  const excl = !repeat && words.length > 1 ? `(${words.join(" ")})` : "";
  const action = !o.value ? "" : `:${zq(o.value)}:${o.choices ? `(${o.choices.join(" ")})` : o.file ? "_files" : " "}`;
  return words
    .map((w) => {
      const suffix = !o.value ? "" : w.startsWith("--") ? (o.valueOptional ? "=-" : "=") : o.valueOptional ? "-" : "+";
      return `    '${excl}${repeat}${w}${suffix}[${zq(o.description)}]${action}'`;
    })
    .join(" \\\n");
}

export function zshCompletion(root: CommandSpec): string {
  const fns: string[] = [];
  const visit = (c: CommandSpec, siblings: CommandSpec[]) => {
    const fn = `_${ident(c.path)}`;
    const specs = c.options.map(zshOption);
    let body: string;
    if (c.commands.length) {
      const described = c.commands
        .flatMap((s) => [s.name, ...s.aliases].map((n) => `    '${zq(n)}:${zq(s.description)}'`))
        .join("\n");
      specs.push(`    '1: :->command'`, `    '*:: :->args'`);
      body = `  local curcontext=$curcontext state line ret=1
  _arguments -C \\
${specs.join(" \\\n")} && ret=0
  case $state in
    command)
      local -a commands=(
${described}
      )
      _describe -t commands '${zq(c.name)} command' commands && ret=0 ;;
    args)
      case $line[1] in
${c.commands.map((s) => `        ${[s.name, ...s.aliases].join("|")}) ${`_${ident(s.path)}`} && ret=0 ;;`).join("\n")}
      esac ;;
  esac
  return ret`;
    } else {
      const words = argWords(c, siblings);
      for (const [i, a] of c.arguments.entries()) {
        const action = words ? `(${words.join(" ")})` : "_files";
        specs.push(`    '${a.variadic ? "*" : `${i + 1}`}:${zq(a.name)}:${action}'`);
      }
      body = `  _arguments -s -S \\\n${specs.join(" \\\n")}`;
    }
    fns.push(`${fn}() {\n${body}\n}`);
    for (const s of c.commands) visit(s, c.commands);
  };
  visit(root, []);
  return `#compdef ${root.name}
# zsh completion for ${root.name} (generated by \`${root.name} completion zsh\`)
# Install: ${root.name} completion zsh > "\${fpath[1]}/_${root.name}"   (then restart zsh)
# Or load now: source <(${root.name} completion zsh)

${fns.join("\n\n")}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _${ident(root.path)} "$@"
else
  compdef _${ident(root.path)} ${root.name}
fi
`;
}

// ---------------------------------------------------------------- fish

const fq = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;

export function fishCompletion(root: CommandSpec): string {
  const lines: string[] = [];
  const prog = root.name;
  const visit = (c: CommandSpec, siblings: CommandSpec[]) => {
    const depth = c.path.length - 1;
    // Inside c: every ancestor seen as a subcommand; at the root: no subcommand yet.
    const cond =
      depth === 0
        ? "__fish_use_subcommand"
        : c.path
            .slice(1)
            .map((n) => `__fish_seen_subcommand_from ${n}`)
            .join("; and ");
    const noChild = c.commands.length && depth > 0 ? `; and not __fish_seen_subcommand_from ${c.commands.map((s) => s.name).join(" ")}` : "";
    const n = `-n ${fq(cond + noChild)}`;
    for (const o of c.options) {
      const flags = [o.short ? `-s ${o.short.slice(1)}` : "", o.long ? `-l ${o.long.slice(2)}` : ""].filter(Boolean).join(" ");
      const value = !o.value ? "" : o.choices ? ` -x -a ${fq(o.choices.join(" "))}` : o.file ? " -r -F" : " -x";
      lines.push(`complete -c ${prog} ${n} ${flags}${value} -d ${fq(o.description)}`);
    }
    for (const s of c.commands) {
      for (const name of [s.name, ...s.aliases]) lines.push(`complete -c ${prog} ${n} -a ${name} -d ${fq(s.description)}`);
    }
    if (!c.commands.length && c.arguments.length) {
      const words = argWords(c, siblings);
      lines.push(`complete -c ${prog} ${n} ${words ? `-a ${fq(words.join(" "))}` : "-F"}`);
    }
    for (const s of c.commands) visit(s, c.commands);
  };
  visit(root, []);
  return `# fish completion for ${prog} (generated by \`${prog} completion fish\`)
# Install: ${prog} completion fish > ~/.config/fish/completions/${prog}.fish
complete -c ${prog} -f
${lines.join("\n")}
`;
}

export const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion } as const;
export type Shell = keyof typeof SHELLS;

/** Completion script for `shell`, from the program `buildProgram()` returns. */
export function completionScript(program: CommandUnknownOpts, shell: Shell): string {
  return SHELLS[shell](commandTree(program));
}

/** Builds the whole program (every command); may be async when commands load lazily. */
export type ProgramBuilder = () => CommandUnknownOpts | Promise<CommandUnknownOpts>;

/**
 * The `completion` command. `buildProgram` is called when the command runs, so the
 * script covers the whole program, this command included.
 */
export function completionCommand(buildProgram: ProgramBuilder) {
  return new Command("completion")
    .description("print a shell completion script (bash, zsh or fish)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(Object.keys(SHELLS) as Shell[]))
    .addHelpText(
      "after",
      `
Examples:
  source <(vpnkit completion bash)                          # this bash session
  vpnkit completion bash > /etc/bash_completion.d/vpnkit     # every bash session
  vpnkit completion zsh > "\${fpath[1]}/_vpnkit"             # zsh (restart it)
  vpnkit completion fish > ~/.config/fish/completions/vpnkit.fish`,
    )
    .action(async (shell) => {
      process.stdout.write(completionScript(await buildProgram(), shell));
      process.exitCode = EXIT.OK;
    });
}
