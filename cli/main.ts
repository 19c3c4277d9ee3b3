#!/usr/bin/env bun
/**
 * vpnkit command-line entry point. Commands live in cli/*.ts; this file only
 * assembles them. Exit codes are documented in README.md ("Exit codes").
 */
import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import { version } from "./version.ts";
import { EXIT } from "./exit.ts";
import { vpnkitEnv } from "../lib/core/env.ts";

/**
 * Every command, loaded on demand: a command module (and the lib/ code it imports) is
 * evaluated only when that command runs, or when the whole tree is needed (help,
 * completion, man). Keeps `vpnkit --version` and each command's start-up small.
 */
const COMMANDS: Record<string, () => Promise<CommandUnknownOpts>> = {
  decode: async () => (await import("./decode.ts")).decodeCommand(),
  diagnose: async () => (await import("./diagnose.ts")).diagnoseCommand(),
  up: async () => (await import("./up.ts")).upCommand(),
  status: async () => (await import("./status.ts")).statusCommand(),
  reload: async () => (await import("./reload.ts")).reloadCommand(),
  mtu: async () => (await import("./mtu.ts")).mtuCommand(),
  responder: async () => (await import("./responder.ts")).responderCommand(),
  meltdown: async () => (await import("./meltdown.ts")).meltdownCommand(),
  completion: async () => (await import("./completion.ts")).completionCommand(buildProgram),
  man: async () => (await import("./man.ts")).manCommand(buildProgram),
  config: async () => (await import("./config.ts")).configCommand(),
};

/** The program with the commands `only` names (default: all of them). */
export async function buildProgram(only: string[] = Object.keys(COMMANDS)): Promise<Command> {
  const program = new Command()
    .name("vpnkit")
    .description("IPsec in user space, and the tools to see what goes wrong.")
    .version(version, "-V, --version", "print the version")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `
Examples:
  vpnkit decode capture.pcap              one line per packet (ESP, AH, IKEv1, IKEv2, NAT-T)
  vpnkit decode -v capture.pcapng         full field tree
  tcpdump -w - -i eth0 udp | vpnkit decode -
  vpnkit diagnose --keys charon.log capture.pcap   what went wrong, in plain words
  vpnkit mtu 192.0.2.2 --secret-file s    path MTU to a peer running \`vpnkit responder\`
  vpnkit responder --secret-file s        answer authenticated MTU probes (UDP 4501)
  vpnkit help decode                      help for one command`,
    );
  for (const c of await Promise.all(only.map((n) => COMMANDS[n]!()))) program.addCommand(c);
  return program;
}

async function main(): Promise<void> {
  // Load only what the command line needs: nothing for --version, one command module
  // for `vpnkit <command> ...`, all of them for help and anything else.
  const first = process.argv[2] ?? "";
  const only = first === "-V" || first === "--version" ? [] : Object.hasOwn(COMMANDS, first) ? [first] : undefined;
  const program = await buildProgram(only);
  // Usage errors in any (sub)command must surface here, to exit with code 2.
  const override = (c: Command): void => {
    c.exitOverride();
    for (const sub of c.commands as Command[]) override(sub);
  };
  override(program);
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors exit 2 (message already printed)
      process.exitCode = e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      return;
    }
    process.stderr.write(`vpnkit: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (vpnkitEnv("VPNKIT_DEBUG")) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exitCode = EXIT.INTERNAL;
  }
}

// No top-level await: `bun build --compile --bytecode` (release builds) does not allow it.
if (import.meta.main) void main();
