// The summary fast path must print exactly what the full decoder prints,
// packet for packet, with the same tracker state (sequence flags).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, readdirSync } from "node:fs";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { summaryLine, packetHeaderLine } from "../../lib/decode/summary.ts";
import { packetJson } from "../../lib/decode/render-json.ts";
import { renderTree } from "../../lib/decode/render-tree.ts";
import { FIX } from "./helpers.ts";

async function records(path: string, limit = Infinity): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  const r = await openCapture(path);
  for await (const batch of r.batches()) {
    for (const rec of batch) {
      if (out.length >= limit) return out;
      out.push({ ...rec, data: Uint8Array.prototype.slice.call(rec.data) });
    }
  }
  return out;
}

type Mode = "summary" | "json" | "tree";
const FAST: Record<Mode, (d: Decoder, r: CaptureRecord) => string | null> = {
  summary: (d, r) => d.fastSummary(r),
  json: (d, r) => d.fastJson(r),
  tree: (d, r) => d.fastTree(r),
};
const FULL: Record<Mode, (d: Decoder, r: CaptureRecord) => string> = {
  summary: (d, r) => summaryLine(d.decode(r)),
  json: (d, r) => packetJson(d.decode(r)),
  tree: (d, r) => {
    const p = d.decode(r);
    return renderTree(p, packetHeaderLine(p));
  },
};

/** Every output mode: the fast path's text equals the full decoder's, packet for packet. */
function compare(recs: CaptureRecord[]): number {
  let fastHits = 0;
  for (const mode of ["summary", "json", "tree"] as Mode[]) {
    const a = new Decoder(), b = new Decoder();
    for (const rec of recs) {
      const fast = FAST[mode](a, rec);
      const la = fast ?? FULL[mode](a, rec);
      if (fast !== null) fastHits++;
      expect(la).toBe(FULL[mode](b, rec));
    }
  }
  return fastHits / 3;
}

const files: string[] = [];
for (const base of [`${FIX}strongswan`, `${FIX}made`]) {
  for (const d of readdirSync(base)) {
    if (d.endsWith(".md")) continue;
    for (const f of readdirSync(`${base}/${d}`)) if (/\.pcap(ng)?$/.test(f)) files.push(`${base}/${d}/${f}`);
  }
}
for (const f of readdirSync(`${FIX}tcpdump`)) if (/\.pcap(ng)?$/.test(f)) files.push(`${FIX}tcpdump/${f}`);

test("fast path == full decoder on every fixture", async () => {
  let hits = 0;
  for (const f of files) hits += compare(await records(f));
  expect(hits).toBeGreaterThan(200); // it is actually used
});

test("fast path == full decoder on mutated real ESP packets, with reordering and replays", async () => {
  const base = (await records(`${FIX}made/d_ikev2_rekey/d_ikev2_rekey.pcap`)).filter((r) => r.data.length > 60);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat(3)), { minLength: 1, maxLength: 40 }),
      (picks) => {
        const recs = picks.map(([i, flips, dt], k) => {
          const d = base[i].data.slice();
          for (const [pos, v] of flips) d[pos % d.length] = v;
          return { ...base[i], no: k + 1, tsSec: base[i].tsSec + dt, data: d, caplen: d.length };
        });
        compare(recs);
      },
    ),
    { numRuns: 3000 },
  );
});

const BENCH = "/tmp/vpnkit-bench/bench_aes256gcm16.pcap";
test.skipIf(!existsSync(BENCH))("fast path == full decoder on 20k packets of the real benchmark capture", async () => {
  expect(compare(await records(BENCH, 20000))).toBeGreaterThan(19000);
});
