#!/usr/bin/env bun
/**
 * vpnkit command-line entry point. Commands live in cli/*.ts; this file only
 * assembles them. Exit codes are documented in README.md ("Exit codes").
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { version } from "./version.ts";
import { decodeCommand } from "./decode.ts";
import { upCommand, statusCommand } from "./up.ts";
import { mtuCommand } from "./mtu.ts";
import { diagnoseCommand } from "./diagnose.ts";
import { responderCommand } from "./responder.ts";
import { meltdownCommand } from "./meltdown.ts";
import { EXIT } from "./exit.ts";

export function buildProgram(): Command {
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
  program.addCommand(decodeCommand());
  program.addCommand(diagnoseCommand());
  program.addCommand(upCommand());
  program.addCommand(statusCommand());
  program.addCommand(mtuCommand());
  program.addCommand(responderCommand());
  program.addCommand(meltdownCommand());
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
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
    if (process.env.VPNKIT_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    process.exitCode = EXIT.INTERNAL;
  }
}

// No top-level await: `bun build --compile --bytecode` (release builds) does not allow it.
if (import.meta.main) void main();
