/**
 * Property/fuzz tests: whatever the bytes, openCaptureStream either throws
 * CaptureFormatError or returns a reader whose batches() ends without
 * throwing, with well-formed records.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { type CaptureAnomaly, CaptureFormatError, openCaptureStream } from "../../lib/capture/index.ts";
import { chunked } from "./pcap-writer.ts";

const FX = new URL("../../fixtures/", import.meta.url).pathname;
const FILES = [
  "tcpdump/isakmp4500.pcap",
  "tcpdump/ikev2four.pcap",
  "tcpdump/isakmp-rfc3948-oobr.pcap",
  "tcpdump/ikev2pI2-segfault.pcapng",
  "tcpdump/isakmp-no-none-np.pcapng",
  "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap",
  "strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng",
  "strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap",
].map((f) => new Uint8Array(readFileSync(FX + f)));
const GZ = FILES.slice(0, 4).map((b) => new Uint8Array(gzipSync(b)));

const PREFIXES = [
  [0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4],
  [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0],
  [0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4],
  [0x4d, 0x3c, 0xb2, 0xa1, 2, 0, 4, 0],
  [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0],
  [0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0x1a, 0x2b, 0x3c, 0x4d, 0, 1],
  [0x1f, 0x8b, 8, 0],
  [],
].map((a) => Uint8Array.from(a));

/** Run one input to the end; returns the record count, or -1 for CaptureFormatError at open. */
async function consume(b: Uint8Array, chunk: number, batchSize = 64): Promise<number> {
  const an: CaptureAnomaly[] = [];
  let r;
  try {
    r = await openCaptureStream(chunked(b, chunk), { batchSize, onAnomaly: (a) => an.push(a) });
  } catch (e) {
    if (e instanceof CaptureFormatError) return -1;
    throw e;
  }
  let n = 0;
  for await (const batch of r.batches()) {
    if (batch.length === 0 || batch.length > batchSize) throw new Error(`bad batch size ${batch.length}`);
    for (const x of batch) {
      n++;
      if (x.no !== n) throw new Error(`record no ${x.no}, expected ${n}`);
      if (x.caplen !== x.data.length) throw new Error("caplen != data.length");
      if (!(x.tsNsec >= 0 && x.tsNsec < 1e9)) throw new Error(`tsNsec ${x.tsNsec}`);
      if (!Number.isFinite(x.tsSec)) throw new Error(`tsSec ${x.tsSec}`);
      if (x.caplen > 16 * 1024 * 1024) throw new Error("oversized record");
    }
  }
  for (const a of an) {
    if (typeof a.reason !== "string" || !(a.offset >= 0) || !(a.no >= 1)) throw new Error(`bad anomaly ${JSON.stringify(a)}`);
  }
  return n;
}

/** Uniform position in [0, 1) (fast-check's doubles are biased to the extremes). */
const frac = fc.noBias(fc.integer({ min: 0, max: 999999 })).map((x) => x / 1e6);
const chunkArb = fc.oneof(fc.constant(1 << 20), fc.integer({ min: 1, max: 64 }));

describe("capture fuzz", () => {
  test("random bytes behind every magic: CaptureFormatError or a clean read", async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PREFIXES),
        fc.uint8Array({ minLength: 0, maxLength: 600 }),
        chunkArb,
        async (prefix, rest, chunk) => {
          runs++;
          const b = new Uint8Array(prefix.length + rest.length);
          b.set(prefix);
          b.set(rest, prefix.length);
          await consume(b, chunk);
        },
      ),
      { numRuns: 4000 },
    );
    expect(runs).toBe(4000);
  }, 60000);

  test("truncated real files: prefix of the golden records, never an exception", async () => {
    const full = await Promise.all(FILES.map((f) => consume(f, 1 << 20)));
    await fc.assert(
      fc.asyncProperty(fc.noBias(fc.integer({ min: 0, max: FILES.length - 1 })), frac, chunkArb, async (i, frac, chunk) => {
        const f = FILES[i];
        const cut = Math.floor(f.length * frac);
        const n = await consume(f.subarray(0, cut), chunk);
        expect(n).toBeLessThanOrEqual(full[i]);
        if (cut >= 28) expect(n).toBeGreaterThanOrEqual(0); // header intact: opens
      }),
      { numRuns: 2000 },
    );
  }, 60000);

  test("mutated real files (plain and gzip): never an exception, always ends", async () => {
    const all = [...FILES, ...GZ];
    await fc.assert(
      fc.asyncProperty(
        fc.noBias(fc.integer({ min: 0, max: all.length - 1 })),
        fc.array(fc.tuple(frac, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        chunkArb,
        async (i, muts, chunk) => {
          const b = all[i].slice();
          for (const [pos, v] of muts) b[Math.min(b.length - 1, Math.floor(pos * b.length))] = v;
          await consume(b, chunk);
        },
      ),
      { numRuns: 4000 },
    );
  }, 60000);

  test("hostile length fields: the reader stops instead of buffering the rest", async () => {
    // Overwrite an aligned word with a huge or odd length, then stream a long 0xff tail:
    // 0xffffffff is never a valid record/block length, so once the reader is past the
    // mutated spot it must stop within the next record, i.e. after at most
    // 256 KiB + 16 (pcap) or 16 MiB (pcapng, its largest block) of tail.
    const TAIL = 256 * 1024;
    const tail = new Uint8Array(TAIL).fill(0xff);
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.noBias(fc.integer({ min: 0, max: FILES.length - 1 })),
        frac,
        fc.constantFrom(0xffffffff, 0x7ffffffc, 0x01000004, 0x00ffff00, 0x00040004, 0x00040000, 13, 0),
        async (i, pos, v) => {
          runs++;
          const f = FILES[i].slice();
          const o = Math.min(f.length - 4, Math.floor(pos * f.length)) & ~3;
          new DataView(f.buffer).setUint32(o, v, true);
          let pulled = 0;
          async function* src() {
            yield f;
            for (let k = 0; k < 80; k++) {
              pulled++;
              yield tail;
            }
          }
          try {
            const r = await openCaptureStream(src());
            for await (const _ of r.batches()) { /* drain */ }
          } catch (e) {
            if (!(e instanceof CaptureFormatError)) throw e;
          }
          const ng = f[0] === 0x0a;
          expect(pulled).toBeLessThanOrEqual(ng ? 2 + (16 * 1024 * 1024) / TAIL : 3);
        },
      ),
      { numRuns: 600 },
    );
    expect(runs).toBe(600);
  }, 60000);
});
