import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { toHex } from "../../lib/core/bytes.ts";
import { decodeAh } from "../../lib/ipsec/ah.ts";
import { colonHex, ipEnd, loadGolden, tcpdumpAh, tcpdumpLines } from "./helpers.ts";

describe("decodeAh: OSPFv3 with AH over IPv6 (tcpdump ospf3_ah-vv)", () => {
  const frames = loadGolden("ospf3_ah");
  const lines = tcpdumpLines("ospf3_ah-vv.out");

  test("all 61 frames: every field matches tshark; spi/seq/icv/sumlen match tcpdump", () => {
    expect(frames.length).toBe(61);
    for (const f of frames) {
      const t = f.ah!;
      const an: Anomaly[] = [];
      const ah = decodeAh(f.bytes, t.off, ipEnd(f), an, { ipv6: true })!;
      expect(an).toEqual([]);
      expect(ah.layer).toBe("ah");
      expect(ah.offset).toBe(t.off);
      expect(ah.nextHeader).toBe(t.nextHeader);
      expect(ah.nextHeaderName).toBe("OSPFIGP"); // IANA name, as lib/net's IP_PROTOCOLS has it
      expect(ah.payloadLen).toBe(t.length);
      expect(ah.reserved).toBe(parseInt(colonHex(t.reserved), 16));
      expect(ah.spi).toBe(parseInt(t.spi, 16));
      expect(ah.seq).toBe(t.seq);
      expect(toHex(ah.icv)).toBe(colonHex(t.icv));
      expect(ah.length).toBe(t.len);
      expect(ah.payloadOffset).toBe(t.off + t.len);
      expect(ah.payloadEnd).toBe(ipEnd(f));

      const td = tcpdumpAh(lines.get(f.no)!)!;
      expect(ah.payloadLen).toBe(td.length);
      expect(ah.ahLen).toBe(td.sumlen);
      expect(ah.spi).toBe(td.spi);
      expect(ah.seq).toBe(td.seq);
      expect(toHex(ah.icv)).toBe(td.icv);
      expect(ah.icv.length).toBe((ah.payloadLen + 2) * 4 - 12);
      // OSPFv3 header follows: version 3
      expect(f.bytes[ah.payloadOffset]).toBe(3);
    }
  });

  const f = frames[0];
  const off = f.ah!.off;
  const end = ipEnd(f);

  test("misaligned length: anomaly over IPv6 (64-bit), fine over IPv4 (32-bit)", () => {
    const b = f.bytes.slice();
    b[off + 1] = 3; // 20 bytes
    const an6: Anomaly[] = [];
    const ah6 = decodeAh(b, off, end, an6, { ipv6: true })!;
    expect(ah6.ahLen).toBe(20);
    expect(ah6.icv.length).toBe(8);
    expect(ah6.payloadOffset).toBe(off + 20);
    expect(an6.length).toBe(1);
    expect(an6[0].reason).toContain("not a multiple of 64 bits");
    const an4: Anomaly[] = [];
    decodeAh(b, off, end, an4, { ipv6: false });
    expect(an4).toEqual([]);
  });

  test("payload length 0 (8 bytes < 12) and lengths beyond the data are anomalies, clamped", () => {
    const b = f.bytes.slice();
    b[off + 1] = 0;
    const an: Anomaly[] = [];
    const ah = decodeAh(b, off, end, an, { ipv6: true })!;
    expect(ah.icv.length).toBe(0);
    expect(ah.payloadOffset).toBe(off + 12);
    expect(an.some((a) => a.reason.includes("less than the 12-byte fixed header"))).toBe(true);

    b[off + 1] = 255;
    const an2: Anomaly[] = [];
    const ah2 = decodeAh(b, off, end, an2, { ipv6: true })!;
    expect(ah2.ahLen).toBe(1028);
    expect(ah2.payloadOffset).toBe(end);
    expect(ah2.icv.length).toBe(end - off - 12);
    expect(an2[0].reason).toBe(`truncated: need 1028 bytes, have ${end - off}`);
  });

  test("reserved ≠ 0, SPI 0 and short input", () => {
    const b = f.bytes.slice();
    b[off + 3] = 1;
    b.fill(0, off + 4, off + 8);
    const an: Anomaly[] = [];
    const ah = decodeAh(b, off, end, an, { ipv6: true })!;
    expect(ah.reserved).toBe(1);
    expect(ah.nextHeaderName).toBe("OSPFIGP");
    expect(decodeAh(b, off, end, [], { protoName: (n) => `P${n}` })!.nextHeaderName).toBe("P89");
    expect(an.map((a) => a.offset)).toEqual([off + 2, off + 4]);
    for (let k = 0; k < 12; k++) {
      const an2: Anomaly[] = [];
      expect(decodeAh(f.bytes, off, off + k, an2)).toBeNull();
      expect(an2[0].reason).toBe(`truncated: need 12 bytes, have ${k}`);
    }
  });
});
