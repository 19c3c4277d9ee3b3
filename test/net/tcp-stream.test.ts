import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { decodeLink } from "../../lib/link/link.ts";
import { decodeIpv4 } from "../../lib/net/ipv4.ts";
import { decodeTcp, TCP_FIN, TCP_SYN } from "../../lib/net/tcp.ts";
import { TcpStreams } from "../../lib/net/tcp-stream.ts";
import { readCapture } from "./pcap.ts";

const FIX = join(import.meta.dir, "fixtures");
const SENT = new Uint8Array(readFileSync(join(FIX, "frag-payload.bin")));
const td = new TextDecoder();

test("real TCP connection (netns capture): both directions reassemble", () => {
  const s = new TcpStreams();
  const an: Anomaly[] = [];
  const got = new Map<string, string>();
  for (const f of readCapture(join(FIX, "frag-eth.pcap"))) {
    const l = decodeLink(f.linkType, f.data, an);
    if (l.net !== "ipv4") continue;
    const ip = decodeIpv4(f.data, l.off, l.end, an)!;
    if (ip.proto !== 6) continue;
    const t = decodeTcp(f.data, ip.payloadOffset, ip.payloadEnd, an)!;
    const key = `${ip.src}:${t.srcPort}>${ip.dst}:${t.dstPort}`;
    const out = s.push(key, t.seq, (t.flags & TCP_SYN) !== 0, (t.flags & TCP_FIN) !== 0, f.data.subarray(t.payloadOffset, ip.payloadEnd), f.no, an);
    if (out) got.set(key, (got.get(key) ?? "") + td.decode(out));
  }
  expect(an).toEqual([]);
  expect([...got.values()].sort()).toEqual(["ping vpnkit", "pong:ping vpnkit"]);
});

function segs(data: Uint8Array, isn: number, size: number) {
  const out: { seq: number; p: Uint8Array }[] = [];
  for (let o = 0; o < data.length; o += size) out.push({ seq: (isn + 1 + o) >>> 0, p: data.subarray(o, Math.min(o + size, data.length)) });
  return out;
}

function collect(parts: (Uint8Array | null)[]): Uint8Array {
  const n = parts.reduce((a, p) => a + (p ? p.length : 0), 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) if (p) { out.set(p, o); o += p.length; }
  return out;
}

describe("TcpStreams", () => {
  test("in order across the 2^32 sequence wrap; output is a copy", () => {
    const s = new TcpStreams();
    const an: Anomaly[] = [];
    const isn = 0xffffff00;
    expect(s.push("f", isn, true, false, new Uint8Array(0), 1, an)).toBeNull();
    const parts = segs(SENT, isn, 100).map((g, i) => {
      const copy = g.p.slice();
      const out = s.push("f", g.seq, false, false, copy, i + 2, an);
      copy.fill(0);
      return out;
    });
    expect(collect(parts)).toEqual(SENT);
    expect(an).toEqual([]);
  });

  test("out of order, retransmissions and partial overlaps", () => {
    const s = new TcpStreams();
    const an: Anomaly[] = [];
    s.push("f", 1000, true, false, new Uint8Array(0), 1, an);
    const g = segs(SENT, 1000, 500);
    const parts: (Uint8Array | null)[] = [];
    parts.push(s.push("f", g[1].seq, false, false, g[1].p, 2, an)); // early
    expect(parts[0]).toBeNull();
    parts.push(s.push("f", g[0].seq, false, false, g[0].p, 3, an)); // fills: 0..1000
    expect(parts[1]!.length).toBe(1000);
    parts.push(s.push("f", g[0].seq, false, false, g[0].p, 4, an)); // full retransmission
    expect(parts[2]).toBeNull();
    // overlapping retransmission: bytes 900..1600
    parts.push(s.push("f", 1001 + 900, false, false, SENT.subarray(900, 1600), 5, an));
    expect(parts[3]!.length).toBe(600);
    for (let i = 3; i < g.length; i++) parts.push(s.push("f", g[i].seq, false, i === g.length - 1, g[i].p, 6 + i, an));
    expect(collect(parts)).toEqual(SENT);
    expect(an).toEqual([]);
    // 500 (full resend of g[0]) + 100 (900..1000) + 100 (g[3] starts at 1500, delivered up to 1600)
    expect(s.stats().retransmittedBytes).toBe(500 + 100 + 100);
  });

  test("gap beyond the buffer cap is reported and resynchronised", () => {
    const s = new TcpStreams({ maxBufferBytes: 1500 });
    const an: Anomaly[] = [];
    s.push("f", 0, true, false, new Uint8Array(0), 1, an);
    const g = segs(SENT, 0, 500);
    const parts = [s.push("f", g[0].seq, false, false, g[0].p, 2, an)];
    // g[1] is lost
    for (let i = 2; i < 6; i++) parts.push(s.push("f", g[i].seq, false, false, g[i].p, i + 1, an));
    expect(an.length).toBe(1);
    expect(an[0].layer).toBe("tcp.stream");
    expect(an[0].reason).toContain("gap of 500 bytes at seq 501");
    for (let i = 6; i < g.length; i++) parts.push(s.push("f", g[i].seq, false, false, g[i].p, i + 1, an));
    const want = collect([SENT.subarray(0, 500), SENT.subarray(1000)]);
    expect(collect(parts)).toEqual(want);
    // the late original is now a retransmission of skipped data: dropped
    expect(s.push("f", g[1].seq, false, false, g[1].p, 99, an)).toBeNull();
    expect(s.stats()).toMatchObject({ gaps: 1, gapBytes: 500 });
  });

  test("flush delivers buffered data with gap anomalies", () => {
    const s = new TcpStreams();
    const an: Anomaly[] = [];
    s.push("f", 10, false, false, SENT.subarray(0, 10), 1, an);
    s.push("f", 30, false, false, SENT.subarray(20, 30), 2, an);
    expect(s.flush("f", an)).toEqual(SENT.subarray(20, 30));
    expect(an[0].reason).toContain("gap of 10 bytes at seq 20");
  });

  test("a new SYN with another ISN restarts the flow", () => {
    const s = new TcpStreams();
    const an: Anomaly[] = [];
    s.push("f", 100, true, false, new Uint8Array(0), 1, an);
    s.push("f", 301, false, false, SENT.subarray(0, 5), 2, an); // buffered (gap)
    s.push("f", 5000, true, false, new Uint8Array(0), 3, an);
    expect(s.push("f", 5001, false, false, SENT.subarray(0, 4), 4, an)).toEqual(SENT.subarray(0, 4));
  });

  test("LRU cap on flows", () => {
    const s = new TcpStreams({ maxFlows: 2 });
    const an: Anomaly[] = [];
    s.push("a", 0, true, false, new Uint8Array(0), 1, an);
    s.push("b", 0, true, false, new Uint8Array(0), 2, an);
    s.push("a", 1, false, false, SENT.subarray(0, 1), 3, an); // touch a
    s.push("c", 0, true, false, new Uint8Array(0), 4, an); // evicts b
    expect(s.stats()).toMatchObject({ flows: 2, evictedFlows: 1 });
    // b is picked up mid-stream again
    expect(s.push("b", 50, false, false, SENT.subarray(0, 3), 5, an)).toEqual(SENT.subarray(0, 3));
    expect(s.stats().evictedFlows).toBe(2);
  });

  test("property: any permutation/duplication of segments yields the stream once", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 1, max: 700 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 60 }),
      (isn, size, perm) => {
        const data = SENT.subarray(0, 2000);
        const g = segs(data, isn, size);
        // order: random picks (with repeats) then everything once, to guarantee completeness
        const order = [...perm.map((x) => x % g.length), ...g.map((_, i) => i)];
        const s = new TcpStreams();
        const an: Anomaly[] = [];
        s.push("f", isn, true, false, new Uint8Array(0), 0, an);
        const parts = order.map((i, n) => s.push("f", g[i].seq, false, false, g[i].p, n, an));
        expect(collect(parts)).toEqual(data);
        expect(an).toEqual([]);
      }), { numRuns: 300 });
  });
});
