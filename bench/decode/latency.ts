/**
 * bench/decode/latency.ts: how long a packet written into `vpnkit decode -`'s pipe takes to
 * come out as its line (streaming input, issue 13). One child process; N rounds of: write
 * one pcap record, wait for its line, record the time. Prints min / median / p95 / max in ms.
 *
 *   bun bench/decode/latency.ts [N=500] [VPNKIT=dist/vpnkit]
 *
 * The records are those of a real fixture, cycled (numbers keep counting); the child is
 * warmed with 50 packets first. Not a test: timings go in bench/decode/RESULTS.md.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";

const N = Number(process.argv[2] ?? 500);
const bin = process.argv[3] ?? process.env.VPNKIT ?? "dist/vpnkit";
const cap = readFileSync(new URL("../../fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap", import.meta.url).pathname);
const recs: Buffer[] = [];
for (let o = 24; o + 16 <= cap.length;) {
  const n = cap.readUInt32LE(o + 8);
  recs.push(cap.subarray(o, o + 16 + n));
  o += 16 + n;
}
const args = bin.endsWith(".ts") ? [process.execPath, bin] : [bin];
const p = spawn(args[0], [...args.slice(1), "decode", "--utc", "-"], { stdio: ["pipe", "pipe", "inherit"] });
let lines = 0;
let wake: (() => void) | null = null;
p.stdout!.on("data", (d: Buffer) => {
  for (const b of d) if (b === 10) lines++;
  wake?.();
});
p.stdin!.write(cap.subarray(0, 24));
const times: number[] = [];
for (let i = 0; i < N + 50; i++) {
  const t0 = performance.now();
  p.stdin!.write(recs[i % recs.length]);
  while (lines < i + 1) await new Promise<void>((r) => (wake = r));
  if (i >= 50) times.push(performance.now() - t0);
}
p.stdin!.end();
await new Promise((r) => p.on("exit", r));
times.sort((a, b) => a - b);
const q = (f: number) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(3);
console.log(`${bin}: ${N} packets, write → line: min ${q(0)} ms, median ${q(0.5)} ms, p95 ${q(0.95)} ms, max ${q(1)} ms`);
