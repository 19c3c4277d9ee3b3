// Property/fuzz test of the whole decode pipeline: random and mutated real
// frames, for every link type, through Decoder.decode and every renderer.
// No exception escapes, every decode ends, and nothing reports an internal error.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync } from "node:fs";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { summaryLine, packetHeaderLine } from "../../lib/decode/summary.ts";
import { renderTree } from "../../lib/decode/render-tree.ts";
import { packetJson } from "../../lib/decode/render-json.ts";
import { FIX } from "./helpers.ts";

const LINKTYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];

async function realFrames(): Promise<{ linkType: number; data: Uint8Array }[]> {
  const out: { linkType: number; data: Uint8Array }[] = [];
  const dirs = [`${FIX}strongswan`, `${FIX}made`];
  const { openCapture } = await import("../../lib/capture/index.ts");
  for (const base of dirs) {
    for (const d of readdirSync(base)) {
      if (d.endsWith(".md")) continue;
      for (const f of readdirSync(`${base}/${d}`)) {
        if (!/\.pcap(ng)?$/.test(f)) continue;
        const r = await openCapture(`${base}/${d}/${f}`);
        for await (const batch of r.batches()) for (const rec of batch) out.push({ linkType: rec.linkType, data: Uint8Array.prototype.slice.call(rec.data) });
      }
    }
  }
  return out;
}

function decodeAll(dec: Decoder, no: number, linkType: number, data: Uint8Array): void {
  const p = dec.decode({ no, iface: 0, linkType, tsSec: 1_700_000_000 + (no >> 4), tsNsec: no * 1000 % 1e9, caplen: data.length, len: data.length, data });
  for (const a of p.anomalies) expect(a.reason).not.toContain("internal decoder error");
  summaryLine(p);
  renderTree(p, packetHeaderLine(p));
  JSON.parse(packetJson(p));
}

test("pipeline: mutated real frames never throw (40k cases)", async () => {
  const frames = await realFrames();
  expect(frames.length).toBeGreaterThan(300);
  const dec = new Decoder();
  let no = 0;
  fc.assert(
    fc.property(
      fc.nat(frames.length - 1),
      fc.array(fc.tuple(fc.nat(4096), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(4096)),
      (i, flips, cut) => {
        const src = frames[i];
        const d = src.data.slice(0, cut === null ? src.data.length : Math.min(cut, src.data.length));
        for (const [pos, v] of flips) if (d.length) d[pos % d.length] = v;
        decodeAll(dec, ++no, src.linkType, d);
      },
    ),
    { numRuns: 40000 },
  );
  dec.finish();
  dec.stats();
});

test("pipeline: random bytes on every link type never throw (20k cases)", () => {
  const dec = new Decoder({ tcpPorts: [443], nattPorts: [14500], ikePorts: [1500] });
  let no = 0;
  fc.assert(
    fc.property(fc.constantFrom(...LINKTYPES), fc.uint8Array({ maxLength: 600 }), (lt, data) => {
      decodeAll(dec, ++no, lt, data);
    }),
    { numRuns: 20000 },
  );
  dec.finish();
});
