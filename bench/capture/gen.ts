/**
 * Generate synthetic captures for the capture-reader bench:
 *   bun bench/capture/gen.ts [packets=2000000] [dir=/tmp/vpnkit-capture-bench]
 * Writes bench.pcap (classic, µs, LE) and bench.pcapng (PcapngWriter, ns).
 * Packet sizes cycle 60/98/150/214/1514 bytes (mean ≈ 407 B).
 */
import { createWriteStream, mkdirSync } from "node:fs";
import { createPcapngFileWriter } from "../../lib/capture/pcapng-writer.ts";

const N = Number(process.argv[2] ?? 2_000_000);
const DIR = process.argv[3] ?? "/tmp/vpnkit-capture-bench";
mkdirSync(DIR, { recursive: true });
const SIZES = [60, 98, 150, 214, 1514];
const proto = new Uint8Array(1514);
for (let i = 0; i < proto.length; i++) proto[i] = (i * 7 + 3) & 0xff;

async function writePcap(path: string) {
  const ws = createWriteStream(path);
  const hdr = new Uint8Array(24);
  const dv = new DataView(hdr.buffer);
  dv.setUint32(0, 0xa1b2c3d4, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 65535, true);
  dv.setUint32(20, 1, true);
  ws.write(hdr);
  let buf = new Uint8Array(1 << 20);
  let o = 0;
  const flush = async () => {
    if (!ws.write(buf.slice(0, o))) await new Promise<void>((r) => ws.once("drain", () => r()));
    o = 0;
  };
  for (let i = 0; i < N; i++) {
    const n = SIZES[i % SIZES.length];
    if (o + 16 + n > buf.length) await flush();
    const v = new DataView(buf.buffer, o, 16);
    v.setUint32(0, 1700000000 + Math.floor(i / 1000), true);
    v.setUint32(4, (i % 1000) * 1000, true);
    v.setUint32(8, n, true);
    v.setUint32(12, n, true);
    buf.set(proto.subarray(0, n), o + 16);
    o += 16 + n;
  }
  await flush();
  await new Promise<void>((r) => ws.end(r));
}

async function writePcapng(path: string) {
  const w = createPcapngFileWriter(path);
  for (let i = 0; i < N; i++) {
    const n = SIZES[i % SIZES.length];
    await w.write({ linkType: 1, tsSec: 1700000000 + Math.floor(i / 1000), tsNsec: (i % 1000) * 1000000, data: proto.subarray(0, n) });
  }
  await w.close();
}

let t = performance.now();
await writePcap(`${DIR}/bench.pcap`);
console.log(`wrote ${DIR}/bench.pcap (${N} packets) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
t = performance.now();
await writePcapng(`${DIR}/bench.pcapng`);
console.log(`wrote ${DIR}/bench.pcapng (${N} packets) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
