/** Test-only entry: `bun test/tunnel/run-cli.ts up ...` / `status ...` (cli/main.ts belongs to the lead). */
import { Command } from "@commander-js/extra-typings";
import { statusCommand, upCommand } from "../../cli/up.ts";

const program = new Command("vpnkit").addCommand(upCommand()).addCommand(statusCommand());
await program.parseAsync(process.argv);
