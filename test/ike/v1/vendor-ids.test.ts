/**
 * The vendor-ID table: every MD5-derived entry is recomputed here, and every
 * vendor ID that tshark names in the real captures is known to us.
 */
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { fromHex } from "../../../lib/core/bytes.ts";
import { knownVendorId, VENDOR_IDS } from "../../../lib/ike/vendor-ids.ts";
import { decodeIsakmp } from "../../../lib/ike/v1/message.ts";
import { golden } from "./helpers.ts";

const md5 = (s: string) => createHash("md5").update(s, "utf8").digest("hex");

describe("vendor IDs", () => {
  test("every md5Of entry is the MD5 of its string (or a prefix of it)", () => {
    const md5Entries = VENDOR_IDS.filter((e) => e.md5Of !== undefined);
    expect(md5Entries.length).toBeGreaterThanOrEqual(20);
    for (const e of md5Entries) {
      const h = md5(e.md5Of!);
      // Full hashes are equal; truncated (XAUTH) and prefix (Cisco Unity) entries are a prefix of the hash.
      expect({ name: e.name, ok: h.startsWith(e.hex) && e.hex.length >= 16 }).toEqual({ name: e.name, ok: true });
    }
  });

  test("well-known values", () => {
    expect(md5("strongSwan")).toBe("882fe56d6fd20dbc2251613b2ebe5beb");
    expect(md5("RFC 3947")).toBe("4a131c81070358455c5728f20e95452f");
    const k = (h: string) => knownVendorId(fromHex(h)!);
    expect(k("882fe56d6fd20dbc2251613b2ebe5beb")).toBe("strongSwan");
    expect(k("4a131c81070358455c5728f20e95452f")).toBe("RFC 3947 (NAT-T)");
    expect(k("afcad71368a1f1c96b8696fc77570100")).toBe("draft-ietf-ipsec-dpd (RFC 3706 DPD)");
    expect(k("09002689dfd6b712")).toBe("XAUTH");
    expect(k("12f5f28c457168a9702d9fe274cc0100")).toBe("Cisco Unity");
    expect(k("4048b7d56ebce88525e7de7f00d6c2d380000000")).toBe("FRAGMENTATION");
    expect(k("4048b7d56ebce88525e7de7f00d6c2d3c0000000")).toBe("FRAGMENTATION");
    expect(k("1e2b516905991c7d7c96fcbfb587e46100000005")).toBe("Microsoft Windows Vista");
    expect(k("1e2b516905991c7d7c96fcbfb587e461000000ff")).toBe("Microsoft (MS NT5 ISAKMPOAKLEY)");
    expect(k("1e2b516905991c7d7c96fcbfb587e46100000009")).toBe("Microsoft (MS NT5 ISAKMPOAKLEY)");
    expect(k("f4ed19e0c114eb516faaac0ee37daf2807b4381f000000010000138d5f6f7a2c00000000")).toBe("Check Point");
    expect(k("4f456b5262475852766d5045")).toBe("Openswan/Libreswan (OE…)");
    expect(k("4f45")).toBeUndefined();
    expect(k("00112233445566778899aabbccddeeff")).toBeUndefined();
    expect(k("")).toBeUndefined();
  });

  test("the 12-byte Cisco Unity prefix matches MD5('CISCO-UNITY') with the version bytes replaced", () => {
    expect(md5("CISCO-UNITY").slice(0, 28)).toBe("12f5f28c457168a9702d9fe274cc");
  });

  test("every vendor ID tshark names in the real captures is known to us", () => {
    // Vendor IDs tshark 4.0 names in these captures (`tshark -V -r <pcap> | grep -A1 "Vendor ID: <hex>"`
    // on e1_ikev1_main_psk.pcap, ISAKMP_sa_setup.pcap, isakmp4500.pcap); it calls 3ac5…b330,
    // ed66…8994 and 4f45…5045 "Unknown Vendor ID".
    const tsharkKnown = new Set([
      "09002689dfd6b712",
      "afcad71368a1f1c96b8696fc77570100",
      "4048b7d56ebce88525e7de7f00d6c2d380000000",
      "4a131c81070358455c5728f20e95452f",
      "90cb80913ebb696e086381b5ec427b1f",
      "12f5f28c457168a9702d9fe274cc0100",
      "439b59f8ba676c4c7737ae22eab8f582",
      "7d9419a65310ca6f2c179d9215529d56",
      "4485152d18b6bbcd0be8a8469579ddcc",
      "cd60464335df21f87cfdb2fc68b6a448",
    ]);
    const seen = new Set<string>();
    for (const name of ["e1_ikev1_main_psk", "isakmp_sa_setup", "isakmp4500"]) {
      for (const p of golden(name)) {
        const m = decodeIsakmp(p.bytes, 0, p.bytes.length, []);
        for (const pl of m?.payloads ?? []) {
          if (pl.kind !== "vendor") continue;
          const h = Buffer.from(pl.vendorId).toString("hex");
          seen.add(h);
          if (tsharkKnown.has(h)) expect({ h, name: pl.vendorName }).toEqual({ h, name: expect.any(String) });
        }
      }
    }
    for (const h of tsharkKnown) expect(seen.has(h)).toBe(true);
  });
});
