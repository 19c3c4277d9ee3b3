// Capture filter properties: random expressions from the grammar parse (or are refused with
// CaptureFilterError, never another exception); random word soup and strings never throw
// anything else; random and mutated frames never make the evaluator throw; the classic BPF
// program (run by a small interpreter) keeps exactly the packets the evaluator keeps, on
// every fixture packet, synthetic frames and mutated frames, also as a cooked SOCK_DGRAM
// program; plus the documented edge cases.
import { encodeBpf } from "../../lib/capture/bpf-ipsec.ts";
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openCapture } from "../../lib/capture/index.ts";
import {
  BPF_MAXINSNS, CaptureFilterError, compileCaptureFilter, compileCaptureFilterBpf, FILTER_LINKTYPES, formatBpf,
  parseCaptureFilter,
} from "../../lib/capture/filter/mod.ts";
import { runBpf } from "./bpf-interp.ts";
import { rng, synthFrames } from "./filter-packets.ts";

const ROOT = join(import.meta.dir, "../..");
interface Frame { lt: number; data: Uint8Array }

function find(dir: string, out: string[]): void {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) find(p, out);
    else if (/\.(pcap|pcapng)$/.test(e)) out.push(p);
  }
}

const frames: Frame[] = [];
const paths: string[] = [];
find(join(ROOT, "fixtures"), paths);
find(join(ROOT, "test/net/fixtures"), paths);
for (const p of paths) {
  for await (const b of (await openCapture(p)).batches()) for (const r of b) if (r.data.length < 4000) frames.push({ lt: r.linkType, data: r.data.slice() });
}
const pool = { v4: [0xc0000201, 0xc0000202, 0x0a010001, 0xc0a80001], v6: [Uint8Array.from([0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1]), Uint8Array.from([0xfe, 0x80, ...new Array(13).fill(0), 2])] };
for (const lt of FILTER_LINKTYPES) for (const data of synthFrames(lt, 60, pool, 7 + lt)) frames.push({ lt, data });
// mutated copies: flipped bytes and cuts
const r = rng(99);
for (let i = 0, n = frames.length; i < n; i += 2) {
  const d = frames[i].data.slice(0, r() < 0.3 ? Math.floor(r() * frames[i].data.length) : undefined);
  for (let j = 0; j < 4 && d.length; j++) d[Math.floor(r() * d.length)] = Math.floor(r() * 256);
  frames.push({ lt: frames[i].lt, data: d });
}

const v4 = fc.constantFrom("192.0.2.1", "192.0.2.2", "10.1.0.1", "192.168.0.1", "1.2.3.4");
const v6 = fc.constantFrom("2001:db8::1", "fe80::2", "::1", "2001:db8:0:0:1::");
const dir = fc.constantFrom("", "src ", "dst ", "src or dst ", "src and dst ");
const port = fc.oneof(fc.constantFrom(500, 4500, 53, 22), fc.integer({ min: 0, max: 65535 }));
const prim = fc.oneof(
  fc.constantFrom("ip", "ip6", "udp", "tcp", "sctp", "icmp", "icmp6", "esp", "ah", "vlan"),
  fc.integer({ min: 0, max: 4095 }).map((n) => `vlan ${n}`),
  fc.tuple(fc.constantFrom("", "ip "), dir, v4).map(([p, d, a]) => `${p}${d}host ${a}`),
  fc.tuple(fc.constantFrom("", "ip6 "), dir, v6).map(([p, d, a]) => `${p}${d}host ${a}`),
  fc.tuple(dir, fc.constantFrom("192.0.2.0/24", "10.0.0.0/8", "192.168.0.0 mask 255.255.0.0", "0.0.0.0/0", "10", "192.0.2", "2001:db8::/32", "fe80::/10")).map(([d, n]) => `${d}net ${n}`),
  fc.tuple(fc.constantFrom("", "udp ", "tcp ", "sctp "), dir, port).map(([p, d, n]) => `${p}${d}port ${n}`),
  fc.tuple(fc.constantFrom("", "udp ", "tcp "), dir, port, port).map(([p, d, a, b]) => `${p}${d}portrange ${a}-${b}`),
  fc.tuple(fc.constantFrom("", "ip ", "ip6 "), fc.integer({ min: 0, max: 255 })).map(([p, n]) => `${p}proto ${n}`),
  fc.tuple(port, port).map(([a, b]) => `port ${a} or ${b}`),
  fc.tuple(v4, v4).map(([a, b]) => `host ${a} and not ${b}`),
);
const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    prim,
    tie("expr").map((e) => `not ${e}`),
    tie("expr").map((e) => `!(${e})`),
    tie("expr").map((e) => `(${e})`),
    fc.tuple(tie("expr"), fc.constantFrom(" and ", " or ", " && ", " || "), tie("expr")).map(([a, o, b]) => `${a}${o}${b}`),
  ),
}));

describe("capture filter properties", () => {
  test("grammar expressions parse; the BPF program keeps exactly what the evaluator keeps", () => {
    let kept = 0, dropped = 0;
    fc.assert(fc.property(expr, (e) => {
      const f = compileCaptureFilter(e);
      const progs = new Map<number, ReturnType<typeof compileCaptureFilterBpf>>();
      for (const lt of FILTER_LINKTYPES) {
        const p = compileCaptureFilterBpf(f.ast, lt);
        expect(p).not.toBeNull();
        progs.set(lt, p);
      }
      for (const fr of frames) {
        const m = f.match(fr.lt, fr.data);
        if (m) kept++;
        else dropped++;
        if ((runBpf(progs.get(fr.lt)!, fr.data) !== 0) !== m) throw new Error(`BPF ≠ evaluator: ${e} on LINKTYPE ${fr.lt} ${Buffer.from(fr.data).toString("hex")}\n${formatBpf(progs.get(fr.lt)!)}`);
        if (fr.lt === 113 || fr.lt === 276) {
          // cooked SOCK_DGRAM: the kernel hands the network layer and the protocol as ancillary data
          const hdr = fr.lt === 113 ? 16 : 20, po = fr.lt === 113 ? 14 : 0;
          const cp = compileCaptureFilterBpf(f.ast, fr.lt, { cooked: true });
          if (cp !== null && fr.data.length >= hdr) {
            const got = runBpf(cp, fr.data.subarray(hdr), { protocol: (fr.data[po] << 8) | fr.data[po + 1] }) !== 0;
            if (got !== m) throw new Error(`cooked BPF ≠ evaluator: ${e}`);
          }
        }
      }
    }), { numRuns: 150, seed: 0x5eed });
    expect(kept).toBeGreaterThan(0);
    expect(dropped).toBeGreaterThan(0);
  });

  test("word soup and arbitrary strings: parse or CaptureFilterError, nothing else", () => {
    const word = fc.constantFrom("host", "net", "port", "portrange", "src", "dst", "and", "or", "not", "ip", "ip6", "udp", "tcp", "vlan", "proto", "mask", "esp", "ah", "icmp6",
      "(", ")", "!", "&&", "||", "1.2.3.4", "::1", "500", "10.0.0.0/8", "255.0.0.0", "0x1f4", "010", "08", "1-2", "fe80::/10", "foo", "udp[0]", "=", "1.2.3.4/33", "99999", "");
    const ok = (s: string) => {
      try {
        parseCaptureFilter(s);
      } catch (e) {
        if (!(e instanceof CaptureFilterError)) throw e;
        expect(e.message.split("\n").length).toBe(1);
        expect(e.position).toBeGreaterThanOrEqual(1);
        expect(e.position).toBeLessThanOrEqual(s.length + 1);
      }
    };
    fc.assert(fc.property(fc.array(word, { maxLength: 12 }).map((w) => w.join(" ")), ok), { numRuns: 3000, seed: 1 });
    fc.assert(fc.property(fc.string({ maxLength: 40 }), ok), { numRuns: 3000, seed: 2 });
    fc.assert(fc.property(expr, fc.nat(), (e, cut) => ok(e.slice(0, cut % (e.length + 1)))), { numRuns: 1000, seed: 3 });
    ok("(".repeat(5000) + "udp" + ")".repeat(5000));
    ok("not ".repeat(5000) + "udp");
  });

  test("random frames of any link type never throw", () => {
    const f = compileCaptureFilter("host 192.0.2.1 or port 500 or vlan 5 and ip6 net 2001:db8::/32 or esp or icmp6");
    fc.assert(fc.property(fc.constantFrom(...FILTER_LINKTYPES, 9, 105, 65535), fc.uint8Array({ maxLength: 120 }), (lt, d) => {
      expect(typeof f.match(lt, d)).toBe("boolean");
    }), { numRuns: 5000, seed: 4 });
  });
});

describe("capture filter edge cases", () => {
  const v4udp = (sport: number) => {
    const b = new Uint8Array(28);
    b[0] = 0x45; b[9] = 17; b[12] = 192; b[15] = 1; b[20] = sport >> 8; b[21] = sport & 255;
    return b;
  };
  test("empty expression keeps everything; unknown link types keep nothing", () => {
    expect(compileCaptureFilter("  ").match(12345, new Uint8Array(0))).toBe(true);
    expect(compileCaptureFilter("not udp").match(105, v4udp(500))).toBe(false);
    expect(compileCaptureFilterBpf(parseCaptureFilter("udp"), 105)).toBeNull();
    // live Ethernet: the kernel strips VLAN tags, so `vlan` stays in user space
    expect(compileCaptureFilterBpf(parseCaptureFilter("udp or vlan"), 1, { live: true })).toBeNull();
    expect(compileCaptureFilterBpf(parseCaptureFilter("udp or vlan"), 1)).not.toBeNull();
    expect(compileCaptureFilterBpf(parseCaptureFilter("udp"), 1, { live: true })).not.toBeNull();
  });
  test("BSD NULL: the address family is accepted in either byte order", () => {
    const f = compileCaptureFilter("udp port 500");
    for (const h of [[2, 0, 0, 0], [0, 0, 0, 2]]) {
      const d = Uint8Array.from([...h, ...v4udp(500)]);
      expect(f.match(0, d)).toBe(true);
      expect(runBpf(compileCaptureFilterBpf(f.ast, 0)!, d)).not.toBe(0);
    }
    expect(f.match(108, Uint8Array.from([2, 0, 0, 0, ...v4udp(500)]))).toBe(false); // LOOP is network order
  });
  test("vlan matches nothing on link types without VLAN support; IPv4 port skips non-first fragments", () => {
    expect(compileCaptureFilter("vlan or udp").match(101, v4udp(500))).toBe(true);
    expect(compileCaptureFilter("vlan").match(101, v4udp(500))).toBe(false);
    const frag = v4udp(500);
    frag[7] = 1; // fragment offset 8
    expect(compileCaptureFilter("udp").match(101, frag)).toBe(true);
    expect(compileCaptureFilter("port 500").match(101, frag)).toBe(false);
  });
  test("long expressions: jumps over 255 go through trampolines; over BPF_MAXINSNS gives null", () => {
    const many = Array.from({ length: 40 }, (_, i) => `port ${1000 + i}`).join(" or ") + " or udp port 500";
    const f = compileCaptureFilter(many);
    const p = compileCaptureFilterBpf(f.ast, 1)!;
    expect(p.length).toBeGreaterThan(300);
    expect(encodeBpf(p).length).toBe(p.length * 8);
    for (const fr of frames) if (fr.lt === 1) expect(runBpf(p, fr.data) !== 0).toBe(f.match(1, fr.data));
    const huge = Array.from({ length: 400 }, (_, i) => `port ${i}`).join(" or ");
    expect(compileCaptureFilterBpf(parseCaptureFilter(huge), 1)).toBeNull();
    expect(BPF_MAXINSNS).toBe(4096);
  });
  test("libpcap grammar quirks: and/or same precedence, qualifier reuse, short nets", () => {
    const fmt = (e: string) => JSON.stringify(parseCaptureFilter(e));
    expect(fmt("tcp or udp and port 53")).toBe(fmt("(tcp or udp) and port 53"));
    expect(fmt("port 500 or 4500")).toBe(fmt("port 500 or port 4500"));
    expect(fmt("src host 1.2.3.4 and not 1.2.3.5")).toBe(fmt("src host 1.2.3.4 and not src host 1.2.3.5"));
    expect(fmt("host 10.1.2")).toBe(fmt("net 10.1.2.0/24"));
    expect(fmt("net 10")).toBe(fmt("net 10.0.0.0/8"));
    for (const bad of ["udp or 500", "1.2.3.4", "src 1.2.3.0/24", "ip6 port 500", "tcp host 1.2.3.4", "net 1.2.3.4/33", "portrange 1-70000"]) {
      expect(() => parseCaptureFilter(bad)).toThrow(CaptureFilterError);
    }
  });
});
