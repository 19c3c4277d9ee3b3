/**
 * Unit tests on hand-built payloads for the parts the real captures do not
 * reach: CP, EAP, IPv6 / SECLABEL traffic selectors, Notify data decoders,
 * DER Names, RFC 7427 AUTH, SKF checks, registries, validation, summary.
 * Byte layouts follow RFC 7296 §3 (and RFC 7383, 7427, 5685).
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { concat, fromHex, toHex } from "../../../lib/core/bytes.ts";
import { derNameText, oidText } from "../../../lib/ike/v2/der.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message, type Ikev2Payload } from "../../../lib/ike/v2/message.ts";
import * as R from "../../../lib/ike/v2/registry.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";
import { validateIkev2 } from "../../../lib/ike/v2/validate.ts";

const h = (s: string) => fromHex(s.replace(/\s+/g, ""))!;

/** A payload chain from [type, body, critical?] (lengths and Next Payload filled in). */
function chain(pls: [number, Uint8Array, boolean?][]): Uint8Array {
  const parts = pls.map(([, body, crit], i) => {
    const b = new Uint8Array(4 + body.length);
    b[0] = i + 1 < pls.length ? pls[i + 1][0] : 0;
    b[1] = crit ? 0x80 : 0;
    b[2] = (b.length >> 8) & 0xff;
    b[3] = b.length & 0xff;
    b.set(body, 4);
    return b;
  });
  return concat(...parts);
}

/** A full message: header + chain. */
function message(exchange: number, flags: number, mid: number, pls: [number, Uint8Array, boolean?][], rspi = "0000000000000000"): Uint8Array {
  const body = chain(pls);
  const hdr = h(`0102030405060708 ${rspi}`);
  const b = new Uint8Array(28 + body.length);
  b.set(hdr);
  b[16] = pls.length ? pls[0][0] : 0;
  b[17] = 0x20;
  b[18] = exchange;
  b[19] = flags;
  new DataView(b.buffer).setUint32(20, mid);
  new DataView(b.buffer).setUint32(24, b.length);
  b.set(body, 28);
  return b;
}

function one(type: number, body: string | Uint8Array, an: Anomaly[] = []): Ikev2Payload {
  const b = chain([[type, typeof body === "string" ? h(body) : body]]);
  const pls = decodeIkev2Payloads(b, 0, b.length, type, an);
  expect(pls.length).toBe(1);
  return pls[0];
}

function dec(b: Uint8Array): { m: Ikev2Message; an: Anomaly[] } {
  const an: Anomaly[] = [];
  const m = decodeIkev2(b, 0, b.length, an);
  expect(m).not.toBeNull();
  return { m: m!, an };
}

describe("registries", () => {
  test("names, unknown and private use", () => {
    expect(R.EXCHANGE_TYPES.name(43)).toBe("IKE_INTERMEDIATE");
    expect(R.EXCHANGE_TYPES.name(44)).toBe("IKE_FOLLOWUP_KE");
    expect(R.EXCHANGE_TYPES.name(38)).toBe("IKE_SESSION_RESUME");
    expect(R.EXCHANGE_TYPES.name(100)).toBe("UNKNOWN(100)");
    expect(R.EXCHANGE_TYPES.name(250)).toBe("PRIVATE_USE(250)");
    expect(R.PAYLOAD_ABBREV.name(53)).toBe("SKF");
    expect(R.PAYLOAD_ABBREV.name(54)).toBe("PS");
    expect(R.PAYLOAD_TYPES.name(200)).toBe("PRIVATE_USE(200)");
    expect(R.transformIdName(1, 20)).toBe("ENCR_AES_GCM_16");
    expect(R.transformIdName(1, 28)).toBe("ENCR_CHACHA20_POLY1305");
    expect(R.transformIdName(4, 31)).toBe("Curve25519");
    expect(R.transformIdName(4, 32)).toBe("Curve448");
    expect(R.transformIdName(7, 36)).toBe("ml-kem-768"); // ADDKE2 uses the KE registry
    expect(R.transformIdName(5, 1)).toBe("Extended Sequence Numbers");
    expect(R.transformIdName(99, 1)).toBe("UNKNOWN(1)");
    expect(R.TRANSFORM_TYPES.name(6)).toBe("ADDKE1");
    expect(R.transformIdName(13, 4)).toBe("KW_ARX");
    expect(R.transformIdName(14, 1)).toBe("Implicit");
    expect(R.TRANSFORM_ATTRIBUTE_TYPES.name(14)).toBe("Key Length");
    expect(R.ID_TYPES.name(12)).toBe("ID_FC_NAME");
    expect(R.ID_TYPES.name(13)).toBe("ID_NULL");
    expect(R.AUTH_METHODS.name(13)).toBe("NULL Authentication");
    expect(R.AUTH_METHODS.name(14)).toBe("Digital Signature");
    expect(R.TS_TYPES.name(9)).toBe("TS_FC_ADDR_RANGE");
    expect(R.TS_TYPES.name(10)).toBe("TS_SECLABEL");
    expect(R.CP_ATTRIBUTE_TYPES.name(25)).toBe("INTERNAL_DNS_DOMAIN");
    expect(R.HASH_ALGORITHMS.name(5)).toBe("Identity");
    expect(R.NOTIFY_TYPES.name(24)).toBe("AUTHENTICATION_FAILED");
    expect(R.NOTIFY_TYPES.name(16430)).toBe("IKEV2_FRAGMENTATION_SUPPORTED");
    expect(R.NOTIFY_TYPES.name(9000)).toBe("PRIVATE_USE(9000)");
    expect(R.NOTIFY_TYPES.name(50000)).toBe("PRIVATE_USE(50000)");
    expect(R.NOTIFY_TYPES.name(30000)).toBe("UNKNOWN(30000)");
    expect(R.isNotifyError(16383)).toBe(true);
    expect(R.isNotifyError(16384)).toBe(false);
    expect(R.notifyShortName(16388)).toBe("NATD_S_IP");
    expect(R.notifyShortName(16444)).toBe("SA_RESOURCE_INFO"); // no short form: full name
    expect(R.EAP_TYPES.name(50)).toBe("EAP-AKA'");
  });
  test("Notify registry: every error up to 49 and status up to 16447 is named where IANA assigned it", () => {
    const unassignedErrors = new Set([2, 3, 6, 8, 10, 12, 13, 15, 16, 18, 19, 20, 21, 22, 23, 25, 26, 27, 28, 29, 30, 31, 32, 33]);
    for (let t = 1; t <= 49; t++) expect(R.NOTIFY_TYPES.has(t), `type ${t}`).toBe(!unassignedErrors.has(t));
    for (let t = 16384; t <= 16447; t++) expect(R.NOTIFY_TYPES.has(t), `type ${t}`).toBe(true);
    const names = R.NOTIFY_TYPES.entries().map(([, n]) => n);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe("SA payload checks", () => {
  test("proposal numbering, last-substruc and transform count anomalies", () => {
    // Proposal #2 first (must be 1), declares 2 transforms but has 1, Last=2 though it is last.
    const an: Anomaly[] = [];
    const p = one(33, "02 00 0010 02 01 00 02  00 00 0008 01 00 000c", an);
    expect(p.kind).toBe("sa");
    const reasons = an.map((a) => a.reason);
    // Numbering from 1 is a rule for offers only (a response echoes the accepted
    // proposal's number, RFC 7296 3.3.1), so it is checked by validateIkev2, below.
    expect(reasons).not.toContain("first proposal number is 2, must be 1");
    expect(reasons).toContain("proposal #2 declares 2 transforms, found 1");
    const msg = (response: boolean) => ({
      layer: "ikev2", offset: 0, length: 28, ispi: new Uint8Array(8).fill(1), rspi: new Uint8Array(8), nextPayload: 33,
      nextPayloadName: "SA", majorVersion: 2, minorVersion: 0, exchange: 36, exchangeName: "IKE_AUTH",
      flags: { initiator: !response, response, higherVersion: false, raw: 0 }, messageId: 1, declaredLength: 28, payloads: [p],
    }) as unknown as Parameters<typeof validateIkev2>[0];
    expect(validateIkev2(msg(false)).map((a) => a.reason)).toContain("first proposal number is 2, must be 1");
    expect(validateIkev2(msg(true)).map((a) => a.reason)).not.toContain("first proposal number is 2, must be 1");
    expect(reasons.some((r) => /Last Substruc 2/.test(r))).toBe(true);
  });
  test("TLV attribute and ESP SPI", () => {
    const an: Anomaly[] = [];
    const p = one(33, "00 00 0018 01 03 04 01 aabbccdd  00 00 000c 01 00 000c 000e 0000", an);
    if (p.kind !== "sa") throw new Error("kind");
    const pr = p.proposals[0];
    expect([pr.protocolName, toHex(pr.spi), pr.transforms[0].idName]).toEqual(["ESP", "aabbccdd", "ENCR_AES_CBC"]);
    const a = pr.transforms[0].attributes[0];
    expect([a.tv, a.name, a.bytes?.length]).toEqual([false, "Key Length", 0]);
    expect(an.map((x) => x.reason)).toContain("Key Length attribute must use TV format");
  });
});

describe("ID payloads", () => {
  test("IPv6, FQDN, RFC822, KEY_ID, NULL", () => {
    const v6 = one(35, "05000000 20010db8000000000000000000000001");
    expect(v6.kind === "id" && v6.text).toBe("2001:db8::1");
    const fq = one(36, "02000000" + toHex(new TextEncoder().encode("moon.strongswan.org")));
    expect(fq.kind === "id" && [fq.idTypeName, fq.text]).toEqual(["ID_FQDN", "moon.strongswan.org"]);
    const k = one(35, "0b000000 0102ff");
    expect(k.kind === "id" && k.text).toBe("0102ff");
    const an: Anomaly[] = [];
    const n = one(35, "0d000000 00", an);
    expect(n.kind === "id" && n.idTypeName).toBe("ID_NULL");
    expect(an.length).toBe(1);
  });
  test("text identities: UTF-8 kept, control characters (a forged log line) as dots", () => {
    const enc = (t: string) => toHex(new TextEncoder().encode(t));
    const u = one(35, "03000000" + enc("jürgen@example.org"));
    expect(u.kind === "id" && u.text).toBe("jürgen@example.org");
    const nl = one(35, "03000000" + enc("eve@x\nerror: admin"));
    expect(nl.kind === "id" && nl.text).toBe("eve@x.error: admin");
    const c1 = one(35, "02000000" + enc("a\u0085b\u2028c"));
    expect(c1.kind === "id" && c1.text).not.toMatch(/[\u0085\u2028]/);
    // a DN value (UTF8String CN) with a newline: escaped as \x0a
    const cn = new TextEncoder().encode("eve\nx");
    const dn = concat(h("30" + (cn.length + 11).toString(16).padStart(2, "0") + "31" + (cn.length + 9).toString(16).padStart(2, "0") + "30" + (cn.length + 7).toString(16).padStart(2, "0") + "0603550403 0c" + cn.length.toString(16).padStart(2, "0")), cn);
    expect(derNameText(dn, 0, dn.length)).toBe("CN=eve\\x0ax");
  });
  test("DER DN rendered as a Name string", () => {
    // SEQUENCE { SET { SEQ { 2.5.4.6, PrintableString "CH" } }, SET { SEQ { 2.5.4.10, UTF8String "strongSwan" } }, SET { SEQ { 2.5.4.3, PrintableString "moon" } } }
    const dn = h("3035 310b 3009 0603550406 13024348 3113 3011 060355040a 0c0a7374726f6e675377616e 3111 300f 0603550403 1308 6d6f6f6e2e737773");
    expect(derNameText(dn, 0, dn.length)).toBe("C=CH, O=strongSwan, CN=moon.sws");
    const p = one(35, concat(h("09000000"), dn));
    expect(p.kind === "id" && p.text).toBe("C=CH, O=strongSwan, CN=moon.sws");
    // malformed → hex + anomaly
    const an: Anomaly[] = [];
    const bad = one(35, "09000000 3005 3103", an);
    expect(bad.kind === "id" && bad.text).toBe("30053103");
    expect(an[0].reason).toContain("DER Name");
    expect(oidText(h("2a864886f70d01010b"), 0, 9)).toBe("1.2.840.113549.1.1.11");
  });
});

describe("AUTH, CERT, CERTREQ", () => {
  test("RFC 7427 Digital Signature: AlgorithmIdentifier named", () => {
    const p = one(39, "0e000000 0f 300d06092a864886f70d01010b0500 deadbeef");
    if (p.kind !== "auth") throw new Error("kind");
    expect([p.methodName, p.asn1Length, p.signatureAlgorithm?.oidName, toHex(p.signature!)])
      .toEqual(["Digital Signature", 15, "sha256WithRSAEncryption", "deadbeef"]);
    const an: Anomaly[] = [];
    one(39, "0e000000 20 3000", an);
    expect(an[0].reason).toContain("runs past AUTH payload");
  });
  test("CERTREQ hash list not a multiple of 20", () => {
    const an: Anomaly[] = [];
    const p = one(38, "04" + "11".repeat(25), an);
    expect(p.kind === "certreq" && p.caHashes.length).toBe(1);
    expect(an.length).toBe(1);
  });
});

describe("Notify data", () => {
  const n = (type: number, data: string, spi = "", proto = 0) => {
    const an: Anomaly[] = [];
    const t = type.toString(16).padStart(4, "0");
    const p = one(41, `${proto.toString(16).padStart(2, "0")} ${(spi.length / 2).toString(16).padStart(2, "0")} ${t} ${spi} ${data}`, an);
    if (p.kind !== "notify") throw new Error("kind");
    return { p, an };
  };
  test("INVALID_KE_PAYLOAD, INVALID_MESSAGE_ID, SET_WINDOW_SIZE, UNSUPPORTED_CRITICAL_PAYLOAD", () => {
    expect(n(17, "001f").p.value).toEqual({ group: 31, groupName: "Curve25519" });
    expect(n(9, "00000007").p.value).toEqual({ messageId: 7 });
    expect(n(16385, "00000010").p.value).toEqual({ windowSize: 16 });
    expect(n(1, "2e").p.value).toEqual({ payloadType: 46, payloadTypeName: "Encrypted and Authenticated" });
    expect(n(17, "00").an.length).toBe(1);
  });
  test("REKEY_SA SPI, MOBIKE addresses, hash algorithms, REDIRECT", () => {
    const r = n(16393, "", "c0ffee01", 3).p;
    expect([r.protocolName, r.value?.spi, r.isError]).toEqual(["ESP", "c0ffee01", false]);
    expect(n(16397, "c0000201").p.value?.address).toBe("192.0.2.1");
    expect(n(16398, "20010db8000000000000000000000002").p.value?.address).toBe("2001:db8::2");
    expect(n(16431, "00020003").p.value?.hashAlgorithms?.map((x) => x.name)).toEqual(["SHA2-256", "SHA2-384"]);
    const red = n(16407, "01 04 c6336401 aabbccdd").p.value!;
    expect([red.gateway?.typeName, red.gateway?.text, toHex(red.nonce!)]).toEqual(["IPv4 address", "198.51.100.1", "aabbccdd"]);
    const fq = n(16408, "03 07 " + toHex(new TextEncoder().encode("gw.test"))).p.value!;
    expect(fq.gateway?.text).toBe("gw.test");
    expect(n(16430, "00").an[0].reason).toContain("expected none");
    expect(n(24, "").p.isError).toBe(true);
    expect(n(16409, "0000012c abcd").p.value).toEqual({ lifetime: 300, ticket: h("abcd") });
  });
});

describe("Delete, TS, CP, EAP, SKF", () => {
  test("Delete with ESP SPIs, and a count mismatch", () => {
    const d = one(42, "03 04 0002 11111111 22222222");
    expect(d.kind === "delete" && d.spis.map((s) => toHex(s))).toEqual(["11111111", "22222222"]);
    const an: Anomaly[] = [];
    one(42, "03 04 0003 11111111", an);
    expect(an.length).toBe(1);
  });
  test("TS IPv6 range and SECLABEL", () => {
    const p = one(44, "02000000 08 06 0028 0000 ffff 20010db8000000000000000000000000 20010db800000000ffffffffffffffff  0a 00 0008 73797374");
    if (p.kind !== "ts") throw new Error("kind");
    const [a, s] = p.selectors;
    expect([a.typeName, a.ipProtocol, a.startPort, a.endPort, a.start, a.end])
      .toEqual(["TS_IPV6_ADDR_RANGE", 6, 0, 65535, "2001:db8::", "2001:db8::ffff:ffff:ffff:ffff"]);
    expect([s.typeName, toHex(s.label!)]).toEqual(["TS_SECLABEL", "73797374"]);
  });
  test("CP request and reply", () => {
    const rq = one(47, "01000000 0001 0000 0003 0000 0008 0000 000a 0000");
    expect(rq.kind === "cp" && rq.cfgTypeName).toBe("CFG_REQUEST");
    expect(ikev2SummaryToken(rq)).toBe("CPRQ(ADDR DNS ADDR6 DNS6)");
    const rp = one(47, "02000000 0001 0004 0a000001 000d 0008 0a000000ffffff00 0008 0011 20010db8000000000000000000000005 40 0007 0005 766b2031 2e");
    if (rp.kind !== "cp") throw new Error("kind");
    expect(rp.attributes.map((a) => a.text)).toEqual(["10.0.0.1", "10.0.0.0/255.255.255.0", "2001:db8::5/64", "vk 1."]);
  });
  test("EAP request identity, success, and length mismatch", () => {
    const e = one(48, "01 05 0005 01");
    expect(e.kind === "eap" && [e.codeName, e.identifier, e.eapTypeName]).toEqual(["Request", 5, "Identity"]);
    expect(ikev2SummaryToken(e)).toBe("EAP/REQ/ID");
    const s = one(48, "03 05 0004");
    expect(s.kind === "eap" && s.codeName).toBe("Success");
    const an: Anomaly[] = [];
    one(48, "02 05 0009 01 61", an);
    expect(an[0].reason).toContain("runs past payload");
  });
  test("SKF: fragment checks", () => {
    const an: Anomaly[] = [];
    const b = chain([[53, h("0003 0002 00112233")]]);
    b[0] = 35; // non-first fragment with a Next Payload
    const p = decodeIkev2Payloads(b, 0, b.length, 53, an);
    expect(p[0].kind === "skf" && [p[0].fragmentNumber, p[0].totalFragments]).toEqual([3, 2]);
    expect(an.map((a) => a.reason)).toEqual(["fragment number 3 > total 2", "non-first fragment 3 has Next Payload 35, must be 0"]);
  });
});

function ikev2SummaryToken(p: Ikev2Payload): string {
  const b = message(37, 0x08, 1, []);
  const { m } = dec(b);
  m.payloads = [p];
  return ikev2Summary(m).replace(/^.*\[ (.*) \]$/, "$1");
}

describe("message walk", () => {
  test("length mismatch: trailing bytes and truncation", () => {
    const b = message(34, 0x08, 0, [[40, h("00".repeat(16))]]);
    const longer = concat(b, h("0000"));
    let r = dec(longer);
    expect(r.an.some((a) => /2 trailing/.test(a.reason))).toBe(true);
    expect(r.m.length).toBe(b.length);
    r = dec(b.subarray(0, b.length - 3));
    expect(r.an.some((a) => /truncated/.test(a.reason))).toBe(true);
    expect(r.m.payloads[0].truncated).toBe(true);
  });
  test("unknown critical payload noted, unknown non-critical kept raw", () => {
    const { m, an } = dec(message(37, 0x08, 1, [[150, h("abcd"), true], [151, h("ef")]], "1111111111111111"));
    expect(m.payloads.map((p) => [p.kind, p.typeName])).toEqual([["generic", "PRIVATE_USE(150)"], ["generic", "PRIVATE_USE(151)"]]);
    expect(an.filter((a) => /critical/.test(a.reason)).length).toBe(1);
  });
  test("payload length < 4 stops the walk", () => {
    const b = message(37, 0x08, 1, [[41, h("00000000")]]);
    b[28 + 3] = 2;
    const { m, an } = dec(b);
    expect(m.payloads.length).toBe(0);
    expect(an[0].reason).toBe("payload length 2 < 4");
  });
  test("fewer than 28 bytes → null", () => {
    const an: Anomaly[] = [];
    expect(decodeIkev2(new Uint8Array(27), 0, 27, an)).toBeNull();
    expect(an.length).toBe(1);
  });
});

describe("validation and summary", () => {
  test("IKE_SA_INIT request without KE, response flag mismatch, SK not last", () => {
    const { m, an } = dec(message(34, 0x08, 0, [[33, h("")], [40, h("00".repeat(8))]]));
    expect(an.map((a) => a.reason)).toEqual(["SA payload has no proposals"]); // structure: parse
    const v = validateIkev2(m).map((a) => a.reason); // meaning: validation
    expect(v).toContain("IKE_SA_INIT request without KE payload");
    expect(v).toContain("nonce length 8 outside 16..256");
    const r = dec(message(34, 0x28, 0, [[33, h("")]])).m;
    expect(validateIkev2(r).map((a) => a.reason)).toContain("IKE_SA_INIT response with the Initiator flag");
    const sk = dec(message(37, 0x08, 1, [[46, h("00112233")], [41, h("00004006")]], "1111111111111111")).m;
    // The walk stops at SK (its Next Payload names inner content); the trailing notify is reported.
    expect(sk.payloads.length).toBe(1);
    const an2: Anomaly[] = [];
    decodeIkev2(message(37, 0x08, 1, [[46, h("00112233")], [41, h("00004006")]], "1111111111111111"), 0, 48, an2);
    expect(an2.map((a) => a.reason)).toContain("8 bytes after the SK payload");
    const plain = dec(message(35, 0x08, 1, [[35, h("01000000c0000201")]], "1111111111111111")).m;
    expect(validateIkev2(plain).map((a) => a.reason)).toContain("IKE_AUTH message without an SK/SKF payload");
  });
  test("summary options", () => {
    const { m } = dec(message(34, 0x08, 0, [[41, h("00004004" + "00".repeat(20))], [43, h("882fe56d6fd20dbc2251613b2ebe5beb")]]));
    expect(ikev2Summary(m)).toBe("IKE_SA_INIT request I mid 0 [ N(NATD_S_IP) V ]");
    expect(ikev2Summary(m, { spis: "prefix" })).toBe("0102030405060708/0000000000000000 IKE_SA_INIT request I mid 0 [ N(NATD_S_IP) V ]");
    expect(ikev2Summary(m, { spis: "suffix", style: "strongswan" })).toBe("IKE_SA_INIT request 0 [ N(NATD_S_IP) V ] 0102030405060708/0000000000000000");
    const v = m.payloads[1];
    expect(v.kind === "vendor" && v.vendor).toBe("strongSwan");
    const e = dec(message(37, 0x20, 2, [])).m;
    expect(ikev2Summary(e, { style: "strongswan" })).toBe("INFORMATIONAL response 2 [ ]");
  });
});
