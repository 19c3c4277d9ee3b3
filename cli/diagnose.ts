/**
 * `vpnkit diagnose`: argument parsing and terminal concerns only. The
 * diagnostics engine and renderers live in lib/diagnose.
 */
import { Command } from "@commander-js/extra-typings";
import { writeFileSync } from "node:fs";
import { basename } from "node:path";
import { openCapture } from "../lib/capture/index.ts";
import { type CaptureReader, CaptureFormatError } from "../lib/capture/types.ts";
import type { LiveCapture } from "../lib/capture/live.ts";
import { closeLive, openLive } from "./live.ts";
import { diagnoseCapture, renderDiagnosisJson, renderDiagnosisText } from "../lib/diagnose/mod.ts";
import { loadKeysOption, many, portList } from "./args.ts";
import { EXIT } from "./exit.ts";
import { captureFilterArg, captureFilterHint, FILTER_ARG_HELP } from "./capture-filter.ts";


export function diagnoseCommand() {
  return new Command("diagnose")
    .description("explain what went wrong in a capture: per IKE SA the exchanges and outcome, per failure the cause and the packets that show it")
    .argument("[capture]", "capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin (the default); with -r or -i every word is the filter expression")
    .argument("[expression...]", FILTER_ARG_HELP)
    .option("-r <file>", "read the capture from FILE (tcpdump's -r; the same as the capture argument)")
    .option("-i, --interface <iface>", "capture live on IFACE, or `any` (Linux; root or CAP_NET_RAW; IPsec traffic only) and diagnose on Ctrl-C")
    .option("--json", "print the diagnosis as one JSON object")
    .option("--html <file>", "also write an HTML report: a ladder diagram (SVG) of each IKE SA with its findings beside it (self-contained, no scripts)")
    .option("--keys <file>", "decrypt with the keys in FILE (same formats as decode --keys; repeatable): shows causes hidden in encrypted IKE messages", many)
    .option("--keys-inline <secrets>", "decrypt with a tcpdump -E string (repeatable)", many)
    .option("--ike-port <port>", "extra UDP port carrying IKE (repeatable)", portList)
    .option("--natt-port <port>", "extra UDP port carrying NAT-T (repeatable)", portList)
    .option("--tcp-port <port>", "extra TCP port carrying RFC 9329 IKE/ESP over TCP (repeatable)", portList)
    .option("--no-reassemble", "do not reassemble IP fragments")
    .option("--no-timeline", "leave out the per-IKE-SA message timelines")
    .option("--strict", `exit with code ${EXIT.ANOMALIES} when an error is found`)
    .addHelpText(
      "after",
      `
Each finding has a cause code (NO_PROPOSAL_CHOSEN_IKE, NO_PROPOSAL_CHOSEN_CHILD,
INVALID_KE_PAYLOAD, AUTH_FAILED, TS_UNACCEPTABLE, NO_RESPONSE, IKE_FRAGMENT_LOSS,
ENCRYPTED_NEED_KEYS, ESP_ONE_WAY, ESP_SEQ_GAP, ESP_REPLAY, ESP_ICV_FAIL,
NAT_KEEPALIVE_MISSING, ...), what happened in plain words, the evidence
(packet numbers as in 'vpnkit decode') and what to do.

Examples:
  vpnkit diagnose capture.pcap
  vpnkit diagnose --keys charon.log capture.pcap     # read causes inside encrypted IKE_AUTH
  vpnkit diagnose --json capture.pcap | jq '.findings[].code'
  vpnkit diagnose -i eth0                            # live (Linux, root): the diagnosis on Ctrl-C
  vpnkit diagnose --html report.html capture.pcap   # ladder diagram per IKE SA
Exit codes: 0 ok, 2 usage error or not a capture, 3 an error was found with --strict.`,
    )
    .action(async (capture, expression, o) => {
      // with -r FILE or -i IFACE there is no capture argument: its word starts the expression
      const words = (o.r !== undefined || o.interface !== undefined) && capture !== undefined ? [capture, ...expression] : expression;
      if (words !== expression) capture = undefined;
      const captureFilter = await captureFilterArg("diagnose", words);
      if (captureFilter === null) return;
      const usage = (m: string) => {
        process.stderr.write(`vpnkit diagnose: ${m}\n`);
        process.exitCode = EXIT.USAGE;
      };
      if (o.r !== undefined && capture !== undefined) return usage("give the capture either as an argument or with -r, not both");
      if (o.interface !== undefined && (capture !== undefined || o.r !== undefined)) return usage("-i captures live: give no capture file");
      const file = o.r ?? capture ?? "-";
      if (o.interface === undefined && file === "-" && process.stdin.isTTY) {
        return usage("no capture file given and stdin is a terminal (pass a file, pipe a capture into -, or capture live with -i IFACE)");
      }
      const keys = await loadKeysOption("diagnose", o);
      if (keys === null) return;
      let reader: CaptureReader;
      let liveCap: LiveCapture | undefined;
      if (o.interface !== undefined) {
        const cap = await openLive("diagnose", { ...o, interface: o.interface, captureFilter });
        if (cap === null) {
          keys?.zero();
          return;
        }
        reader = liveCap = cap;
      } else {
        try {
          reader = await openCapture(file, { batchSize: 512 });
        } catch (e) {
          const msg = e instanceof CaptureFormatError ? e.message : `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}${captureFilterHint("diagnose", file)}`;
          keys?.zero();
          return usage(msg);
        }
      }
      let interrupted = false;
      const stop = new AbortController();
      const onSig = () => {
        interrupted = true;
        stop.abort();
      };
      process.once("SIGINT", onSig);
      let d;
      try {
        d = await diagnoseCapture(reader, {
          decoder: { ikePorts: o.ikePort ?? [], nattPorts: o.nattPort ?? [], tcpPorts: o.tcpPort ?? [], reassemble: o.reassemble !== false, keys },
          signal: stop.signal,
          captureFilter: liveCap === undefined ? captureFilter : undefined, // live: applied by the capture already
        });
      } finally {
        keys?.zero();
        process.off("SIGINT", onSig);
        if (liveCap) closeLive(liveCap);
        // an abandoned read of stdin (SIGINT while waiting) must not keep the process alive
        else if (interrupted) process.stdin.destroy();
      }
      if (o.html) {
        const { renderDiagnosisHtml } = await import("../lib/diagnose/html.ts");
        try {
          writeFileSync(o.html, renderDiagnosisHtml(d, { title: o.interface !== undefined ? `live on ${o.interface}` : file === "-" ? "stdin" : basename(file), generated: new Date().toISOString() }));
        } catch (e) {
          process.stderr.write(`vpnkit diagnose: cannot write ${o.html}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}\n`);
          process.exitCode = EXIT.USAGE;
          return;
        }
      }
      const width = process.stdout.isTTY ? Math.max(60, Math.min(process.stdout.columns ?? 100, 120)) : 100;
      const text = o.json ? renderDiagnosisJson(d, true) + "\n" : renderDiagnosisText(d, { width, timeline: o.timeline !== false }).join("\n") + "\n";
      await new Promise<void>((r) => (process.stdout.write(text) ? r() : process.stdout.once("drain", () => r())));
      if (interrupted) process.exitCode = EXIT.INTERRUPTED;
      else if (o.strict && d.findings.some((f) => f.severity === "error")) process.exitCode = EXIT.ANOMALIES;
    });
}
