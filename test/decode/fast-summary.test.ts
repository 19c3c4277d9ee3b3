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
import { ByteWriter, collectText } from "../../lib/decode/output.ts";
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
const FAST: Record<Mode, (d: Decoder, w: ByteWriter, r: CaptureRecord) => boolean> = {
  summary: (d, w, r) => d.fastSummary(w, r),
  json: (d, w, r) => d.fastJson(w, r),
  tree: (d, w, r) => d.fastTree(w, r),
};
/** The full decoder's text for one packet, as runDecode writes it. */
const FULL: Record<Mode, (d: Decoder, r: CaptureRecord) => string> = {
  summary: (d, r) => summaryLine(d.decode(r)) + "\n",
  json: (d, r) => packetJson(d.decode(r)) + "\n",
  tree: (d, r) => {
    const p = d.decode(r);
    return renderTree(p, packetHeaderLine(p)) + "\n\n";
  },
};

const dec = new TextDecoder();

/** Run `recs` through the fast path (full decoder where it declines); the text of each packet. */
function fastTexts(mode: Mode, recs: CaptureRecord[], flushEvery = 0, slots?: number): { texts: string[]; hits: number } {
  const sink = collectText();
  // a small buffer and high-water mark: exercises growth and flushing between packets
  const w = new ByteWriter(sink.out, 1024, 1024);
  const d = new Decoder({ fastPathSlots: slots });
  const texts: string[] = [];
  let hits = 0;
  for (let i = 0; i < recs.length; i++) {
    const start = w.pos;
    if (FAST[mode](d, w, recs[i])) {
      hits++;
      texts.push(dec.decode(w.buf.subarray(start, w.pos)));
    } else {
      const t = FULL[mode](d, recs[i]);
      w.text(t);
      texts.push(t);
    }
    if (flushEvery && i % flushEvery === 0 && w.full) void w.flush();
  }
  void w.flush();
  // what reached the destination is exactly the packets' texts, in order
  expect(sink.text()).toBe(texts.join(""));
  return { texts, hits };
}

/**
 * Every output mode: the fast path's text equals the full decoder's, packet
 * for packet. `slots` = 1: a one-slot flow cache, so every change of flow
 * compares the whole flow key.
 */
function compare(recs: CaptureRecord[], slots?: number): number {
  let fastHits = 0;
  for (const mode of ["summary", "json", "tree"] as Mode[]) {
    const { texts, hits } = fastTexts(mode, recs, 7, slots);
    fastHits += hits;
    const b = new Decoder();
    for (let i = 0; i < recs.length; i++) expect(texts[i]).toBe(FULL[mode](b, recs[i]));
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

// ---- the flow cache: many flows interleaved, every key byte varied ----------

interface FlowSpec {
  mac: number; // last byte of the destination MAC
  smac: number; // last byte of the source MAC
  tos: number;
  df: boolean;
  ttl: number;
  src: number; // last octet
  dst: number;
  sport: number;
  dport: number;
  spi: number;
}

/** An Ethernet/IPv4/UDP packet carrying ESP (or a keepalive when `plen` is -1), with a correct IPv4 checksum unless `badSum`. */
function packet(no: number, f: FlowSpec, seq: number, plen: number, id: number, badSum = false, tsSec = 1795617858, tsNsec = no * 1000): CaptureRecord {
  const udpPayload = plen < 0 ? 1 : 8 + plen;
  const total = 20 + 8 + udpPayload;
  const b = new Uint8Array(14 + total);
  b.set([0x02, 0, 0, 0, 1, f.mac, 0x02, 0, 0, 0, 2, f.smac, 0x08, 0x00], 0);
  b.set([0x45, f.tos, total >> 8, total & 255, id >> 8, id & 255, f.df ? 0x40 : 0, 0, f.ttl, 17, 0, 0, 192, 0, 2, f.src, 198, 51, 100, f.dst], 14);
  let s = 0;
  for (let i = 14; i < 34; i += 2) s += (b[i] << 8) | b[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  const sum = ~s & 0xffff ^ (badSum ? 1 : 0);
  b[24] = sum >> 8;
  b[25] = sum & 255;
  b.set([f.sport >> 8, f.sport & 255, f.dport >> 8, f.dport & 255, (8 + udpPayload) >> 8, (8 + udpPayload) & 255, (no * 7) & 255, no & 255], 34);
  if (plen < 0) b[42] = 0xff;
  else {
    b.set([f.spi >>> 24, (f.spi >> 16) & 255, (f.spi >> 8) & 255, f.spi & 255, seq >>> 24, (seq >> 16) & 255, (seq >> 8) & 255, seq & 255], 42);
    for (let i = 50; i < b.length; i++) b[i] = (i * 31 + no) & 255;
  }
  return { no, iface: no % 3, linkType: 1, tsSec, tsNsec, caplen: b.length, len: b.length + (no % 2), data: b };
}

const flowSpec = fc.record({
  mac: fc.integer({ min: 0, max: 3 }),
  smac: fc.integer({ min: 0xfc, max: 0xff }),
  tos: fc.constantFrom(0, 0xb8, 0x03),
  df: fc.boolean(),
  ttl: fc.constantFrom(1, 63, 64, 255),
  src: fc.integer({ min: 1, max: 4 }),
  dst: fc.integer({ min: 1, max: 4 }),
  sport: fc.constantFrom(4500, 500, 14500, 1234),
  dport: fc.constantFrom(4500, 500, 4501),
  spi: fc.constantFrom(0x100, 0x101, 0xc4ba5861, 0xc4ba5860, 0xc5ba5861, 0xffffffff, 0x39732e79, 0xff, 0),
});

test("fast path == full decoder on interleaved flows: keepalives, seq gaps, duplicates, reordering, bad checksums", () => {
  let hits = 0;
  fc.assert(
    fc.property(
      // flows that differ from the first in one field each: one key byte apart
      flowSpec.chain((base) => fc.array(flowSpec.chain((o) => fc.constantFrom(...(Object.keys(base) as (keyof FlowSpec)[]).map((k) => ({ ...base, [k]: o[k] })))), { minLength: 0, maxLength: 7 }).map((v) => [base, ...v])),
      fc.boolean(),
      fc.array(
        fc.record({
          flow: fc.nat(7),
          seqStep: fc.constantFrom(1, 1, 1, 0, 2, 50, -1, -3, 5000),
          plen: fc.constantFrom(2, 20, 48, 49, 100, 1400, -1),
          badSum: fc.boolean().map((x) => x && Math.random() < 0.2),
          dt: fc.constantFrom(0, 0, 0, 1, 2),
          nsec: fc.constantFrom(0, 999, 1000, 123456789, 999999999),
        }),
        { minLength: 1, maxLength: 60, size: "max" },
      ),
      (flows, oneSlot, picks) => {
        const seqs = flows.map(() => 1);
        let sec = 1795617858;
        const recs = picks.map((x, k) => {
          const fi = x.flow % flows.length;
          seqs[fi] = Math.max(0, seqs[fi] + x.seqStep) >>> 0;
          sec += x.dt;
          return packet(k + 1, flows[fi], seqs[fi], x.plen, (k * 977) & 0xffff, x.badSum, sec, x.nsec);
        });
        hits += compare(recs, oneSlot ? 1 : undefined);
      },
    ),
    { numRuns: 1500 },
  );
  expect(hits).toBeGreaterThan(5000); // the fast path answers for a good share
});

test("fast path == full decoder with more flows than cache slots (evictions, collisions)", () => {
  const flows: FlowSpec[] = [];
  for (let i = 0; i < 1200; i++) {
    flows.push({ mac: i & 3, smac: (i >> 2) & 3, tos: 0, df: (i & 4) !== 0, ttl: 64 - (i % 5), src: 1 + (i % 200), dst: 1 + ((i * 7) % 13), sport: i % 11 === 0 ? 14500 : 4500, dport: 4500, spi: 0x1000 + (i % 300) });
  }
  const seqs = flows.map(() => 0);
  const recs: CaptureRecord[] = [];
  for (let k = 0; k < 6000; k++) {
    const fi = (k * 7919 + (k >> 3)) % flows.length;
    seqs[fi] += k % 97 === 0 ? 3 : 1;
    recs.push(packet(k + 1, flows[fi], seqs[fi], k % 13 === 0 ? -1 : 40 + (k % 90), k & 0xffff, k % 101 === 0, 1795617858 + (k >> 9), (k * 1237) % 1e9));
  }
  expect(compare(recs)).toBeGreaterThan(5800);
  expect(compare(recs.slice(0, 1500), 1)).toBeGreaterThan(1400);
});

test("ByteWriter: UTF-8 text, growth beyond the buffer, decimals", async () => {
  const sink = collectText();
  const w = new ByteWriter(sink.out, 8, 8);
  const parts = ["plain", "größe ✓ 𝄞 \ud800 end", "x".repeat(300), "é".repeat(200), ""];
  for (const p of parts) w.line(p);
  await w.flush();
  expect(sink.text()).toBe(parts.map((p) => p.replace("\ud800", "\ufffd") + "\n").join(""));
  const { putDec, putDecPad, put6, put9 } = await import("../../lib/decode/output.ts");
  const buf = new Uint8Array(64);
  const ns = [0, 1, 9, 10, 99, 100, 101, 999, 1000, 1001, 9999, 10000, 12345, 99999, 100000, 999999, 1000000, 1000001, 9999999, 10000000, 99999999, 100000000];
  ns.push(123456789, 999999999, 1000000000, 1999999999, 2147483647, 2147483648, 4294967295, 9007199254740991);
  for (let i = 0; i < 2000; i++) ns.push(Math.floor(Math.random() * 10 ** (1 + (i % 12))));
  for (const n of ns) {
    expect(dec.decode(buf.subarray(0, putDec(buf, 0, n)))).toBe(String(n));
    expect(dec.decode(buf.subarray(0, putDecPad(buf, 0, n, 9)))).toBe(String(n).padStart(9, "0"));
    expect(dec.decode(buf.subarray(0, put9(buf, 0, n)))).toBe(String(n).padStart(9, "0"));
    expect(dec.decode(buf.subarray(0, put6(buf, 0, n)))).toBe(String(n).padStart(6, "0"));
  }
});

test("ByteWriter reuses a buffer only after the destination is done with it (slow pipe)", async () => {
  const written: string[] = [];
  let pending: (() => void)[] = [];
  let waiting: (() => void) | null = null;
  const out = {
    // like a pipe: the chunk is only read when the write completes, later
    write(chunk: string | Uint8Array, done?: () => void) {
      pending.push(() => {
        written.push(typeof chunk === "string" ? chunk : dec.decode(chunk));
        done?.();
      });
      return pending.length < 3;
    },
    once(_e: "drain", cb: () => void) {
      waiting = cb;
    },
  };
  const pump = setInterval(() => {
    const p = pending;
    pending = [];
    for (const f of p) f();
    if (waiting) {
      const w = waiting;
      waiting = null;
      w();
    }
  }, 1);
  const w = new ByteWriter(out, 64, 64);
  const want: string[] = [];
  for (let i = 0; i < 500; i++) {
    const s = `line ${i} ${"abcdefghij".slice(0, i % 10)} ✓`;
    w.line(s);
    want.push(s + "\n");
    if (w.full) await w.flush();
  }
  await w.flush();
  while (pending.length) await new Promise((r) => setTimeout(r, 2));
  clearInterval(pump);
  expect(written.join("")).toBe(want.join(""));
});
