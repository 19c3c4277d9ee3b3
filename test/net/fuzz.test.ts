/**
 * Property/fuzz tests: random bytes and mutated real frames through every link/net/transport
 * decoder and through decodeLink for every link type. No exception may escape, every decode
 * ends, offsets stay inside the buffer, and no decoder reads past `end` (decoding a buffer with
 * junk after `end` gives the same result as decoding the buffer cut at `end`).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { jsonReplacer, type LayerBase } from "../../lib/core/layer.ts";
import { decodeEthernet } from "../../lib/link/ethernet.ts";
import { decodeLink, SUPPORTED_LINKTYPES } from "../../lib/link/link.ts";
import { decodeLoopback } from "../../lib/link/loopback.ts";
import { decodeSll, decodeSll2 } from "../../lib/link/sll.ts";
import { decodeIcmp } from "../../lib/net/icmp.ts";
import { decodeIcmpv6 } from "../../lib/net/icmpv6.ts";
import { decodeIpv4, parseIpv4Options } from "../../lib/net/ipv4.ts";
import { decodeIpv6, parseIpv6Options } from "../../lib/net/ipv6.ts";
import { Reassembler } from "../../lib/net/reassembly.ts";
import { decodeTcp, parseTcpOptions } from "../../lib/net/tcp.ts";
import { TcpStreams } from "../../lib/net/tcp-stream.ts";
import { decodeUdp } from "../../lib/net/udp.ts";
import { type Frame, readCapture } from "./pcap.ts";
import { decodeFrame } from "./stack.ts";

type Dec = (b: Uint8Array, off: number, end: number, an: Anomaly[]) => unknown;
const DECODERS: [string, Dec][] = [
  ["eth", decodeEthernet], ["sll", decodeSll], ["sll2", decodeSll2], ["loopback", (b, o, e, a) => decodeLoopback(b, o, e, a, 108)],
  ["ipv4", decodeIpv4], ["ipv4q", (b, o, e, a) => decodeIpv4(b, o, e, a, true)], ["ipv6", decodeIpv6],
  ["ipv6q", (b, o, e, a) => decodeIpv6(b, o, e, a, true)], ["udp", decodeUdp], ["tcp", decodeTcp],
  ["tcpq", (b, o, e, a) => decodeTcp(b, o, e, a, true)], ["icmp", decodeIcmp], ["icmpv6", (b, o, e, a) => decodeIcmpv6(b, o, e, a, 0)],
  ["ipv4opts", parseIpv4Options], ["ipv6opts", parseIpv6Options], ["tcpopts", parseTcpOptions],
];
const LINKTYPES = [...SUPPORTED_LINKTYPES, 2, 105, 127, 65535];

const ROOT = join(import.meta.dir, "../..");
function allFrames(): Frame[] {
  const out: Frame[] = [];
  const caps = [join(import.meta.dir, "fixtures/frag-eth.pcap"), join(import.meta.dir, "fixtures/frag-sll1.pcap")];
  for (const d of readdirSync(join(ROOT, "fixtures/strongswan"))) for (const f of readdirSync(join(ROOT, "fixtures/strongswan", d))) if (/\.pcap(ng)?$/.test(f)) caps.push(join(ROOT, "fixtures/strongswan", d, f));
  for (const f of readdirSync(join(ROOT, "fixtures/tcpdump"))) if (/\.pcap(ng)?$/.test(f)) caps.push(join(ROOT, "fixtures/tcpdump", f));
  for (const c of caps) out.push(...readCapture(c));
  return out;
}
const FRAMES = allFrames();

/** Structural invariants of a decoded layer list. */
function checkLayers(layers: LayerBase[], an: Anomaly[], len: number) {
  for (const l of layers) {
    expect(l.offset >= 0 && l.offset <= len).toBe(true);
    expect(l.length >= 0).toBe(true);
    const p = l as LayerBase & { payloadOffset?: number; payloadEnd?: number };
    if (p.payloadOffset !== undefined) {
      expect(p.payloadOffset <= p.payloadEnd! && p.payloadEnd! <= len).toBe(true);
    }
  }
  for (const a of an) expect(Number.isInteger(a.offset) && typeof a.reason === "string").toBe(true);
}

const json = (x: unknown) => JSON.stringify(x, jsonReplacer);

describe("fuzz: random bytes", () => {
  test("every decoder: no throw, no read past end (14k cases)", () => {
    fc.assert(fc.property(
      fc.uint8Array({ maxLength: 160 }), fc.nat(), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 }),
      (bytes, a, z, junk) => {
        const off = bytes.length ? a % (bytes.length + 1) : 0;
        const end = off + (bytes.length - off ? z % (bytes.length - off + 1) : 0);
        const cut = bytes.slice(0, end);
        const padded = new Uint8Array(end + junk.length);
        padded.set(cut);
        padded.set(junk, end);
        for (const [, d] of DECODERS) {
          const an1: Anomaly[] = [], an2: Anomaly[] = [];
          const r1 = d(cut, off, end, an1);
          const r2 = d(padded, off, end, an2);
          expect(json(r2)).toBe(json(r1));
          expect(json(an2)).toBe(json(an1));
        }
      }), { numRuns: 14000 });
  });

  test("decodeLink + full stack for every link type (4k cases)", () => {
    fc.assert(fc.property(fc.constantFrom(...LINKTYPES), fc.uint8Array({ maxLength: 200 }), (lt, bytes) => {
      const an: Anomaly[] = [];
      const r = decodeLink(lt, bytes, an);
      expect(r.off <= r.end && r.end <= bytes.length).toBe(true);
      const d = decodeFrame(lt, bytes);
      checkLayers(d.layers, d.an, bytes.length);
    }), { numRuns: 4000 });
  });

  test("IP-looking random packets reach the transport decoders (3k cases)", () => {
    fc.assert(fc.property(fc.constantFrom(0x45, 0x46, 0x4f, 0x60), fc.constantFrom(0, 1, 6, 17, 43, 44, 58, 60, 4, 41), fc.uint8Array({ minLength: 40, maxLength: 200 }), (v, p, bytes) => {
      bytes[0] = v;
      if (v === 0x60) bytes[6] = p; else { bytes[9] = p; bytes[6] &= 0x1f; bytes[7] = 0; }
      const d = decodeFrame(101, bytes);
      checkLayers(d.layers, d.an, bytes.length);
    }), { numRuns: 3000 });
  });
});

describe("fuzz: mutated real frames", () => {
  test(`bit flips, byte sets, cuts, inserts on ${FRAMES.length} real frames, under their own and other link types (4k cases)`, () => {
    fc.assert(fc.property(
      fc.nat(FRAMES.length - 1),
      fc.array(fc.tuple(fc.constantFrom("flip", "set", "cut", "insert", "del"), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.boolean(), fc.constantFrom(...LINKTYPES),
      (fi, muts, own, otherLt) => {
        const f = FRAMES[fi];
        let b = f.data.slice();
        for (const [op, pos, val] of muts) {
          const i = b.length ? pos % b.length : 0;
          if (op === "flip" && b.length) b[i] ^= 1 << (val & 7);
          else if (op === "set" && b.length) b[i] = val;
          else if (op === "cut") b = b.slice(0, i);
          else if (op === "insert") { const n = new Uint8Array(b.length + 1); n.set(b.subarray(0, i)); n[i] = val; n.set(b.subarray(i), i + 1); b = n; }
          else if (op === "del" && b.length) b = new Uint8Array([...b.subarray(0, i), ...b.subarray(i + 1)]);
        }
        const d = decodeFrame(own ? f.linkType : otherLt, b);
        checkLayers(d.layers, d.an, b.length);
      }), { numRuns: 4000 });
  });

  test("every real frame cut at every length decodes (no throw, bounded)", () => {
    let n = 0;
    for (const f of FRAMES.slice(0, 120)) {
      for (let cut = 0; cut <= Math.min(f.data.length, 120); cut++) {
        const b = f.data.subarray(0, cut);
        const d = decodeFrame(f.linkType, b);
        checkLayers(d.layers, d.an, b.length);
        n++;
      }
    }
    expect(n).toBeGreaterThan(5000);
  });
});

describe("fuzz: stateful reassemblers", () => {
  test("Reassembler: random fragments never throw and keep the caps (1k sequences)", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(5), fc.integer({ min: -8, max: 70000 }), fc.boolean(), fc.nat(3000), fc.nat(100)), { maxLength: 60 }), (ops) => {
      const r = new Reassembler({ maxDatagrams: 3, timeoutSec: 30 });
      const an: Anomaly[] = [];
      let ts = 0;
      ops.forEach(([k, off, more, len, dt], i) => {
        ts += dt / 10;
        const res = r.add(`k${k}`, off, more, new Uint8Array(len).fill(i), i, ts, an);
        if (res) expect(res.datagram.length).toBeLessThanOrEqual(65535);
        const st = r.stats();
        expect(st.inFlight).toBeLessThanOrEqual(3);
        expect(st.bufferedBytes).toBeGreaterThanOrEqual(0);
        expect(st.bufferedBytes).toBeLessThanOrEqual(3 * 65535);
        if (i % 7 === 0) r.expire(ts);
      });
      r.flush();
      expect(r.stats()).toMatchObject({ inFlight: 0, bufferedBytes: 0 });
    }), { numRuns: 1000 });
  });

  test("TcpStreams: random segments never throw; delivered bytes never exceed what is sent (1k sequences)", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(2), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), fc.boolean(), fc.nat(400)), { maxLength: 50 }), (ops) => {
      const s = new TcpStreams({ maxFlows: 2, maxBufferBytes: 2000, maxSegments: 8 });
      const an: Anomaly[] = [];
      let sent = 0, got = 0;
      ops.forEach(([k, seq, syn, fin, len], i) => {
        sent += len;
        const out = s.push(`f${k}`, seq, syn, fin, new Uint8Array(len), i, an);
        if (out) got += out.length;
      });
      for (let k = 0; k < 3; k++) { const o = s.flush(`f${k}`, an); if (o) got += o.length; }
      expect(got).toBeLessThanOrEqual(sent);
    }), { numRuns: 1000 });
  });
});
