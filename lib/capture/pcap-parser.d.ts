/**
 * Minimal types for the npm package `pcap-parser` 0.2.x (CommonJS, untyped).
 * lib/ no longer imports it: it is the test oracle (test/capture/pcap-parser-oracle.ts)
 * and a bench baseline (bench/capture/read.ts).
 */
declare module "pcap-parser" {
  import type { EventEmitter } from "node:events";
  export interface PcapGlobalHeader {
    magicNumber: number;
    majorVersion: number;
    minorVersion: number;
    gmtOffset: number;
    timestampAccuracy: number;
    snapshotLength: number;
    linkLayerType: number;
  }
  export interface PcapPacketHeader {
    timestampSeconds: number;
    timestampMicroseconds: number;
    capturedLength: number;
    originalLength: number;
  }
  export interface PcapPacket {
    header: PcapPacketHeader;
    data: Buffer;
  }
  export interface PcapParser extends EventEmitter {}
  /** Takes a file path or a Readable-like (pause/resume/on 'data'|'end'|'error'). */
  export function parse(input: string | EventEmitter): PcapParser;
  const _default: { parse: typeof parse };
  export default _default;
}
