/**
 * `--json` output: NDJSON, one object per packet. The schema is documented in
 * docs/json-schema.md; it is the layer objects themselves, serialised with
 * {@link jsonReplacer} (byte fields → lower-case hex, bigint → decimal string).
 * @module
 */
import { jsonReplacer, type DecodedPacket } from "./layer.ts";
import type { DecodeStats } from "./pipeline.ts";
import type { RunDecodeResult } from "./run.ts";

/** Schema version of the packet objects; bumped on incompatible changes. */
export const JSON_SCHEMA_VERSION = 1;

/** One NDJSON line for a packet. */
export function packetJson(p: DecodedPacket): string {
  return JSON.stringify(
    {
      no: p.no,
      ts: `${p.tsSec}.${String(p.tsNsec).padStart(9, "0")}`,
      iface: p.iface,
      linkType: p.linkType,
      caplen: p.caplen,
      len: p.len,
      layers: p.layers,
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
