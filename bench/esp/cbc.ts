/**
 * ESP AES-CBC + HMAC against AES-GCM, per SA operation, on the data plane's providers (the
 * system libcrypto through bun:ffi: aead-ffi.ts and cbc-ffi.ts), plus @noble CBC for reference.
 *
 *   bun bench/esp/cbc.ts            (≈ 40 s with ROUNDS=9; prints a markdown table)
 *
 * seal = OutboundSa.seal of a 1400-byte inner packet (CBC: random IV, block padding, AES-CBC,
 * HMAC); open = InboundSa.open of pre-sealed packets (replay check, ICV/tag, decryption, window,
 * padding). ROUNDS rounds (default 7), each running every transform once for CELL_MS (default
 * 150) ms in turn, so all of them see the same machine load; reported: median and min over the
 * rounds of MB/s (inner bytes, 10^6/s) and of the ratio to aes256gcm16 in the same round.
 */
import process from "node:process";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import { espKeyMaterialLength, nobleCbcHmac } from "../../lib/esp/cbc.ts";
import type { EspCipherName, EspCrypto } from "../../lib/esp/types.ts";
import { libcryptoAead } from "../../lib/platform/bun/aead-ffi.ts";
import { libcryptoCbcHmac } from "../../lib/platform/bun/cbc-ffi.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const CELL_MS = Number(process.env.CELL_MS ?? 150);
const SIZE = 1400;

const cbc = libcryptoCbcHmac();
if (cbc === null) throw new Error("libcrypto CBC+HMAC provider did not load");
const cases: [string, EspCipherName, EspCrypto][] = [];
for (const c of ["aes256gcm16", "aes128gcm16"] as const) {
  const p = libcryptoAead(c);
  if (p === null) throw new Error("libcrypto AEAD did not load");
  cases.push([`${c} (libcrypto)`, c, p]);
}
for (const c of ["aes128-sha256", "aes256-sha256", "aes256-sha384", "aes256-sha512", "aes128-sha1"] as const) cases.push([`${c} (libcrypto)`, c, cbc]);
cases.push(["aes256-sha256 (noble, Deno path)", "aes256-sha256", nobleCbcHmac]);

const inner = new Uint8Array(SIZE).map((_, i) => i & 0xff);

function rate(fn: () => void): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < CELL_MS) {
    for (let i = 0; i < 32; i++) fn();
    n += 32;
    t = performance.now();
  }
  return (n * SIZE) / ((t - t0) / 1000) / 1e6;
}

function sealRate(cipher: EspCipherName, p: EspCrypto): number {
  const km = new Uint8Array(espKeyMaterialLength(cipher)).map((_, i) => (i * 37 + 11) & 0xff);
  const sa = new OutboundSa({ spi: 0x1000, cipher, keyMaterial: km }, p);
  const r = rate(() => void sa.seal(inner, 4));
  sa.destroy();
  return r;
}

function openRate(cipher: EspCipherName, p: EspCrypto): number {
  const km = new Uint8Array(espKeyMaterialLength(cipher)).map((_, i) => (i * 37 + 11) & 0xff);
  const out = new OutboundSa({ spi: 0x1000, cipher, keyMaterial: km }, p);
  const pkts = Array.from({ length: 4096 }, () => out.seal(inner, 4)!);
  out.destroy();
  let inn = new InboundSa({ spi: 0x1000, cipher, keyMaterial: km, replayWindow: 0 }, p);
  let i = 0;
  const r = rate(() => {
    const x = inn.open(pkts[i++ & 4095]);
    if (!x.ok) throw new Error(`open failed: ${x.reason}`);
  });
  inn.destroy();
  inn = null as unknown as InboundSa;
  return r;
}

const seal: number[][] = cases.map(() => []), open: number[][] = cases.map(() => []);
// warm-up: every case once
for (const [, c, p] of cases) {
  sealRate(c, p);
  openRate(c, p);
}
for (let r = 0; r < ROUNDS; r++) {
  cases.forEach(([, c, p], k) => {
    seal[k].push(sealRate(c, p));
    open[k].push(openRate(c, p));
  });
}
const med = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const min = (a: number[]) => Math.min(...a);
const ratios = (a: number[], base: number[]) => a.map((v, i) => v / base[i]);
console.log(`bench/esp/cbc.ts: ${SIZE}-byte inner packets, ${ROUNDS} interleaved rounds of ${CELL_MS} ms per cell, bun ${process.versions.bun}, load ${(await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ")}`);
console.log("");
console.log("| transform | seal MB/s median (min) | seal / aes256gcm16 median (min) | open MB/s median (min) | open / aes256gcm16 median (min) |");
console.log("|---|---|---|---|---|");
cases.forEach(([name], k) => {
  const sr = ratios(seal[k], seal[0]), or = ratios(open[k], open[0]);
  console.log(`| ${name} | ${med(seal[k]).toFixed(0)} (${min(seal[k]).toFixed(0)}) | ${med(sr).toFixed(2)} (${min(sr).toFixed(2)}) | ${med(open[k]).toFixed(0)} (${min(open[k]).toFixed(0)}) | ${med(or).toFixed(2)} (${min(or).toFixed(2)}) |`);
});
