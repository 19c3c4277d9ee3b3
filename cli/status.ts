/** `vpnkit status`: read a running tunnel's counters from its control socket. */
import { Command } from "@commander-js/extra-typings";
import { readStatus, type TunnelStatus } from "../lib/tunnel/control.ts";
import type { IkeStatus } from "../lib/tunnel/ike-driver.ts";

/** 1234567 → "1.2 MB" (decimal units, short). */
function bytes(n: number): string {
  return n < 1000 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(2)} GB`;
}

function ago(s: number | null): string {
  if (s === null) return "-";
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** IKE SAs and Child SAs in the manner of `swanctl --list-sas`, then the manager's counters and the drops. */
export function renderIke(k: IkeStatus): string {
  const out: string[] = [];
  for (const sa of k.ikeSas) {
    out.push(`${sa.name}: #${sa.id}, ${sa.state.toUpperCase()}, IKEv2, ${sa.spi}`);
    out.push(`  local  '${sa.localId ?? "-"}' @ ${sa.local}`);
    out.push(`  remote '${sa.remoteId ?? "-"}'${sa.eapUser ? ` EAP: '${sa.eapUser}'` : ""} @ ${sa.remote}${sa.virtualIp ? ` [${sa.virtualIp}]` : ""}${sa.virtualIp6 ? ` [${sa.virtualIp6}]` : ""}`);
    out.push(`  ${sa.role}, ${sa.proposal ?? "no proposal yet"}${sa.natt ? ", UDP encapsulated (4500)" : ""}`);
    out.push(`  established ${ago(sa.establishedSec)} ago, rekeying in ${ago(sa.rekeyInSec)}, last received ${ago(sa.lastReceivedSec)} ago`);
    for (const c of sa.childSas) {
      out.push(`  child: INSTALLED, ${c.encap === "none" ? "ESP (IP protocol 50)" : "ESP in UDP"} SPIs: ${c.spiIn}_i ${c.spiOut}_o, ${c.cipher}, installed ${ago(c.installedSec)} ago, rekeying in ${ago(c.rekeyInSec)}`);
      out.push(`    ${c.local} === ${c.remote}`);
      const t = c.traffic;
      if (t) out.push(`    in ${bytes(t.bytesIn)} (${t.packetsIn} pkts, last ${ago(t.lastReceivedSec)} ago), out ${bytes(t.bytesOut)} (${t.packetsOut} pkts)`);
    }
  }
  if (!k.ikeSas.length) out.push(`no IKE SA (${k.state})${k.lastError ? `: ${k.lastError}` : ""}`);
  const m = k.manager;
  out.push(`IKE SAs ${m.sas} (half-open ${m.halfOpen}/${m.limits.halfOpenMax}, cookies from ${m.limits.cookieThreshold}, per source ${m.limits.blockThreshold}, ${m.limits.initRate || "unlimited"} new/s)`);
  const c = m.counters;
  out.push(`created ${c.created}, closed ${c.closed}, replaced ${c.replaced}, IKE_SA_INIT accepted ${c.initAccepted} rejected ${c.initRejected} retransmitted ${c.initRetransmits}, COOKIEs sent ${c.cookiesSent}, INVALID_IKE_SPI sent ${c.invalidIkeSpiSent}`);
  const drops = Object.entries(k.drops).sort((a, b) => b[1] - a[1]);
  if (drops.length) out.push(`IKE drops: ${drops.map(([r, n]) => `${r} ${n}`).join(", ")}`);
  const iv = k.invalidSpi;
  if (iv && iv.reported) out.push(`ESP with unknown SPI: ${iv.reported} reported, INVALID_SPI sent ${iv.sent}, rate-limited ${iv.limited}, no IKE SA ${iv.noIkeSa}`);
  return out.join("\n") + "\n";
}

/** Plain-text rendering of a status document. */
export function renderStatus(s: TunnelStatus): string {
  const c = s.counters;
  const rows: [string, string | number][] = [
    ["tunnel", `${s.tun}  ${s.local} -> ${s.remote}${s.transport === "tcp" ? " over TCP" : ""}  (pid ${s.pid}, up ${s.uptimeSec}s)`],
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
  // adapter counters that are zero say nothing here (`--json` has them all)
  for (const [k, v] of Object.entries(s.io ?? {})) if (v !== 0) rows.push([k, v]);
  const w = Math.max(...rows.map((r) => r[0].length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n" + (s.ike ? renderIke(s.ike) : "");
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
  vpnkit status --json | jq .counters.drops       drops by reason (icv, replay, noSa, tooBig, ...)
  vpnkit status --json | jq .ike.ikeSas           IKEv2: every IKE SA with its Child SAs
  vpnkit status --json | jq .ike.drops            IKEv2: dropped IKE datagrams by reason
  vpnkit status --json | jq '.ike.ikeSas[].childSas[] | {spiIn, encap, traffic}'
                                                  IKEv2: per Child SA: ESP in UDP or IP protocol 50, bytes/packets, last received`,
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
