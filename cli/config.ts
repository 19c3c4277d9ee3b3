/**
 * `vpnkit config example [--server|--client|--manual]`: documented example configurations,
 * and `vpnkit config systemd`: the vpnkit@.service template. Both are embedded in the
 * executable (text imports, bundled by `bun build --compile`), so nothing points into a
 * source tree.
 */
import { Command } from "@commander-js/extra-typings";
import manualExample from "../lib/tunnel/example.toml" with { type: "text" };
import serverExample from "../lib/tunnel/example-server.toml" with { type: "text" };
import clientExample from "../lib/tunnel/example-client.toml" with { type: "text" };
import unitTemplate from "../scripts/systemd/vpnkit@.service" with { type: "text" };
import { EXIT } from "./exit.ts";

/** The embedded example configurations, by kind. */
export const EXAMPLES = {
  manual: manualExample as unknown as string,
  server: serverExample as unknown as string,
  client: clientExample as unknown as string,
} as const;

/** The unit template with ExecStart's executable replaced by `exec`. */
export function systemdUnit(exec = "/usr/local/bin/vpnkit"): string {
  return (unitTemplate as string).replace(/^ExecStart=\S+/m, `ExecStart=${exec}`);
}

export function configCommand(): Command {
  const cmd = new Command("config").description("print documented example configurations and the systemd unit (embedded in the executable)");
  cmd.command("example")
    .description("print a documented example configuration (TOML) for `vpnkit up --config`")
    .option("--manual", "manual keys: ESP in UDP, keys from files (the default)")
    .option("--server", "IKEv2 responder (site-to-site, PSK)")
    .option("--client", "IKEv2 initiator for the --server example")
    .addHelpText("after", `
Examples:
  vpnkit config example --server > /etc/vpnkit/office.toml && chmod 600 /etc/vpnkit/office.toml
  vpnkit config example --client | less`)
    .action((o) => {
      const kinds = (["manual", "server", "client"] as const).filter((k) => o[k]);
      if (kinds.length > 1) {
        process.stderr.write("vpnkit config example: give one of --manual, --server, --client\n");
        process.exitCode = EXIT.USAGE;
        return;
      }
      process.stdout.write(EXAMPLES[kinds[0] ?? "manual"]);
      process.exitCode = EXIT.OK;
    });
  cmd.command("systemd")
    .description("print the vpnkit@.service template unit (config in /etc/vpnkit/NAME.toml)")
    .option("--exec <path>", "the vpnkit executable ExecStart runs (default /usr/local/bin/vpnkit)")
    .addHelpText("after", `
Examples:
  vpnkit config systemd --exec "$(command -v vpnkit)" > /etc/systemd/system/vpnkit@.service
  systemctl daemon-reload && systemctl enable --now vpnkit@office`)
    .action((o) => {
      process.stdout.write(systemdUnit(o.exec));
      process.exitCode = EXIT.OK;
    });
  return cmd as unknown as Command;
}
