/** espOverhead / tunnelMtu arithmetic and ICMP too-big messages. */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { u16, u32 } from "../../lib/core/bytes.ts";
import { buildIcmpTooBig, espOverhead, internetChecksum, OutboundSa, tunnelMtu } from "../../lib/esp/mod.ts";
import type { EncapOptions, EspCipherName } from "../../lib/esp/mod.ts";
import { ESP_CBC_CIPHERS, espKeyMaterialLength } from "../../lib/esp/cbc.ts";
import { hex, icmp6ChecksumOk, ipv4Packet, ipv6Packet, keyMaterial } from "./util.ts";

const CIPHERS: EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305", ...ESP_CBC_CIPHERS];
const ENCAPS: EncapOptions[] = [
  { outer: "ipv4", udpEncap: true }, { outer: "ipv4", udpEncap: false }, { outer: "ipv6", udpEncap: true },
  { outer: "ipv6", udpEncap: false }, { outer: "ipv4", udpEncap: false, tcpEncap: true },
];

describe("espOverhead", () => {
  test("strongSwan libipsec anchor: 1028-byte inner IPv4, aes256gcm16, UDP/4500 → 64 (anchors-perf RESULTS.md)", () => {
    expect(espOverhead("aes256gcm16", { outer: "ipv4", udpEncap: true }, 1028)).toBe(64);
    expect(espOverhead("chacha20poly1305", { outer: "ipv4", udpEncap: true }, 1028)).toBe(64);
  });

  test("exact numbers: 62 + padding 0..3 (IPv4/UDP), +20 for IPv6, -8 without UDP, +22 for TCP", () => {
    const v4u = { outer: "ipv4", udpEncap: true } as const;
    expect([1028, 1029, 1030, 1031, 1032].map((n) => espOverhead("aes128gcm16", v4u, n))).toEqual([64, 63, 62, 65, 64]);
    expect(espOverhead("aes256gcm16", { outer: "ipv6", udpEncap: true }, 1028)).toBe(84);
    expect(espOverhead("aes256gcm16", { outer: "ipv4", udpEncap: false }, 1028)).toBe(56);
    expect(espOverhead("aes256gcm16", { outer: "ipv4", udpEncap: false, tcpEncap: true }, 1028)).toBe(78);
  });

  test("matches what OutboundSa.seal really produces (+ outer headers)", () => {
    for (const c of CIPHERS) {
      const sa = new OutboundSa({ spi: 0x1000, cipher: c, keyMaterial: keyMaterial(espKeyMaterialLength(c)) });
      for (let n = 0; n < 70; n++) {
        const esp = sa.seal(new Uint8Array(n), 4)!;
        expect(20 + 8 + esp.length - n).toBe(espOverhead(c, { outer: "ipv4", udpEncap: true }, n));
        expect(40 + esp.length - n).toBe(espOverhead(c, { outer: "ipv6", udpEncap: false }, n));
      }
    }
  });
});

describe("tunnelMtu", () => {
  test("1500 path MTU: 1438 (IPv4/UDP), 1418 (IPv6/UDP), 1446 (IPv4 raw ESP)", () => {
    expect(tunnelMtu(1500, "aes256gcm16", { outer: "ipv4", udpEncap: true })).toBe(1438);
    expect(tunnelMtu(1500, "aes256gcm16", { outer: "ipv6", udpEncap: true })).toBe(1418);
    expect(tunnelMtu(1500, "aes256gcm16", { outer: "ipv4", udpEncap: false })).toBe(1446);
    expect(tunnelMtu(40, "aes256gcm16", { outer: "ipv4", udpEncap: true })).toBe(0);
  });

  test("AES-CBC + HMAC: 16-byte IV, block padding, the HMAC's ICV (1500, IPv4/UDP)", () => {
    // IP 20 + UDP 8 + ESP 8 + IV 16 + ICV (12/16/24/32) + inner + 2 padded to 16: 1422 + 2 = 89 blocks,
    // outer 1488 / 1492 / 1500 with the 96/128/192-bit ICVs; the 256-bit one needs a block less
    expect(["aes128-sha1", "aes128-sha256", "aes256-sha384", "aes256-sha512"].map((c) => tunnelMtu(1500, c as EspCipherName, { outer: "ipv4", udpEncap: true }))).toEqual([1422, 1422, 1422, 1406]);
  });

  test("is the largest inner size that fits, for every path MTU 60..1600 and 8990..9100", () => {
    const mtus: number[] = [];
    for (let m = 60; m <= 1600; m++) mtus.push(m);
    for (let m = 8990; m <= 9100; m++) mtus.push(m);
    for (const c of CIPHERS) {
      for (const o of ENCAPS) {
        for (const mtu of mtus) {
          const n = tunnelMtu(mtu, c, o);
          if (n > 0) expect(n + espOverhead(c, o, n)).toBeLessThanOrEqual(mtu);
          expect(n + 1 + espOverhead(c, o, n + 1)).toBeGreaterThan(mtu);
        }
      }
    }
  });
});

function icmp4Ok(m: Uint8Array): void {
  expect(m[0]).toBe(0x45);
  expect(u16(m, 2)).toBe(m.length);
  expect(internetChecksum(m, 0, 20)).toBe(0);
  expect(m[9]).toBe(1);
  expect(internetChecksum(m, 20, m.length)).toBe(0);
  expect(m[20]).toBe(3);
  expect(m[21]).toBe(4);
}

describe("buildIcmpTooBig IPv4", () => {
  test("type 3 code 4, next-hop MTU, from the inner destination to the inner source, checksums valid", () => {
    const inner = ipv4Packet(1472, { df: true });
    const m = buildIcmpTooBig(inner, 1438)!;
    icmp4Ok(m);
    expect(u16(m, 26)).toBe(1438);
    expect(u16(m, 24)).toBe(0);
    expect(m.subarray(12, 16)).toEqual(inner.subarray(16, 20));
    expect(m.subarray(16, 20)).toEqual(inner.subarray(12, 16));
    expect(m.length).toBe(576); // RFC 1812: as much as fits in 576 bytes
    expect(m.subarray(28)).toEqual(inner.subarray(0, 548));
  });

  test("localAddress is used as the source; small packets are quoted whole", () => {
    const inner = ipv4Packet(12, { df: true, proto: 17 });
    const m = buildIcmpTooBig(inner, 1400, { localAddress: new Uint8Array([10, 9, 8, 7]) })!;
    icmp4Ok(m);
    expect(Array.from(m.subarray(12, 16))).toEqual([10, 9, 8, 7]);
    expect(m.subarray(28)).toEqual(inner);
  });

  test("no error for: DF clear, non-initial fragment, ICMP errors, odd sources/destinations, garbage", () => {
    expect(buildIcmpTooBig(ipv4Packet(100, { df: false }), 1400)).toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true, fragOff: 10 }), 1400)).toBeNull();
    for (const t of [3, 4, 5, 11, 12]) expect(buildIcmpTooBig(ipv4Packet(100, { df: true, icmpType: t }), 1400)).toBeNull();
    for (const t of [0, 8, 13]) expect(buildIcmpTooBig(ipv4Packet(100, { df: true, icmpType: t }), 1400)).not.toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true, src: [0, 0, 0, 0] }), 1400)).toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true, src: [224, 0, 0, 1] }), 1400)).toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true, dst: [255, 255, 255, 255] }), 1400)).toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true, dst: [239, 1, 1, 1] }), 1400)).toBeNull();
    expect(buildIcmpTooBig(new Uint8Array(0), 1400)).toBeNull();
    expect(buildIcmpTooBig(new Uint8Array([0x45, 0, 0]), 1400)).toBeNull();
    expect(buildIcmpTooBig(new Uint8Array(40).fill(0x75), 1400)).toBeNull();
    expect(buildIcmpTooBig(ipv4Packet(100, { df: true }), 1400, { localAddress: new Uint8Array(16) })).toBeNull();
  });
});

describe("buildIcmpTooBig IPv6", () => {
  test("type 2, 32-bit MTU, checksum valid, quotes up to 1280 total", () => {
    const inner = ipv6Packet(1452, { nh: 17 });
    const m = buildIcmpTooBig(inner, 1418)!;
    expect(m[0] >> 4).toBe(6);
    expect(m[6]).toBe(58);
    expect(m.length).toBe(1280);
    expect(u16(m, 4)).toBe(1240);
    expect(m[40]).toBe(2);
    expect(m[41]).toBe(0);
    expect(u32(m, 44)).toBe(1418);
    expect(icmp6ChecksumOk(m)).toBe(true);
    expect(m.subarray(8, 24)).toEqual(inner.subarray(24, 40));
    expect(m.subarray(24, 40)).toEqual(inner.subarray(8, 24));
    expect(m.subarray(48)).toEqual(inner.subarray(0, 1232));
  });

  test("echo request gets one, ICMPv6 errors don't (also behind extension headers); localAddress; bad sources", () => {
    const local = hex("fd000000000000000000000000000001");
    const m = buildIcmpTooBig(ipv6Packet(100), 1300, { localAddress: local })!;
    expect(icmp6ChecksumOk(m)).toBe(true);
    expect(m.subarray(8, 24)).toEqual(local);
    for (const t of [1, 2, 3, 4]) expect(buildIcmpTooBig(ipv6Packet(100, { icmpType: t }), 1300)).toBeNull();
    // hop-by-hop header, then ICMPv6 type 1
    const hbh = ipv6Packet(100, { nh: 0 });
    hbh[40] = 58; hbh[41] = 0; hbh[48] = 1;
    expect(buildIcmpTooBig(hbh, 1300)).toBeNull();
    hbh[48] = 128;
    expect(buildIcmpTooBig(hbh, 1300)).not.toBeNull();
    expect(buildIcmpTooBig(ipv6Packet(100, { src: new Uint8Array(16) }), 1300)).toBeNull();
    expect(buildIcmpTooBig(ipv6Packet(100, { src: hex("ff020000000000000000000000000001") }), 1300)).toBeNull();
    const mc = ipv6Packet(100, { nh: 17, dst: hex("ff0e0000000000000000000000000101") });
    expect(buildIcmpTooBig(mc, 1300)).toBeNull();
    expect(buildIcmpTooBig(mc, 1300, { localAddress: local })).not.toBeNull();
  });
});

test("tshark agrees: ICMP/ICMPv6 checksums correct, MTU fields read back", () => {
  const ts = spawnSync("tshark", ["--version"]);
  if (ts.status !== 0) {
    if (process.env.CI === "true") throw new Error("tshark missing");
    console.warn("skip: tshark not installed");
    return;
  }
  const pkts = [
    buildIcmpTooBig(ipv4Packet(1472, { df: true }), 1438)!,
    buildIcmpTooBig(ipv4Packet(20, { df: true, proto: 6 }), 1400, { localAddress: new Uint8Array([10, 0, 0, 1]) })!,
    buildIcmpTooBig(ipv6Packet(1452, { nh: 17 }), 1418)!,
  ];
  // pcap, LINKTYPE_RAW (101)
  const parts: Uint8Array[] = [];
  const gh = new DataView(new ArrayBuffer(24));
  gh.setUint32(0, 0xa1b2c3d4, true); gh.setUint16(4, 2, true); gh.setUint16(6, 4, true);
  gh.setUint32(16, 65535, true); gh.setUint32(20, 101, true);
  parts.push(new Uint8Array(gh.buffer));
  for (const p of pkts) {
    const rh = new DataView(new ArrayBuffer(16));
    rh.setUint32(8, p.length, true); rh.setUint32(12, p.length, true);
    parts.push(new Uint8Array(rh.buffer), p);
  }
  const dir = mkdtempSync(join(tmpdir(), "vpnkit-esp-icmp-"));
  try {
    const file = join(dir, "toobig.pcap");
    writeFileSync(file, Buffer.concat(parts));
    const r = spawnSync("tshark", ["-r", file, "-o", "ip.check_checksum:TRUE", "-T", "fields", "-E", "separator=|",
      "-e", "ip.checksum.status", "-e", "icmp.checksum.status", "-e", "icmp.mtu", "-e", "icmpv6.checksum.status", "-e", "icmpv6.mtu",
      "-e", "_ws.expert.message"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.length).toBe(3);
    // Fields with several values list the outer message first, then the quoted packet
    // (whose truncated ICMP checksum tshark cannot verify: status 2). 1 = good.
    const f = lines.map((l) => l.split("|").map((x) => x.split(",")));
    expect(f[0][0]).toEqual(["1", "1"]); // our IPv4 header + the quoted original header
    expect(f[0][1][0]).toBe("1");
    expect(f[0][2][0]).toBe("1438");
    expect(f[1][0][0]).toBe("1");
    expect(f[1][1][0]).toBe("1");
    expect(f[1][2][0]).toBe("1400");
    expect(f[2][3][0]).toBe("1");
    expect(f[2][4][0]).toBe("1418");
    for (const l of lines) expect(l).not.toMatch(/incorrect|Bad checksum/i);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
