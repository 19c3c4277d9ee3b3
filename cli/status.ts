/** `vpnkit status`: read a running tunnel's counters from its control socket. */
import { Command } from "@commander-js/extra-typings";
import { readStatus, type TunnelStatus } from "../lib/tunnel/control.ts";

/** Plain-text rendering of a status document. */
export function renderStatus(s: TunnelStatus): string {
  const c = s.counters;
  const rows: [string, string | number][] = [
    ["tunnel", `${s.tun}  ${s.local} -> ${s.remote}  (pid ${s.pid}, up ${s.uptimeSec}s)`],
    ["cipher", `${s.cipher}  spi out ${s.spiOut}  in ${s.spiIn}  tunnel MTU ${s.tunnelMtu}`],
    ["packets out", c.packetsOut],
    ["bytes out", c.bytesOut],
    ["packets in", c.packetsIn],
    ["bytes in", c.bytesIn],
    ["keepalives sent/recv", `${c.keepalivesSent}/${c.keepalivesIn}`],
    ["IKE datagrams", c.ikeIn],
    ["ICMP too-big sent", c.icmpSent],
  ];
  for (const [k, v] of Object.entries(c.drops)) rows.push([`drop ${k}`, v]);
  for (const [k, v] of Object.entries(s.io ?? {})) rows.push([k, v]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n";
}

export function statusCommand(): Command {
  const cmd = new Command("status")
    .description("show a running tunnel's counters (from its control socket)")
    .option("-s, --socket <path>", "control socket", "/run/vpnkit-vpnkit0.sock")
    .option("--json", "print the raw JSON")
    .addHelpText(
      "after",
      `
Examples:
  vpnkit status                                   counters of the tunnel on vpnkit0
  vpnkit status --socket /run/vpnkit-vk0.sock     another tunnel (--tun-name vk0)
  vpnkit status --json | jq .counters.drops       drops by reason (icv, replay, noSa, tooBig, ...)`,
    )
    .action(async (o) => {
      let s: TunnelStatus;
      try {
        s = await readStatus(o.socket);
      } catch (e) {
        process.stderr.write(`vpnkit status: ${(e as Error).message}\n`);
        process.exit(1);
      }
      process.stdout.write(o.json ? JSON.stringify(s, null, 2) + "\n" : renderStatus(s));
    });
  return cmd as unknown as Command;
}
