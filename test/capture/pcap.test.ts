import { describe, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import {
  type CaptureAnomaly,
  CaptureFormatError,
  openCaptureStream,
  PCAP_MAX_CAPLEN,
} from "../../lib/capture/index.ts";
import { buildPcap, chunked, payload, readAll } from "./pcap-writer.ts";

const pkts = [
  { tsSec: 1700000000, tsFrac: 1, data: payload(1, 60) },
  { tsSec: 1700000001, tsFrac: 999999, data: payload(2, 1514), len: 1514 },
  { tsSec: 1700000002, tsFrac: 500000, data: payload(3, 42), len: 1500 },
];
const pktsNs = [
  { tsSec: 1700000000, tsFrac: 1, data: payload(1, 60) },
  { tsSec: 1700000001, tsFrac: 999999999, data: payload(2, 1514) },
  { tsSec: 1700000002, tsFrac: 123456789, data: payload(3, 42), len: 1500 },
];

async function open(b: Uint8Array, chunk = 1 << 20) {
  const an: CaptureAnomaly[] = [];
  const r = await openCaptureStream(chunked(b, chunk), { onAnomaly: (a) => an.push(a) });
  return { r, an };
}

async function formatError(b: Uint8Array): Promise<string> {
  try {
    await openCaptureStream(chunked(b, 7));
  } catch (e) {
    expect(e).toBeInstanceOf(CaptureFormatError);
    return (e as Error).message;
  }
  throw new Error("expected CaptureFormatError");
}

describe("classic pcap", () => {
  for (const le of [true, false]) {
    for (const ns of [false, true]) {
      test(`magic ${ns ? "ns" : "µs"} ${le ? "little" : "big"}-endian`, async () => {
        const src = ns ? pktsNs : pkts;
        const file = buildPcap(src, { le, ns, linkType: 101 });
        for (const chunk of [1 << 20, 13, 1]) {
          const { r, an } = await open(file, chunk);
          expect(r.info).toEqual({ format: "pcap", gzip: false, nanosecond: ns, byteOrder: le ? "le" : "be" });
          const recs = await readAll(r);
          expect(an).toEqual([]);
          expect(recs.length).toBe(3);
          recs.forEach((x, i) => {
            expect(x.no).toBe(i + 1);
            expect(x.iface).toBe(0);
            expect(x.linkType).toBe(101);
            expect(x.tsSec).toBe(src[i].tsSec);
            expect(x.tsNsec).toBe(ns ? src[i].tsFrac : src[i].tsFrac * 1000);
            expect(x.data).toEqual(src[i].data);
            expect(x.caplen).toBe(src[i].data.length);
            expect(x.len).toBe(src[i].len ?? src[i].data.length);
          });
        }
      });
    }
  }

  test("zero packets", async () => {
    const { r, an } = await open(buildPcap([]));
    expect(await readAll(r)).toEqual([]);
    expect(an).toEqual([]);
  });

  test("version check: 2.x accepted, 3.4 and 0.4 rejected (pcap-parser would accept them)", async () => {
    expect((await readAll((await open(buildPcap(pkts, { minor: 3 }))).r)).length).toBe(3);
    expect(await formatError(buildPcap(pkts, { major: 3, minor: 4 }))).toContain("unsupported pcap version 3.4");
    expect(await formatError(buildPcap(pkts, { major: 0, minor: 4 }))).toContain("unsupported pcap version 0.4");
  });

  test("out-of-range fraction carries into seconds", async () => {
    const { r } = await open(buildPcap([{ tsSec: 10, tsFrac: 2500000, data: payload(0, 4) }]));
    const [x] = await readAll(r);
    expect([x.tsSec, x.tsNsec]).toEqual([12, 500000000]);
  });

  test("hostile capturedLength stops with an anomaly instead of buffering", async () => {
    const file = buildPcap([
      pkts[0],
      { tsSec: 1, tsFrac: 0, data: payload(9, 100), caplenField: 0x7fffffff },
      pkts[1],
    ]);
    // Followed by lots of data: the reader must not keep consuming it.
    let pulled = 0;
    async function* src() {
      yield file;
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield new Uint8Array(65536);
      }
    }
    const an: CaptureAnomaly[] = [];
    const r = await openCaptureStream(src(), { onAnomaly: (a) => an.push(a) });
    const recs = await readAll(r);
    expect(recs.length).toBe(1);
    expect(an.length).toBe(1);
    expect(an[0]).toMatchObject({ no: 2, layer: "pcap", offset: 24 + 16 + 60 });
    expect(an[0].reason).toContain(`exceeds ${PCAP_MAX_CAPLEN}`);
    expect(pulled).toBeLessThanOrEqual(1);
  });

  test("capturedLength above snaplen (but sane) is a soft anomaly", async () => {
    const { r, an } = await open(buildPcap(pkts, { snaplen: 100 }));
    expect((await readAll(r)).length).toBe(3);
    expect(an.length).toBe(1);
    expect(an[0]).toMatchObject({ no: 2, layer: "pcap" });
    expect(an[0].reason).toContain("exceeds snaplen 100");
  });

  test("truncated final record: reported at its offset, earlier records kept", async () => {
    const file = buildPcap(pkts);
    const third = 24 + 16 + 60 + 16 + 1514;
    // cut inside the data of the 3rd record
    let { r, an } = await open(file.subarray(0, third + 16 + 10), 100);
    expect((await readAll(r)).length).toBe(2);
    expect(an).toEqual([{ no: 3, layer: "pcap", offset: third, reason: "truncated record: capture length 42, have 10 of it" }]);
    // cut inside the record header
    ({ r, an } = await open(file.subarray(0, third + 5)));
    expect((await readAll(r)).length).toBe(2);
    expect(an).toEqual([{ no: 3, layer: "pcap", offset: third, reason: "truncated record header: have 5 of 16 bytes" }]);
  });

  test("gzip, and a node Readable (stdin-like) input", async () => {
    const file = buildPcap(pktsNs, { ns: true, le: false });
    const gz = await openCaptureStream(Readable.from([gzipSync(file)]));
    expect(gz.info).toEqual({ format: "pcap", gzip: true, nanosecond: true, byteOrder: "be" });
    const a = await readAll(gz);
    const b = await readAll(await openCaptureStream(Readable.from(chunked(file, 5))));
    expect(a.length).toBe(3);
    expect(a).toEqual(b);
    expect(a[1].tsNsec).toBe(999999999);
  });

  test("header errors are CaptureFormatError", async () => {
    expect(await formatError(new Uint8Array(0))).toContain("empty input");
    expect(await formatError(Uint8Array.of(0xd4, 0xc3))).toContain("too short");
    expect(await formatError(buildPcap([]).subarray(0, 20))).toContain("truncated pcap file header");
    expect(await formatError(new TextEncoder().encode("hello world, this is not a capture"))).toBe(
      "not a pcap or pcapng file (magic 0x68656c6c)",
    );
    expect(await formatError(gzipSync(new Uint8Array(0)))).toContain("decompresses to nothing");
    expect(await formatError(Uint8Array.of(0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))).toContain("gzip");
  });

  test("truncated gzip: records so far, then a gzip anomaly", async () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ tsSec: i, tsFrac: 0, data: payload(i, 200) }));
    const gz = gzipSync(buildPcap(many));
    const an: CaptureAnomaly[] = [];
    const r = await openCaptureStream(chunked(gz.subarray(0, gz.length >> 1), 4096), { onAnomaly: (a) => an.push(a) });
    const recs = await readAll(r);
    expect(recs.length).toBeGreaterThan(0);
    expect(recs.length).toBeLessThan(2000);
    expect(an.some((a) => a.layer === "gzip")).toBe(true);
  });
});
