/**
 * ESP seal/open throughput per AEAD provider and packet size.
 *
 *   bun bench/esp/run.ts            (≈ 5 s; prints a markdown table)
 *
 * For each provider (node:crypto AES-256-GCM, noble AES-256-GCM, noble ChaCha20-Poly1305)
 * and inner size (64, 512, 1400 B): seal = OutboundSa.seal (padding, header, counter IV,
 * AEAD); open = InboundSa.open on pre-sealed packets (replay check + AEAD + window update +
 * padding check; a fresh SA per batch of 4096 packets so the window is exercised for real).
 * MB/s counts inner bytes (10^6 bytes per second). Each cell is the best of 3 trials of
 * ESP_BENCH_MS (default 80) ms after a short warm-up: the 2-vCPU VM is shared, and best-of-N
 * is the least noisy estimate of what the code can do. Also runs on Deno:
 *   deno run --allow-read --allow-env --allow-sys bench/esp/run.ts
 */
import process from "node:process";
import {
  InboundSa, nobleChaCha, nobleGcm, NODE_CHACHA_AVAILABLE, NODE_GCM_AVAILABLE, nodeChaCha, nodeGcm, OutboundSa,
} from "../../lib/esp/mod.ts";
import type { AeadProvider, EspCipherName } from "../../lib/esp/mod.ts";

const SIZES = [64, 512, 1400];
const CELL_MS = Number(process.env.ESP_BENCH_MS ?? 80);
const TRIALS = 3;

const providers: [string, EspCipherName, AeadProvider][] = [];
if (NODE_GCM_AVAILABLE) providers.push(["node:crypto aes256gcm16", "aes256gcm16", nodeGcm]);
providers.push(["noble aes256gcm16", "aes256gcm16", nobleGcm], ["noble chacha20poly1305", "chacha20poly1305", nobleChaCha]);
if (NODE_CHACHA_AVAILABLE) providers.push(["node:crypto chacha20poly1305", "chacha20poly1305", nodeChaCha]);

const km = new Uint8Array(36).map((_, i) => (i * 37 + 11) & 0xff);

function timeLoop(fn: () => number): { pps: number; bytesPerSec: number } {
  const w = performance.now();
  while (performance.now() - w < CELL_MS / 4) fn(); // warm-up
  let best = { pps: 0, bytesPerSec: 0 };
  for (let trial = 0; trial < TRIALS; trial++) {
    let n = 0, bytes = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < CELL_MS) {
      for (let i = 0; i < 32; i++) { bytes += fn(); n++; }
      t = performance.now();
    }
    const s = (t - t0) / 1000;
    if (n / s > best.pps) best = { pps: n / s, bytesPerSec: bytes / s };
  }
  return best;
}

function bench(name: string, cipher: EspCipherName, prov: AeadProvider, size: number) {
  const cfg = { spi: 0x10001, cipher, keyMaterial: km, esn: true };
  const inner = new Uint8Array(size).map((_, i) => i & 0xff);
  const out = new OutboundSa(cfg, prov);
  const seal = timeLoop(() => (out.seal(inner, 4) as Uint8Array, size));

  const BATCH = 4096;
  const src = new OutboundSa(cfg, prov);
  const pkts: Uint8Array[] = [];
  for (let i = 0; i < BATCH; i++) pkts.push(src.seal(inner, 4)!);
  let inb = new InboundSa(cfg, prov);
  let k = 0;
  let bad = 0;
  const open = timeLoop(() => {
    if (k === BATCH) { inb = new InboundSa(cfg, prov); k = 0; }
    const r = inb.open(pkts[k++]);
    if (!r.ok) bad++;
    return size;
  });
  if (bad) throw new Error(`${name}: ${bad} packets failed to open`);
  return { seal, open };
}

const mb = (x: number) => (x / 1e6).toFixed(1);
const kpps = (x: number) => (x / 1e3).toFixed(0);
const rows: string[] = [];
const runtime = typeof (globalThis as { Bun?: { version: string } }).Bun !== "undefined"
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : typeof (globalThis as { Deno?: unknown }).Deno !== "undefined" ? "Deno" : `Node ${process.version}`;
for (const [name, cipher, prov] of providers) {
  for (const size of SIZES) {
    const { seal, open } = bench(name, cipher, prov, size);
    const both = 1 / (1 / seal.bytesPerSec + 1 / open.bytesPerSec); // one seal + one open per packet
    rows.push(`| ${name} | ${size} | ${mb(seal.bytesPerSec)} (${kpps(seal.pps)}k pkt/s) | ${mb(open.bytesPerSec)} (${kpps(open.pps)}k pkt/s) | ${mb(both)} |`);
  }
}
console.log(`ESP data plane throughput, ${runtime}, best of ${TRIALS} × ${CELL_MS} ms per cell, MB/s of inner bytes\n`);
console.log("| provider | inner B | seal MB/s | open MB/s | seal+open MB/s |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(r);
