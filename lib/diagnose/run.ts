/**
 * Diagnose a whole capture: reader → {@link Decoder} → {@link Diagnoser}.
 * Runtime-neutral; the CLI supplies the reader, keys and progress printer.
 * @module
 */
import type { CaptureReader } from "../capture/types.ts";
import { Decoder, type DecoderOptions } from "../decode/pipeline.ts";
import { Diagnoser } from "./diagnoser.ts";
import type { Diagnosis } from "./types.ts";

export interface DiagnoseCaptureOptions {
  decoder?: DecoderOptions;
  /** Called after each batch with (bytes read, packets decoded). */
  progress?: (bytes: number, packets: number) => void;
  /** Polled between batches; true stops early (the diagnosis covers what was read). */
  shouldStop?: () => boolean;
  /** Capture filter: only the packets it keeps are diagnosed (numbers stay the capture's). */
  captureFilter?: { match(linkType: number, frame: Uint8Array): boolean };
}

/** Decode every packet of `reader` and diagnose the capture. */
export async function diagnoseCapture(reader: CaptureReader, opts: DiagnoseCaptureOptions = {}): Promise<Diagnosis> {
  const dec = new Decoder(opts.decoder);
  const dia = new Diagnoser({ esp: dec.esp });
  let packets = 0;
  for await (const batch of reader.batches()) {
    for (const r of batch) {
      packets = r.no;
      if (opts.captureFilter && !opts.captureFilter.match(r.linkType, r.data)) continue;
      dia.observe(dec.decode(r));
    }
    opts.progress?.(reader.bytesRead(), packets);
    if (opts.shouldStop?.()) break;
  }
  dec.finish();
  return dia.report();
}
