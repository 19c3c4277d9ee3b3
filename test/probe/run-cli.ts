/** Test-only entry: `bun test/probe/run-cli.ts mtu ...` / `responder ...` (cli/main.ts belongs to the lead). */
import { Command } from "@commander-js/extra-typings";
import { mtuCommand } from "../../cli/mtu.ts";
import { responderCommand } from "../../cli/responder.ts";

const program = new Command("vpnkit").addCommand(mtuCommand()).addCommand(responderCommand());
await program.parseAsync(process.argv);
