/**
 * Cost of one side of an IKE key exchange (key generation + shared secret) per group,
 * vpnkit's implementation (lib/ike/v2/sa/dh.ts) against a reference in the SAME run,
 * interleaved: MODP groups against plain right-to-left square-and-multiply (vpnkit's code
 * before the 4-bit window), ECP groups (now node:crypto ECDH, the system libcrypto) against
 * @noble/curves (vpnkit's code before, still the fallback).
 * Results: bench/ike/ke-groups.md.
 * Run: bun bench/ike/ke-groups.ts [reps=9]
 */
import { randomBytes } from "node:crypto";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import { newKeyExchange } from "../../lib/ike/v2/sa/dh.ts";
import { MODP_GROUPS } from "../../lib/ike/v2/sa/modp-groups.ts";

const reps = Math.max(3, Math.min(50, Number(process.argv[2] ?? 9)));
const rng = (n: number) => new Uint8Array(randomBytes(n));
const big = (u: Uint8Array) => BigInt("0x" + Buffer.from(u).toString("hex"));

function plainModpow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

const CURVES = { 19: p256, 20: p384, 21: p521 } as unknown as Record<number, typeof p256>;
const stat = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return { min: s[0], med: s[Math.floor(s.length / 2)] };
};

console.log(`| group | vpnkit min / median (ms) | reference | reference min / median (ms) | ratio of medians (reference / vpnkit) |`);
console.log(`|---|---|---|---|---|`);
for (const g of [14, 15, 16, 19, 20, 21]) {
  const ours: number[] = [], ref: number[] = [];
  const peer = newKeyExchange(g, rng)!.publicValue;
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    const k = newKeyExchange(g, rng)!;
    k.compute(peer);
    ours.push(performance.now() - t);
    t = performance.now();
    if (MODP_GROUPS.has(g)) {
      const { p, expBytes } = MODP_GROUPS.get(g)!;
      const x = big(rng(expBytes)) | 1n;
      plainModpow(2n, x, p);
      plainModpow(big(peer), x, p);
    } else {
      const c = CURVES[g];
      const sk = c.utils.randomSecretKey();
      c.getPublicKey(sk, false);
      c.getSharedSecret(sk, new Uint8Array([4, ...peer]), true);
    }
    ref.push(performance.now() - t);
  }
  const a = stat(ours), b = stat(ref);
  const refName = MODP_GROUPS.has(g) ? "plain square-and-multiply (bigint)" : "@noble/curves";
  console.log(`| ${g} | ${a.min.toFixed(2)} / ${a.med.toFixed(2)} | ${refName} | ${b.min.toFixed(2)} / ${b.med.toFixed(2)} | ${(b.med / a.med).toFixed(2)}x |`);
}
