/**
 * One capture-reader measurement in its own process (for a clean peak RSS):
 *   bun bench/capture/read.ts <mode> <file>
 * modes:
 *   lib        openCapture() → batches() (pcap: the hand-written PcapChunkParser; or pcapng)
 *   chunk      PcapChunkParser alone, fed the 512 KiB file chunks (no batching)
 *   chunk-pp   the previous pcap-parser-driven chunk parser (now a test oracle,
 *              test/capture/pcap-parser-oracle.ts), fed the same way
 *   raw-pp     pcap-parser alone on a file path ('packet' events, no flow control)
 *   minimal    a minimal hand-written pcap loop over the same 512 KiB file chunks
 * Prints one JSON line: packets, seconds, packets/s, CPU ns/packet (all threads),
 * MB/s, RSS samples, peak RSS.
 */
import { createReadStream, statSync } from "node:fs";
import pcapParser from "pcap-parser";
import { openCapture } from "../../lib/capture/index.ts";
import { parsePcapHeader, PcapChunkParser } from "../../lib/capture/pcap.ts";
import type { CaptureRecord, ChunkParser } from "../../lib/capture/types.ts";
import { PcapParserChunkParser } from "../../test/capture/pcap-parser-oracle.ts";

const [mode, file] = process.argv.slice(2);
const size = statSync(file).size;
const rssSamples: number[] = [];
const MB = 1024 * 1024;
let nextSample = 0;
function sample(n: number) {
  if (n >= nextSample) {
    rssSamples.push(Math.round(process.memoryUsage().rss / MB));
    nextSample += 200_000;
  }
}

let packets = 0;
let checksum = 0;
const t0 = performance.now();
const cpu0 = process.cpuUsage();

if (mode === "lib") {
  const r = await openCapture(file);
  for await (const batch of r.batches()) {
    for (let i = 0; i < batch.length; i++) {
      const x = batch[i];
      checksum = (checksum + x.data[x.caplen >> 1] + x.tsNsec) | 0;
    }
    packets += batch.length;
    sample(packets);
  }
} else if (mode === "chunk" || mode === "chunk-pp") {
  let parser: ChunkParser | null = null;
  const out: CaptureRecord[] = [];
  for await (const c of createReadStream(file, { highWaterMark: 512 * 1024 })) {
    const b = c as Uint8Array;
    if (parser === null) {
      const h = parsePcapHeader(b);
      parser = mode === "chunk" ? new PcapChunkParser(h, () => {}) : new PcapParserChunkParser(h, () => {});
    }
    parser.feed(b, out);
    for (let i = 0; i < out.length; i++) {
      const x = out[i];
      checksum = (checksum + x.data[x.caplen >> 1] + x.tsNsec) | 0;
    }
    packets += out.length;
    out.length = 0;
    sample(packets);
  }
  parser?.end(out);
} else if (mode === "raw-pp") {
  await new Promise<void>((resolve, reject) => {
    const p = (pcapParser as unknown as { parse(f: unknown): import("node:events").EventEmitter }).parse(
      createReadStream(file, { highWaterMark: 512 * 1024 }),
    );
    p.on("packet", (x: { data: Uint8Array; header: { timestampMicroseconds: number } }) => {
      checksum = (checksum + x.data[x.data.length >> 1] + x.header.timestampMicroseconds) | 0;
      sample(++packets);
    });
    p.on("end", () => resolve());
    p.on("error", reject);
  });
} else if (mode === "minimal") {
  let carry: Uint8Array | null = null;
  let first = true;
  for await (const c of createReadStream(file, { highWaterMark: 512 * 1024 })) {
    let b = c as Uint8Array;
    if (carry) {
      const j = new Uint8Array(carry.length + b.length);
      j.set(carry);
      j.set(b, carry.length);
      b = j;
      carry = null;
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let o = first ? 24 : 0;
    first = false;
    const batch: { tsSec: number; tsNsec: number; data: Uint8Array }[] = [];
    while (o + 16 <= b.length) {
      const cl = dv.getUint32(o + 8, true);
      if (o + 16 + cl > b.length) break;
      batch.push({ tsSec: dv.getUint32(o, true), tsNsec: dv.getUint32(o + 4, true) * 1000, data: b.subarray(o + 16, o + 16 + cl) });
      o += 16 + cl;
    }
    if (o < b.length) carry = b.slice(o);
    for (const x of batch) checksum = (checksum + x.data[x.data.length >> 1] + x.tsNsec) | 0;
    packets += batch.length;
    sample(packets);
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}

const secs = (performance.now() - t0) / 1000;
const ru = process.resourceUsage();
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  mode,
  file,
  packets,
  secs: +secs.toFixed(3),
  pps: Math.round(packets / secs),
  cpuNsPerPacket: Math.round(((cpu.user + cpu.system) * 1000) / packets),
  mbps: Math.round(size / MB / secs),
  rssMB: rssSamples,
  peakRssMB: Math.round(ru.maxRSS / 1024),
  checksum,
}));
