/** `vpnkit reload`: ask a running `vpnkit up` to re-read its configuration (as SIGHUP does). */
import { Command } from "@commander-js/extra-typings";
import { requestReload } from "../lib/tunnel/control.ts";

export function reloadCommand(): Command {
  const cmd = new Command("reload")
    .description("re-read a running IKEv2 tunnel's configuration (as SIGHUP): new connections start, removed ones are deleted, changed ones renegotiate, unchanged ones stay up")
    .option("--control <path>", "control socket of the running `vpnkit up`", "/run/vpnkit-vpnkit0.sock")
    .addHelpText(
      "after",
      `
Exit status: 0 applied, 1 refused (the reason is printed; the running configuration stays) or no answer.

Examples:
  vpnkit reload                                    the tunnel on vpnkit0
  vpnkit reload --control /run/vpnkit-vk0.sock     another tunnel (--tun-name vk0)
  systemctl reload vpnkit@server                   the same through systemd (SIGHUP)`,
    )
    .action(async (o) => {
      try {
        const r = await requestReload(o.control);
        (r.ok ? process.stdout : process.stderr).write(`vpnkit reload: ${r.message}\n`);
        process.exit(r.ok ? 0 : 1);
      } catch (e) {
        process.stderr.write(`vpnkit reload: ${(e as Error).message}\n`);
        process.exit(1);
      }
    });
  return cmd as unknown as Command;
}
