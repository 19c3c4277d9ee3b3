import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { decodeEsp } from "../../lib/ipsec/esp.ts";
import { classifyUdp, decodeNatt } from "../../lib/ipsec/natt.ts";
import { ipEnd, loadGolden, tcpdumpEsp, tcpdumpLines, udpPayload } from "./helpers.ts";

describe("decodeEsp: raw ESP (IP protocol 50) vs tshark and tcpdump", () => {
  for (const [golden, out] of [["esp0", "esp0.out"], ["esp2", "esp2.out"]] as const) {
    test(`${golden}: SPI, seq and length match tshark and tcpdump ${out}`, () => {
      const frames = loadGolden(golden);
      const lines = tcpdumpLines(out);
      expect(frames.length).toBe(8);
      for (const f of frames) {
        const an: Anomaly[] = [];
        const esp = decodeEsp(f.bytes, f.esp!.off, ipEnd(f), an);
        expect(an).toEqual([]);
        expect(esp).not.toBeNull();
        expect(esp!.spi).toBe(parseInt(f.esp!.spi, 16));
        expect(esp!.seq).toBe(f.esp!.seq!);
        const td = tcpdumpEsp(lines.get(f.no)!)!;
        expect(esp!.spi).toBe(td.spi);
        expect(esp!.seq).toBe(td.seq!);
        expect(esp!.length).toBe(td.length!);
        expect(esp!.offset).toBe(f.esp!.off);
        expect(esp!.payload.length).toBe(esp!.length - 8);
        // payload is a view, not a copy
        expect(esp!.payload.buffer).toBe(f.bytes.buffer);
      }
    });
  }
});

describe("decodeEsp: ESP-in-UDP (RFC 3948)", () => {
  test("espudp1: SPI, seq, length match tcpdump espudp1.out and tshark", () => {
    const lines = tcpdumpLines("espudp1.out");
    const frames = loadGolden("espudp1");
    expect(frames.length).toBe(8);
    for (const f of frames) {
      const an: Anomaly[] = [];
      expect(classifyUdp(f.udp!.srcport, f.udp!.dstport)).toBe("natt");
      const [off, end] = udpPayload(f);
      const n = decodeNatt(f.bytes, off, end, an);
      expect(n.kind).toBe("esp");
      const esp = decodeEsp(f.bytes, n.off, end, an)!;
      expect(an).toEqual([]);
      const td = tcpdumpEsp(lines.get(f.no)!)!;
      expect(esp.spi).toBe(td.spi);
      expect(esp.seq).toBe(td.seq!);
      expect(esp.length).toBe(td.length!);
      expect(esp.spi).toBe(parseInt(f.esp!.spi, 16));
      expect(esp.seq).toBe(f.esp!.seq!);
    }
  });

  test("esp_truncated: SPI recovered, seq null, truncation anomaly (tcpdump: `ESP(spi=0xc0f7d4c3 [|esp]`)", () => {
    const [f] = loadGolden("esp_truncated");
    const td = tcpdumpEsp(tcpdumpLines("esp_truncated.out").get(1)!)!;
    expect(td.truncated).toBe(true);
    expect(classifyUdp(f.udp!.srcport, f.udp!.dstport)).toBe("natt"); // 4500 → 8472
    const an: Anomaly[] = [];
    const [off, end] = udpPayload(f);
    const n = decodeNatt(f.bytes, off, end, an);
    expect(n.kind).toBe("esp");
    const esp = decodeEsp(f.bytes, n.off, end, an)!;
    expect(esp.spi).toBe(td.spi);
    expect(esp.spi).toBe(parseInt(f.esp!.spi, 16));
    expect(esp.seq).toBeNull();
    expect(esp.payload.length).toBe(0);
    expect(an.length).toBe(1);
    expect(an[0]).toEqual({ layer: "esp", offset: off, reason: "truncated: need 8 bytes, have 4" });
  });

  const natt = [
    "a_ikev2_psk_gcm_natt",
    "a_ikev2_psk_gcm_natt_any_sll2",
    "b_ikev2_psk_cbc_sha256",
    "e1_ikev1_main_psk",
    "d_ikev2_rekey",
    "h_ikev2_ipv6_outer",
    "isakmp4",
  ];
  for (const name of natt) {
    test(`${name}: every ESP frame tshark found has the same SPI and sequence number`, () => {
      let n = 0;
      for (const f of loadGolden(name)) {
        if (!f.esp) continue;
        n++;
        const an: Anomaly[] = [];
        const [off, end] = udpPayload(f);
        const l = decodeNatt(f.bytes, off, end, an);
        expect(l.kind).toBe("esp");
        const esp = decodeEsp(f.bytes, l.off, end, an)!;
        expect(an).toEqual([]);
        expect(esp.offset).toBe(f.esp.off);
        expect(esp.length).toBe(f.esp.len);
        expect(esp.spi).toBe(parseInt(f.esp.spi, 16));
        expect(esp.seq).toBe(f.esp.seq!);
      }
      expect(n).toBeGreaterThan(0);
    });
  }
});

describe("decodeEsp: reserved SPIs and short input", () => {
  const [f] = loadGolden("esp0");
  const off = f.esp!.off;
  const withSpi = (spi: number) => {
    const b = f.bytes.slice();
    b[off] = spi >>> 24;
    b[off + 1] = spi >>> 16;
    b[off + 2] = spi >>> 8;
    b[off + 3] = spi;
    return b;
  };
  test("SPI 0 → anomaly (never on the wire), layer still returned", () => {
    const an: Anomaly[] = [];
    const esp = decodeEsp(withSpi(0), off, ipEnd(f), an)!;
    expect(esp.spi).toBe(0);
    expect(esp.seq).toBe(1);
    expect(an.length).toBe(1);
    expect(an[0].reason).toContain("SPI 0 is reserved");
  });
  for (const spi of [1, 200, 255]) {
    test(`SPI ${spi} → IANA-reserved anomaly`, () => {
      const an: Anomaly[] = [];
      expect(decodeEsp(withSpi(spi), off, ipEnd(f), an)!.spi).toBe(spi);
      expect(an.length).toBe(1);
      expect(an[0].reason).toContain("1-255 reserved by IANA");
    });
  }
  test("SPI 256 and 0xffffffff are ordinary", () => {
    for (const spi of [256, 0xffffffff]) {
      const an: Anomaly[] = [];
      expect(decodeEsp(withSpi(spi), off, ipEnd(f), an)!.spi).toBe(spi);
      expect(an).toEqual([]);
    }
  });
  test("fewer than 4 bytes → null + anomaly; 8 or 9 bytes → no room for trailer", () => {
    for (let k = 0; k < 4; k++) {
      const an: Anomaly[] = [];
      expect(decodeEsp(f.bytes, off, off + k, an)).toBeNull();
      expect(an.length).toBe(1);
      expect(an[0].reason).toBe(`truncated: need 8 bytes, have ${k}`);
    }
    for (const k of [8, 9]) {
      const an: Anomaly[] = [];
      const esp = decodeEsp(f.bytes, off, off + k, an)!;
      expect(esp.seq).toBe(1);
      expect(an.length).toBe(1);
      expect(an[0].reason).toContain("no room for the ESP trailer");
    }
  });
  test("end beyond the buffer is clamped; off beyond end → null", () => {
    const an: Anomaly[] = [];
    expect(decodeEsp(f.bytes, off, 1e9, an)!.length).toBe(f.bytes.length - off);
    expect(decodeEsp(f.bytes, 200, 100, an)).toBeNull();
    expect(decodeEsp(f.bytes, -1, 100, an)).toBeNull();
    expect(decodeEsp(f.bytes, Number.NaN, 100, an)).toBeNull();
  });
});
