/**
 * Unit tests for payloads the real captures do not contain (DPD, lifetimes,
 * deletes with several SPIs, NAT-OA, Mode-Config/XAUTH, fragments, CERT/CR,
 * SIG, every ID type). These byte strings are hand-built from the RFC layouts
 * (RFC 2407/2408/3706/3947, draft-dukes-ike-mode-cfg) and say so.
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { concat, fromHex, putU16, toHex } from "../../../lib/core/bytes.ts";
import { decodeIsakmp, decodeIsakmpPayloads } from "../../../lib/ike/v1/message.ts";
import { derDnText } from "../../../lib/ike/v1/payloads/id.ts";
import { isakmpSummary } from "../../../lib/ike/v1/summary.ts";
import { validateIsakmp } from "../../../lib/ike/v1/validate.ts";

const h = (s: string) => fromHex(s)!;
/** Generic header + body. */
function pl(next: number, body: Uint8Array): Uint8Array {
  const g = new Uint8Array(4);
  g[0] = next;
  putU16(g, 2, 4 + body.length);
  return concat(g, body);
}
function one(type: number, body: Uint8Array, exchange?: number) {
  const b = pl(0, body);
  const an: Anomaly[] = [];
  const list = decodeIsakmpPayloads(b, 0, b.length, type, an, exchange);
  return { p: list.payloads[0], an, list };
}

describe("notify", () => {
  test("DPD R-U-THERE with sequence number (RFC 3706)", () => {
    const { p, an } = one(11, h("00000001" + "01" + "10" + "8d28" + "cbdf9cceda133203430fc958b0aa14d0" + "0000002a"));
    expect(an).toEqual([]);
    if (p.kind !== "notify") throw new Error();
    expect([p.notifyName, p.protocolName, p.doiName, toHex(p.spi), p.sequence, p.error]).toEqual([
      "R-U-THERE", "ISAKMP", "IPSEC", "cbdf9cceda133203430fc958b0aa14d0", 42, false,
    ]);
  });
  test("RESPONDER-LIFETIME carries IPsec SA life attributes (TV and TLV)", () => {
    const { p, an } = one(11, h("00000001" + "03" + "04" + "6000" + "c16aa12a" + "80010001" + "00020004" + "00000e10"));
    expect(an).toEqual([]);
    if (p.kind !== "notify") throw new Error();
    expect(p.attributes!.map((a) => [a.typeName, a.format, a.valueName ?? a.value])).toEqual([
      ["SA-Life-Type", "TV", "Seconds"],
      ["SA-Life-Duration", "TLV", 3600],
    ]);
  });
  test("REPLAY-STATUS, error type, truncated SPI", () => {
    const r = one(11, h("00000001" + "03" + "04" + "6001" + "c16aa12a" + "00000001"));
    if (r.p.kind !== "notify") throw new Error();
    expect(r.p.replayEnabled).toBe(true);
    const e = one(11, h("00000001" + "01" + "00" + "000e"));
    if (e.p.kind !== "notify") throw new Error();
    expect([e.p.notifyName, e.p.error]).toEqual(["NO-PROPOSAL-CHOSEN", true]);
    const t = one(11, h("00000001" + "01" + "10" + "6002" + "cbdf"));
    expect(t.an.map((a) => a.reason)).toEqual(["notify SPI truncated: need 16 bytes, have 2"]);
  });
});

describe("delete", () => {
  test("two ESP SPIs", () => {
    const { p, an } = one(12, h("00000001" + "03" + "04" + "0002" + "c16aa12a" + "5b35e83c"));
    expect(an).toEqual([]);
    if (p.kind !== "delete") throw new Error();
    expect(p.spis.map((s) => toHex(s))).toEqual(["c16aa12a", "5b35e83c"]);
  });
  test("more SPIs announced than fit", () => {
    const { p, an } = one(12, h("00000001" + "03" + "04" + "ffff" + "c16aa12a" + "5b35"));
    if (p.kind !== "delete") throw new Error();
    expect(p.spis.length).toBe(1);
    expect(an.map((a) => a.reason)).toEqual(["65535 SPIs of 4 bytes announced, only 1 fit", "2 bytes after the SPIs"]);
  });
});

describe("ID payload renderings", () => {
  const id = (type: number, data: string, proto = "11", port = "01f4") => one(5, h(type.toString(16).padStart(2, "0") + proto + port + data));
  test("addresses, subnets, ranges", () => {
    const t = (type: number, data: string) => {
      const { p, an } = id(type, data);
      expect(an).toEqual([]);
      if (p.kind !== "id") throw new Error();
      return p.text;
    };
    expect(t(1, "c0000201")).toBe("192.0.2.1");
    expect(t(4, "c6336400ffffff00")).toBe("198.51.100.0/24");
    expect(t(4, "c6336400ff00ff00")).toBe("198.51.100.0/255.0.255.0");
    expect(t(7, "c0000201c00002fe")).toBe("192.0.2.1-192.0.2.254");
    expect(t(5, "20010db8000000000000000000000001")).toBe("2001:db8::1");
    expect(t(6, "20010db8000000000000000000000000" + "ffffffffffffffff0000000000000000")).toBe("2001:db8::/64");
    expect(t(8, "20010db8000000000000000000000001" + "20010db80000000000000000000000ff")).toBe("2001:db8::1-2001:db8::ff");
    expect(t(2, toHex(new TextEncoder().encode("vpn.example.org")))).toBe("vpn.example.org");
    expect(t(3, toHex(new TextEncoder().encode("cb1@example.org")))).toBe("cb1@example.org");
    expect(t(11, "0102fe")).toBe("0102fe");
    expect(t(11, toHex(new TextEncoder().encode("keyid-1")))).toBe("keyid-1");
  });
  test("protocol and port; wrong lengths are anomalies", () => {
    const { p } = id(1, "c0000201");
    if (p.kind !== "id") throw new Error();
    expect([p.protocolId, p.port, p.idTypeName]).toEqual([17, 500, "IPV4_ADDR"]);
    const bad = id(6, "20010db8".repeat(6));
    expect(bad.an.map((a) => a.reason)).toEqual(["IPV6_ADDR_SUBNET data is 24 bytes, expected 32"]);
  });
  test("DER_ASN1_DN as text (C=CH, O=strongSwan, CN=moon.strongswan.org)", () => {
    // Build the DER Name from its parts:
    const enc = new TextEncoder();
    const atv = (oid: string, s: string) => {
      const v = enc.encode(s);
      const o = h(oid);
      const seq = concat(h("06" + o.length.toString(16).padStart(2, "0")), o, h("13" + v.length.toString(16).padStart(2, "0")), v);
      const s1 = concat(h("30" + seq.length.toString(16).padStart(2, "0")), seq);
      return concat(h("31" + s1.length.toString(16).padStart(2, "0")), s1);
    };
    const body = concat(atv("550406", "CH"), atv("55040a", "strongSwan"), atv("550403", "moon.strongswan.org"));
    const name = concat(h("30" + body.length.toString(16).padStart(2, "0")), body);
    expect(derDnText(name)).toBe("C=CH, O=strongSwan, CN=moon.strongswan.org");
    const { p } = one(5, concat(h("09000000"), name));
    if (p.kind !== "id") throw new Error();
    expect(p.text).toBe("C=CH, O=strongSwan, CN=moon.strongswan.org");
    expect(derDnText(name.subarray(0, 10))).toBeNull();
    expect(derDnText(new Uint8Array(0))).toBeNull();
  });
});

describe("other payloads", () => {
  test("NAT-OA IPv4 and IPv6 (RFC 3947), bad length", () => {
    const v4 = one(21, h("01000000c0000201"));
    if (v4.p.kind !== "nat-oa") throw new Error();
    expect([v4.p.addressText, v4.p.draft]).toEqual(["192.0.2.1", false]);
    const v6 = one(131, h("0500000020010db8000000000000000000000001"));
    if (v6.p.kind !== "nat-oa") throw new Error();
    expect([v6.p.addressText, v6.p.draft]).toEqual(["2001:db8::1", true]);
    expect(one(21, h("01000000c00002")).an.map((a) => a.reason)).toEqual(["NAT-OA address is 3 bytes, expected 4"]);
  });
  test("Mode-Config REPLY with address, DNS, XAUTH password flagged secret", () => {
    const { p, an } = one(14, h("02" + "00" + "1234" + "00010004c0000264" + "00030004c0000235" + "408a0006736563726574" + "c0880000"));
    expect(an).toEqual([]);
    if (p.kind !== "attr") throw new Error();
    expect([p.cfgTypeName, p.identifier]).toEqual(["ISAKMP_CFG_REPLY", 0x1234]);
    expect(p.attributes.map((a) => [a.typeName, a.secret ?? false])).toEqual([
      ["INTERNAL_IP4_ADDRESS", false],
      ["INTERNAL_IP4_DNS", false],
      ["XAUTH_USER_PASSWORD", true],
      ["XAUTH_TYPE", false],
    ]);
    expect(p.attributes[3].valueName).toBe("Generic");
    // The password is readable by code but never serialised.
    expect(new TextDecoder().decode(p.attributes[2].data!)).toBe("secret");
    expect(JSON.stringify(p)).not.toContain("736563726574");
    expect(JSON.stringify(p, (_k, v) => (v instanceof Uint8Array ? toHex(v) : v))).not.toContain("736563726574");
    expect(Object.keys(p.attributes[2])).not.toContain("data");
  });
  test("attribute overrun is an anomaly and keeps the truncated value", () => {
    const { p, an } = one(14, h("01000000" + "00010010c000"));
    if (p.kind !== "attr") throw new Error();
    expect(p.attributes[0].data!.length).toBe(2);
    expect(an.map((a) => a.reason)).toEqual(["attribute INTERNAL_IP4_ADDRESS value truncated: need 16 bytes, have 2"]);
  });
  test("fragment (type 132), CERT, CR, SIG, unknown type", () => {
    const f = one(132, h("0001" + "02" + "01" + "deadbeef"));
    if (f.p.kind !== "fragment") throw new Error();
    expect([f.p.fragmentId, f.p.fragmentNumber, f.p.last, toHex(f.p.data)]).toEqual([1, 2, true, "deadbeef"]);
    const c = one(6, h("04" + "3082"));
    if (c.p.kind !== "cert") throw new Error();
    expect([c.p.encodingName, toHex(c.p.certificate)]).toEqual(["X.509 Certificate - Signature", "3082"]);
    const cr = one(7, h("04"));
    if (cr.p.kind !== "certreq") throw new Error();
    expect([cr.p.certTypeName, cr.p.authority.length]).toEqual(["X.509 Certificate - Signature", 0]);
    const s = one(9, h("0102"));
    if (s.p.kind !== "sig") throw new Error();
    expect(toHex(s.p.signature)).toBe("0102");
    const u = one(77, h("aa"));
    expect([u.p.kind, u.p.typeName, u.p.layer]).toEqual(["generic", "UNKNOWN(77)", "isakmp.payload77"]);
  });
  test("ESP proposal with SPI, draft UDP-encapsulated tunnel, ESN", () => {
    const tr = pl(0, h("01" + "0c" + "0000" + "80060080" + "8004f003" + "800b0001" + "80050002"));
    const prop = pl(0, concat(h("01" + "03" + "04" + "01" + "c16aa12a"), tr));
    const { p, an } = one(1, concat(h("00000001" + "00000001"), prop), 32);
    expect(an).toEqual([]);
    if (p.kind !== "sa") throw new Error();
    const t = p.proposals[0].transforms[0];
    expect([p.proposals[0].protocolName, toHex(p.proposals[0].spi), t.transformIdName, t.attributeFamily]).toEqual(["IPSEC_ESP", "c16aa12a", "ESP_AES", "ipsec"]);
    expect(t.attributes.map((a) => `${a.typeName}=${a.valueName ?? a.value}`)).toEqual([
      "Key-Length=128",
      "Encapsulation-Mode=UDP-Encapsulated-Tunnel (draft)",
      "Extended-Sequence-Number=64-bit Sequence Number",
      "Authentication-Algorithm=HMAC-SHA",
    ]);
  });
  test("labeled-domain situation and transform count mismatch are anomalies", () => {
    expect(one(1, h("00000001" + "00000002" + "00000000")).an.map((a) => a.reason)).toEqual(["labeled-domain situation (secrecy/integrity) not decoded"]);
    const prop = pl(0, h("01" + "01" + "00" + "02"));
    expect(one(1, concat(h("0000000100000001"), prop)).an.map((a) => a.reason)).toEqual(["proposal announces 2 transforms, found 0"]);
  });
});

describe("message level", () => {
  const hdr = (np: number, ex: number, flags: number, mid: string, len: number) => {
    const b = h("1122334455667788" + "0000000000000000" + np.toString(16).padStart(2, "0") + "10" + ex.toString(16).padStart(2, "0") + flags.toString(16).padStart(2, "0") + mid + len.toString(16).padStart(8, "0"));
    return b;
  };
  test("flags, encrypted body, summary, commit/auth-only", () => {
    const body = h("00112233445566778899aabbccddeeff");
    const b = concat(hdr(8, 5, 0x07, "01020304", 44), body);
    const an: Anomaly[] = [];
    const m = decodeIsakmp(b, 0, b.length, an)!;
    expect(an).toEqual([]);
    expect(m.flags).toEqual({ value: 7, encryption: true, commit: true, authOnly: true });
    expect(toHex(m.encrypted!)).toBe(toHex(body));
    expect(isakmpSummary(m)).toBe("Informational I mid 0x01020304 encrypted");
  });
  test("trailing bytes after the last payload and after the message", () => {
    const n = pl(0, h("00000001" + "01" + "00" + "6002"));
    const b = concat(hdr(11, 5, 0, "01020304", 28 + n.length + 2), n, h("0000"), h("ff"));
    const an: Anomaly[] = [];
    const m = decodeIsakmp(b, 0, b.length, an)!;
    expect(an.map((a) => a.reason)).toEqual(["1 bytes after the message length", "2 bytes after the last payload"]);
    expect(isakmpSummary(m, { role: "R" })).toBe("Informational R mid 0x01020304 [ N(INITIAL-CONTACT) ]");
  });
  test("validation: cleartext Quick Mode, non-zero mid in Main Mode, reserved flags", () => {
    const qm = decodeIsakmp(concat(hdr(0, 32, 0, "00000000", 28)), 0, 28, [])!;
    const an: Anomaly[] = [];
    validateIsakmp(qm, an);
    expect(an.map((a) => a.reason)).toEqual(["Quick Mode with message id 0", "Quick Mode message is not encrypted"]);
    const mm = decodeIsakmp(concat(hdr(0, 2, 0x10, "00000001", 28)), 0, 28, [])!;
    const an2: Anomaly[] = [];
    validateIsakmp(mm, an2);
    expect(an2.map((a) => a.reason)).toEqual(["reserved flag bits set (0x10)", "Identity Protection (Main Mode) with non-zero message id"]);
  });
});
