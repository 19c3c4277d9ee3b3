/**
 * The decrypting summary fast path (lib/decrypt/fast-esp.ts via lib/decode/fast-summary.ts)
 * prints exactly what the full decoder prints with the same keys, packet for packet, with the
 * same tracker state: on every capture with keys (fixtures, tcpdump's -E cases, wrong keys,
 * the benchmark mixes), with and without the libcrypto backend, with a one-slot flow cache;
 * and on random inner packets (TCP, UDP, ICMP over IPv4/IPv6, mutated, truncated, odd next
 * headers, bad ICVs, sequence gaps and replays) sealed with AES-CBC + HMAC-SHA-256 in NAT-T
 * ESP: either the same line or a fallback to the full decoder.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createCipheriv, createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import { ByteWriter, collectText } from "../../lib/decode/output.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { summaryLine } from "../../lib/decode/summary.ts";
import { synthesizeIp } from "../../lib/decrypt/writer.ts";
import { mayHoldGsoRun } from "../../lib/decrypt/fast-esp.ts";
import { findEspGsoRun } from "../../lib/ipsec/gso.ts";
import { parseKeyText } from "../../lib/keys/load.ts";
import { KeyStore } from "../../lib/keys/store.ts";
import type { ParsedKeys } from "../../lib/keys/types.ts";
import type { Ipv4Layer } from "../../lib/net/ipv4.ts";
import type { Ipv6Layer } from "../../lib/net/ipv6.ts";
import { libcryptoDecodeCrypto } from "../../lib/platform/bun/decode-crypto-ffi.ts";
import { keyedCases } from "./keyed-cases.ts";

const dec = new TextDecoder();

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

/**
 * Summary lines of `recs` through the fast path (full decoder where it declines) and through
 * the full decoder alone, compared packet by packet, then the trackers. Returns fast-path hits.
 */
function compare(recs: CaptureRecord[], keys: () => ParsedKeys[], o: { crypto: boolean; slots?: number; seen?: Set<string> }): number {
  const ksFast = new KeyStore(keys());
  if (o.crypto) ksFast.crypto = libcryptoDecodeCrypto() ?? undefined;
  const ksFull = new KeyStore(keys());
  const fast = new Decoder({ keys: ksFast, fastPathSlots: o.slots });
  const full = new Decoder({ keys: ksFull, fastPath: false });
  const sink = collectText();
  const w = new ByteWriter(sink.out, 1024, 1024);
  let hits = 0;
  try {
    for (let i = 0; i < recs.length; i++) {
      const start = w.pos;
      let got: string;
      if (fast.fastSummary(w, recs[i])) {
        hits++;
        got = dec.decode(w.buf.subarray(start, w.pos));
        const k = / ICV BAD$| → (IP6 )?\S+ > \S+ (TCP|UDP|ICMP6|ICMP) /.exec(got.trimEnd());
        if (k) o.seen?.add(k[0].includes("BAD") ? "BAD" : `${k[1] ?? ""}${k[2]}`);
      } else {
        got = summaryLine(fast.decode(recs[i])) + "\n";
        w.text(got);
      }
      const want = summaryLine(full.decode(recs[i])) + "\n";
      if (got !== want) expect(`#${recs[i].no}: ${got}`).toBe(`#${recs[i].no}: ${want}`);
      if (w.full) void w.flush();
    }
    void w.flush();
    expect(fast.stats()).toEqual(full.stats());
    expect(fast.finish()).toEqual(full.finish());
  } finally {
    ksFast.zero();
    ksFull.zero();
  }
  return hits;
}

describe("keyed summary fast path == full decoder with the same keys", () => {
  for (const c of keyedCases()) {
    test.skipIf(!existsSync(c.pcap))(c.name, async () => {
      const recs = await records(c.pcap, c.limit);
      const hits = compare(recs, c.keys, { crypto: true });
      compare(recs, c.keys, { crypto: false });
      compare(recs.slice(0, 3000), c.keys, { crypto: true, slots: 1 });
      if (c.name.startsWith("mix a") || c.name.startsWith("mix b")) expect(hits).toBeGreaterThan(recs.length * 0.95);
    });
  }
});

// ---- random inner packets, sealed with AES-CBC + HMAC-SHA-256-128 in NAT-T ESP ----

const ENC = new Uint8Array(32).map((_, i) => i * 7 + 1);
const AUTH = new Uint8Array(32).map((_, i) => 200 - i);
const SPI = 0x0c0ffee1;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const KEYS = `"IPv4","192.0.2.1","192.0.2.2","0x${SPI.toString(16)}","AES-CBC [RFC3602]","0x${hex(ENC)}","HMAC-SHA-256-128 [RFC4868]","0x${hex(AUTH)}"\n`;
const keysOf = () => [parseKeyText(KEYS, "esp_sa")];
const OUTER = { layer: "ipv4", src: "192.0.2.1", dst: "192.0.2.2" } as Ipv4Layer;
const IN4 = { layer: "ipv4", src: "198.51.100.7", dst: "203.0.113.9" } as Ipv4Layer;
const IN6 = { layer: "ipv6", src: "2001:db8::7", dst: "2001:db8:1::9" } as unknown as Ipv6Layer;

function sum16(b: Uint8Array, s = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) s += (b[i] << 8) | b[i + 1];
  if (b.length & 1) s += b[b.length - 1] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Fix the ICMP (v4) or ICMPv6 checksum of `pkt` (an inner IP packet) so it verifies. */
function fixIcmpChecksum(pkt: Uint8Array, v6: boolean): void {
  const off = v6 ? 40 : 20;
  if (pkt.length < off + 4) return;
  pkt[off + 2] = pkt[off + 3] = 0;
  const body = pkt.subarray(off);
  let s = sum16(body);
  if (v6) {
    s = sum16(pkt.subarray(8, 40), s);
    s += (body.length >>> 16) + (body.length & 0xffff) + 58;
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  }
  const c = ~s & 0xffff;
  pkt[off + 2] = c >> 8;
  pkt[off + 3] = c & 0xff;
}

/** ESP (AES-256-CBC, HMAC-SHA-256-128) of `inner` with next header `nh`, in Ethernet/IPv4/UDP 4500. */
function frame(inner: Uint8Array, nh: number, seq: number, o: { badIcv?: boolean; badPad?: boolean; iv: Uint8Array }): Uint8Array {
  const padLen = (16 - ((inner.length + 2) % 16)) % 16;
  const pt = new Uint8Array(inner.length + padLen + 2);
  pt.set(inner);
  for (let i = 0; i < padLen; i++) pt[inner.length + i] = o.badPad ? 0xee : i + 1;
  pt[pt.length - 2] = padLen;
  pt[pt.length - 1] = nh;
  const c = createCipheriv("aes-256-cbc", ENC, o.iv);
  c.setAutoPadding(false);
  const ct = Buffer.concat([c.update(pt), c.final()]);
  const esp = new Uint8Array(8 + 16 + ct.length + 16);
  new DataView(esp.buffer).setUint32(0, SPI);
  new DataView(esp.buffer).setUint32(4, seq >>> 0);
  esp.set(o.iv, 8);
  esp.set(ct, 24);
  const mac = createHmac("sha256", AUTH).update(esp.subarray(0, 24 + ct.length)).digest();
  esp.set(mac.subarray(0, 16), 24 + ct.length);
  if (o.badIcv) esp[esp.length - 1] ^= 1;
  const udp = new Uint8Array(8 + esp.length);
  udp[0] = 0x11; udp[1] = 0x94; udp[2] = 0x11; udp[3] = 0x94; // 4500 > 4500
  udp[4] = udp.length >> 8;
  udp[5] = udp.length & 0xff;
  udp.set(esp, 8);
  const ip = synthesizeIp(OUTER, 17, udp)!;
  const eth = new Uint8Array(14 + ip.length);
  eth.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
  eth.set(ip, 14);
  return eth;
}

const arbTransport = fc.oneof(
  // TCP: header with random options (data offset 5..15), flags, numbers
  fc.tuple(fc.constant(6), fc.integer({ min: 5, max: 15 }), fc.uint8Array({ minLength: 60, maxLength: 60 }), fc.nat(300), fc.constantFrom(80, 443, 5201, 4500, 500), fc.boolean()).map(([p, doff, h, plen, port, nops]) => {
    const t = new Uint8Array(doff * 4 + plen);
    t.set(h.subarray(0, doff * 4));
    if (nops) t.fill(1, 20, doff * 4); // NOP options: well-formed
    t[2] = port >> 8; t[3] = port & 0xff;
    t[12] = (doff << 4) | (h[12] & 0x01);
    return { proto: p, body: t };
  }),
  // UDP: ports, length field right or not
  fc.tuple(fc.constant(17), fc.nat(400), fc.constantFrom(53, 5201, 500, 4500, 4501, 0), fc.boolean(), fc.nat(0xffff)).map(([p, plen, port, rightLen, otherLen]) => {
    const u = new Uint8Array(8 + plen).map((_, i) => (i * 13) & 0xff);
    u[0] = 0x9c; u[1] = 0x40; u[2] = port >> 8; u[3] = port & 0xff;
    const l = rightLen ? u.length : otherLen;
    u[4] = l >> 8; u[5] = l & 0xff;
    return { proto: p, body: u };
  }),
  // ICMP / ICMPv6: any type and code, checksum fixed later (or not)
  fc.tuple(fc.constantFrom(1, 58), fc.nat(255), fc.nat(20), fc.constantFrom(0, 3, 8, 11, 128, 129, 1, 2), fc.uint8Array({ minLength: 0, maxLength: 80 })).map(([p, code, _x, type, rest]) => {
    const m = new Uint8Array(8 + rest.length);
    m[0] = type; m[1] = code % 6;
    m.set(rest, 8);
    return { proto: p, body: m };
  }),
  // anything else (GRE, ESP, AH, no next header, IP-in-IP)
  fc.tuple(fc.constantFrom(47, 50, 51, 59, 4, 41, 132), fc.uint8Array({ minLength: 0, maxLength: 60 })).map(([p, b]) => ({ proto: p, body: b })),
);

const arbPacket = fc.record({
  v6: fc.boolean(),
  t: arbTransport,
  fixIcmp: fc.boolean(),
  flips: fc.oneof({ weight: 3, arbitrary: fc.constant([] as [number, number][]) }, { weight: 1, arbitrary: fc.array(fc.tuple(fc.nat(120), fc.nat(255)), { minLength: 1, maxLength: 2 }) }),
  cut: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(80) }),
  nh: fc.constantFrom<"ip" | number>("ip", "ip", "ip", "ip", 17, 6, 59, 99),
  seqStep: fc.constantFrom(1, 1, 1, 1, 0, 3, -2),
  badIcv: fc.boolean().map((b) => b && Math.random() < 0.3),
  badPad: fc.boolean().map((b) => b && Math.random() < 0.2),
  iv: fc.uint8Array({ minLength: 16, maxLength: 16 }),
});

test("keyed fast path == full decoder on random inner packets (sealed AES-CBC + HMAC-SHA-256 NAT-T ESP)", () => {
  let hits = 0, total = 0;
  const seen = new Set<string>();
  fc.assert(
    fc.property(fc.array(arbPacket, { minLength: 1, maxLength: 25 }), fc.boolean(), (pkts, crypto) => {
      let seq = 1;
      const recs: CaptureRecord[] = pkts.map((x, k) => {
        const ip = synthesizeIp(x.v6 ? IN6 : IN4, x.t.proto, x.t.body)!;
        if (x.fixIcmp && (x.t.proto === 1 || x.t.proto === 58)) fixIcmpChecksum(ip, x.v6);
        for (const [pos, v] of x.flips) ip[pos % ip.length] = v;
        const inner = x.cut !== null ? ip.subarray(0, Math.max(0, ip.length - x.cut)) : ip;
        const nh = x.nh === "ip" ? (x.v6 ? 41 : 4) : x.nh;
        seq = Math.max(1, seq + x.seqStep);
        const data = frame(inner, nh, seq, { badIcv: x.badIcv, badPad: x.badPad, iv: x.iv });
        return { no: k + 1, iface: 0, linkType: 1, tsSec: 1_700_000_000, tsNsec: k * 1000, caplen: data.length, len: data.length, data };
      });
      hits += compare(recs, keysOf, { crypto, seen });
      total += recs.length;
    }),
    { numRuns: 1500 },
  );
  // the fast path really answers (not only falls back), and falls back too
  expect(hits).toBeGreaterThan(total * 0.2);
  expect(hits).toBeLessThan(total * 0.95);
  // every kind of line the fast path writes was written
  expect([...seen].sort()).toEqual(["BAD", "ICMP", "IP6 ICMP6", "IP6 TCP", "IP6 UDP", "TCP", "UDP"]);
});

test("mayHoldGsoRun is false only where findEspGsoRun (no minimum size) finds no run", () => {
  let runs = 0;
  fc.assert(
    fc.property(
      fc.nat(5), fc.integer({ min: 0, max: 1600 }), fc.integer({ min: 8, max: 400 }), fc.integer({ min: 1, max: 8 }), fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.nat(255), fc.boolean(),
      (off, extra, stride, count, head, fill, plant) => {
        const len = plant ? stride * 4 * (count - 1) + 32 + (extra % 64) : extra;
        const b = new Uint8Array(off + len + 3).map((_, i) => (i * 151 + fill) & 255);
        if (len >= 8) b.set(head, off);
        if (plant && len >= 8) {
          // a run: the SPI and consecutive sequence numbers every `stride * 4` bytes
          const dv = new DataView(b.buffer);
          const seq = dv.getUint32(off + 4);
          for (let k = 1; k < count; k++) {
            const o = off + k * stride * 4;
            if (o + 8 > off + len) break;
            b.set(head.subarray(0, 4), o);
            dv.setUint32(o + 4, (seq + k) >>> 0);
          }
        }
        const end = off + len;
        const run = findEspGsoRun(b, off, end, 0);
        if (run !== null) {
          runs++;
          expect(mayHoldGsoRun(b, off, end)).toBe(true);
        }
      },
    ),
    { numRuns: 3000 },
  );
  expect(runs).toBeGreaterThan(100);
});
