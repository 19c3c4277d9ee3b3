/**
 * Test helper, run inside a namespace: re-send the ESP-in-UDP payloads of a pcap
 * (Ethernet link type) to DST:PORT from an ephemeral port, optionally corrupted.
 *
 *   bun test/tunnel/udp-send.ts FILE.pcap DST PORT SPI(hex) replay|corrupt-seq|corrupt-ct [MAX]
 *
 * Prints the number of datagrams sent.
 */
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";

const [file, dst, portS, spiS, mode, maxS] = process.argv.slice(2);
const want = parseInt(spiS, 16) >>> 0;
const max = maxS ? Number(maxS) : 1e9;
const pcap = readFileSync(file);
const le = pcap.readUInt32LE(0) === 0xa1b2c3d4 || pcap.readUInt32LE(0) === 0xa1b23c4d;
const r32 = (o: number) => (le ? pcap.readUInt32LE(o) : pcap.readUInt32BE(o));
const linktype = r32(20);
if (linktype !== 1) throw new Error(`link type ${linktype}: expected Ethernet (1)`);
const payloads: Uint8Array[] = [];
for (let o = 24; o + 16 <= pcap.length;) {
  const incl = r32(o + 8);
  const pkt = pcap.subarray(o + 16, o + 16 + incl);
  o += 16 + incl;
  const et = pkt.readUInt16BE(12);
  let l4: number, proto: number;
  if (et === 0x0800) {
    proto = pkt[14 + 9];
    l4 = 14 + (pkt[14] & 15) * 4;
  } else if (et === 0x86dd) {
    proto = pkt[14 + 6];
    l4 = 14 + 40;
  } else continue;
  if (proto !== 17 || pkt.readUInt16BE(l4 + 2) !== 4500) continue;
  const pl = pkt.subarray(l4 + 8);
  if (pl.length < 8 || pl.readUInt32BE(0) !== want) continue;
  payloads.push(Uint8Array.from(pl));
}
const sock = createSocket(dst.includes(":") ? "udp6" : "udp4");
let n = 0;
for (const p of payloads.slice(0, max)) {
  if (mode === "corrupt-seq") {
    // a fresh (never seen) sequence number: passes the replay window, fails the ICV (seq is in the AAD)
    p[4] ^= 0x40;
  } else if (mode === "corrupt-ct") {
    p[4] ^= 0x40;
    p[p.length - 20] ^= 0x01;
  }
  await new Promise<void>((res, rej) => sock.send(p, Number(portS), dst, (e) => (e ? rej(e) : res())));
  n++;
}
sock.close();
console.log(n);
