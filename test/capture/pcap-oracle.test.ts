/**
 * Differential tests: the hand-written classic-pcap reader (lib/capture/pcap.ts)
 * against the npm package pcap-parser (the reader vpnkit used before) as the oracle.
 *
 * Every classic pcap under fixtures/ (also rewritten big-endian and with the
 * nanosecond magic), plus seeded random and mutated files, is read by both:
 * - wherever pcap-parser accepts the input, the records (no, timestamps,
 *   caplen, len, bytes, link type) must be identical;
 * - where pcap-parser is wrong or silent, our documented behaviour is asserted:
 *   ns magic (it rejects the magic: compared against it on the µs-magic copy,
 *   fraction read as ns), versions (it accepts 3.4, we accept exactly 2.x),
 *   hostile capture lengths (it buffers forever: we stop with an anomaly at the
 *   record), capture length above snaplen (soft anomaly), truncated tails (it
 *   drops them silently: we report them at the record's offset);
 * - the previous pcap-parser-driven chunk parser gives the same records and
 *   the same anomalies as the new one, for every chunking.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type CaptureAnomaly,
  CaptureFormatError,
  type CaptureRecord,
  openCaptureStream,
} from "../../lib/capture/index.ts";
import { parsePcapHeader, PCAP_MAX_CAPLEN, PcapChunkParser } from "../../lib/capture/pcap.ts";
import type { ChunkParser } from "../../lib/capture/types.ts";
import { PcapParserChunkParser, rawPcapParser } from "./pcap-parser-oracle.ts";
import { chunked } from "./pcap-writer.ts";

const FX = new URL("../../fixtures/", import.meta.url).pathname;
const SEED = 20261125;

function findPcaps(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...findPcaps(p));
    else if (e.endsWith(".pcap")) out.push(p);
  }
  return out;
}
const FIXTURES = findPcaps(FX).map((p) => ({ name: p.slice(FX.length), bytes: new Uint8Array(readFileSync(p)) }));

/** A record with the fields compared (data copied). */
interface Rec {
  no: number;
  iface: number;
  linkType: number;
  tsSec: number;
  tsNsec: number;
  caplen: number;
  len: number;
  data: Uint8Array;
}
const copy = (x: CaptureRecord): Rec => ({
  no: x.no, iface: x.iface, linkType: x.linkType, tsSec: x.tsSec, tsNsec: x.tsNsec, caplen: x.caplen, len: x.len,
  data: x.data.slice(),
});

interface Result {
  /** CaptureFormatError message at open, or null. */
  error: string | null;
  records: Rec[];
  anomalies: CaptureAnomaly[];
  /** feed() returned false before the input ended. */
  stopped: boolean;
}

type Make = (b: Uint8Array, onAnomaly: (a: CaptureAnomaly) => void) => ChunkParser;
const ours: Make = (b, on) => new PcapChunkParser(parsePcapHeader(b), on);
const previous: Make = (b, on) => new PcapParserChunkParser(parsePcapHeader(b), on);

/**
 * Feed `file` in chunks of the given sizes (cycled) to a chunk parser. With
 * `head`, the first chunk holds at least 28 bytes, as reader.ts guarantees (the
 * previous wrapper rewrote the ns magic in the first chunk only).
 */
function runParser(make: Make, file: Uint8Array, sizes: readonly number[], head = false): Result {
  const anomalies: CaptureAnomaly[] = [];
  const records: Rec[] = [];
  let parser: ChunkParser;
  try {
    parser = make(file, (a) => anomalies.push(a));
  } catch (e) {
    if (e instanceof CaptureFormatError) return { error: e.message, records, anomalies, stopped: false };
    throw e;
  }
  const out: CaptureRecord[] = [];
  let stopped = false;
  let k = 0;
  for (let i = 0; i < file.length && !stopped; k++) {
    const n = k === 0 && head ? Math.max(28, sizes[0]) : sizes[k % sizes.length];
    // a fresh copy per chunk, like a stream: views must not outlive their chunk's contents
    const c = file.slice(i, Math.min(file.length, i + n));
    i += n;
    stopped = !parser.feed(c, out);
    for (const x of out) records.push(copy(x));
    out.length = 0;
    // records are copied: a record emitted later from a view into this chunk would now differ
    // (not for pcap-parser, which keeps a first chunk shorter than its header without a copy)
    if (make === ours) c.fill(0xee);
  }
  if (!stopped) parser.end(out);
  for (const x of out) records.push(copy(x));
  return { error: null, records, anomalies, stopped };
}

function r16(b: Uint8Array, o: number, le: boolean): number {
  return le ? b[o] | (b[o + 1] << 8) : (b[o] << 8) | b[o + 1];
}
function r32(b: Uint8Array, o: number, le: boolean): number {
  return le
    ? (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0
    : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
function w32(b: Uint8Array, o: number, v: number, le: boolean): void {
  for (let i = 0; i < 4; i++) b[o + (le ? i : 3 - i)] = (v >>> (8 * i)) & 0xff;
}
function w16(b: Uint8Array, o: number, v: number, le: boolean): void {
  b[o + (le ? 0 : 1)] = v & 0xff;
  b[o + (le ? 1 : 0)] = (v >>> 8) & 0xff;
}

/**
 * The expected result, from pcap-parser's framing and the documented rules
 * (independent of lib/capture/pcap.ts): pcap-parser's records (timestamps
 * normalised with bigint arithmetic), stopped at the first hostile capture
 * length, snaplen anomalies, and a truncated tail reported at its offset.
 */
function expected(file: Uint8Array): Result {
  const none: Result = { error: null, records: [], anomalies: [], stopped: false };
  const m = r32(file, 0, false);
  const le = m === 0xd4c3b2a1 || m === 0x4d3cb2a1;
  const ns = m === 0xa1b23c4d || m === 0x4d3cb2a1;
  const major = r16(file, 4, le), minor = r16(file, 6, le);
  let oracleInput = file;
  const pp0 = rawPcapParser(file);
  if (ns) {
    // documented: pcap-parser knows only the µs magic
    expect(pp0.error).toContain("unknown magic number");
    oracleInput = file.slice();
    w32(oracleInput, 0, 0xa1b2c3d4, le);
  }
  const pp = ns ? rawPcapParser(oracleInput) : pp0;
  if (major !== 2) {
    // documented: only 2.x; pcap-parser's check (`major != 2 && minor != 4`) lets x.4 through
    if (minor === 4) expect(pp.error).toBeNull();
    else expect(pp.error).toContain("unsupported version");
    return { ...none, error: `unsupported pcap version ${major}.${minor} (only 2.x)` };
  }
  expect(pp.error).toBeNull();
  const snaplen = r32(file, 16, le);
  const linkType = r32(file, 20, le) & 0x0fffffff;
  const res: Result = { ...none };
  let off = 24;
  const snapCheck = (no: number, o: number, cl: number) => {
    if (snaplen > 0 && cl > snaplen) {
      res.anomalies.push({ no, layer: "pcap", offset: o + 8, reason: `record capture length ${cl} exceeds snaplen ${snaplen}` });
    }
  };
  const hostile = (no: number, o: number, cl: number) => {
    res.anomalies.push({ no, layer: "pcap", offset: o, reason: `record capture length ${cl} exceeds ${PCAP_MAX_CAPLEN}; stopping` });
    res.stopped = true;
    return res;
  };
  for (const x of pp.records) {
    const no = res.records.length + 1;
    // pcap-parser reads every field at the offset our framing expects
    expect(r32(file, off + 8, le)).toBe(x.caplen);
    if (x.caplen > PCAP_MAX_CAPLEN) return hostile(no, off, x.caplen);
    snapCheck(no, off, x.caplen);
    const t = BigInt(x.tsSec) * 1000000000n + BigInt(x.tsFrac) * (ns ? 1n : 1000n);
    res.records.push({
      no, iface: 0, linkType, tsSec: Number(t / 1000000000n), tsNsec: Number(t % 1000000000n),
      caplen: x.caplen, len: x.len, data: x.data,
    });
    off += 16 + x.caplen;
  }
  const left = file.length - off;
  const no = res.records.length + 1;
  if (left > 0 && left < 16) {
    res.anomalies.push({ no, layer: "pcap", offset: off, reason: `truncated record header: have ${left} of 16 bytes` });
  } else if (left >= 16) {
    const cl = r32(file, off + 8, le);
    if (cl > PCAP_MAX_CAPLEN) return hostile(no, off, cl);
    expect(16 + cl).toBeGreaterThan(left); // else pcap-parser would have returned it
    snapCheck(no, off, cl);
    res.anomalies.push({ no, layer: "pcap", offset: off, reason: `truncated record: capture length ${cl}, have ${left - 16} of it` });
  }
  return res;
}

/** Assert ours == expected == the previous wrapper, for one file and chunking. */
function check(file: Uint8Array, sizes: readonly number[], withPrevious = true): Result {
  const exp = expected(file);
  const got = runParser(ours, file, sizes);
  expect(got.error).toBe(exp.error);
  expect(got.records).toEqual(exp.records);
  expect(got.anomalies).toEqual(exp.anomalies);
  if (exp.error === null) {
    // stopped only for a hostile length, and then before the end of the input only if more followed
    if (!exp.stopped) expect(got.stopped).toBe(false);
    // the previous wrapper is O(n²) on small chunks: skip it for tiny chunks of big files
    if (withPrevious && (file.length < 20000 || Math.min(...sizes) >= 256)) {
      const prev = runParser(previous, file, sizes, true);
      expect(prev.records).toEqual(got.records);
      expect(prev.anomalies).toEqual(got.anomalies);
    }
  }
  return got;
}

/** `file` rewritten in the other byte order (framing from pcap-parser's records). */
function swapOrder(file: Uint8Array): Uint8Array {
  const le = r32(file, 0, false) === 0xd4c3b2a1 || r32(file, 0, false) === 0x4d3cb2a1;
  const b = file.slice();
  w32(b, 0, r32(file, 0, le), !le);
  w16(b, 4, r16(file, 4, le), !le);
  w16(b, 6, r16(file, 6, le), !le);
  for (const o of [8, 12, 16, 20]) w32(b, o, r32(file, o, le), !le);
  let off = 24;
  while (off + 16 <= file.length) {
    for (let i = 0; i < 16; i += 4) w32(b, off + i, r32(file, off + i, le), !le);
    off += 16 + r32(file, off + 8, le);
  }
  return b;
}

/** `file` with the nanosecond magic (record fractions then read as ns). */
function toNs(file: Uint8Array): Uint8Array {
  const le = r32(file, 0, false) === 0xd4c3b2a1;
  const b = file.slice();
  w32(b, 0, 0xa1b23c4d, le);
  return b;
}

const CHUNKINGS = [[1 << 20], [1], [7], [16], [17], [97], [3, 100, 1, 4096], [512 * 1024]];

describe("classic pcap: hand-written reader vs pcap-parser (oracle)", () => {
  test(`every classic pcap fixture (${FIXTURES.length}), as is, big-endian and ns; every chunking`, () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(40);
    let records = 0;
    for (const f of FIXTURES) {
      const be = swapOrder(f.bytes);
      expect(swapOrder(be)).toEqual(f.bytes);
      for (const variant of [f.bytes, be, toNs(f.bytes), toNs(be)]) {
        const base = check(variant, [1 << 20]);
        expect(base.anomalies).toEqual([]);
        expect(base.records.length).toBeGreaterThan(0);
        for (const sizes of CHUNKINGS) expect(check(variant, sizes, false)).toEqual(base);
        records += base.records.length;
      }
      // the fixture's own records, through the whole reader (openCaptureStream), equal pcap-parser's
      const pp = rawPcapParser(f.bytes);
      expect(pp.error).toBeNull();
      const viaOpen = runParser(ours, f.bytes, [1 << 20]).records;
      expect(viaOpen.map((x) => [x.tsSec * 1e6 + x.tsNsec / 1000, x.caplen, x.len])).toEqual(
        pp.records.map((x) => [x.tsSec * 1e6 + x.tsFrac, x.caplen, x.len]),
      );
    }
    expect(records).toBeGreaterThan(1000);
  }, 120000);

  test("fixtures through openCaptureStream: same records as the chunk parser, data views valid per batch", async () => {
    for (const f of FIXTURES) {
      const want = runParser(ours, f.bytes, [1 << 20]).records;
      for (const size of [1 << 20, 61]) {
        const an: CaptureAnomaly[] = [];
        const r = await openCaptureStream(chunked(f.bytes, size), { batchSize: 5, onAnomaly: (a) => an.push(a) });
        const got: Rec[] = [];
        for await (const batch of r.batches()) for (const x of batch) got.push(copy(x));
        expect(got).toEqual(want);
        expect(an).toEqual([]);
      }
    }
  }, 60000);

  /** Uniform in [0, 1) (fast-check's doubles are biased to the extremes). */
  const uniform = fc.noBias(fc.integer({ min: 0, max: 999999 })).map((x) => x / 1e6);
  const recArb = fc.record({
    sec: fc.oneof(fc.integer({ min: 1600000000, max: 1800000000 }), fc.nat({ max: 0xffffffff })),
    frac: fc.oneof(fc.nat({ max: 999999 }), fc.nat({ max: 999999999 }), fc.nat({ max: 0xffffffff })),
    caplen: fc.oneof(
      { weight: 8, arbitrary: fc.nat({ max: 300 }) },
      { weight: 1, arbitrary: fc.nat({ max: 70000 }) },
    ),
    len: fc.oneof(fc.constant(-1), fc.nat({ max: 0xffffffff })),
    fill: fc.nat({ max: 255 }),
  });
  const fileArb = fc.record({
    le: fc.boolean(),
    ns: fc.boolean(),
    version: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom([2, 4], [2, 4], [2, 0], [2, 3], [2, 0xffff]) },
      { weight: 1, arbitrary: fc.constantFrom([3, 4], [0, 4], [1, 0], [0xffff, 0xffff]) },
    ),
    snaplen: fc.oneof(fc.constantFrom(0, 64, 200, 1500, 65535, 262144, 0xffffffff), fc.nat({ max: 0xffffffff })),
    linkField: fc.oneof(fc.constantFrom(1, 113, 276, 0x30000001, 0x10000069), fc.nat({ max: 0xffffffff })),
    records: fc.array(recArb, { maxLength: 40, size: "medium" }),
    /** Which record gets a hostile capture length (index ≥ records.length: none). */
    hostileAt: fc.oneof({ weight: 3, arbitrary: fc.constant(1000) }, { weight: 1, arbitrary: fc.nat({ max: 40 }) }),
    hostile: fc.constantFrom(PCAP_MAX_CAPLEN + 1, 0x7fffffff, 0xffffffff, 0x01000000),
    /** Cut the file: none, at a uniform fraction, or a few bytes into the header of record `at`. */
    cut: fc.oneof(
      { weight: 4, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: uniform },
      { weight: 1, arbitrary: fc.record({ at: fc.nat({ max: 40 }), into: fc.nat({ max: 20 }) }) },
    ),
    sizes: fc.oneof(
      fc.constant([1 << 20]),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 5 }),
    ),
  });

  type FileSpec = typeof fileArb extends fc.Arbitrary<infer T> ? T : never;
  function build(g: FileSpec): Uint8Array {
    let n = 24;
    for (const r of g.records) n += 16 + r.caplen;
    const b = new Uint8Array(n);
    const le = g.le;
    w32(b, 0, g.ns ? 0xa1b23c4d : 0xa1b2c3d4, le);
    w16(b, 4, g.version[0], le);
    w16(b, 6, g.version[1], le);
    w32(b, 16, g.snaplen, le);
    w32(b, 20, g.linkField, le);
    let o = 24;
    const starts = [24];
    g.records.forEach((r, i) => {
      w32(b, o, r.sec, le);
      w32(b, o + 4, r.frac, le);
      w32(b, o + 8, i === g.hostileAt ? g.hostile : r.caplen, le);
      w32(b, o + 12, r.len < 0 ? r.caplen : r.len, le);
      for (let j = 0; j < r.caplen; j++) b[o + 16 + j] = (r.fill + j * 13) & 0xff;
      o += 16 + r.caplen;
      starts.push(o);
    });
    const c = g.cut;
    if (c === null) return b;
    if (typeof c === "number") return b.subarray(0, Math.max(24, Math.floor(c * n)));
    return b.subarray(0, Math.min(n, starts[Math.min(c.at, starts.length - 1)] + c.into));
  }

  test("random files (both orders, µs/ns, versions, snaplen, hostile lengths, cuts, chunkings): 3000 seeded cases", () => {
    let runs = 0, records = 0, rejected = 0;
    const kinds: Record<string, number> = {};
    fc.assert(
      fc.property(fileArb, (g) => {
        runs++;
        const r = check(build(g), g.sizes);
        records += r.records.length;
        for (const a of r.anomalies) {
          const k = a.reason.replace(/[0-9]+/g, "N");
          kinds[k] = (kinds[k] ?? 0) + 1;
        }
        if (r.error !== null) rejected++;
      }),
      { numRuns: 3000, seed: SEED },
    );
    expect(runs).toBe(3000);
    console.log(`random pcap files: ${records} records, ${rejected} rejected at open, anomalies:`, kinds);
    // the generator reaches every branch
    expect(records).toBeGreaterThan(10000);
    expect(rejected).toBeGreaterThan(100);
    for (const k of [
      "record capture length N exceeds N; stopping",
      "record capture length N exceeds snaplen N",
      "truncated record: capture length N, have N of it",
      "truncated record header: have N of N bytes",
    ]) expect(kinds[k]).toBeGreaterThan(50);
  }, 120000);

  test("mutated fixtures (record headers and data, any byte order and magic): 3000 seeded cases", () => {
    let runs = 0;
    const variants = FIXTURES.flatMap((f) => [f.bytes, swapOrder(f.bytes), toNs(f.bytes)]);
    fc.assert(
      fc.property(
        fc.nat({ max: variants.length - 1 }),
        fc.array(
          fc.tuple(uniform, fc.nat({ max: 255 }), fc.boolean()),
          { minLength: 1, maxLength: 8 },
        ),
        fc.oneof(fc.constant(2), uniform),
        fc.oneof(fc.constant([1 << 20]), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 })),
        (vi, muts, cut, sizes) => {
          runs++;
          let b = variants[vi].slice();
          const le = r32(b, 0, false) === 0xd4c3b2a1 || r32(b, 0, false) === 0x4d3cb2a1;
          for (const [pos, v, lenField] of muts) {
            const o = 24 + Math.floor(pos * (b.length - 24 - 4));
            // half the mutations land on a whole u32 (a length field when aligned to a header)
            if (lenField) w32(b, o, v < 128 ? v * 977 : (v << 24) >>> 0, le);
            else b[o] = v;
          }
          if (cut < 1) b = b.subarray(0, Math.max(24, Math.floor(cut * b.length)));
          check(b, sizes);
        },
      ),
      { numRuns: 3000, seed: SEED + 1 },
    );
    expect(runs).toBe(3000);
  }, 120000);

  test("a record spread over many 1-byte chunks costs O(record), and its view is its own buffer", () => {
    const cl = PCAP_MAX_CAPLEN;
    const file = new Uint8Array(24 + 16 + cl);
    w32(file, 0, 0xa1b2c3d4, true);
    w16(file, 4, 2, true);
    w16(file, 6, 4, true);
    w32(file, 16, cl, true);
    w32(file, 20, 1, true);
    w32(file, 24 + 8, cl, true);
    w32(file, 24 + 12, cl, true);
    for (let i = 0; i < cl; i++) file[40 + i] = i & 0xff;
    const p = new PcapChunkParser(parsePcapHeader(file), () => {
      throw new Error("no anomaly expected");
    });
    const out: CaptureRecord[] = [];
    const t0 = performance.now();
    for (let i = 0; i < file.length; i++) p.feed(file.subarray(i, i + 1), out);
    p.end(out);
    const ms = performance.now() - t0;
    expect(out.length).toBe(1);
    expect(out[0].data).toEqual(file.subarray(40));
    expect(out[0].data.buffer).not.toBe(file.buffer);
    expect(ms).toBeLessThan(2000); // O(n²) would copy ~34 GB
  });

  test("records inside a chunk are zero-copy plain Uint8Array views into it", () => {
    const file = build({
      le: true, ns: false, version: [2, 4], snaplen: 0, linkField: 1, hostileAt: 99, hostile: 0, cut: null, sizes: [],
      records: [0, 5, 60].map((caplen) => ({ sec: 1, frac: 2, caplen, len: -1, fill: 7 })),
    });
    const chunk = Buffer.from(file);
    const out: CaptureRecord[] = [];
    const p = new PcapChunkParser(parsePcapHeader(file), () => {});
    expect(p.feed(chunk, out)).toBe(true);
    expect(out.length).toBe(3);
    for (const x of out) {
      expect(x.data.constructor).toBe(Uint8Array);
      expect(x.data.buffer).toBe(chunk.buffer);
    }
    expect(out[2].data.byteOffset - chunk.byteOffset).toBe(24 + 16 + 16 + 5 + 16);
    // a copy is a copy (Buffer#slice would not be)
    const c = out[2].data.slice();
    chunk[chunk.length - 1] ^= 0xff;
    expect(c[c.length - 1]).not.toBe(out[2].data[out[2].data.length - 1]);
  });
});
