/**
 * Diagnose a whole capture: reader → {@link Decoder} → {@link Diagnoser}.
 * Runtime-neutral; the CLI supplies the reader, keys and progress printer.
 * @module
 */
import type { CaptureReader } from "../capture/types.ts";
import { nextOrAbort } from "../capture/live.ts";
import { Decoder, type DecoderOptions } from "../decode/pipeline.ts";
import { Diagnoser } from "./diagnoser.ts";
import type { Diagnosis } from "./types.ts";

export interface DiagnoseCaptureOptions {
  decoder?: DecoderOptions;
  /** Called after each batch with (bytes read, packets decoded). */
  progress?: (bytes: number, packets: number) => void;
  /** Polled between batches; true stops early (the diagnosis covers what was read). */
  shouldStop?: () => boolean;
  /**
   * Stops at once, even while waiting for input from a live source (SIGINT): the
   * diagnosis covers what was read; the pending read is abandoned (the caller closes the source).
   */
  signal?: AbortSignal;
  /** Capture filter: only the packets it keeps are diagnosed (numbers stay the capture's). */
  captureFilter?: { match(linkType: number, frame: Uint8Array): boolean };
}

/** Decode every packet of `reader` and diagnose the capture. */
export async function diagnoseCapture(reader: CaptureReader, opts: DiagnoseCaptureOptions = {}): Promise<Diagnosis> {
  const dec = new Decoder(opts.decoder);
  const dia = new Diagnoser({ esp: dec.esp, keysGiven: opts.decoder?.keys?.size ?? 0 });
  let packets = 0;
  const it = reader.batches();
  const sig = opts.signal;
  // only a live source may wait for input indefinitely; a file's batches are checked in between
  const race = sig !== undefined && reader.live === true ? sig : undefined;
  let abandoned = false;
  for (;;) {
    const next = race === undefined ? await it.next() : await nextOrAbort(it, race);
    if (next === null) {
      abandoned = true;
      break;
    }
    if (next.done) break;
    for (const r of next.value) {
      packets = r.no;
      if (opts.captureFilter && !opts.captureFilter.match(r.linkType, r.data)) continue;
      dia.observe(dec.decode(r));
    }
    opts.progress?.(reader.bytesRead(), packets);
    if (opts.shouldStop?.() || sig?.aborted) break;
  }
  if (!abandoned) await it.return(undefined);
  dec.finish();
  return dia.report();
}
