// Test helpers: decode a whole capture file through the real pipeline.
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureAnomaly } from "../../lib/capture/types.ts";
import { Decoder, type DecoderOptions } from "../../lib/decode/pipeline.ts";
import type { DecodedPacket } from "../../lib/core/layer.ts";

export interface DecodedFile {
  packets: DecodedPacket[];
  fileAnomalies: CaptureAnomaly[];
  decoder: Decoder;
}

/** Decode every packet of `path`. Packets are kept with copies of their bytes. */
export async function decodeFile(path: string, opts: DecoderOptions = {}): Promise<DecodedFile> {
  const fileAnomalies: CaptureAnomaly[] = [];
  const reader = await openCapture(path, { onAnomaly: (a) => fileAnomalies.push(a) });
  const decoder = new Decoder(opts);
  const packets: DecodedPacket[] = [];
  for await (const batch of reader.batches()) {
    // Copy record bytes: reader views are only valid until the next batch.
    for (const r of batch) packets.push(decoder.decode({ ...r, data: Uint8Array.prototype.slice.call(r.data) }));
  }
  return { packets, fileAnomalies, decoder };
}

export const FIX = new URL("../../fixtures/", import.meta.url).pathname;
