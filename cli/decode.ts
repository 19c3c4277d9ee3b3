/**
 * `vpnkit decode`: argument parsing and terminal concerns only. The decode
 * loop, dissectors and renderers live in lib/decode.
 */
import { Command, InvalidArgumentError, Option } from "@commander-js/extra-typings";
import { openCapture } from "../lib/capture/index.ts";
import { type CaptureAnomaly, CaptureFormatError } from "../lib/capture/types.ts";
import { runDecode, type RunDecodeOptions } from "../lib/decode/run.ts";
import { isBrokenPipe } from "../lib/decode/output.ts";
import { parseFilter } from "../lib/decode/filter.ts";
import { EXIT } from "./exit.ts";
import { captureFilterArg, captureFilterHint, FILTER_ARG_HELP } from "./capture-filter.ts";
import { loadKeysOption, many, portList } from "./args.ts";
import type { PcapngWriter } from "../lib/capture/pcapng-writer.ts";
import type { CaptureReader } from "../lib/capture/types.ts";
import type { LiveCapture } from "../lib/capture/live.ts";
import { closeLive, openLive } from "./live.ts";
import { TIME_MODES, timeModeFromTCount } from "../lib/decode/time.ts";
import type { KeyStore } from "../lib/keys/store.ts";

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("a whole number of at least 1");
  return n;
}

/** `-t`, `-tt`, …: how many times the flag was given. */
function countFlag(_v: unknown, prev: number): number {
  return prev + 1;
}


export function decodeCommand() {
  return new Command("decode")
    .description("decode ESP, AH, IKEv1, IKEv2 and NAT-T from a pcap or pcapng capture (or stdin)")
    .argument("[capture]", "capture file (pcap, pcapng, optionally gzip-compressed), or - for stdin (the default); with -r or -i every word is the filter expression")
    .argument("[expression...]", FILTER_ARG_HELP)
    .option("-r <file>", "read the capture from FILE (tcpdump's -r; the same as the capture argument)")
    .option("-i, --interface <iface>", "capture live on IFACE, or `any` for every interface (Linux; root or CAP_NET_RAW): IPsec traffic only (UDP 500/4500 and the extra ports, ESP, AH, TCP 4500, IP fragments)")
    .option("-c, --count <n>", "stop after N packets shown", positiveInt)
    .option("-w, --write <file.pcapng>", "also write every packet read (live: what was captured) to a pcapng file")
    .option("-n", "accepted for tcpdump's habit; vpnkit never resolves addresses or ports")
    .option("-t", "time stamps as tcpdump's -t family: -t none, -tt epoch seconds, -ttt delta since the previous packet, -tttt date and time (the default), -ttttt since the first packet", countFlag, 0)
    .addOption(new Option("--time <format>", "time stamps on the summary line (default date: local date and time)").choices(TIME_MODES))
    .option("--utc", "date and time in UTC instead of local time (TZ)")
    .option("-v, --verbose", "print the full field tree of every packet (like tshark -V)")
    .option("--json", "print NDJSON: one object per packet, fields named as in -v")
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
              (Linux cooked captures, as from -i any: interface and direction first)
  -v          full field tree; every field is named as in --json
  --json      NDJSON, one object per packet; --stats --json prints one stats object

Examples:
  vpnkit decode capture.pcap
  vpnkit decode -v --exchange IKE_SA_INIT capture.pcapng
  vpnkit decode --json capture.pcap.gz | jq 'select(.anomalies | length > 0)'
  vpnkit decode --stats capture.pcap
  vpnkit decode -i eth0                  # live, IPsec traffic only (Linux, root)
  vpnkit decode -i any -c 20 -w ike.pcapng
  vpnkit decode capture.pcap udp port 4500 and not host 192.0.2.1   # tcpdump filter syntax
  tcpdump -U -w - -i eth0 'udp port 500 or udp port 4500 or esp' | vpnkit decode -
  vpnkit decode -ttt --utc capture.pcap  # delta times; --time date|absolute|epoch|delta|relative|none
  vpnkit decode --natt-port 14500 capture.pcap      # NAT-T on a non-standard port
  vpnkit decode --keys esp_sa --keys ikev2_decryption_table capture.pcap
  vpnkit decode --keys-inline "0x12345678@192.1.2.45 3des-cbc-hmac96:0x4043..." capture.pcap
  vpnkit decode --keys charon.log --write-decrypted inner.pcapng capture.pcap

Time stamps: local date and time by default (TZ; --utc for UTC), microseconds.
Pipes and live capture print each packet as soon as it is complete; --stats
(and --explain) print when the input ends or on Ctrl-C.

Every malformed or truncated spot is reported with its packet number,
layer, offset and reason ("!!" lines), and decoding continues.
Exit codes: 0 ok (also when the output pipe is closed early, as by | head),
2 usage error or not a capture, 3 anomalies with --strict.`,
    )
    .action(async (capture, expression, o) => {
      // with -r FILE or -i IFACE there is no capture argument: its word starts the expression
      const words = (o.r !== undefined || o.interface !== undefined) && capture !== undefined ? [capture, ...expression] : expression;
      if (words !== expression) capture = undefined;
      const captureFilter = await captureFilterArg("decode", words);
      if (captureFilter === null) return;
      let keys: KeyStore | undefined;
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
      const k = await loadKeysOption("decode", o);
      if (k === null) return;
      keys = k;
      if ((o.writeDecrypted && !keys) || (o.writeAll && !o.writeDecrypted)) {
        process.stderr.write(`vpnkit decode: ${o.writeAll && !o.writeDecrypted ? "--write-all needs --write-decrypted" : "--write-decrypted needs --keys or --keys-inline"}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      const usage = (m: string) => {
        process.stderr.write(`vpnkit decode: ${m}\n`);
        process.exitCode = EXIT.USAGE;
        keys?.zero();
      };
      if (o.r !== undefined && capture !== undefined) return usage("give the capture either as an argument or with -r, not both");
      if (o.interface !== undefined && (capture !== undefined || o.r !== undefined)) return usage("-i captures live: give no capture file");
      const tCount = typeof o.t === "number" ? o.t : 1;
      const timeMode = o.time ?? timeModeFromTCount(tCount) ?? (tCount > 5 ? undefined : "date");
      if (timeMode === undefined) return usage("at most five -t (-ttttt: time since the first packet)");
      const file = o.r ?? capture ?? "-";
      if (o.interface === undefined && file === "-" && process.stdin.isTTY) {
        return usage("no capture file given and stdin is a terminal (pass a file, pipe a capture into -, or capture live with -i IFACE)");
      }
      let reader: CaptureReader;
      let liveCap: LiveCapture | undefined;
      const captureAnomalies: CaptureAnomaly[] = [];
      if (o.interface !== undefined) {
        const cap = await openLive("decode", { ...o, interface: o.interface, captureFilter });
        if (cap === null) {
          keys?.zero();
          return;
        }
        reader = liveCap = cap;
      } else {
        try {
          reader = await openCapture(file, { batchSize: 512, onAnomaly: (a) => captureAnomalies.push(a) });
        } catch (e) {
          const msg = e instanceof CaptureFormatError ? e.message : `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? ""} ${(e as Error).message}${captureFilterHint("decode", file)}`;
          return usage(msg);
        }
      }
      const showProgress = o.progress === true || (o.progress !== false && process.stderr.isTTY === true && !!reader.totalBytes);
      const opts: RunDecodeOptions = {
        mode: o.json ? "json" : o.verbose ? "verbose" : "summary",
        stats: !!o.stats,
        filter,
        captureFilter: liveCap === undefined ? captureFilter : undefined, // live: applied by the capture already
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
        time: { mode: timeMode, utc: !!o.utc },
        count: o.count,
      };
      let interrupted = false;
      const stop = new AbortController();
      const onSig = () => {
        interrupted = true;
        stop.abort();
      };
      process.once("SIGINT", onSig);
      let raw: PcapngWriter | undefined;
      if (o.write) {
        const { createPcapngFileWriter } = await import("../lib/capture/pcapng-writer.ts");
        raw = createPcapngFileWriter(o.write, { userAppl: `vpnkit decode${o.interface !== undefined ? ` -i ${o.interface}` : ""}` });
        const rw = raw;
        let pending: Promise<void> = Promise.resolve();
        opts.recordHook = {
          // copies: record bytes are views valid until the next batch
          record: (rec) => {
            const pkt = { linkType: rec.linkType, tsSec: rec.tsSec, tsNsec: rec.tsNsec, data: rec.data.slice(), len: rec.len, comment: rec.comment, direction: rec.pktType, ifName: o.interface };
            pending = pending.then(() => rw.write(pkt));
          },
          batchEnd: async () => {
            await pending;
            if (reader.live) await rw.flush();
          },
        };
      }
      let pw: PcapngWriter | undefined;
      if (o.writeDecrypted) {
        const { createPcapngFileWriter } = await import("../lib/capture/pcapng-writer.ts");
        const { DecryptedWriter } = await import("../lib/decrypt/writer.ts");
        pw = createPcapngFileWriter(o.writeDecrypted, { userAppl: "vpnkit decode --write-decrypted" });
        const dw = new DecryptedWriter(pw, { all: !!o.writeAll });
        opts.packetHook = (rec, p) => dw.packet(rec, p);
      }
      const diag = o.explain ? await import("../lib/diagnose/mod.ts") : undefined;
      const dia = diag ? new diag.Diagnoser({ keysGiven: keys?.size ?? 0 }) : undefined;
      if (dia) {
        const prev = opts.packetHook;
        opts.packetHook = (rec, p) => {
          dia.observe(p);
          return prev?.(rec, p);
        };
      }
      let res;
      try {
        res = await runDecode(reader, process.stdout, { ...opts, signal: stop.signal });
        if (pw) await pw.close();
        if (raw) await raw.close();
        if (dia && !res.outputError) {
          const d = dia.report();
          process.stdout.write(o.json ? diag!.renderDiagnosisJson(d, false) + "\n" : "\n" + diag!.renderDiagnosisText(d, { timeline: false }).join("\n") + "\n");
        }
      } catch (e) {
        if (!pw && !raw) throw e;
        process.stderr.write(`vpnkit decode: cannot write ${raw ? o.write : o.writeDecrypted}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        process.exitCode = EXIT.USAGE;
        return;
      } finally {
        keys?.zero();
        if (liveCap) closeLive(liveCap);
        // an abandoned read of stdin (SIGINT while waiting) must not keep the process alive
        else if (interrupted) process.stdin.destroy();
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
