/**
 * Golden tests: decrypt real strongSwan ESP packets with their logged keys.
 * Bytes: test/esp/golden/*.json, made by test/esp/golden/extract.py from fixtures/.
 */
import { describe, expect, test } from "bun:test";
import { toHex, u16 } from "../../lib/core/bytes.ts";
import { InboundSa, nobleGcm, nodeGcm, NODE_GCM_AVAILABLE, openEspForDecode, internetChecksum } from "../../lib/esp/mod.ts";
import type { AeadProvider, EspCipherName } from "../../lib/esp/mod.ts";
import type { DecodeEncr, DecodeInteg } from "../../lib/esp/decrypt.ts";
import { golden, hex, keyFor, type Golden } from "./util.ts";

const a = golden("a_gcm_natt.json");
const b = golden("b_cbc_sha256.json");

function providers(cipher: EspCipherName): [string, AeadProvider | undefined][] {
  if (cipher === "chacha20poly1305") return [["default", undefined]];
  const list: [string, AeadProvider | undefined][] = [["noble", nobleGcm]];
  if (NODE_GCM_AVAILABLE) list.push(["node", nodeGcm]);
  return list;
}

/** IPv4 header checksum + ICMP checksum valid, echo request/reply. */
function checkInnerIcmp(p: Uint8Array, src: string, dst: string): void {
  expect(p[0]).toBe(0x45);
  expect(u16(p, 2)).toBe(p.length);
  expect(internetChecksum(p, 0, 20)).toBe(0);
  expect(p[9]).toBe(1);
  expect(internetChecksum(p, 20, p.length)).toBe(0);
  expect([0, 8]).toContain(p[20]);
  expect(Array.from(p.subarray(12, 16)).join(".")).toBe(src);
  expect(Array.from(p.subarray(16, 20)).join(".")).toBe(dst);
}

describe("fixture a (aes256gcm16, ESP in UDP/4500)", () => {
  test("golden file has 8 ESP packets, 8 inner packets, both SPIs", () => {
    expect(a.esp.length).toBe(8);
    expect(a.sll2!.esp.length).toBe(8);
    expect(a.sll2!.inner.length).toBe(8);
    expect(new Set(a.esp.map((e) => e.spi))).toEqual(new Set(["c4ba5861", "5fba82be"]));
  });

  for (const [pname, prov] of providers("aes256gcm16")) {
    test(`InboundSa (${pname}) opens every packet; inner == cleartext on the TUN`, () => {
      const sas = new Map<string, InboundSa>();
      for (const k of a.keys) {
        sas.set(k.spi, new InboundSa({ spi: parseInt(k.spi, 16), cipher: "aes256gcm16", keyMaterial: hex(k.ekey) }, prov));
      }
      const inner = new Map(a.sll2!.inner.map((i) => [i.hex, i]));
      const matched = new Set<string>();
      const seqs: Record<string, bigint[]> = {};
      for (const e of a.sll2!.esp) {
        const r = sas.get(e.spi)!.open(hex(e.hex));
        if (!r.ok) throw new Error(`frame ${e.frame}: ${r.reason}`);
        expect(r.nextHeader).toBe(4);
        const h = toHex(r.payload);
        expect(inner.has(h)).toBe(true);
        matched.add(h);
        (seqs[e.spi] ??= []).push(r.seq);
      }
      expect(matched.size).toBe(8);
      expect(seqs["c4ba5861"]).toEqual([1n, 2n, 3n, 4n]);
      expect(seqs["5fba82be"]).toEqual([1n, 2n, 3n, 4n]);
    });
  }

  test("the Ethernet capture carries the same ESP bytes as the SLL2 capture", () => {
    expect(a.esp.map((e) => e.hex)).toEqual(a.sll2!.esp.map((e) => e.hex));
  });

  test("openEspForDecode: ICV good, payload == cleartext, pad length 2", () => {
    const inner = new Set(a.sll2!.inner.map((i) => i.hex));
    for (const e of a.esp) {
      const k = keyFor(a, e.spi);
      const r = openEspForDecode({ encr: "aes-gcm", encKey: hex(k.ekey), icvLen: 16, integ: "none" }, hex(e.hex));
      expect(r.icv).toBe("good");
      expect(r.nextHeader).toBe(4);
      expect(r.padLength).toBe(2);
      expect(inner.has(toHex(r.payload!))).toBe(true);
      checkInnerIcmp(r.payload!, k.src === "192.0.2.1" ? "198.51.100.1" : "203.0.113.1", k.src === "192.0.2.1" ? "203.0.113.1" : "198.51.100.1");
    }
  });

  test("a wrong key gives icv (SA and decoder), and no payload", () => {
    for (const e of a.esp) {
      const km = hex(keyFor(a, e.spi).ekey);
      km[5] ^= 1;
      const sa = new InboundSa({ spi: parseInt(e.spi, 16), cipher: "aes256gcm16", keyMaterial: km });
      expect(sa.open(hex(e.hex))).toEqual({ ok: false, reason: "icv" });
      const saltBad = hex(keyFor(a, e.spi).ekey);
      saltBad[34] ^= 0x80;
      expect(new InboundSa({ spi: parseInt(e.spi, 16), cipher: "aes256gcm16", keyMaterial: saltBad }).open(hex(e.hex)).ok).toBe(false);
      const r = openEspForDecode({ encr: "aes-gcm", encKey: km, integ: "none" }, hex(e.hex));
      expect(r.icv).toBe("bad");
      expect(r.payload).toBeUndefined();
    }
  });

  test("the other direction's key does not open a packet", () => {
    const e = a.esp[0];
    const other = a.keys.find((k) => k.spi !== e.spi)!;
    const sa = new InboundSa({ spi: parseInt(e.spi, 16), cipher: "aes256gcm16", keyMaterial: hex(other.ekey) });
    expect(sa.open(hex(e.hex))).toEqual({ ok: false, reason: "icv" });
  });
});

describe("fixture b (AES-CBC-128 + HMAC-SHA256-128)", () => {
  test("every packet: ICV good, IPv4 ICMP echo inside with valid checksums", () => {
    expect(b.esp.length).toBe(8);
    for (const e of b.esp) {
      const k = keyFor(b, e.spi);
      const r = openEspForDecode(
        { encr: "aes-cbc", encKey: hex(k.ekey), integ: "hmac-sha256-128", authKey: hex(k.ikey) },
        hex(e.hex),
      );
      expect(r.icv).toBe("good");
      expect(r.reason).toBeUndefined();
      expect(r.nextHeader).toBe(4);
      expect(r.payload!.length).toBe(84);
      expect(r.padLength).toBe(10); // 84 + 10 + 2 = 96 = 6 AES blocks
      const fromInit = k.src === "192.0.2.1";
      checkInnerIcmp(r.payload!, fromInit ? "198.51.100.1" : "203.0.113.1", fromInit ? "203.0.113.1" : "198.51.100.1");
    }
  });

  test("wrong auth key or a corrupted ciphertext byte → icv bad, no payload", () => {
    for (const e of b.esp) {
      const k = keyFor(b, e.spi);
      const ik = hex(k.ikey);
      ik[0] ^= 1;
      const r = openEspForDecode({ encr: "aes-cbc", encKey: hex(k.ekey), integ: "hmac-sha256-128", authKey: ik }, hex(e.hex));
      expect(r).toMatchObject({ icv: "bad" });
      expect(r.payload).toBeUndefined();
      // Corrupt one ciphertext byte: the HMAC catches it.
      const pkt = hex(e.hex);
      pkt[40] ^= 0x10;
      const r2 = openEspForDecode({ encr: "aes-cbc", encKey: hex(k.ekey), integ: "hmac-sha256-128", authKey: hex(k.ikey) }, pkt);
      expect(r2.icv).toBe("bad");
      expect(r2.payload).toBeUndefined();
    }
  });

  test("without integrity a wrong key is refused by the padding check", () => {
    let withheld = 0;
    for (const e of b.esp) {
      const k = keyFor(b, e.spi);
      const ek = hex(k.ekey);
      ek[3] ^= 0x55;
      const pkt = hex(e.hex);
      const r = openEspForDecode({ encr: "aes-cbc", encKey: ek, integ: "none" }, pkt.subarray(0, pkt.length - 16));
      expect(r.icv).toBe("none");
      if (r.payload === undefined) withheld++;
      else expect(r.padLength).toBeDefined(); // 1-in-~2^80 chance that random padding looks valid
    }
    expect(withheld).toBeGreaterThanOrEqual(7);
  });
});

/** fixtures/made/k_esp_*: one capture per transform (strongSwan 5.9.8 kernel-libipsec). */
const made: { file: string; encr: DecodeEncr; integ: DecodeInteg; sa?: EspCipherName; icvLen?: number; init?: string; count?: number }[] = [
  { file: "h_ikev2_ipv6_outer.json", encr: "aes-gcm", integ: "none", sa: "aes256gcm16", init: "2001:db8::1" },
  { file: "d_ikev2_rekey.json", encr: "aes-gcm", integ: "none", sa: "aes128gcm16", count: 84 },
  { file: "k_esp_aes128gcm16.json", encr: "aes-gcm", integ: "none", sa: "aes128gcm16" },
  { file: "k_esp_aes256gcm16.json", encr: "aes-gcm", integ: "none", sa: "aes256gcm16" },
  { file: "k_esp_chacha20poly1305.json", encr: "chacha20-poly1305", integ: "none", sa: "chacha20poly1305" },
  { file: "k_esp_aes128_sha256.json", encr: "aes-cbc", integ: "hmac-sha256-128" },
  { file: "k_esp_3des_sha1.json", encr: "3des-cbc", integ: "hmac-sha1-96" },
  { file: "k_esp_null_sha256.json", encr: "null", integ: "hmac-sha256-128" },
];

function checkMade(g: Golden, m: (typeof made)[number]): void {
  expect(g.esp.length).toBe(m.count ?? 8);
  const sas = new Map<string, InboundSa>();
  for (const e of g.esp) {
    const k = keyFor(g, e.spi);
    const p = { encr: m.encr, encKey: hex(k.ekey), integ: m.integ, authKey: k.ikey ? hex(k.ikey) : undefined };
    const r = openEspForDecode(p, hex(e.hex));
    expect(r.icv).toBe("good");
    expect(r.nextHeader).toBe(4);
    const fromInit = k.src === (m.init ?? "192.0.2.1");
    checkInnerIcmp(r.payload!, fromInit ? "198.51.100.1" : "203.0.113.1", fromInit ? "203.0.113.1" : "198.51.100.1");
    // one flipped ICV bit → bad, no payload
    const bad = hex(e.hex);
    bad[bad.length - 1] ^= 1;
    const rb = openEspForDecode(p, bad);
    expect(rb.icv).toBe("bad");
    expect(rb.payload).toBeUndefined();
    if (m.sa !== undefined) {
      for (const [pname, prov] of providers(m.sa)) {
        // one long-lived SA per SPI and provider: packets arrive in capture order
        const key = `${pname}/${e.spi}`;
        let sa = sas.get(key);
        if (sa === undefined) sas.set(key, sa = new InboundSa({ spi: parseInt(e.spi, 16), cipher: m.sa, keyMaterial: hex(k.ekey) }, prov));
        const o = sa.open(hex(e.hex));
        if (!o.ok) throw new Error(`${m.file} frame ${e.frame}: ${o.reason}`);
        expect(o.payload).toEqual(r.payload!);
        expect(o.seq).toBe(BigInt(parseInt(e.hex.slice(8, 16), 16)));
        expect(sa.open(hex(e.hex))).toEqual({ ok: false, reason: "replay" });
        const sb = new InboundSa({ spi: parseInt(e.spi, 16), cipher: m.sa, keyMaterial: hex(k.ekey) }, prov);
        expect(sb.open(bad)).toEqual({ ok: false, reason: "icv" });
      }
    }
  }
}

describe("fixtures/made k_esp_* transforms", () => {
  for (const m of made) test(m.file, () => checkMade(golden(m.file), m));
});
