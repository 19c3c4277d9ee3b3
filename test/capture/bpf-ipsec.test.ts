// The default kernel filter of live capture (lib/capture/bpf-ipsec.ts), run in a cBPF
// interpreter against real packets: IKE, NAT-T, ESP, AH and IP fragments are kept,
// everything else (ARP, ICMP, other UDP/TCP) is dropped; for Ethernet frames (SOCK_RAW)
// and for network-layer packets (SOCK_DGRAM, EtherType from skb->protocol).
import { expect, test } from "bun:test";
import fc from "fast-check";
import { readdirSync } from "node:fs";
import { openCapture } from "../../lib/capture/index.ts";
import { BPF, encodeBpf, ipsecFilter } from "../../lib/capture/bpf-ipsec.ts";
import { liveCaptureUnsupported } from "../../lib/capture/live.ts";
import { runBpf } from "./cbpf-interp.ts";

const FIX = new URL("../../fixtures/", import.meta.url).pathname;

/** Ethernet frames of every fixture capture (copies). */
async function frames(): Promise<{ file: string; data: Uint8Array }[]> {
  const files: string[] = [];
  for (const base of ["strongswan", "made"]) {
    for (const d of readdirSync(FIX + base)) {
      if (d.endsWith(".md")) continue;
      for (const f of readdirSync(`${FIX}${base}/${d}`)) if (/\.pcap(ng)?$/.test(f)) files.push(`${FIX}${base}/${d}/${f}`);
    }
  }
  for (const f of readdirSync(FIX + "tcpdump")) if (/\.pcap(ng)?$/.test(f)) files.push(`${FIX}tcpdump/${f}`);
  const out: { file: string; data: Uint8Array }[] = [];
  for (const f of files) {
    const r = await openCapture(f);
    for await (const b of r.batches()) for (const rec of b) if (rec.linkType === 1) out.push({ file: f, data: rec.data.slice() });
  }
  return out;
}

const UDP = new Set([500, 4500]);
const TCP = new Set([4500]);

/** What the filter should decide, written independently of the program (L: link header bytes). */
function reference(b: Uint8Array, L: number, etherType: number): boolean {
  const has = (n: number) => b.length >= n;
  const u16 = (o: number) => (b[o] << 8) | b[o + 1];
  const ports = (o: number, set: Set<number>) => (has(o + 2) && set.has(u16(o))) || (has(o + 4) && set.has(u16(o + 2)));
  if (etherType === 0x0800) {
    if (!has(L + 10)) return false;
    const proto = b[L + 9];
    if (proto === 50 || proto === 51) return true;
    if (!has(L + 8)) return false;
    if ((u16(L + 6) & 0x3fff) !== 0) return true;
    const x = (b[L] & 15) * 4;
    if (proto === 17) return ports(L + x, UDP);
    if (proto === 6) return ports(L + x, TCP);
    return false;
  }
  if (etherType === 0x86dd) {
    if (!has(L + 7)) return false;
    const nh = b[L + 6];
    if (nh === 50 || nh === 51 || nh === 44) return true;
    if (nh === 17) return ports(L + 40, UDP);
    if (nh === 6) return ports(L + 40, TCP);
  }
  return false;
}

const ETH = ipsecFilter({ linkHeader: 14, protocolFrom: "ethernet" });
const DGRAM = ipsecFilter({ linkHeader: 0, protocolFrom: "skb" });

test("the default filter on every real Ethernet frame of the fixtures: SOCK_RAW and SOCK_DGRAM agree with the reference", async () => {
  const all = await frames();
  let kept = 0, dropped = 0;
  const keptKinds = new Set<string>(), droppedKinds = new Set<string>();
  for (const { data } of all) {
    if (data.length < 14) continue;
    const et = (data[12] << 8) | data[13];
    const want = reference(data, 14, et);
    const got = runBpf(ETH, data);
    expect(got > 0).toBe(want);
    if (got > 0) expect(got).toBe(262144);
    // the same packet as SOCK_DGRAM delivers it: no link header, EtherType from the skb
    expect(runBpf(DGRAM, data.subarray(14), et) > 0).toBe(want);
    const kind = et === 0x0800 ? `ip4/${data[23]}` : et === 0x86dd ? `ip6/${data[20]}` : `eth/${et.toString(16)}`;
    if (want) {
      kept++;
      keptKinds.add(kind);
    } else {
      dropped++;
      droppedKinds.add(kind);
    }
  }
  expect(kept).toBeGreaterThan(500);
  expect(dropped).toBeGreaterThan(20);
  // IKE and NAT-T (UDP), ESP and AH kept; ARP, ICMP (the pings of the fixtures) and other UDP dropped
  for (const k of ["ip4/17", "ip4/50", "ip6/17", "ip6/51"]) expect(keptKinds).toContain(k);
  for (const k of ["eth/806", "ip4/1"]) expect(droppedKinds).toContain(k);
});

/** A minimal IPv4 or IPv6 packet in an Ethernet frame. */
function frame(v: 4 | 6, proto: number, sport: number, dport: number, fragWord = 0): Uint8Array {
  const ipLen = v === 4 ? 20 : 40;
  const b = new Uint8Array(14 + ipLen + 8 + 8);
  b[12] = v === 4 ? 0x08 : 0x86;
  b[13] = v === 4 ? 0x00 : 0xdd;
  if (v === 4) {
    b[14] = 0x45;
    b[20] = fragWord >> 8;
    b[21] = fragWord & 255;
    b[23] = proto;
  } else {
    b[14] = 0x60;
    b[20] = proto;
  }
  const t = 14 + ipLen;
  b[t] = sport >> 8;
  b[t + 1] = sport & 255;
  b[t + 2] = dport >> 8;
  b[t + 3] = dport & 255;
  return b;
}

test("the default filter: each IPsec kind kept, its neighbours dropped, IPv4 and IPv6", () => {
  const keep = (b: Uint8Array) => runBpf(ETH, b) > 0;
  for (const v of [4, 6] as const) {
    expect(keep(frame(v, 17, 500, 500))).toBe(true);
    expect(keep(frame(v, 17, 33000, 4500))).toBe(true);
    expect(keep(frame(v, 17, 4500, 53))).toBe(true);
    expect(keep(frame(v, 17, 53, 33000))).toBe(false);
    expect(keep(frame(v, 17, 501, 4501))).toBe(false);
    expect(keep(frame(v, 50, 0, 0))).toBe(true);
    expect(keep(frame(v, 51, 0, 0))).toBe(true);
    expect(keep(frame(v, 6, 40000, 4500))).toBe(true);
    expect(keep(frame(v, 6, 40000, 500))).toBe(false); // IKE over TCP is port 4500 only
    expect(keep(frame(v, 6, 40000, 443))).toBe(false);
    expect(keep(frame(v, v === 4 ? 1 : 58, 0x0800, 0))).toBe(false); // ping
  }
  expect(keep(frame(6, 44, 0, 0))).toBe(true); // IPv6 fragment header
  expect(keep(frame(4, 17, 53, 53, 0x2000))).toBe(true); // IPv4 first fragment (MF)
  expect(keep(frame(4, 17, 53, 53, 0x00b9))).toBe(true); // later fragment (offset)
  expect(keep(frame(4, 17, 53, 53, 0x4000))).toBe(false); // DF alone is no fragment
  // extra ports (--ike-port / --natt-port / --tcp-port)
  const extra = ipsecFilter({ linkHeader: 14, protocolFrom: "ethernet", udpPorts: [14500], tcpPorts: [10443], snaplen: 1500 });
  expect(runBpf(extra, frame(4, 17, 1, 14500))).toBe(1500);
  expect(runBpf(extra, frame(6, 6, 10443, 1))).toBe(1500);
  expect(runBpf(extra, frame(4, 17, 1, 500))).toBe(1500);
  expect(runBpf(extra, frame(4, 17, 1, 14501))).toBe(0);
});

test("the default filter agrees with the reference on mutated real frames (truncations, any header byte)", async () => {
  const base = (await frames()).filter((f) => f.data.length >= 14).slice(0, 400);
  fc.assert(
    fc.property(fc.nat(base.length - 1), fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(120), (i, flips, cut) => {
      const d = base[i].data.slice(0, Math.max(0, base[i].data.length - (cut % 3 === 0 ? cut : 0)));
      for (const [p, v] of flips) if (p < d.length) d[p] = v;
      if (d.length < 14) return;
      const et = (d[12] << 8) | d[13];
      expect(runBpf(ETH, d) > 0).toBe(reference(d, 14, et));
      expect(runBpf(DGRAM, d.subarray(14), et) > 0).toBe(reference(d.subarray(14), 0, et));
    }),
    { numRuns: 5000 },
  );
});

test("the program is valid for the kernel: forward jumps within range, ends in RET, encoded as struct sock_filter", () => {
  for (const p of [ETH, DGRAM, ipsecFilter({ linkHeader: 14, protocolFrom: "ethernet", udpPorts: [1, 2, 3, 4, 5, 6, 7, 8], tcpPorts: [9, 10, 11] })]) {
    expect(p.length).toBeLessThan(4096);
    p.forEach((x, i) => {
      if ((x.code & 7) !== 5) return; // jumps only (cBPF jumps forward: offsets are unsigned)
      expect(i + 1 + (x.code === BPF.JA ? x.k : Math.max(x.jt, x.jf))).toBeLessThan(p.length);
      expect(x.jt).toBeLessThanOrEqual(255);
      expect(x.jf).toBeLessThanOrEqual(255);
    });
    expect(p[p.length - 1].code).toBe(BPF.RET_K);
    const b = encodeBpf(p);
    expect(b.length).toBe(p.length * 8);
    const dv = new DataView(b.buffer);
    expect(dv.getUint16(0, true)).toBe(p[0].code);
    expect(dv.getUint32(4, true)).toBe(p[0].k);
  }
});

test("live capture off Linux: one line that says to pipe tcpdump into `vpnkit decode -`", () => {
  expect(liveCaptureUnsupported("linux")).toBeNull();
  for (const pl of ["darwin", "win32", "freebsd"]) {
    const m = liveCaptureUnsupported(pl)!;
    expect(m).toContain("live capture needs Linux");
    expect(m).toContain("vpnkit decode -");
    expect(m).not.toContain("\n");
  }
});
