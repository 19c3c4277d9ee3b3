/** IPv4/IPv6/TCP/UDP/ICMP/ICMPv6 on real frames (netns capture) and on real frames edited to reach the edge cases. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { concat, putU16, putU32 } from "../../lib/core/bytes.ts";
import { foldComplement, onesSum, transportChecksumOk } from "../../lib/net/checksum.ts";
import { decodeIcmp } from "../../lib/net/icmp.ts";
import { decodeIcmpv6 } from "../../lib/net/icmpv6.ts";
import { decodeIpv4, ipv4FragmentKey } from "../../lib/net/ipv4.ts";
import { decodeIpv6, ipv6FragmentKey, MAX_IPV6_EXT_HEADERS } from "../../lib/net/ipv6.ts";
import { IP_PROTOCOLS } from "../../lib/net/registries.ts";
import { decodeTcp, tcpChecksumOk, tcpFlagsText } from "../../lib/net/tcp.ts";
import { decodeUdp, udpChecksumOk } from "../../lib/net/udp.ts";
import { readCapture } from "./pcap.ts";
import { decodeFrame } from "./stack.ts";

const FIX = join(import.meta.dir, "fixtures");
const frames = readCapture(join(FIX, "frag-eth.pcap"));
const ip4 = (no: number) => frames[no - 1].data.slice(14);
const ip6 = (no: number) => frames[no - 1].data.slice(14);

/** tcpdump -vv output grouped per packet (continuation lines joined). */
const tcpdumpPackets: string[] = [];
for (const line of readFileSync(join(FIX, "golden/frag-eth.tcpdump-vv.txt"), "utf8").split("\n")) {
  if (/^\d\d:/.test(line)) tcpdumpPackets.push(line);
  else if (line.length && tcpdumpPackets.length) tcpdumpPackets[tcpdumpPackets.length - 1] += " " + line.trim();
}

function fixIpv4Checksum(b: Uint8Array, hl: number) {
  putU16(b, 10, 0);
  putU16(b, 10, foldComplement(onesSum(b, 0, hl)));
}

describe("IPv4", () => {
  test("real fragments: flags, offsets, key", () => {
    const an: Anomaly[] = [];
    const first = decodeIpv4(ip4(9), 0, ip4(9).length, an)!;
    expect(first).toMatchObject({ src: "10.99.0.1", dst: "10.99.0.2", ttl: 64, id: 0xcb36, mf: true, df: false, fragOffset: 0, proto: 17, protoName: "UDP", checksumOk: true, totalLength: 1276, payloadOffset: 20, payloadEnd: 1276, headerLength: 20 });
    const last = decodeIpv4(ip4(12), 0, ip4(12).length, an)!;
    expect(last).toMatchObject({ mf: false, fragOffset: 3768, flags: 0 });
    expect(ipv4FragmentKey(first)).toBe(ipv4FragmentKey(last));
    expect(an).toEqual([]);
  });

  test("ethernet padding is excluded; truncated capture is flagged and clamped", () => {
    const b = concat(ip4(23), new Uint8Array(6)); // padded
    const an: Anomaly[] = [];
    expect(decodeIpv4(b, 0, b.length, an)!.payloadEnd).toBe(52);
    const cut = ip4(9).subarray(0, 100);
    const l = decodeIpv4(cut, 0, cut.length, an)!;
    expect(l).toMatchObject({ truncated: true, payloadEnd: 100 });
    expect(an).toEqual([{ layer: "ipv4", offset: 2, reason: "payload truncated: need 1276 bytes, have 100" }]);
  });

  test("bad header checksum: field and anomaly", () => {
    const b = ip4(21);
    b[10] ^= 1;
    const an: Anomaly[] = [];
    expect(decodeIpv4(b, 0, b.length, an)!.checksumOk).toBe(false);
    expect(an[0]).toMatchObject({ layer: "ipv4", offset: 10 });
  });

  test("options: NOP, RR, TS (with addresses), LSRR, Router Alert, unknown, EOL", () => {
    const real = ip4(21);
    const opts = new Uint8Array([
      1,
      7, 11, 4, 10, 0, 0, 1, 10, 0, 0, 2, // RR, 2 addresses
      68, 12, 5, 0x11, 10, 0, 0, 1, 0, 0, 0, 42, // TS flag 1, overflow 1
      131, 7, 4, 192, 0, 2, 1, // LSRR
      148, 4, 0, 0, // Router Alert
      0xbf, 3, 0xab, // unassigned (copied flag set)
      0, 0, // EOL + padding
    ]);
    expect(opts.length % 4).toBe(0);
    const hl = 20 + opts.length;
    const b = concat(real.subarray(0, 20), opts, real.subarray(20));
    b[0] = 0x40 | (hl / 4);
    putU16(b, 2, b.length);
    fixIpv4Checksum(b, hl);
    const an: Anomaly[] = [];
    const l = decodeIpv4(b, 0, b.length, an)!;
    expect(an).toEqual([]);
    expect(l.checksumOk).toBe(true);
    expect(l.payloadOffset).toBe(hl);
    expect(l.options.map((o) => o.name)).toEqual(["NOP", "RR", "TS", "LSRR", "RTRALT", "UNKNOWN(191)", "EOL"]);
    expect(l.options[1]).toMatchObject({ pointer: 4, addresses: ["10.0.0.1", "10.0.0.2"], length: 11, copied: false });
    expect(l.options[2]).toMatchObject({ pointer: 5, overflow: 1, flag: 1, timestamps: [{ address: "10.0.0.1", timestamp: 42 }] });
    expect(l.options[3]).toMatchObject({ addresses: ["192.0.2.1"], copied: true });
    expect(l.options[4]).toMatchObject({ routerAlert: 0 });
    expect(Array.from(l.options[5].data!)).toEqual([0xab]);
    // The rest of the real packet still decodes.
    const t = decodeTcp(b, l.payloadOffset, l.payloadEnd, an)!;
    expect(t.flagsText).toBe("[S]");
  });

  test("malformed options are bounded", () => {
    const real = ip4(21);
    for (const opts of [[7, 40, 4, 0], [68, 1, 0, 0], [131, 0, 0, 0], [1, 1, 1, 148]]) {
      const b = concat(real.subarray(0, 20), new Uint8Array(opts), real.subarray(20));
      b[0] = 0x46;
      putU16(b, 2, b.length);
      fixIpv4Checksum(b, 24);
      const an: Anomaly[] = [];
      const l = decodeIpv4(b, 0, b.length, an)!;
      expect(an.length).toBeGreaterThan(0);
      expect(an.every((a) => a.layer === "ipv4.option")).toBe(true);
      expect(l.payloadOffset).toBe(24);
    }
  });

  test("bogus header length / version / total length", () => {
    const b = ip4(21);
    const an: Anomaly[] = [];
    b[0] = 0x44;
    expect(decodeIpv4(b, 0, b.length, an)!.payloadOffset).toBe(20);
    b[0] = 0x65;
    expect(decodeIpv4(b, 0, b.length, an)).toBeNull();
    b[0] = 0x45;
    putU16(b, 2, 10);
    expect(decodeIpv4(b, 0, b.length, an)!.payloadEnd).toBe(20);
    expect(an.map((a) => a.reason)).toEqual(["header length 16 < 20", "version 6 is not 4", expect.stringContaining("bad header checksum"), "total length 10 < header length 20"]);
  });
});

describe("IPv6", () => {
  test("real MLDv2 report: Hop-by-Hop with Router Alert and PadN", () => {
    const b = ip6(1);
    const an: Anomaly[] = [];
    const l = decodeIpv6(b, 0, b.length, an)!;
    expect(an).toEqual([]);
    expect(l).toMatchObject({ headerNextHeader: 0, nextHeader: 58, nextHeaderName: "IPv6-ICMP", hopLimit: 1, dst: "ff02::16", payloadOffset: 48, length: 48 });
    expect(l.extHeaders.length).toBe(1);
    expect(l.extHeaders[0]).toMatchObject({ type: 0, name: "HOPOPT", offset: 40, length: 8, nextHeader: 58 });
    expect(l.extHeaders[0].options!.map((o) => [o.name, o.routerAlert])).toEqual([["Router Alert", 0], ["PadN", undefined]]);
    const i = decodeIcmpv6(b, l.payloadOffset, l.payloadEnd, an, 0)!;
    expect(i).toMatchObject({ type: 143, typeName: "Version 2 Multicast Listener Report", checksumOk: true });
  });

  test("real fragments: fragment header, key, payload bounds", () => {
    const an: Anomaly[] = [];
    const a = decodeIpv6(ip6(16), 0, ip6(16).length, an)!;
    const d = decodeIpv6(ip6(19), 0, ip6(19).length, an)!;
    expect(a.fragment).toEqual({ offset: 0, more: true, id: 0xafd1ff97 });
    expect(d.fragment).toEqual({ offset: 3696, more: false, id: 0xafd1ff97 });
    expect(a).toMatchObject({ nextHeader: 17, payloadOffset: 48, payloadEnd: 1280, flowLabel: 0x8a513 });
    expect(d.payloadEnd - d.payloadOffset).toBe(312);
    expect(ipv6FragmentKey(a)).toBe(ipv6FragmentKey(d));
    expect(an).toEqual([]);
  });

  function chain(real: Uint8Array, hdrs: Uint8Array[], firstNh: number): Uint8Array {
    const b = concat(real.subarray(0, 40), ...hdrs, real.subarray(40));
    b[6] = firstNh;
    putU16(b, 4, b.length - 40);
    return b;
  }
  const ext = (next: number, body: number[]) => {
    const len = 2 + body.length;
    const h = new Uint8Array(Math.ceil(len / 8) * 8);
    h[0] = next;
    h[1] = h.length / 8 - 1;
    h.set(body, 2);
    return h;
  };

  test("Routing (type 0, 2 addresses) + Destination Options + Fragment + AH stops", () => {
    const real = ip6(20); // ICMPv6 error, its payload is just bytes here
    const rh = ext(60, [0, 1, 0, 0, 0, 0, ...new Array(16).fill(0).map((_, i) => (i === 15 ? 1 : 0)), ...new Array(16).fill(0).map((_, i) => (i === 15 ? 2 : i === 0 ? 0x20 : 0))]);
    const dst = ext(44, [4, 1, 3]); // Tunnel Encapsulation Limit 3
    const frag = new Uint8Array([51, 0, 0, 1, 0, 0, 0, 9]); // offset 0, M=1, id 9, next = AH
    const b = chain(real, [rh, dst, frag], 43);
    const an: Anomaly[] = [];
    const l = decodeIpv6(b, 0, b.length, an)!;
    expect(an).toEqual([]);
    expect(l.extHeaders.map((h) => h.name)).toEqual(["IPv6-Route", "IPv6-Opts", "IPv6-Frag"]);
    expect(l.extHeaders[0]).toMatchObject({ routingType: 0, routingTypeName: "Source Route (deprecated)", segmentsLeft: 1, addresses: ["::1", "2000::2"] });
    expect(l.extHeaders[1].options![0]).toMatchObject({ name: "Tunnel Encapsulation Limit", tunnelEncapLimit: 3 });
    expect(l.fragment).toEqual({ offset: 0, more: true, id: 9 });
    expect(l).toMatchObject({ nextHeader: 51, nextHeaderName: "AH", payloadOffset: 40 + rh.length + dst.length + 8 });
  });

  test("non-first fragment stops the walk; ESP and No Next Header stop", () => {
    const real = ip6(20);
    const an: Anomaly[] = [];
    const nfb = chain(real, [new Uint8Array([60, 0, 0, 0x10, 0, 0, 0, 1])], 44);
    const nf = decodeIpv6(nfb, 0, nfb.length, an)!;
    expect(nf).toMatchObject({ nextHeader: 60, fragment: { offset: 16, more: false, id: 1 }, payloadOffset: 48 });
    for (const nh of [50, 59]) {
      const b = chain(real, [], nh);
      expect(decodeIpv6(b, 0, b.length, an)!).toMatchObject({ nextHeader: nh, payloadOffset: 40, extHeaders: [] });
    }
    expect(an).toEqual([]);
  });

  test("over-long chain is bounded; truncated ext header reported; HBH not first", () => {
    const real = ip6(20);
    const many = Array.from({ length: 40 }, () => ext(60, [1, 4, 0, 0, 0, 0]));
    const an: Anomaly[] = [];
    const l = decodeIpv6(chain(real, many, 60), 0, 100000, an)!;
    expect(l.extHeaders.length).toBe(MAX_IPV6_EXT_HEADERS);
    expect(an.at(-1)!.reason).toContain(`more than ${MAX_IPV6_EXT_HEADERS} extension headers`);
    const an2: Anomaly[] = [];
    const t = chain(real, [ext(0, [])], 60);
    t[41] = 200; // 1608-byte header
    decodeIpv6(t, 0, t.length, an2);
    expect(an2[0].reason).toContain("IPv6-Opts header truncated");
    const an3: Anomaly[] = [];
    const h = chain(real, [ext(0, [1, 4, 0, 0, 0, 0]), ext(58, [1, 4, 0, 0, 0, 0])], 60);
    expect(decodeIpv6(h, 0, h.length, an3)!.nextHeader).toBe(58);
    expect(an3[0].reason).toBe("Hop-by-Hop Options header is not first");
  });

  test("jumbogram", () => {
    const real = ip6(20);
    const hbh = ext(58, [0xc2, 4, 0, 0, 0, 0]);
    const b = chain(real, [hbh], 0);
    putU16(b, 4, 0);
    putU32(b, 44, b.length - 40);
    const an: Anomaly[] = [];
    const l = decodeIpv6(b, 0, b.length, an)!;
    expect(an).toEqual([]);
    expect(l.payloadEnd).toBe(b.length);
    expect(l.extHeaders[0].options![0].jumboLength).toBe(b.length - 40);
  });
});

describe("TCP", () => {
  test("flags text, options and checksum status equal tcpdump -vv", () => {
    let n = 0;
    for (const f of frames) {
      const { layers } = decodeFrame(1, f.data);
      const t = layers.find((l) => l.layer === "tcp") as ReturnType<typeof decodeTcp>;
      if (!t) continue;
      const line = tcpdumpPackets[f.no - 1];
      expect(line).toContain(`Flags ${t.flagsText},`);
      const ip = decodeIpv4(f.data, 14, f.data.length, [])!;
      const ok = tcpChecksumOk(f.data, 14, t, ip.payloadEnd);
      expect(line.includes("(incorrect ->")).toBe(!ok);
      const mss = t.options.find((o) => o.kind === 2)?.mss;
      if (mss !== undefined) expect(line).toContain(`mss ${mss},`);
      const ts = t.options.find((o) => o.kind === 8);
      if (ts) expect(line).toContain(`TS val ${ts.tsVal} ecr ${ts.tsEcr}`);
      const ws = t.options.find((o) => o.kind === 3);
      if (ws) expect(line).toContain(`wscale ${ws.windowScale}`);
      if (t.options.some((o) => o.kind === 4)) expect(line).toContain("sackOK");
      n++;
    }
    expect(n).toBe(10);
  });

  test("flag table", () => {
    expect(tcpFlagsText(0x12)).toBe("[S.]");
    expect(tcpFlagsText(0x18)).toBe("[P.]");
    expect(tcpFlagsText(0x11)).toBe("[F.]");
    expect(tcpFlagsText(0x04)).toBe("[R]");
    expect(tcpFlagsText(0)).toBe("[none]");
    expect(tcpFlagsText(0x1ff)).toBe("[FSRP.UEWe]");
  });

  test("SACK blocks and bad data offset", () => {
    const real = ip4(23); // ACK with NOP NOP TS
    const t0 = decodeTcp(real, 20, real.length, [])!;
    const sack = new Uint8Array([1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 1, 8]);
    const b = concat(real.subarray(0, 20 + t0.headerLength), sack);
    b[32] = ((t0.headerLength + sack.length) / 4) << 4 | (b[32] & 0x0f);
    const an: Anomaly[] = [];
    const t = decodeTcp(b, 20, b.length, an)!;
    expect(an).toEqual([]);
    expect(t.options.find((o) => o.kind === 5)!.sack).toEqual([{ left: 1, right: 9 }, { left: 256, right: 264 }]);
    b[32] = 0x40;
    expect(decodeTcp(b, 20, b.length, an)!.payloadOffset).toBe(40);
    b[32] = 0xf0;
    decodeTcp(b, 20, 40, an);
    expect(an.map((a) => a.reason)).toEqual(["data offset 16 bytes < 20", "header truncated: need 60 bytes, have 20"]);
  });
});

describe("UDP / ICMP / ICMPv6", () => {
  test("real ICMP port unreachable with the embedded datagram", () => {
    const b = ip4(13);
    const an: Anomaly[] = [];
    const ip = decodeIpv4(b, 0, b.length, an)!;
    const i = decodeIcmp(b, ip.payloadOffset, ip.payloadEnd, an)!;
    expect(i).toMatchObject({ type: 3, typeName: "Destination Unreachable", code: 3, codeName: "Port Unreachable", checksumOk: true, embeddedOffset: 28 });
    const inner = decodeIpv4(b, i.embeddedOffset!, ip.payloadEnd, an, true)!;
    expect(inner).toMatchObject({ src: "10.99.0.1", totalLength: 4028, truncated: true });
    const u = decodeUdp(b, inner.payloadOffset, inner.payloadEnd, an, true)!;
    expect(u).toMatchObject({ srcPort: 41310, dstPort: 4444, udpLength: 4008, truncated: true });
    expect(udpChecksumOk(b, i.embeddedOffset!, u)).toBeNull();
    expect(an).toEqual([]);
  });

  test("fragmentation needed: next-hop MTU (real ICMP edited to type 3 code 4)", () => {
    const b = ip4(13);
    b[21] = 4;
    putU16(b, 26, 1400);
    putU16(b, 22, 0);
    putU16(b, 22, foldComplement(onesSum(b, 20, b.length)));
    const an: Anomaly[] = [];
    expect(decodeIcmp(b, 20, b.length, an)).toMatchObject({ mtu: 1400, codeName: "Fragmentation Needed and Don't Fragment was Set", checksumOk: true });
    b[30] ^= 1;
    expect(decodeIcmp(b, 20, b.length, an)!.checksumOk).toBe(false);
    expect(decodeIcmp(b, 20, b.length, an, false)!.checksumOk).toBeNull();
    expect(an.length).toBe(1);
  });

  test("real ICMPv6 port unreachable; Packet Too Big MTU", () => {
    const b = ip6(20);
    const an: Anomaly[] = [];
    const i = decodeIcmpv6(b, 40, b.length, an, 0)!;
    expect(i).toMatchObject({ type: 1, code: 4, codeName: "port unreachable", checksumOk: true, embeddedOffset: 48 });
    b[40] = 2; b[41] = 0;
    putU32(b, 44, 1280);
    putU16(b, 42, 0);
    putU16(b, 42, 0);
    const ok0 = transportChecksumOk(b, 0, 58, 40, b.length);
    expect(ok0).toBe(false);
    // fix the checksum with the pseudo-header
    const s = onesSum(b, 8, 40) + 58 + (b.length - 40);
    putU16(b, 42, foldComplement(onesSum(b, 40, b.length, s)));
    const p = decodeIcmpv6(b, 40, b.length, an, 0)!;
    expect(p).toMatchObject({ typeName: "Packet Too Big", mtu: 1280, checksumOk: true, embeddedOffset: 48 });
    expect(an).toEqual([]);
  });

  test("real neighbour advertisement target", () => {
    const b = ip6(15);
    const an: Anomaly[] = [];
    expect(decodeIcmpv6(b, 40, b.length, an, 0)).toMatchObject({ typeName: "Neighbor Advertisement", target: "fd00:99::2", naFlags: 0x60, checksumOk: true });
    expect(an).toEqual([]);
  });

  test("UDP length edge cases", () => {
    const b = ip4(9); // first fragment: UDP says 4008 but only 1256 bytes are here
    const an: Anomaly[] = [];
    expect(decodeUdp(b, 20, b.length, an)).toMatchObject({ truncated: true, payloadEnd: b.length });
    putU16(b, 24, 5);
    decodeUdp(b, 20, b.length, an);
    expect(an.map((a) => a.reason)).toEqual(["datagram truncated: need 4008 bytes, have 1256", "length field 5 < 8"]);
  });

  test("registry names", () => {
    expect(IP_PROTOCOLS.name(50)).toBe("ESP");
    expect(IP_PROTOCOLS.name(200)).toBe("UNASSIGNED(200)");
    expect(IP_PROTOCOLS.name(253)).toBe("EXPERIMENTAL(253)");
  });
});
