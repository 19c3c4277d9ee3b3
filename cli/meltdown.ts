/**
 * `vpnkit meltdown`: inner TCP goodput through a tunnel carried over UDP and over TCP, on the
 * network's own path (PEER mode) or in a namespace lab with added outer loss/delay (--lab).
 * Thin: parse, call lib/meltdown, render.
 */
import { Command } from "@commander-js/extra-typings";
import { writeFileSync } from "node:fs";
import { Lab } from "../lib/meltdown/lab.ts";
import { measureDirect } from "../lib/meltdown/direct.ts";
import type { MeltdownRun } from "../lib/meltdown/measure.ts";
import { type MeltdownMeta, renderChart, renderHtml, renderMarkdown, renderTable, verdict } from "../lib/meltdown/report.ts";
import { EXIT } from "./exit.ts";

function selfCommand(): string[] {
  const script = process.argv[1] ?? "";
  return /\.(ts|js)$/.test(script) ? [process.execPath, script] : [process.execPath];
}

function usage(msg: string): never {
  process.stderr.write(`vpnkit meltdown: ${msg}\n`);
  process.exit(EXIT.USAGE);
}

export function meltdownCommand(): Command {
  const cmd = new Command("meltdown")
    .description("TCP-over-TCP check: inner TCP goodput through a tunnel over UDP vs over TCP (needs iperf3)")
    .argument("[peer]", "outer address of a peer running `vpnkit up` twice (UDP and TCP) and `iperf3 -s` (not with --lab)")
    .option("--udp-inner <addr>", "PEER mode: the peer's inner address through the UDP-transport tunnel")
    .option("--tcp-inner <addr>", "PEER mode: the peer's inner address through the TCP-transport tunnel")
    .option("--lab", "build a namespace lab (a - router - b, names vx*) and run both vpnkit tunnels in it (root)")
    .option("--loss <list>", "lab: outer loss per direction in %, comma-separated (default 0)", "0")
    .option("--delay <ms>", "lab: one-way delay added by padelay (ms, default 0)", "0")
    .option("--padelay <path>", "lab: path of a built padelay binary (needed for --delay; no netem here)")
    .option("--rate <mbit>", "lab: tbf rate on the router (Mbit/s, default 100; 0 = none)", "100")
    .option("--openvpn", "lab: also measure OpenVPN over UDP and over TCP in the same topology")
    .option("-t, --duration <s>", "seconds per transfer (default 10)", "10")
    .option("--cc <name>", "inner TCP congestion control (iperf3 -C); default: the system's")
    .option("--outer-cc-shim <so>", "lab: LD_PRELOAD shim (pa_tcpcc.c) that applies --cc to the tunnels' outer TCP sockets too")
    .option("--prefix <p>", "lab namespace prefix (vx...)", "vxm")
    .option("--html <file>", "write an HTML report with SVG plots")
    .option("--json", "print the runs as JSON")
    .option("--markdown", "print the table as Markdown")
    .addHelpText(
      "after",
      `
Examples:
  vpnkit meltdown --lab --loss 0,1,5                        no added delay, 100 Mbit/s
  vpnkit meltdown --lab --delay 20 --padelay ./padelay --loss 0,0.5,2 --cc cubic --html report.html
  vpnkit meltdown --lab --openvpn --loss 2 -t 5            OpenVPN UDP/TCP in the same lab
  vpnkit meltdown 192.0.2.2 --udp-inner 10.9.0.2 --tcp-inner 10.9.1.2   through running tunnels`,
    )
    .action(async (peer, o) => {
      const dur = Number(o.duration);
      if (!(dur >= 1 && dur <= 120)) usage("--duration must be 1..120 seconds");
      const losses = o.loss.split(",").map((s) => Number(s.trim().replace(/%$/, "")) / 100);
      if (losses.some((l) => !(l >= 0 && l < 1))) usage("--loss: percentages 0..99, comma-separated");
      const delay = Number(o.delay), rate = Number(o.rate);
      if (!(delay >= 0 && delay <= 1000)) usage("--delay must be 0..1000 ms");
      const log = (m: string) => process.stderr.write(m + "\n");
      const runs: MeltdownRun[] = [];
      let path: string;
      if (o.lab) {
        if (peer) usage("PEER and --lab are exclusive");
        if (o.outerCcShim && !o.cc) usage("--outer-cc-shim needs --cc");
        if (delay > 0 && !o.padelay) usage("--delay needs --padelay PATH (build padelay.c with gcc; this kernel has no netem)");
        const lab = new Lab({ prefix: o.prefix, rateMbit: rate > 0 ? rate : null, delayMs: delay, padelay: o.padelay ?? null, vpnkit: selfCommand(), log,
          outerCc: o.outerCcShim && o.cc ? { shim: o.outerCcShim, cc: o.cc } : null,
        });
        const onSig = () => {
          lab.destroy();
          process.exit(EXIT.INTERRUPTED ?? 130);
        };
        process.on("SIGINT", onSig);
        process.on("SIGTERM", onSig);
        path = `lab: a - router - b${rate > 0 ? `, tbf ${rate} Mbit/s` : ""}${delay > 0 ? `, +${delay} ms each way (padelay)` : ""}, loss by iptables statistic on the outer port`;
        try {
          lab.up();
          const kinds: ["vpnkit" | "openvpn", "udp" | "tcp"][] = [["vpnkit", "udp"], ["vpnkit", "tcp"]];
          if (o.openvpn) kinds.push(["openvpn", "udp"], ["openvpn", "tcp"]);
          for (const [k, tr] of kinds) {
            log(`meltdown: ${k} over ${tr}`);
            const t = k === "vpnkit" ? await lab.vpnkit(tr) : await lab.openvpn(tr);
            try {
              for (const l of losses) {
                const r = await lab.measure(t, l, dur, o.cc ?? null);
                log(`  loss ${(l * 100).toFixed(1)}%: ${r.error ?? r.goodputMbps.toFixed(1) + " Mbit/s"}`);
                runs.push(r);
              }
            } finally {
              await t.stop();
            }
          }
        } finally {
          lab.destroy();
        }
      } else {
        if (!peer) usage("give PEER (with --udp-inner/--tcp-inner) or --lab");
        if (!o.udpInner || !o.tcpInner) usage("PEER mode needs --udp-inner and --tcp-inner (the peer's inner addresses through each tunnel)");
        path = `the network's own path to ${peer}`;
        runs.push(await measureDirect({ tunnel: "vpnkit-udp", transport: "udp", peer, inner: o.udpInner, durationSec: dur, cc: o.cc ?? null }));
        runs.push(await measureDirect({ tunnel: "vpnkit-tcp", transport: "tcp", peer, inner: o.tcpInner, durationSec: dur, cc: o.cc ?? null }));
      }
      const meta: MeltdownMeta = {
        path, cc: o.cc ? `${o.cc} (inner${o.outerCcShim ? " and outer" : "; outer TCP: system default"})` : "system default", durationSec: dur, command: ["vpnkit", ...process.argv.slice(2)].join(" "), date: new Date().toISOString(),
      };
      if (o.json) process.stdout.write(JSON.stringify({ meta, runs }) + "\n");
      else {
        process.stdout.write((o.markdown ? renderMarkdown(runs) : renderTable(runs)) + "\n\n" + renderChart(runs) + "\n\n" + verdict(runs, meta).join("\n") + "\n");
      }
      if (o.html) writeFileSync(o.html, renderHtml(runs, meta));
    });
  return cmd as unknown as Command;
}
