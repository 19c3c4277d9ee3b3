/**
 * Capture input and output: `openCapture` / `openCaptureStream` (classic pcap
 * and pcapng, both hand-written; gzip; stdin) and the pcapng writer.
 * @module
 */
export * from "./types.ts";
export { openCapture, openCaptureStream, FILE_CHUNK } from "./reader.ts";
export { PCAP_MAX_CAPLEN, parsePcapHeader, type PcapHeader } from "./pcap.ts";
export { PCAPNG_MAX_BLOCK } from "./pcapng.ts";
export {
  PcapngWriter,
  createPcapngFileWriter,
  pcapngBlock,
  pcapngShb,
  pcapngIdb,
  pcapngEpb,
  nsUnits,
  type PcapngPacket,
  type ByteSink,
  type PcapngOption,
  type IdbOptions,
} from "./pcapng-writer.ts";
