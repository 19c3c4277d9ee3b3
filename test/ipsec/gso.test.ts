/**
 * UDP GSO runs in captures (lib/ipsec/gso.ts and the decoder's use of it).
 * Golden: fixtures/made/g_vpnkit_udp_gso, a real capture of two vpnkit peers taken on a veth
 * with UDP segmentation offload on (30 of its 60 records are whole GSO runs). Property/fuzz:
 * runs built from random bytes are found exactly; random payloads are not taken for runs;
 * nothing throws on any input.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import type { LayerBase } from "../../lib/core/layer.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import type { EspDecryptInfo } from "../../lib/decrypt/types.ts";
import { findEspGsoRun, GSO_MIN_PAYLOAD } from "../../lib/ipsec/gso.ts";
import { loadKeyFile } from "../../lib/keys/load.ts";
import { KeyStore } from "../../lib/keys/store.ts";

const DIR = new URL("../../fixtures/made/g_vpnkit_udp_gso/", import.meta.url).pathname;

async function records(path: string): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  const r = await openCapture(path);
  for await (const batch of r.batches()) for (const rec of batch) out.push({ ...rec, data: Uint8Array.prototype.slice.call(rec.data) });
  return out;
}

type EspL = LayerBase & { spi: number; seq: number; decrypt?: EspDecryptInfo };

describe("GSO runs in a real capture (fixtures/made/g_vpnkit_udp_gso)", () => {
  test("with the key log: every record's first datagram ICV good, each run named, the ESP tracker sees no gap", async () => {
    const recs = await records(`${DIR}g_vpnkit_udp_gso.pcap`);
    expect(recs.length).toBe(60);
    const d = new Decoder({ keys: new KeyStore([loadKeyFile(`${DIR}keys.log`)]) });
    let runs = 0, big = 0, small = 0, good = 0;
    for (const rec of recs) {
      const p = d.decode(rec);
      const esp = p.layers.filter((l) => l.layer === "esp") as EspL[];
      expect(esp.length).toBe(1);
      expect(esp[0].decrypt?.icv).toBe("good");
      good++;
      const a = p.anomalies.find((x) => x.reason.startsWith("UDP GSO run captured before segmentation"));
      if (a) {
        runs++;
        const m = /: (\d+) ESP datagrams of (\d+) bytes/.exec(a.reason)!;
        if (Number(m[2]) >= 1400) big++;
        else small++;
        expect(Number(m[1])).toBeGreaterThanOrEqual(2);
        // the decoded ESP layer is the first datagram only
        expect(esp[0].length ?? 0).toBeLessThanOrEqual(Number(m[2]));
      }
    }
    expect(good).toBe(60);
    expect(runs).toBe(30);
    expect(big).toBeGreaterThan(0); // full-size TCP segments
    expect(small).toBeGreaterThan(0); // runs of ACKs
    const sas = d.stats().espSas;
    expect(sas.length).toBe(2);
    for (const s of sas) expect(s.missing).toBe(0);
  });

  test("without keys: runs too big for one frame are named (the small ones cannot be told apart cheaply)", async () => {
    const recs = await records(`${DIR}g_vpnkit_udp_gso.pcap`);
    const d = new Decoder();
    const named = recs.map((r) => d.decode(r)).filter((p) => p.anomalies.some((a) => a.reason.startsWith("UDP GSO run"))).length;
    expect(named).toBeGreaterThan(0);
    expect(named).toBeLessThan(30);
  });
});

/** `count` ESP-like datagrams of `size` bytes (the last `last`), random bodies, SPI/seq in place. */
function buildRun(rnd: Uint8Array, spi: number, seq: number, size: number, count: number, last: number): Uint8Array {
  const len = (count - 1) * size + last;
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = rnd[i % rnd.length] ^ ((i * 131) & 0xff);
  for (let k = 0; k < count; k++) {
    const o = k * size;
    const v = new DataView(b.buffer, o, 8);
    v.setUint32(0, spi);
    v.setUint32(4, (seq + k) >>> 0);
  }
  return b;
}

describe("findEspGsoRun (property and fuzz)", () => {
  test("a run built from random bytes is found with its exact stride, count and last length", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 64, maxLength: 64 }), fc.integer({ min: 256, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 8, max: 400 }), fc.integer({ min: 2, max: 64 }), fc.integer({ min: 0, max: 100 }),
        (rnd, spi, seq, q, count, lastPct) => {
          const size = q * 4;
          const last = Math.max(32, Math.min(size, Math.round((size * lastPct) / 100) & ~3));
          const b = buildRun(rnd, spi, seq, size, count, last);
          const r = findEspGsoRun(b, 0, b.length, 0);
          // a stride that divides the true one with matching SPI/seq at every multiple cannot
          // happen: seq rises by one per true segment, so the first match is the true stride
          expect(r).toEqual({ size, count, last, spi, firstSeq: seq });
          // by default only payloads too big for one frame are examined
          expect(findEspGsoRun(b, 0, b.length)).toEqual(b.length >= GSO_MIN_PAYLOAD ? { size, count, last, spi, firstSeq: seq } : null);
        },
      ),
      { numRuns: 3000, seed: 20261206 },
    );
  });

  test("random payloads are not runs; no input throws, any offsets", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4000 }), fc.integer({ min: -5, max: 4100 }), fc.integer({ min: -5, max: 4100 }), (b, off, end) => {
        const r = findEspGsoRun(b, off, end, 0);
        // a chance match needs 8 bytes equal to the SPI and the next seq: never in 2000 runs
        if (off === 0 && end === b.length) expect(r).toBeNull();
        else if (r !== null) expect(r.count).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  test("a real single datagram, a broken sequence, a too-short tail: no run", () => {
    const rnd = crypto.getRandomValues(new Uint8Array(64));
    const b = buildRun(rnd, 0x1234, 10, 1472, 3, 1472);
    expect(findEspGsoRun(b, 0, b.length)?.count).toBe(3);
    const broken = b.slice();
    new DataView(broken.buffer).setUint32(1472 * 2 + 4, 99); // third segment's seq is not 12
    expect(findEspGsoRun(broken, 0, broken.length)).toBeNull();
    const short = b.subarray(0, 1472 * 2 + 20); // tail shorter than any ESP packet
    expect(findEspGsoRun(short, 0, short.length)).toBeNull();
    expect(findEspGsoRun(b.subarray(0, 1472), 0, 1472, 0)).toBeNull();
    const zeroSpi = buildRun(rnd, 0, 1, 1472, 2, 1472);
    expect(findEspGsoRun(zeroSpi, 0, zeroSpi.length)).toBeNull();
  });
});
