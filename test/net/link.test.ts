/** Link layer: real SLL v1/v2 frames, and VLAN/QinQ/802.3/NULL/LOOP/raw built from real IP packets. */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { concat, toHex } from "../../lib/core/bytes.ts";
import type { EthernetLayer } from "../../lib/link/ethernet.ts";
import { decodeLink } from "../../lib/link/link.ts";
import type { LoopbackLayer } from "../../lib/link/loopback.ts";
import type { SllLayer } from "../../lib/link/sll.ts";
import type { Ipv4Layer } from "../../lib/net/ipv4.ts";
import type { Ipv6Layer } from "../../lib/net/ipv6.ts";
import { readCapture } from "./pcap.ts";
import { decodeFrame } from "./stack.ts";

const FIX = join(import.meta.dir, "fixtures");
const ROOT = join(import.meta.dir, "../..");
const eth = readCapture(join(FIX, "frag-eth.pcap"));
const V4_FRAME = eth[20].data; // frame 21: TCP SYN over IPv4
const V6_FRAME = eth[19].data; // frame 20: ICMPv6 port unreachable
const V4 = V4_FRAME.subarray(14);
const V6 = V6_FRAME.subarray(14);

describe("Linux cooked capture", () => {
  test("SLL2 (real strongSwan capture): ARP frame header fields", () => {
    const f = readCapture(join(ROOT, "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap"))[0];
    expect(f.linkType).toBe(276);
    const an: Anomaly[] = [];
    const r = decodeLink(276, f.data, an);
    const s = r.layers[0] as SllLayer;
    expect(an).toEqual([]);
    expect(s).toMatchObject({
      layer: "sll", version: 2, protocol: 0x0806, protocolName: "ARP", ifindex: 68, hatype: 1, hatypeName: "ETHER",
      packetType: 4, packetTypeName: "Sent by us", addrLength: 6, length: 20, payloadOffset: 20,
    });
    expect(toHex(s.addr)).toBe("f276c26b23eb");
    expect(r.net).toBeNull();
  });

  test("SLL v1 (real tcpdump -i any -y LINUX_SLL capture): IPv4 and IPv6 frames", () => {
    const frames = readCapture(join(FIX, "frag-sll1.pcap"));
    expect(frames[0].linkType).toBe(113);
    let v4 = 0, v6 = 0;
    for (const f of frames) {
      const an: Anomaly[] = [];
      const r = decodeLink(113, f.data, an);
      const s = r.layers[0] as SllLayer;
      expect(an).toEqual([]);
      expect(s.version).toBe(1);
      expect(s.length).toBe(16);
      if (r.net === "ipv4") { v4++; expect(s.protocol).toBe(0x0800); expect(f.data[16] >>> 4).toBe(4); }
      if (r.net === "ipv6") { v6++; expect(s.protocol).toBe(0x86dd); expect(f.data[16] >>> 4).toBe(6); }
      expect(["Unicast to us", "Sent by us", "Multicast", "Broadcast"]).toContain(s.packetTypeName);
    }
    expect(v4).toBeGreaterThan(10);
    expect(v6).toBeGreaterThan(5);
  });

  test("truncated SLL headers", () => {
    const an: Anomaly[] = [];
    expect(decodeLink(113, new Uint8Array(15), an).net).toBeNull();
    expect(decodeLink(276, new Uint8Array(19), an).net).toBeNull();
    expect(an.map((a) => a.layer)).toEqual(["sll", "sll"]);
  });
});

function tag(tpid: number, pcp: number, dei: number, vid: number): Uint8Array {
  const tci = (pcp << 13) | (dei << 12) | vid;
  return new Uint8Array([tpid >> 8, tpid & 0xff, tci >> 8, tci & 0xff]);
}
const withTags = (frame: Uint8Array, ...tags: Uint8Array[]) => concat(frame.subarray(0, 12), ...tags, frame.subarray(12));

describe("Ethernet", () => {
  test("untagged real frame", () => {
    const an: Anomaly[] = [];
    const r = decodeLink(1, V4_FRAME, an);
    const e = r.layers[0] as EthernetLayer;
    expect(e).toMatchObject({ etherType: 0x0800, etherTypeName: "IPv4", length: 14, vlans: [] });
    expect(r).toMatchObject({ net: "ipv4", off: 14, end: V4_FRAME.length });
    expect(toHex(e.src)).toBe(toHex(V4_FRAME.subarray(6, 12)));
  });

  test("802.1Q tag", () => {
    const f = withTags(V4_FRAME, tag(0x8100, 5, 1, 100));
    const an: Anomaly[] = [];
    const { layers } = decodeFrame(1, f);
    const e = layers[0] as EthernetLayer;
    expect(e.vlans).toEqual([{ offset: 12, tpid: 0x8100, tpidName: "802.1Q", pcp: 5, dei: 1, vid: 100 }]);
    expect(e.length).toBe(18);
    expect(e.etherType).toBe(0x0800);
    expect((layers[1] as Ipv4Layer).src).toBe("10.99.0.1");
    expect(layers[2].layer).toBe("tcp");
    expect(an).toEqual([]);
  });

  test("802.1ad QinQ (0x88a8 + 0x8100) and legacy 0x9100 over IPv6", () => {
    for (const outer of [0x88a8, 0x9100]) {
      const f = withTags(V6_FRAME, tag(outer, 3, 0, 4094), tag(0x8100, 0, 0, 7));
      const an: Anomaly[] = [];
      const r = decodeLink(1, f, an);
      const e = r.layers[0] as EthernetLayer;
      expect(e.vlans.map((v) => [v.tpid, v.pcp, v.dei, v.vid])).toEqual([[outer, 3, 0, 4094], [0x8100, 0, 0, 7]]);
      expect(r).toMatchObject({ net: "ipv6", off: 22 });
      const { layers, an: an2 } = decodeFrame(1, f);
      expect((layers[1] as Ipv6Layer).dst).toBe("fd00:99::1");
      expect(an2).toEqual([]);
    }
  });

  test("tag stacks are bounded; truncated tags are reported", () => {
    const many = withTags(V4_FRAME, ...Array.from({ length: 12 }, () => tag(0x8100, 0, 0, 1)));
    const an: Anomaly[] = [];
    expect(decodeLink(1, many, an).net).toBeNull();
    expect(an[0].reason).toContain("more than 8 VLAN tags");
    const an2: Anomaly[] = [];
    const cut = withTags(V4_FRAME, tag(0x8100, 0, 0, 1)).subarray(0, 16);
    expect(decodeLink(1, cut, an2).net).toBeNull();
    expect(an2[0].reason).toContain("VLAN tag truncated");
  });

  test("802.3 length frame is non-IP", () => {
    const llc = new Uint8Array([0x42, 0x42, 0x03, 0, 0, 0, 0, 0]);
    const f = concat(V4_FRAME.subarray(0, 12), new Uint8Array([0, llc.length]), llc, new Uint8Array(10));
    const an: Anomaly[] = [];
    const r = decodeLink(1, f, an);
    const e = r.layers[0] as EthernetLayer;
    expect(e).toMatchObject({ etherType: null, ieee8023Length: 8, llc: { dsap: 0x42, ssap: 0x42, control: 3 }, payloadEnd: 22 });
    expect(r.net).toBeNull();
    expect(an).toEqual([]);
  });

  test("short frame", () => {
    const an: Anomaly[] = [];
    expect(decodeLink(1, V4_FRAME.subarray(0, 13), an)).toMatchObject({ net: null, layers: [] });
    expect(an[0]).toMatchObject({ layer: "eth", reason: "truncated: need 14 bytes, have 13" });
  });
});

describe("BSD loopback", () => {
  const le = (n: number) => new Uint8Array([n & 0xff, (n >> 8) & 0xff, 0, 0]);
  const be = (n: number) => new Uint8Array([0, 0, (n >> 8) & 0xff, n & 0xff]);
  for (const lt of [0, 108]) {
    test(`LINKTYPE ${lt}: AF_INET and AF_INET6 (24/28/30) in both byte orders`, () => {
      for (const [af, ip, net] of [[2, V4, "ipv4"], [24, V6, "ipv6"], [28, V6, "ipv6"], [30, V6, "ipv6"]] as const) {
        for (const enc of [le, be]) {
          const f = concat(enc(af), ip);
          const an: Anomaly[] = [];
          const r = decodeLink(lt, f, an);
          const l = r.layers[0] as LoopbackLayer;
          expect(l).toMatchObject({ family: af, bigEndian: enc === be, linkType: lt });
          expect(r).toMatchObject({ net, off: 4, end: f.length });
          const { layers, an: an2 } = decodeFrame(lt, f);
          expect(layers.length).toBe(net === "ipv4" ? 3 : 5); // v6: ICMPv6 error + embedded IPv6 + UDP
          expect(an2).toEqual([]);
          expect(an).toEqual([]);
        }
      }
    });
  }

  test("real NULL capture (tcpdump ikev2four.pcap)", () => {
    const frames = readCapture(join(ROOT, "fixtures/tcpdump/ikev2four.pcap"));
    expect(frames[0].linkType).toBe(0);
    for (const f of frames) expect(decodeLink(0, f.data, []).net).not.toBeNull();
  });

  test("other families are non-IP", () => {
    const an: Anomaly[] = [];
    const r = decodeLink(0, concat(le(7), V4), an);
    expect(r.net).toBeNull();
    expect((r.layers[0] as LoopbackLayer).familyName).toBe("AF_ISO (OSI)");
  });
});

describe("raw IP", () => {
  test("LINKTYPE 101, 12, 14 pick the version from the packet", () => {
    for (const lt of [101, 12, 14]) {
      expect(decodeLink(lt, V4, [])).toMatchObject({ net: "ipv4", off: 0, layers: [] });
      expect(decodeLink(lt, V6, [])).toMatchObject({ net: "ipv6", off: 0 });
    }
  });
  test("228 is IPv4, 229 is IPv6; a mismatch is an anomaly", () => {
    expect(decodeLink(228, V4, [])).toMatchObject({ net: "ipv4" });
    expect(decodeLink(229, V6, [])).toMatchObject({ net: "ipv6" });
    const an: Anomaly[] = [];
    decodeLink(228, V6, an);
    expect(an[0].reason).toContain("IP version 6 on a LINKTYPE_IPV4 interface");
  });
  test("empty and non-IP", () => {
    const an: Anomaly[] = [];
    expect(decodeLink(101, new Uint8Array(0), an).net).toBeNull();
    expect(decodeLink(101, new Uint8Array([0x50, 0]), an).net).toBeNull();
    expect(an.length).toBe(2);
  });
});

test("unknown link type: anomaly and net null", () => {
  const an: Anomaly[] = [];
  expect(decodeLink(105, V4_FRAME, an)).toMatchObject({ net: null, layers: [] });
  expect(an).toEqual([{ layer: "link", offset: 0, reason: "unsupported link type 105 (IEEE802_11)" }]);
});
