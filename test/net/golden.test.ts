/**
 * Golden test: every frame of every real capture (fixtures/ and test/net/fixtures/) is decoded
 * and compared field by field with tshark's own decode (test/net/fixtures/golden/*.tshark.tsv,
 * made by make-golden.sh). Only fields tshark printed are compared.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { LayerBase } from "../../lib/core/layer.ts";
import type { EthernetLayer } from "../../lib/link/ethernet.ts";
import type { LoopbackLayer } from "../../lib/link/loopback.ts";
import type { SllLayer } from "../../lib/link/sll.ts";
import type { IcmpLayer } from "../../lib/net/icmp.ts";
import type { Icmpv6Layer } from "../../lib/net/icmpv6.ts";
import type { Ipv4Layer } from "../../lib/net/ipv4.ts";
import type { Ipv6Layer } from "../../lib/net/ipv6.ts";
import type { TcpLayer } from "../../lib/net/tcp.ts";
import type { UdpLayer } from "../../lib/net/udp.ts";
import { readCapture, readTsv } from "./pcap.ts";
import { decodeFrame } from "./stack.ts";

const ROOT = join(import.meta.dir, "../..");
const GOLD = join(import.meta.dir, "fixtures/golden");

function captures(): string[] {
  const list = [join(import.meta.dir, "fixtures/frag-eth.pcap"), join(import.meta.dir, "fixtures/frag-sll1.pcap")];
  for (const d of readdirSync(join(ROOT, "fixtures/strongswan"))) {
    for (const f of readdirSync(join(ROOT, "fixtures/strongswan", d))) if (/\.pcap(ng)?$/.test(f)) list.push(join(ROOT, "fixtures/strongswan", d, f));
  }
  for (const f of readdirSync(join(ROOT, "fixtures/tcpdump"))) if (/\.pcap(ng)?$/.test(f)) list.push(join(ROOT, "fixtures/tcpdump", f));
  return list.filter((p) => existsSync(join(GOLD, basename(p).replace(/\.pcap(ng)?$/, ".tshark.tsv"))));
}

const hex = (s: string) => parseInt(s, 16);
function first<T extends LayerBase>(ls: LayerBase[], name: string): T | undefined {
  return ls.find((l) => l.layer === name) as T | undefined;
}

let totalCompared = 0;

describe("golden: fields equal tshark's", () => {
  for (const cap of captures()) {
    test(basename(cap), () => {
      const frames = readCapture(cap);
      const rows = readTsv(join(GOLD, basename(cap).replace(/\.pcap(ng)?$/, ".tshark.tsv")));
      expect(frames.length).toBe(rows.length);
      let compared = 0;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i], r = rows[i];
        const { layers } = decodeFrame(f.linkType, f.data);
        const got: Record<string, string | number | boolean | undefined> = {};
        const want: Record<string, string | number | boolean | undefined> = {};
        const cmp = (field: string, mine: string | number | boolean | undefined, theirs: (s: string) => string | number | boolean = (s) => s) => {
          if (r[field] === undefined || r[field] === "") return;
          got[field] = mine;
          want[field] = theirs(r[field]);
          compared++;
        };
        cmp("frame.cap_len", f.data.length, Number);
        const eth = first<EthernetLayer>(layers, "eth");
        if (eth) cmp("eth.type", eth.vlans.length ? eth.vlans[0].tpid : eth.etherType ?? undefined, hex);
        const sll = first<SllLayer>(layers, "sll");
        if (sll) {
          cmp("sll.pkttype", sll.packetType, Number);
          cmp("sll.hatype", sll.hatype, Number);
          cmp("sll.ltype", sll.protocol, hex);
          cmp("sll.etype", sll.protocol, hex);
          cmp("sll.ifindex", sll.ifindex, Number);
        }
        const lo = first<LoopbackLayer>(layers, "loopback");
        if (lo) cmp("null.family", lo.family, Number);
        const ip = first<Ipv4Layer>(layers, "ipv4");
        if (ip) {
          cmp("ip.src", ip.src); cmp("ip.dst", ip.dst); cmp("ip.hdr_len", ip.headerLength, Number);
          cmp("ip.len", ip.totalLength, Number); cmp("ip.id", ip.id, hex); cmp("ip.flags", ip.flags, hex);
          cmp("ip.frag_offset", ip.fragOffset / 8, Number); cmp("ip.ttl", ip.ttl, Number); cmp("ip.proto", ip.proto, Number);
          cmp("ip.checksum", ip.checksum, hex);
          cmp("ip.checksum.status", ip.checksumOk === null ? "2" : ip.checksumOk ? "1" : "0");
        }
        const ip6 = first<Ipv6Layer>(layers, "ipv6");
        if (ip6) {
          cmp("ipv6.src", ip6.src); cmp("ipv6.dst", ip6.dst); cmp("ipv6.plen", ip6.payloadLength, Number);
          cmp("ipv6.nxt", ip6.headerNextHeader, Number); cmp("ipv6.hlim", ip6.hopLimit, Number);
          cmp("ipv6.tclass", ip6.trafficClass, hex); cmp("ipv6.flow", ip6.flowLabel, hex);
          const fh = ip6.extHeaders.find((h) => h.type === 44);
          cmp("ipv6.fraghdr.nxt", fh?.nextHeader, Number);
          cmp("ipv6.fraghdr.offset", ip6.fragment ? ip6.fragment.offset / 8 : undefined, Number);
          cmp("ipv6.fraghdr.more", ip6.fragment?.more, (s) => s === "1" || s === "True");
          cmp("ipv6.fraghdr.ident", ip6.fragment?.id, hex);
        }
        const udp = first<UdpLayer>(layers, "udp");
        cmp("udp.srcport", udp?.srcPort, Number); cmp("udp.dstport", udp?.dstPort, Number); cmp("udp.length", udp?.udpLength, Number);
        const tcp = first<TcpLayer>(layers, "tcp");
        if (tcp || r["tcp.srcport"]) {
          cmp("tcp.srcport", tcp?.srcPort, Number); cmp("tcp.dstport", tcp?.dstPort, Number);
          cmp("tcp.seq_raw", tcp?.seq, Number); cmp("tcp.ack_raw", tcp?.ack, Number);
          cmp("tcp.hdr_len", tcp?.headerLength, Number); cmp("tcp.flags", tcp?.flags, (s) => hex(s) & 0x1ff);
          cmp("tcp.window_size_value", tcp?.window, Number);
          cmp("tcp.len", tcp ? tcp.payloadEnd - tcp.payloadOffset : undefined, Number);
          const o = tcp?.options ?? [];
          cmp("tcp.options.mss_val", o.find((x) => x.kind === 2)?.mss, Number);
          cmp("tcp.options.wscale.shift", o.find((x) => x.kind === 3)?.windowScale, Number);
          cmp("tcp.options.timestamp.tsval", o.find((x) => x.kind === 8)?.tsVal, Number);
          cmp("tcp.options.timestamp.tsecr", o.find((x) => x.kind === 8)?.tsEcr, Number);
        }
        const icmp = first<IcmpLayer>(layers, "icmp");
        cmp("icmp.type", icmp?.type, Number); cmp("icmp.code", icmp?.code, Number); cmp("icmp.mtu", icmp?.mtu, Number);
        cmp("icmp.checksum.status", icmp ? (icmp.checksumOk === null ? "2" : icmp.checksumOk ? "1" : "0") : undefined);
        const i6 = first<Icmpv6Layer>(layers, "icmpv6");
        cmp("icmpv6.type", i6?.type, Number); cmp("icmpv6.code", i6?.code, Number); cmp("icmpv6.mtu", i6?.mtu, Number);
        expect({ frame: f.no, ...got }).toEqual({ frame: f.no, ...want });
      }
      totalCompared += compared;
      expect(compared).toBeGreaterThan(frames.length);
    });
  }
  test("compared a meaningful number of fields", () => {
    console.log(`golden fields compared: ${totalCompared}`);
    expect(totalCompared).toBeGreaterThan(3000);
  });
});
