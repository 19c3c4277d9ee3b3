/**
 * The decode loop: capture reader → {@link Decoder} → filter → renderer → sink.
 * Runtime-neutral; the CLI only supplies stdout and the progress printer.
 * @module
 */
import type { CaptureAnomaly, CaptureReader, CaptureRecord } from "../capture/types.ts";
import { Decoder, type DecoderOptions } from "./pipeline.ts";
import type { DecodedPacket } from "../core/layer.ts";
import { type PacketFilter, matchFilter } from "./filter.ts";
import { ByteWriter, type WritableLike } from "./output.ts";
import { summaryLine, packetHeaderLine } from "./summary.ts";
import { renderTree } from "./render-tree.ts";
import { packetJson, statsJson } from "./render-json.ts";
import { renderStats } from "./render-stats.ts";

/** What runDecode needs of a capture filter (`compileCaptureFilter` in lib/capture/filter). */
export interface FrameFilter {
  match(linkType: number, frame: Uint8Array): boolean;
}

export interface RunDecodeOptions {
  mode: "summary" | "verbose" | "json";
  /** Print the per-SA summary instead of per-packet output. */
  stats: boolean;
  filter: PacketFilter;
  decoder: DecoderOptions;
  /** Called now and then with (bytes read, packets decoded). */
  progress?: (bytes: number, packets: number) => void;
  /** Queue the reader's `onAnomaly` appends to (file-level problems). */
  captureAnomalies?: CaptureAnomaly[];
  /** Polled between batches; true stops the loop early (SIGINT). */
  shouldStop?: () => boolean;
  /**
   * Capture filter (pcap-filter expression, lib/capture/filter): packets it rejects are
   * skipped before decoding; packet numbers stay those of the capture.
   */
  captureFilter?: FrameFilter;
  /** Called with every decoded packet (e.g. --write-decrypted); turns the summary fast path off. */
  packetHook?: (rec: CaptureRecord, p: DecodedPacket) => void | Promise<void>;
}

export interface RunDecodeResult {
  packets: number;
  shown: number;
  anomalousPackets: number;
  anomalies: number;
  /**
   * Set when writing to `out` failed, e.g. EPIPE (`vpnkit decode … | head`:
   * the reader went away; see `isBrokenPipe` in output.ts). Decoding stopped there and
   * the rest of the output was dropped.
   */
  outputError?: Error;
}

/**
 * Decode a whole capture, writing text to `out`. Stops early when
 * `shouldStop` says so or when `out` fails (then `outputError` is set).
 */
export async function runDecode(reader: CaptureReader, out: WritableLike, opts: RunDecodeOptions): Promise<RunDecodeResult> {
  const dec = new Decoder(opts.decoder);
  const w = new ByteWriter(out);
  const res: RunDecodeResult = { packets: 0, shown: 0, anomalousPackets: 0, anomalies: 0 };
  // Capture-level anomalies: the reader's onAnomaly pushes into this queue
  // (see captureAnomalyQueue); they are printed between batches.
  const fileAnoms = opts.captureAnomalies ?? [];
  const perPacket = !opts.stats;

  const emitFileAnoms = () => {
    for (const a of fileAnoms) {
      res.anomalies++;
      if (!perPacket) continue;
      if (opts.mode === "json") w.line(JSON.stringify({ no: a.no, capture: true, anomalies: [{ layer: a.layer, offset: a.offset, reason: a.reason }] }));
      else w.line(`${String(a.no).padStart(6)} !! ${a.layer} @${a.offset}: ${a.reason}`);
    }
    fileAnoms.length = 0;
  };

  const emit = (p: DecodedPacket) => {
    res.packets = p.no;
    if (p.anomalies.length) {
      res.anomalousPackets++;
      res.anomalies += p.anomalies.length;
    }
    if (!perPacket || !matchFilter(opts.filter, p)) return;
    res.shown++;
    if (opts.mode === "summary") w.line(summaryLine(p));
    else if (opts.mode === "json") w.line(packetJson(p));
    else {
      w.line(renderTree(p, packetHeaderLine(p)));
      w.line("");
    }
  };

  // Fast paths (lib/decode/fast-summary.ts): only when every packet is printed.
  // They write straight into w and return false when the full decoder is needed.
  const f = opts.filter;
  const fast = perPacket && !f.spis && !f.ikeSpis && !f.exchanges && !opts.packetHook;
  const render = !fast
    ? null
    : opts.mode === "summary"
    ? (r: CaptureRecord) => dec.fastSummary(w, r)
    : opts.mode === "json"
    ? (r: CaptureRecord) => dec.fastJson(w, r)
    : (r: CaptureRecord) => dec.fastTree(w, r);
  const hook = opts.packetHook;
  const cf = opts.captureFilter;
  for await (const batch of reader.batches()) {
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (cf !== undefined && !cf.match(rec.linkType, rec.data)) {
        res.packets = rec.no;
        continue;
      }
      if (render !== null && render(rec)) {
        res.packets = rec.no;
        res.shown++;
        continue;
      }
      const p = dec.decode(rec);
      emit(p);
      if (hook) await hook(rec, p);
    }
    if (fileAnoms.length) emitFileAnoms();
    if (w.full) await w.flush();
    if (opts.progress) opts.progress(reader.bytesRead(), res.packets);
    if (w.error !== null || opts.shouldStop?.()) break;
  }
  for (const note of dec.finish()) {
    if (!perPacket) continue;
    if (opts.mode === "json") w.line(JSON.stringify({ end: true, note }));
    else w.line(`   end -- ${note}`);
  }
  if (fileAnoms.length) emitFileAnoms();
  if (opts.stats) {
    const st = dec.stats();
    if (opts.mode === "json") w.line(statsJson(st, res));
    else for (const l of renderStats(st, res)) w.line(l);
  }
  await w.flush();
  if (w.error !== null) res.outputError = w.error;
  return res;
}
