/**
 * Capture filter cost per packet: `CaptureFilter.match` on real fixture frames (every
 * Ethernet frame under fixtures/, cycled), one expression per line, CPU ns per packet. Results: bench/capture/FILTER.md.
 *
 *   bun bench/capture/filter.ts [packets=2000000]
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openCapture } from "../../lib/capture/index.ts";
import { compileCaptureFilter } from "../../lib/capture/filter/mod.ts";

const N = Number(process.argv[2] ?? 2_000_000);
const ROOT = join(import.meta.dir, "../..");
const paths: string[] = [];
const find = (d: string) => {
  for (const e of readdirSync(d)) {
    const p = join(d, e);
    if (statSync(p).isDirectory()) find(p);
    else if (/\.(pcap|pcapng)$/.test(e)) paths.push(p);
  }
};
find(join(ROOT, "fixtures"));
const frames: Uint8Array[] = [];
for (const p of paths) for await (const b of (await openCapture(p)).batches()) for (const r of b) if (r.linkType === 1) frames.push(r.data.slice());

const EXPRS = [
  "udp",
  "udp port 500",
  "host 192.0.2.1 or host 192.0.2.2",
  "udp port 500 or udp port 4500 or esp",
  "(udp port 4500 and not host 192.0.2.1) or ip6 net 2001:db8::/32 or vlan and esp",
];
console.log(`${frames.length} Ethernet frames from ${paths.length} captures, ${N} evaluations per expression`);
console.log("CPU ns/packet of CaptureFilter.match (user+system CPU time, not wall time: the VM is shared)");
for (const e of EXPRS) {
  const f = compileCaptureFilter(e);
  const run = () => {
    let k = 0;
    for (let i = 0; i < N; i++) if (f.match(1, frames[i % frames.length])) k++;
    return k;
  };
  run(); // warm-up
  const c0 = process.cpuUsage();
  const kept = run();
  const c = process.cpuUsage(c0);
  console.log(`${(((c.user + c.system) * 1000) / N).toFixed(1).padStart(6)} ns  kept ${((100 * kept) / N).toFixed(1).padStart(5)}%  ${e}`);
}
