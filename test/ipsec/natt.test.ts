import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { decodeEsp } from "../../lib/ipsec/esp.ts";
import {
  classifyNattPayload,
  classifyUdp,
  DEFAULT_IPSEC_PORTS,
  decodeNatt,
  ikeOffsetOnPort500,
  makeIpsecPorts,
} from "../../lib/ipsec/natt.ts";
import { type GoldenFrame, loadGolden, tcpdumpLines, udpPayload } from "./helpers.ts";

/** tcpdump's verdict for a UDP/4500 line. */
function tcpdumpKind(line: string): string | null {
  if (line.includes("NONESP-encap")) return "ike";
  if (line.includes("isakmp-nat-keep-alive")) return "keepalive";
  if (line.includes("UDP-encap: ESP")) return "esp";
  return null;
}

/** tshark's verdict from the golden frame. */
function tsharkKind(f: GoldenFrame): string | null {
  if (f.udpencap?.keepalive) return "keepalive";
  if (f.udpencap?.nonEspMarker) return "ike";
  if (f.esp) return "esp";
  return null;
}

describe("decodeNatt vs tcpdump isakmp4.out (UDP 4500 with non-ESP marker, keepalives, ESP)", () => {
  test("every UDP frame classified like tcpdump and tshark", () => {
    const lines = tcpdumpLines("isakmp4.out");
    const counts: Record<string, number> = {};
    for (const f of loadGolden("isakmp4")) {
      const ports = classifyUdp(f.udp!.srcport, f.udp!.dstport);
      const [off, end] = udpPayload(f);
      const an: Anomaly[] = [];
      if (ports === "ike") {
        expect(lines.get(f.no)).toContain("isakmp:");
        expect(ikeOffsetOnPort500(f.bytes, off, end, an)).toBe(off);
        expect(an).toEqual([]);
        counts.ike500 = (counts.ike500 ?? 0) + 1;
        continue;
      }
      expect(ports).toBe("natt");
      const l = decodeNatt(f.bytes, off, end, an);
      expect(an).toEqual([]);
      expect(l.kind).toBe(tcpdumpKind(lines.get(f.no)!) as never);
      expect(l.kind).toBe(tsharkKind(f) as never);
      expect(classifyNattPayload(f.bytes, off, end)).toBe(l.kind);
      counts[l.kind] = (counts[l.kind] ?? 0) + 1;
      if (l.kind === "ike") {
        expect(l.off).toBe(off + 4);
        expect(l.markerOffset).toBe(off);
        expect(l.length).toBe(4);
        // IKE header follows: ISAKMP version 1.0 at +17
        expect(f.bytes[l.off + 17]).toBe(0x10);
      } else if (l.kind === "keepalive") {
        expect(end - off).toBe(1);
        expect(l.off).toBe(end);
      } else {
        expect(l.off).toBe(off);
      }
    }
    // 4 on port 500; the rest as tcpdump lists them
    expect(counts.ike500).toBe(4);
    expect(counts.keepalive).toBeGreaterThan(0);
    expect(counts.ike).toBeGreaterThan(0);
    expect(counts.esp).toBeGreaterThan(0);
  });

  for (const name of ["a_ikev2_psk_gcm_natt", "b_ikev2_psk_cbc_sha256", "e1_ikev1_main_psk", "f1_ikev2_auth_failed", "d_ikev2_rekey", "h_ikev2_ipv6_outer"]) {
    test(`${name}: NAT-T framing agrees with tshark's udpencap on every UDP frame`, () => {
      for (const f of loadGolden(name)) {
        if (!f.udp) continue;
        const [off, end] = udpPayload(f);
        const an: Anomaly[] = [];
        const c = classifyUdp(f.udp.srcport, f.udp.dstport);
        if (c === "ike") {
          expect(f.protocols.endsWith("isakmp")).toBe(true);
          expect(ikeOffsetOnPort500(f.bytes, off, end, an)).toBe(off);
        } else {
          expect(c).toBe("natt");
          expect(decodeNatt(f.bytes, off, end, an).kind).toBe(tsharkKind(f) as never);
        }
        expect(an).toEqual([]);
      }
    });
  }
});

describe("decodeNatt: short and odd payloads", () => {
  const b = new Uint8Array([0xff, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34]);
  test("single 0xff is a keepalive; any other single byte is invalid", () => {
    const an: Anomaly[] = [];
    expect(decodeNatt(b, 0, 1, an).kind).toBe("keepalive");
    expect(an).toEqual([]);
    expect(decodeNatt(b, 1, 2, an).kind).toBe("invalid");
    expect(an[0].reason).toContain("not a NAT-keepalive");
  });
  test("0, 2 and 3 bytes are invalid with an anomaly", () => {
    for (const [o, e] of [[0, 0], [0, 2], [0, 3]]) {
      const an: Anomaly[] = [];
      const l = decodeNatt(b, o, e, an);
      expect(l.kind).toBe("invalid");
      expect(an.length).toBe(1);
    }
  });
  test("a bare non-ESP marker is IKE with an anomaly; 4 non-zero bytes are ESP (truncated for decodeEsp)", () => {
    const an: Anomaly[] = [];
    expect(decodeNatt(b, 1, 5, an).kind).toBe("ike");
    expect(an[0].reason).toContain("no IKE message");
    const an2: Anomaly[] = [];
    const l = decodeNatt(b, 3, 7, an2);
    expect(l.kind).toBe("esp");
    expect(an2).toEqual([]);
    expect(decodeEsp(b, l.off, 7, an2)!.spi).toBe(0x00001234);
  });
  test("the oobr captures never throw and report what they cannot frame", () => {
    const [f] = loadGolden("isakmp-3948-oobr-2"); // tcpdump: `[|isakmp_rfc3948]`
    expect(tcpdumpLines("isakmp-3948-oobr-2.out").get(1)).toContain("[|isakmp_rfc3948]");
    expect(classifyUdp(f.udp!.srcport, f.udp!.dstport)).toBe("natt");
    const [off, end] = udpPayload(f);
    const an: Anomaly[] = [];
    expect(decodeNatt(f.bytes, off, end, an).kind).toBe("invalid");
    expect(an.length).toBe(1);
    for (const g of loadGolden("isakmp-rfc3948-oobr")) {
      for (let o = 0; o <= g.bytes.length; o++) {
        const an2: Anomaly[] = [];
        decodeNatt(g.bytes, o, g.bytes.length, an2);
        decodeEsp(g.bytes, o, g.bytes.length, an2);
        ikeOffsetOnPort500(g.bytes, o, g.bytes.length, an2);
      }
    }
  });
});

describe("ports", () => {
  test("classifyUdp defaults: 500 → ike, 4500 → natt, dst first, NAT-T wins a tie", () => {
    expect(classifyUdp(500, 500)).toBe("ike");
    expect(classifyUdp(4500, 4500)).toBe("natt");
    expect(classifyUdp(4500, 8472)).toBe("natt");
    expect(classifyUdp(33000, 500)).toBe("ike");
    expect(classifyUdp(4500, 500)).toBe("ike");
    expect(classifyUdp(500, 4500)).toBe("natt");
    expect(classifyUdp(53, 53)).toBeNull();
    expect(classifyUdp(4501, 4501)).toBeNull();
    expect(DEFAULT_IPSEC_PORTS.natt.has(4500)).toBe(true);
  });
  test("user-added ports", () => {
    const p = makeIpsecPorts({ natt: [4501], ike: [1500, 4501] });
    expect(classifyUdp(4501, 4501, p)).toBe("natt");
    expect(classifyUdp(1, 1500, p)).toBe("ike");
    expect(classifyUdp(4500, 4500, p)).toBe("natt");
    expect(classifyUdp(500, 500, p)).toBe("ike");
  });
  test("non-ESP marker sent to port 500: anomaly and IKE found at +4 (real IKE message from isakmp4)", () => {
    const f = loadGolden("isakmp4").find((x) => x.udpencap?.nonEspMarker)!;
    const [off, end] = udpPayload(f);
    const an: Anomaly[] = [];
    expect(ikeOffsetOnPort500(f.bytes, off, end, an)).toBe(off + 4);
    expect(an.length).toBe(1);
    expect(an[0].reason).toContain("non-ESP marker on the IKE port");
    // the same IKE message without marker is fine
    const g = loadGolden("isakmp4").find((x) => x.udp?.dstport === 500)!;
    const [o2, e2] = udpPayload(g);
    const an2: Anomaly[] = [];
    expect(ikeOffsetOnPort500(g.bytes, o2, e2, an2)).toBe(o2);
    expect(an2).toEqual([]);
  });
});
