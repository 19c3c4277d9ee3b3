/**
 * `--json` output: NDJSON, one object per packet. The schema is documented in
 * docs/json-schema.md; it is the layer objects themselves, serialised with
 * {@link jsonReplacer} (byte fields → lower-case hex, bigint → decimal string).
 * @module
 */
import { jsonReplacer, type DecodedPacket, type LayerBase } from "./layer.ts";
import type { DecodeStats } from "./pipeline.ts";
import type { RunDecodeResult } from "./run.ts";

/** Schema version of the packet objects; bumped on incompatible changes. */
export const JSON_SCHEMA_VERSION = 1;

/**
 * ESP's opaque payload (IV, ciphertext, ICV) is emitted as its length only
 * (`payloadLength`), unless `opts.bytes` asks for the hex: dumping every
 * ciphertext byte would make the output ~3× the capture for no insight.
 */
function espLean(l: LayerBase): LayerBase {
  if (l.layer !== "esp") return l;
  const { payload, ...rest } = l as LayerBase & { payload: Uint8Array };
  return { ...rest, payloadLength: payload.length } as LayerBase;
}

/** One NDJSON line for a packet. */
export function packetJson(p: DecodedPacket, opts: { bytes?: boolean } = {}): string {
  return JSON.stringify(
    {
      no: p.no,
      ts: `${p.tsSec}.${String(p.tsNsec).padStart(9, "0")}`,
      iface: p.iface,
      linkType: p.linkType,
      caplen: p.caplen,
      len: p.len,
      layers: opts.bytes ? p.layers : p.layers.map(espLean),
      anomalies: p.anomalies,
      ...(p.notes ? { notes: p.notes } : {}),
      ...(p.comment !== undefined ? { comment: p.comment } : {}),
    },
    jsonReplacer,
  );
}

/** The `--stats --json` object. */
export function statsJson(st: DecodeStats, res: RunDecodeResult): string {
  return JSON.stringify({ schema: JSON_SCHEMA_VERSION, stats: true, packets: res.packets, anomalies: res.anomalies, anomalousPackets: res.anomalousPackets, ...st }, jsonReplacer);
}
