/**
 * `vpnkit diagnose`: argument parsing and terminal concerns only. The
 * diagnostics engine and renderers live in lib/diagnose.
 */
import { Command } from "@commander-js/extra-typings";
import { openCapture } from "../lib/capture/index.ts";
import { CaptureFormatError } from "../lib/capture/types.ts";
import { diagnoseCapture, renderDiagnosisJson, renderDiagnosisText } from "../lib/diagnose/mod.ts";
import { loadKeysOption, many, portList } from "./args.ts";
import { EXIT } from "./exit.ts";
import { captureFilterArg, captureFilterHint, FILTER_ARG_HELP } from "./capture-filter.ts";


export function diagnoseCommand() {
  return new Command("diagnose")
    .description("explain what went wrong in a capture: per IKE SA the exchanges and outcome, per failure the cause and the packets that show it")
    .argument("[capture]", "capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin", "-")
    .argument("[expression...]", FILTER_ARG_HELP)
    .option("--json", "print the diagnosis as one JSON object")
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
Exit codes: 0 ok, 2 usage error or not a capture, 3 an error was found with --strict.`,
    )
    .action(async (capture, expression, o) => {
      const captureFilter = await captureFilterArg("diagnose", expression);
      if (captureFilter === null) return;
      if (capture === "-" && process.stdin.isTTY) {
        process.stderr.write("vpnkit diagnose: no capture file given and stdin is a terminal (pass a file, or pipe a capture into -)\n");
        process.exitCode = EXIT.USAGE;
        return;
      }
      const keys = await loadKeysOption("diagnose", o);
      if (keys === null) return;
      let reader;
      try {
        reader = await openCapture(capture, { batchSize: 512 });
      } catch (e) {
        const msg = e instanceof CaptureFormatError ? e.message : `cannot read ${capture}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}${captureFilterHint("diagnose", capture)}`;
        process.stderr.write(`vpnkit diagnose: ${msg}\n`);
        process.exitCode = EXIT.USAGE;
        keys?.zero();
        return;
      }
      let interrupted = false;
      const onSig = () => {
        interrupted = true;
      };
      process.once("SIGINT", onSig);
      let d;
      try {
        d = await diagnoseCapture(reader, {
          decoder: { ikePorts: o.ikePort ?? [], nattPorts: o.nattPort ?? [], tcpPorts: o.tcpPort ?? [], reassemble: o.reassemble !== false, keys },
          shouldStop: () => interrupted,
          captureFilter,
        });
      } finally {
        keys?.zero();
        process.off("SIGINT", onSig);
      }
      const width = process.stdout.isTTY ? Math.max(60, Math.min(process.stdout.columns ?? 100, 120)) : 100;
      const text = o.json ? renderDiagnosisJson(d, true) + "\n" : renderDiagnosisText(d, { width, timeline: o.timeline !== false }).join("\n") + "\n";
      await new Promise<void>((r) => (process.stdout.write(text) ? r() : process.stdout.once("drain", () => r())));
      if (interrupted) process.exitCode = EXIT.INTERRUPTED;
      else if (o.strict && d.findings.some((f) => f.severity === "error")) process.exitCode = EXIT.ANOMALIES;
    });
}
