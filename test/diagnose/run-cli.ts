/** Test-only entry: `bun test/diagnose/run-cli.ts diagnose ...` (cli/main.ts belongs to the lead). */
import { Command } from "@commander-js/extra-typings";
import { diagnoseCommand } from "../../cli/diagnose.ts";

await new Command("vpnkit").addCommand(diagnoseCommand()).parseAsync(process.argv);
