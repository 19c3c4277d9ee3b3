/**
 * tcpdump's ISAKMP out-of-bounds-read, segfault and pointer-loop regression
 * captures: each must decode to anomalies, never throw, never hang.
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { decodeIsakmp, decodeIsakmpPayloads } from "../../../lib/ike/v1/message.ts";
import { isakmpSummary } from "../../../lib/ike/v1/summary.ts";
import { validateIsakmp } from "../../../lib/ike/v1/validate.ts";
import { ikeVersion } from "../../../lib/ike/version.ts";
import { golden } from "./helpers.ts";

const CASES: [string, RegExp][] = [
  ["isakmp-delete-segfault", /SPIs of \d+ bytes announced, only \d+ fit/],
  ["isakmp-pointer-loop", /length field 0/],
  ["isakmp-identification-segfault", /FQDN is not printable/],
  ["isakmpv1-attr-oobr", /attribute header truncated/],
  ["ikev1_id_ipv6_addr_subnet-oobr", /IPV6_ADDR_SUBNET data is 24 bytes, expected 32/],
  ["isakmp-ikev1_n_print-oobr", /notify header truncated/],
  ["isakmp-various-oobr", /length field \d+ exceeds/],
  ["isakmp-no-none-np", /next payload N announced but no bytes left/],
];

describe("tcpdump malformed ISAKMP captures", () => {
  for (const [name, want] of CASES) {
    test(`${name}: anomalies, no throw, bounded`, () => {
      const pkts = golden(name);
      expect(pkts.length).toBeGreaterThan(0);
      const all: Anomaly[] = [];
      for (const p of pkts) {
        const an: Anomaly[] = [];
        const m = decodeIsakmp(p.bytes, 0, p.bytes.length, an);
        expect(m).not.toBeNull();
        validateIsakmp(m!, an);
        expect(typeof isakmpSummary(m!)).toBe("string");
        expect(m!.length).toBeLessThanOrEqual(p.bytes.length);
        for (const a of an) {
          expect(a.offset).toBeGreaterThanOrEqual(0);
          expect(a.offset).toBeLessThanOrEqual(p.bytes.length);
        }
        // Every payload view lies inside the datagram.
        for (const pl of m!.payloads) expect(pl.offset + pl.length).toBeLessThanOrEqual(p.bytes.length);
        expect(an.length).toBeGreaterThan(0);
        all.push(...an);
        // The same bytes through the payload walker, from every plausible start.
        for (const first of [1, 5, 11, 12, 13, 14, 132]) decodeIsakmpPayloads(p.bytes, 28, p.bytes.length, first, []);
      }
      expect(all.some((a) => want.test(a.reason))).toBe(true);
    });
  }

  test("ikeVersion dispatch on the malformed captures", () => {
    expect(ikeVersion(golden("isakmp-ikev1_n_print-oobr")[0].bytes, 0, 1 << 20)).toBe(2);
    expect(ikeVersion(golden("isakmp-delete-segfault")[0].bytes, 0, 1 << 20)).toBeNull();
    expect(ikeVersion(golden("isakmpv1-attr-oobr")[0].bytes, 0, 1 << 20)).toBe(1);
    expect(ikeVersion(new Uint8Array(17), 0, 17)).toBeNull();
    expect(ikeVersion(new Uint8Array(40), 30, 40)).toBeNull();
  });

  test("a datagram shorter than the header is null plus an anomaly", () => {
    for (let n = 0; n < 28; n++) {
      const an: Anomaly[] = [];
      expect(decodeIsakmp(new Uint8Array(n), 0, n, an)).toBeNull();
      expect(an.length).toBe(1);
    }
  });

  test("isakmp-no-none-np: decoding respects the ISAKMP length (2102 trailing bytes reported)", () => {
    const p = golden("isakmp-no-none-np")[0];
    const an: Anomaly[] = [];
    const m = decodeIsakmp(p.bytes, 0, p.bytes.length, an)!;
    expect(m.declaredLength).toBe(84);
    expect(m.trailing!.length).toBe(p.bytes.length - 84);
    expect(m.payloads.map((x) => (x.kind === "notify" ? x.notifyName : x.kind))).toEqual(["INVALID-MAJOR-VERSION", "INVALID-MAJOR-VERSION"]);
    const n = m.payloads[0];
    if (n.kind !== "notify") throw new Error("N expected");
    expect(n.doiName).toBe("IPSEC");
    expect(n.protocolName).toBe("ISAKMP");
    expect(n.spi.length).toBe(16);
  });
});

describe("out-of-range offsets", () => {
  test("negative or past-the-end offsets never throw", () => {
    const b = golden("e1_ikev1_main_psk")[0].bytes;
    for (const off of [-5, -1, b.length, b.length + 3]) {
      const an: Anomaly[] = [];
      expect(decodeIsakmp(b, off, b.length, an)).toBeNull();
      const list = decodeIsakmpPayloads(b, off, b.length, 1, an);
      expect(list.payloads).toEqual([]);
      expect(an.length).toBeGreaterThan(0);
    }
  });
});
