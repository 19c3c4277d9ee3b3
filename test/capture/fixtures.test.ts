import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { type CaptureAnomaly, openCapture, openCaptureStream } from "../../lib/capture/index.ts";
import { chunked, readAll } from "./pcap-writer.ts";

const FX = new URL("../../fixtures/", import.meta.url).pathname;

/** Golden packet counts, from `capinfos -c` (and `tcpdump -r F | grep -c '^[0-9]'`). */
const COUNTS: Record<string, number> = {
  "tcpdump/02-sunrise-sunset-esp.pcap": 8,
  "tcpdump/08-sunrise-sunset-aes.pcap": 8,
  "tcpdump/08-sunrise-sunset-esp2.pcap": 8,
  "tcpdump/ISAKMP_sa_setup.pcap": 9,
  "tcpdump/OSPFv3_with_AH.pcap": 61,
  "tcpdump/esp_truncated.pcap": 1,
  "tcpdump/espudp1.pcap": 8,
  "tcpdump/ikev1_id_ipv6_addr_subnet-oobr.pcap": 1,
  "tcpdump/ikev2-id-normal.pcap": 1,
  "tcpdump/ikev2-id-short.pcap": 1,
  "tcpdump/ikev2four.pcap": 21,
  "tcpdump/ikev2pI2.pcap": 2,
  "tcpdump/isakmp-3948-oobr-2.pcap": 1,
  "tcpdump/isakmp-delete-segfault.pcap": 1,
  "tcpdump/isakmp-identification-segfault.pcap": 1,
  "tcpdump/isakmp-ikev1_n_print-oobr.pcap": 3,
  "tcpdump/isakmp-pointer-loop.pcap": 1,
  "tcpdump/isakmp-rfc3948-oobr.pcap": 23,
  "tcpdump/isakmp-various-oobr.pcap": 2,
  "tcpdump/isakmp4500.pcap": 35,
  "tcpdump/isakmpv1-attr-oobr.pcap": 1,
  "tcpdump/ikev2pI2-segfault.pcapng": 1,
  "tcpdump/isakmp-no-none-np.pcapng": 1,
  "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap": 16,
  "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap": 24,
  "strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng": 16,
  "strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap": 21,
  "strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap": 6,
  "strongswan/f2_ikev2_ike_no_proposal/f2_ikev2_ike_no_proposal.pcap": 4,
};

/** `tshark -T fields -e frame.time_epoch` of the b_ikev2 pcapng (if_tsresol = 9). */
const B_IKEV2_EPOCH = [
  "1795614618.618636802", "1795614618.618658855", "1795614618.618661469", "1795614618.620391653",
  "1795614618.621674692", "1795614618.622945504", "1795614618.644833256", "1795614618.645241417",
  "1795614618.967478409", "1795614618.967820297", "1795614619.287560592", "1795614619.287880967",
  "1795614619.607511224", "1795614619.607837518", "1795614619.644858849", "1795614619.645247851",
];

const epoch = (s: number, ns: number) => `${s}.${String(ns).padStart(9, "0")}`;

describe("fixtures", () => {
  for (const [rel, count] of Object.entries(COUNTS)) {
    test(`${rel}: ${count} packets, no anomalies`, async () => {
      const an: CaptureAnomaly[] = [];
      const path = FX + rel;
      const r = await openCapture(path, { onAnomaly: (a) => an.push(a) });
      expect(r.info.format).toBe(rel.endsWith(".pcapng") ? "pcapng" : "pcap");
      const recs = await readAll(r);
      expect(recs.length).toBe(count);
      expect(recs.map((x) => x.no)).toEqual(recs.map((_, i) => i + 1));
      for (const x of recs) {
        expect(x.caplen).toBe(x.data.length);
        expect(x.tsNsec).toBeGreaterThanOrEqual(0);
        expect(x.tsNsec).toBeLessThan(1e9);
      }
      expect(an).toEqual([]);
      const size = readFileSync(path).length;
      expect(r.totalBytes).toBe(size);
      expect(r.bytesRead()).toBe(size);
    });
  }

  test("unreadable paths give the node:fs error (not CaptureFormatError)", async () => {
    const code = async (p: string) => {
      try {
        await openCapture(p);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code;
      }
      return "opened";
    };
    expect(await code(FX + "does-not-exist.pcap")).toBe("ENOENT");
    expect(await code(FX + "tcpdump")).toBe("EISDIR");
  });

  test("b_ikev2 pcapng timestamps (ns) match tshark frame.time_epoch", async () => {
    const r = await openCapture(FX + "strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng");
    const recs = await readAll(r);
    expect(recs.map((x) => epoch(x.tsSec, x.tsNsec))).toEqual(B_IKEV2_EPOCH);
    expect(recs[0].linkType).toBe(1);
    expect(recs[0].caplen).toBe(42);
    expect(r.info).toEqual({ format: "pcapng", gzip: false, byteOrder: "le" });
  });

  test("a_ikev2 pcap (µs) timestamps and lengths match tshark", async () => {
    const recs = await readAll(await openCapture(FX + "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap"));
    expect(recs.slice(0, 4).map((x) => [epoch(x.tsSec, x.tsNsec), x.caplen, x.len])).toEqual([
      ["1795614611.146235000", 42, 42],
      ["1795614611.146256000", 42, 42],
      ["1795614611.146259000", 274, 274],
      ["1795614611.147759000", 282, 282],
    ]);
  });

  test("link-type field FCS bits are masked (isakmp-rfc3948-oobr: 0x30000001 → 1), SLL2 = 276", async () => {
    const a = await readAll(await openCapture(FX + "tcpdump/isakmp-rfc3948-oobr.pcap"));
    expect(a[0].linkType).toBe(1);
    expect(a[0].len).toBe(262144);
    const b = await readAll(await openCapture(FX + "strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt_any_sll2.pcap"));
    expect(b[0].linkType).toBe(276);
  });

  test("every fixture reads the same gzipped, and through a 1-byte-chunk stream", async () => {
    for (const rel of Object.keys(COUNTS)) {
      const bytes = readFileSync(FX + rel);
      const plain = await readAll(await openCapture(FX + rel));
      const gzBytes = gzipSync(bytes);
      const gz = await openCaptureStream(chunked(gzBytes, 97));
      expect(gz.info.gzip).toBe(true);
      const viaGz = await readAll(gz);
      expect(viaGz).toEqual(plain);
      expect(gz.bytesRead()).toBe(gzBytes.length); // raw (compressed) bytes, for progress
      const tiny = await readAll(await openCaptureStream(chunked(bytes, 1)));
      expect(tiny).toEqual(plain);
    }
  });
});
