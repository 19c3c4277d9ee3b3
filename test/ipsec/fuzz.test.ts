/**
 * Property and fuzz tests (fast-check): random bytes and mutations of real
 * packets through every IPsec framing decoder, the RFC 9329 stream parser and
 * the ESP tracker. Nothing may throw, every call ends, outputs stay in bounds,
 * and the tracker agrees with a brute-force model. ~25k cases in total.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { concat } from "../../lib/core/bytes.ts";
import { decodeAh } from "../../lib/ipsec/ah.ts";
import { decodeEsp } from "../../lib/ipsec/esp.ts";
import { EspTracker } from "../../lib/ipsec/esp-tracker.ts";
import { classifyNattPayload, classifyUdp, decodeNatt, ikeOffsetOnPort500 } from "../../lib/ipsec/natt.ts";
import { type TcpEncapFrame, TcpEncapParser } from "../../lib/ipsec/tcpencap.ts";
import { type GoldenFrame, ipEnd, loadGolden, udpPayload } from "./helpers.ts";

function checkAnomalies(an: Anomaly[]): void {
  for (const a of an) {
    if (typeof a.layer !== "string" || typeof a.reason !== "string" || a.reason.length === 0 || typeof a.offset !== "number") {
      throw new Error(`bad anomaly ${JSON.stringify(a)}`);
    }
  }
}

/** Run every framing decoder over b[off..end) and check bounds. */
function decodeAll(b: Uint8Array, off: number, end: number): void {
  const an: Anomaly[] = [];
  const e = Math.min(end, b.length);
  const esp = decodeEsp(b, off, end, an);
  if (esp !== null) {
    if (esp.offset !== off || esp.length !== e - off) throw new Error("esp bounds");
    if (esp.payload.length > esp.length) throw new Error("esp payload");
    if (esp.spi < 0 || esp.spi > 0xffffffff) throw new Error("esp spi");
  }
  for (const ipv6 of [false, true]) {
    const ah = decodeAh(b, off, end, an, { ipv6 });
    if (ah !== null) {
      if (ah.payloadOffset < off + 12 || ah.payloadOffset > e) throw new Error("ah payloadOffset");
      if (ah.icv.length !== ah.payloadOffset - off - 12) throw new Error("ah icv");
      if (ah.payloadEnd !== e) throw new Error("ah payloadEnd");
    }
  }
  const n = decodeNatt(b, off, end, an);
  if (n.kind !== classifyNattPayload(b, off, end)) throw new Error("natt kind mismatch");
  // invalid input positions are echoed back unchanged; valid ones stay inside [off, end]
  if (off >= 0 && e >= off && (n.off < off || n.off > e)) throw new Error("natt off");
  if (n.kind === "esp") decodeEsp(b, n.off, end, an);
  const io = ikeOffsetOnPort500(b, off, end, an);
  if (io !== off && io !== off + 4) throw new Error("ike offset");
  checkAnomalies(an);
}

const GOLDEN: GoldenFrame[] = [
  "esp0", "espudp1", "esp_truncated", "isakmp4", "ospf3_ah", "a_ikev2_psk_gcm_natt", "b_ikev2_psk_cbc_sha256",
  "e1_ikev1_main_psk", "h_ikev2_ipv6_outer", "isakmp-3948-oobr-2", "isakmp-rfc3948-oobr",
].flatMap((n) => loadGolden(n));

/** Where the IPsec layer of a golden frame starts, and its end. */
function ipsecRange(f: GoldenFrame): [number, number] {
  if (f.udp) return udpPayload(f);
  if (f.esp) return [f.esp.off, ipEnd(f)];
  if (f.ah) return [f.ah.off, ipEnd(f)];
  return [0, f.bytes.length];
}

const mutation = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat(), v: fc.constant(0) }),
  fc.record({ op: fc.constant("zero4" as const), at: fc.nat(), v: fc.constant(0) }),
  fc.record({ op: fc.constant("len" as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
);

const runs = { random: 0 };

describe("fuzz: framing decoders", () => {
  test("random bytes with random off/end never throw (6000 cases)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: -2, max: 90 }), fc.integer({ min: -2, max: 100 }), (b, off, end) => {
        decodeAll(b, off, end);
        decodeAll(b, 0, b.length);
        runs.random++;
      }),
      { numRuns: 6000 },
    );
    expect(runs.random).toBeGreaterThanOrEqual(6000);
  });

  test("mutated real packets (ESP, ESP-in-UDP, NAT-T IKE, keepalive, AH) never throw (6000 cases)", () => {
    fc.assert(
      fc.property(fc.nat(GOLDEN.length - 1), fc.array(mutation, { maxLength: 6 }), (i, muts) => {
        const f = GOLDEN[i];
        let b = f.bytes.slice();
        let [off, end] = ipsecRange(f);
        for (const m of muts) {
          const at = off + (b.length > off ? m.at % (b.length - off + 1) : 0);
          if (m.op === "flip" && at < b.length) b[at] = m.v;
          else if (m.op === "cut") b = b.slice(0, at);
          else if (m.op === "zero4") b.fill(0, at, at + 4);
          else if (m.op === "len" && off + 1 < b.length) b[off + 1] = m.v; // AH payload length / SPI byte
        }
        end = Math.min(end, b.length);
        decodeAll(b, off, end);
        if (f.udp) classifyUdp(f.udp.srcport, f.udp.dstport);
      }),
      { numRuns: 6000 },
    );
  });
});

/** Real messages framed for TCP, for stream building. */
const REAL_FRAMES: Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  for (const f of loadGolden("a_ikev2_psk_gcm_natt")) {
    if (!f.udp) continue;
    const [off, end] = udpPayload(f);
    const body = f.udp.dstport === 500 ? concat(new Uint8Array(4), f.bytes.subarray(off, end)) : f.bytes.slice(off, end);
    const L = body.length + 2;
    out.push(concat(new Uint8Array([L >>> 8, L & 0xff]), body));
  }
  return out;
})();

function cutInto(s: Uint8Array, cuts: number[]): Uint8Array[] {
  const pts = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of pts) {
    parts.push(s.subarray(prev, p));
    prev = p;
  }
  parts.push(s.subarray(prev));
  return parts;
}

describe("fuzz: RFC 9329 stream parser", () => {
  test("valid streams of real frames in any chunking give exactly those frames (3000 cases)", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.nat(REAL_FRAMES.length - 1), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (prefix, idx, cuts) => {
          const frames = idx.map((i) => REAL_FRAMES[i]);
          const s = concat(...(prefix ? [new TextEncoder().encode("IKETCP")] : []), ...frames);
          const p = new TcpEncapParser();
          const an: Anomaly[] = [];
          const got: TcpEncapFrame[] = [];
          for (const part of cutInto(s, cuts)) got.push(...p.push(part, an));
          expect(an).toEqual([]);
          expect(got.length).toBe(frames.length);
          let pos = prefix ? 6 : 0;
          for (let k = 0; k < frames.length; k++) {
            expect(got[k].streamOffset).toBe(pos);
            expect(got[k].length).toBe(frames[k].length);
            pos += frames[k].length;
          }
          expect(p.streamOffset).toBe(s.length);
        },
      ),
      { numRuns: 3000 },
    );
  });

  test("garbage, mutated frames and gaps never throw; offsets grow; buffering bounded (4000 cases)", () => {
    const piece = fc.oneof(
      fc.nat(REAL_FRAMES.length - 1).map((i) => ({ t: "f" as const, b: REAL_FRAMES[i] })),
      fc.uint8Array({ maxLength: 40 }).map((b) => ({ t: "g" as const, b })),
      fc.record({ len: fc.integer({ min: 0, max: 12 }), fill: fc.integer({ min: 0, max: 255 }) }).map(({ len, fill }) => ({
        t: "g" as const,
        b: concat(new Uint8Array([0, len]), new Uint8Array(Math.max(0, len - 2)).fill(fill)),
      })),
      fc.integer({ min: 1, max: 300 }).map((n) => ({ t: "gap" as const, n })),
    );
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.constantFrom("auto", "required", "none") as fc.Arbitrary<"auto" | "required" | "none">,
        fc.integer({ min: 0, max: 70000 }),
        (pieces, cuts, prefix, maxFrame) => {
          const p = new TcpEncapParser({ prefix, maxFrame });
          const an: Anomaly[] = [];
          let pushed = 0;
          let last = -1;
          for (const pc of pieces) {
            if (pc.t === "gap") {
              p.gap(pc.n, an);
              pushed += pc.n;
              continue;
            }
            for (const part of cutInto(pc.b, cuts)) {
              for (const fr of p.push(part, an)) {
                if (fr.streamOffset <= last) throw new Error("offsets must grow");
                last = fr.streamOffset;
                if (fr.length > 65535 || fr.data.length > fr.length) throw new Error("frame too big");
                if (fr.kind === "ike" && fr.data.length !== fr.length - 6) throw new Error("ike size");
                if (fr.kind === "esp" && fr.data.length !== fr.length - 2) throw new Error("esp size");
              }
              pushed += part.length;
            }
          }
          p.finish(an);
          checkAnomalies(an);
          expect(p.streamOffset).toBe(pushed);
        },
      ),
      { numRuns: 4000 },
    );
  });
});

describe("fuzz: ESP tracker", () => {
  test("agrees with a brute-force model when everything fits the window (3000 cases)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 120 }), (seqs) => {
        const t = new EspTracker({ window: 256 });
        const seen = new Set<number>();
        let top = -1;
        seqs.forEach((s, i) => {
          const o = t.observe({ spi: 0x5000, src: "a", dst: "b" }, s, 10, i + 1, i, 0);
          let want: string;
          if (seen.size === 0) want = "first";
          else if (seen.has(s)) want = "duplicate";
          else if (s < top) want = "out-of-order";
          else if (s === top + 1) want = "in-order";
          else want = "gap";
          expect(o.status).toBe(want as never);
          seen.add(s);
          top = Math.max(top, s);
        });
        const r = t.report()[0];
        expect(r.packets).toBe(seqs.length);
        expect(r.unique).toBe(seen.size);
        expect(r.duplicates).toBe(seqs.length - seen.size);
        expect(r.unique + r.duplicates).toBe(r.packets);
        expect(r.missing).toBe(Math.max(...seqs) - Math.min(...seqs) + 1 - seen.size);
        expect(r.tooOld).toBe(0);
        expect(r.bytes).toBe(10 * seqs.length);
      }),
      { numRuns: 3000 },
    );
  });

  test("arbitrary 32-bit sequences, many SAs, tiny window: invariants hold, memory bounded (3000 cases)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            spi: fc.integer({ min: 0, max: 12 }),
            seq: fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0xffffff00, max: 0xffffffff })),
            bytes: fc.oneof(fc.nat(2000), fc.constant(-5), fc.constant(Number.NaN)),
          }),
          { maxLength: 150 },
        ),
        (obs) => {
          const t = new EspTracker({ window: 32, maxSas: 5, maxGapRanges: 3 });
          for (let i = 0; i < obs.length; i++) {
            const o = t.observe({ spi: obs[i].spi, src: "a", dst: "b" }, obs[i].seq, obs[i].bytes, i + 1, i, 0);
            if (o.missing < 0) throw new Error("negative gap");
          }
          const rep = t.report();
          expect(rep.length).toBeLessThanOrEqual(5);
          let total = t.untracked.packets;
          for (const r of rep) {
            total += r.packets;
            expect(r.unique + r.duplicates).toBe(r.packets);
            expect(r.missing).toBeGreaterThanOrEqual(0);
            expect(r.gaps.length).toBeLessThanOrEqual(3);
            for (const g of r.gaps) expect(g.count).toBeGreaterThan(0);
            expect(r.bytes).toBeGreaterThanOrEqual(0);
          }
          expect(total).toBe(obs.length);
        },
      ),
      { numRuns: 3000 },
    );
  });
});
