/** Tunnel MTU / MSS report: every inner MTU is the largest that fits (lib/esp/mtu.ts arithmetic). */
import { describe, expect, test } from "bun:test";
import { espOuterLength } from "../../lib/esp/mtu.ts";
import { mtuReport } from "../../lib/probe/report.ts";

describe("mtuReport", () => {
  test("largest fitting inner packet per cipher/encapsulation/outer for path MTUs 576..9000", () => {
    for (let pmtu = 576; pmtu <= 9000; pmtu += 7) {
      for (const fam of [4, 6] as const) {
        if (fam === 6 && pmtu < 1280) continue;
        const rep = mtuReport(pmtu, fam);
        expect(rep.rows.length).toBe(pmtu >= 1280 ? 12 : 6);
        for (const r of rep.rows) {
          const opts = { outer: r.outer === 6 ? "ipv6" as const : "ipv4" as const, udpEncap: r.encap === "udp", tcpEncap: r.encap === "tcp" };
          expect(espOuterLength(r.cipher, opts, r.innerMtu)).toBeLessThanOrEqual(pmtu);
          expect(espOuterLength(r.cipher, opts, r.innerMtu + 1)).toBeGreaterThan(pmtu);
          expect(r.mssIpv4).toBe(r.innerMtu - 40);
          expect(r.mssIpv6).toBe(r.innerMtu >= 1280 ? r.innerMtu - 60 : null);
          expect(r.measured).toBe(r.outer === fam);
        }
      }
    }
  });

  test("1380 over IPv4: the numbers vpnkit mtu prints", () => {
    const rep = mtuReport(1380, 4);
    expect(rep.clamp).toEqual({
      udp: { innerMtu: 1318, mssIpv4: 1278, mssIpv6: 1258 },
      tcp: { innerMtu: 1302, mssIpv4: 1262, mssIpv6: 1242 },
    });
  });

  test("a path below 1280 has no IPv6 outer rows and no inner IPv6 MSS", () => {
    const rep = mtuReport(1000, 4);
    expect(rep.rows.every((r) => r.outer === 4)).toBe(true);
    expect(rep.clamp.udp.mssIpv6).toBeNull();
  });
});
