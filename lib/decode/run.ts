/**
 * The decode loop: capture reader → {@link Decoder} → filter → renderer → sink.
 * Runtime-neutral; the CLI only supplies stdout and the progress printer.
 * @module
 */
import type { CaptureAnomaly, CaptureReader, CaptureRecord } from "../capture/types.ts";
import { nextOrAbort } from "../capture/live.ts";
import { Decoder, type DecoderOptions } from "./pipeline.ts";
import type { DecodedPacket } from "../core/layer.ts";
import { type PacketFilter, matchFilter } from "./filter.ts";
import { ByteWriter, type WritableLike } from "./output.ts";
import { summaryLine, packetHeaderLine } from "./summary.ts";
import { renderTree } from "./render-tree.ts";
import { packetJson, statsJson } from "./render-json.ts";
import { renderStats } from "./render-stats.ts";
import { type TimeFormat, TimeFormatter } from "./time.ts";

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
  /** Time stamps of the summary lines (lib/decode/time.ts; default UTC time of day). */
  time?: TimeFormat;
  /** Stop after this many packets that passed the filters (`-c N`; with --stats: counted, not printed). */
  count?: number;
  /**
   * Stops the loop at once, even while it waits for input from a live source (SIGINT):
   * what was decoded is printed (and `--stats`), the pending read is abandoned (the
   * caller closes the source).
   */
  signal?: AbortSignal;
  /**
   * Every record read, before it is decoded and whether or not it is shown (e.g. `-w`:
   * write what was captured); unlike packetHook it keeps the fast path. `batchEnd` runs
   * after each batch (flush it on a live source).
   */
  recordHook?: { record(rec: CaptureRecord): void; batchEnd?(): void | Promise<void> };
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
  // the IKE tracker feeds only --stats: without it, no packet's text depends on it
  const dec = new Decoder(opts.stats || opts.decoder.trackIke !== undefined ? opts.decoder : { ...opts.decoder, trackIke: false });
  const w = new ByteWriter(out);
  const res: RunDecodeResult = { packets: 0, shown: 0, anomalousPackets: 0, anomalies: 0 };
  const time = new TimeFormatter(opts.time);
  const limit = opts.count !== undefined && opts.count > 0 ? opts.count : Infinity;
  const live = reader.live === true;
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
    // `-c N` counts what passes the filters, printed or (--stats) not
    if ((!perPacket && limit === Infinity) || !matchFilter(opts.filter, p)) return;
    res.shown++;
    if (!perPacket) return;
    if (opts.mode === "summary") w.line(summaryLine(p, time));
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
    ? (r: CaptureRecord) => dec.fastSummary(w, r, time)
    : opts.mode === "json"
    ? (r: CaptureRecord) => dec.fastJson(w, r)
    : (r: CaptureRecord) => dec.fastTree(w, r);
  const hook = opts.packetHook;
  const rh = opts.recordHook;
  const cf = opts.captureFilter;
  const it = reader.batches();
  // SIGINT on a live source: stop waiting for input that may never come
  const sig = opts.signal;
  // only a live source may wait for input indefinitely; a file's batches are checked in between
  const race = sig !== undefined && reader.live === true ? sig : undefined;
  let abandoned = false;
  let counted = false;
  for (;;) {
    const next = race === undefined ? await it.next() : await nextOrAbort(it, race);
    if (next === null) {
      abandoned = true;
      break;
    }
    if (next.done) break;
    const batch = next.value;
    for (let i = 0; i < batch.length; i++) {
      const rec = batch[i];
      if (cf !== undefined && !cf.match(rec.linkType, rec.data)) {
        res.packets = rec.no;
        continue;
      }
      if (rh !== undefined) rh.record(rec);
      if (render !== null && render(rec)) {
        res.packets = rec.no;
        res.shown++;
      } else {
        const p = dec.decode(rec);
        emit(p);
        if (hook) await hook(rec, p);
      }
      if (res.shown >= limit) {
        counted = true;
        break;
      }
    }
    if (fileAnoms.length) emitFileAnoms();
    if (rh?.batchEnd) await rh.batchEnd();
    // live input: this packet's output goes out before the next read (which may wait)
    if (live || w.full) await w.flush();
    if (opts.progress) opts.progress(reader.bytesRead(), res.packets);
    if (counted || w.error !== null || opts.shouldStop?.() || sig?.aborted) break;
  }
  // closes the input (not while a read is pending: the caller closes an abandoned source)
  if (!abandoned) await it.return(undefined);
  for (const note of dec.finish()) {
    // `-c N` stopped the capture, not the peers: datagrams cut off there are no news
    if (!perPacket || counted) continue;
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
