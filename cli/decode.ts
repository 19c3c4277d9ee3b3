/**
 * `vpnkit decode`: argument parsing and terminal concerns only. The decode
 * loop, dissectors and renderers live in lib/decode.
 */
import { Command, Option } from "@commander-js/extra-typings";
import { openCapture } from "../lib/capture/index.ts";
import { type CaptureAnomaly, CaptureFormatError } from "../lib/capture/types.ts";
import { runDecode, type RunDecodeOptions } from "../lib/decode/run.ts";
import { isBrokenPipe } from "../lib/decode/output.ts";
import { parseFilter } from "../lib/decode/filter.ts";
import { EXIT } from "./exit.ts";
import { captureFilterArg, captureFilterHint, FILTER_ARG_HELP } from "./capture-filter.ts";
import { loadKeysOption, many, portList } from "./args.ts";
import type { PcapngWriter } from "../lib/capture/pcapng-writer.ts";


export function decodeCommand() {
  return new Command("decode")
    .description("decode ESP, AH, IKEv1, IKEv2 and NAT-T from a pcap or pcapng capture (or stdin)")
    .argument("[capture]", "capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin", "-")
    .argument("[expression...]", FILTER_ARG_HELP)
    .option("-v, --verbose", "print the full field tree of every packet (like tshark -V)")
    .option("--json", "print NDJSON: one object per packet (schema: docs/json-schema.md)")
    .option("--stats", "print a summary per IKE SA and per ESP SA instead of per-packet lines")
    .option("--spi <hex>", "only packets with this ESP/AH SPI (repeatable)", many)
    .option("--ike-spi <hex>", "only IKE messages with this initiator or responder SPI (repeatable)", many)
    .option("--exchange <name|number>", "only IKE messages of this exchange type, e.g. IKE_AUTH or 34 (repeatable)", many)
    .option("--ike-port <port>", "extra UDP port carrying IKE (like 500; repeatable)", portList)
    .option("--natt-port <port>", "extra UDP port carrying NAT-T: ESP, IKE behind the non-ESP marker, keepalives (like 4500; repeatable)", portList)
    .option("--tcp-port <port>", "extra TCP port carrying RFC 9329 IKE/ESP over TCP (default 4500; repeatable)", portList)
    .option("--no-reassemble", "do not reassemble IP fragments")
    .option("--keys <file>", "decrypt with the keys in FILE: tcpdump -E secrets, Wireshark esp_sa / ikev2_decryption_table / ikev1_decryption_table, ip xfrm state output, charon log (ike=4, chd=4; .gz ok), vpnkit key log; format detected (repeatable)", many)
    .option("--keys-inline <secrets>", "decrypt with a tcpdump -E string: \"spi@addr algo:0xkey,...\" or \"file NAME\" (repeatable)", many)
    .option("--write-decrypted <out.pcapng>", "write the decrypted inner packets to a pcapng file (needs --keys or --keys-inline)")
    .option("--write-all", "with --write-decrypted: also write every original packet")
    .option("--show-unverified", "also decode IKEv2 plaintext whose integrity check FAILED (CBC only; marked 'integrity BAD'), e.g. to inspect crafted or damaged captures")
    .option("--explain", "after the packets, explain what went wrong (the same diagnosis as `vpnkit diagnose`)")
    .option("--strict", `exit with code ${EXIT.ANOMALIES} when any packet had an anomaly`)
    .addOption(new Option("--progress", "show progress on stderr (default: when stderr is a terminal)"))
    .addOption(new Option("--no-progress", "never show progress"))
    .addHelpText(
      "after",
      `
Output modes:
  (default)   one line per packet: number, time, addresses, then what the packet is
  -v          full field tree; every field is named as in --json
  --json      NDJSON, one object per packet; --stats --json prints one stats object

Examples:
  vpnkit decode capture.pcap
  vpnkit decode -v --exchange IKE_SA_INIT capture.pcapng
  vpnkit decode --json capture.pcap.gz | jq 'select(.anomalies | length > 0)'
  vpnkit decode --stats capture.pcap
  vpnkit decode capture.pcap udp port 4500 and not host 192.0.2.1   # tcpdump filter syntax
  tcpdump -U -w - -i eth0 'udp port 500 or udp port 4500 or esp' | vpnkit decode -
  vpnkit decode --natt-port 14500 capture.pcap      # NAT-T on a non-standard port
  vpnkit decode --keys esp_sa --keys ikev2_decryption_table capture.pcap
  vpnkit decode --keys-inline "0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043..." capture.pcap
  vpnkit decode --keys charon.log --write-decrypted inner.pcapng capture.pcap

Every malformed or truncated spot is reported with its packet number,
layer, offset and reason ("!!" lines), and decoding continues.
Exit codes: 0 ok (also when the output pipe is closed early, as by | head),
2 usage error or not a capture, 3 anomalies with --strict.`,
    )
    .action(async (capture, expression, o) => {
      const captureFilter = await captureFilterArg("decode", expression);
      if (captureFilter === null) return;
      if (o.json && o.verbose) {
        process.stderr.write("vpnkit decode: choose one of -v and --json\n");
        process.exitCode = EXIT.USAGE;
        return;
      }
      let filter;
      try {
        filter = parseFilter({ spi: o.spi, ikeSpi: o.ikeSpi, exchange: o.exchange });
      } catch (e) {
        process.stderr.write(`vpnkit decode: ${(e as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      // keys, decryption output and diagnostics load only when asked for (start-up time)
      const keys = await loadKeysOption("decode", o);
      if (keys === null) return;
      if ((o.writeDecrypted && !keys) || (o.writeAll && !o.writeDecrypted)) {
        process.stderr.write(`vpnkit decode: ${o.writeAll && !o.writeDecrypted ? "--write-all needs --write-decrypted" : "--write-decrypted needs --keys or --keys-inline"}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      if (capture === "-" && process.stdin.isTTY) {
        process.stderr.write("vpnkit decode: no capture file given and stdin is a terminal (pass a file, or pipe a capture into -)\n");
        process.exitCode = EXIT.USAGE;
        return;
      }
      let reader;
      const captureAnomalies: CaptureAnomaly[] = [];
      try {
        reader = await openCapture(capture, { batchSize: 512, onAnomaly: (a) => captureAnomalies.push(a) });
      } catch (e) {
        const msg = e instanceof CaptureFormatError ? e.message : `cannot read ${capture}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}${captureFilterHint("decode", capture)}`;
        process.stderr.write(`vpnkit decode: ${msg}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      const showProgress = o.progress === true || (o.progress !== false && process.stderr.isTTY === true && !!reader.totalBytes);
      const opts: RunDecodeOptions = {
        mode: o.json ? "json" : o.verbose ? "verbose" : "summary",
        stats: !!o.stats,
        filter,
        captureFilter,
        decoder: {
          ikePorts: o.ikePort ?? [],
          nattPorts: o.nattPort ?? [],
          tcpPorts: o.tcpPort ?? [],
          reassemble: o.reassemble !== false,
          keys,
          showUnverified: !!o.showUnverified,
        },
        progress: showProgress ? progressPrinter(reader.totalBytes) : undefined,
        captureAnomalies,
      };
      let interrupted = false;
      const onSig = () => {
        interrupted = true;
      };
      process.once("SIGINT", onSig);
      let pw: PcapngWriter | undefined;
      if (o.writeDecrypted) {
        const { createPcapngFileWriter } = await import("../lib/capture/pcapng-writer.ts");
        const { DecryptedWriter } = await import("../lib/decrypt/writer.ts");
        pw = createPcapngFileWriter(o.writeDecrypted, { userAppl: "vpnkit decode --write-decrypted" });
        const dw = new DecryptedWriter(pw, { all: !!o.writeAll });
        opts.packetHook = (rec, p) => dw.packet(rec, p);
      }
      const diag = o.explain ? await import("../lib/diagnose/mod.ts") : undefined;
      const dia = diag ? new diag.Diagnoser() : undefined;
      if (dia) {
        const prev = opts.packetHook;
        opts.packetHook = (rec, p) => {
          dia.observe(p);
          return prev?.(rec, p);
        };
      }
      let res;
      try {
        res = await runDecode(reader, process.stdout, { ...opts, shouldStop: () => interrupted });
        if (pw) await pw.close();
        if (dia && !res.outputError) {
          const d = dia.report();
          process.stdout.write(o.json ? diag!.renderDiagnosisJson(d, false) + "\n" : "\n" + diag!.renderDiagnosisText(d, { timeline: false }).join("\n") + "\n");
        }
      } catch (e) {
        if (!pw) throw e;
        process.stderr.write(`vpnkit decode: cannot write ${o.writeDecrypted}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      } finally {
        keys?.zero();
      }
      process.off("SIGINT", onSig);
      if (showProgress) process.stderr.write("\r\x1b[K");
      if (res.outputError) {
        // The reader went away (`| head`, quitting `less`): stop quietly with 0, as ripgrep
        // does (tcpdump 4.99 prints "Unable to write output: Broken pipe" and exits 14;
        // coreutils die of SIGPIPE, 141).
        if (isBrokenPipe(res.outputError)) return;
        process.stderr.write(`vpnkit decode: cannot write output: ${(res.outputError as NodeJS.ErrnoException).code ?? res.outputError.message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      if (interrupted) process.exitCode = EXIT.INTERRUPTED;
      else if (o.strict && res.anomalousPackets > 0) process.exitCode = EXIT.ANOMALIES;
    });
}

function progressPrinter(total: number | undefined) {
  let last = 0;
  return (bytes: number, packets: number) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    const pct = total ? ` ${((100 * bytes) / total).toFixed(1)}%` : "";
    process.stderr.write(`\r\x1b[Kdecoding:${pct} ${packets.toLocaleString("en-US")} packets`);
  };
}
