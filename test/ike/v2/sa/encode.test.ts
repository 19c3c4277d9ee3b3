/**
 * Encoders round-trip through the decoders: encode → decodeIkev2 → same fields, no
 * anomalies (fast-check properties over every payload type), plus a real message.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { toHex } from "../../../../lib/core/bytes.ts";
import { encodeIkev2Message, skPrefix, type HeaderSpec } from "../../../../lib/ike/v2/encode/message.ts";
import type { PayloadSpec, ProposalSpec, TrafficSelectorSpec } from "../../../../lib/ike/v2/encode/payloads.ts";
import { decodeIkev2, type Ikev2Payload } from "../../../../lib/ike/v2/message.ts";
import { skOpen, skSeal } from "../../../../lib/ike/v2/sk-crypto.ts";
import { encodePayloadChain } from "../../../../lib/ike/v2/encode/payloads.ts";

const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
const header = fc.record({
  ispi: bytes(8, 8), rspi: bytes(8, 8), exchange: fc.constantFrom(34, 35, 36, 37),
  initiator: fc.boolean(), response: fc.boolean(), messageId: fc.nat({ max: 0xffffffff }),
});

const transform = fc.record({
  type: fc.constantFrom(1, 2, 3, 4, 5), id: fc.nat({ max: 0xffff }),
  keyLength: fc.option(fc.constantFrom(128, 192, 256), { nil: undefined }),
});
const proposal: fc.Arbitrary<ProposalSpec> = fc.record({
  protocol: fc.constantFrom(1, 2, 3), spi: fc.oneof(bytes(0, 0), bytes(4, 4), bytes(8, 8)), transforms: fc.array(transform, { minLength: 1, maxLength: 6 }),
});
const selector: fc.Arbitrary<TrafficSelectorSpec> = fc.oneof(
  fc.record({ tsType: fc.constant(7), ipProtocol: fc.nat({ max: 255 }), startPort: fc.nat({ max: 65535 }), endPort: fc.nat({ max: 65535 }), start: bytes(4, 4), end: bytes(4, 4) }),
  fc.record({ tsType: fc.constant(8), ipProtocol: fc.nat({ max: 255 }), startPort: fc.nat({ max: 65535 }), endPort: fc.nat({ max: 65535 }), start: bytes(16, 16), end: bytes(16, 16) }),
);
const ascii = (max: number) => fc.string({ minLength: 1, maxLength: max, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789.-@".split("")) }).map((s) => new TextEncoder().encode(s));

const payload: fc.Arbitrary<PayloadSpec> = fc.oneof(
  proposal.chain((p) => fc.array(proposal, { minLength: 0, maxLength: 3 }).map((rest) => ({ type: "sa" as const, proposals: [p, ...rest] }))),
  fc.record({ type: fc.constant("ke" as const), group: fc.constantFrom(14, 19, 20, 31), data: bytes(1, 300) }),
  fc.record({ type: fc.constantFrom("idi" as const, "idr" as const), idType: fc.constant(1), data: bytes(4, 4) }),
  fc.record({ type: fc.constantFrom("idi" as const, "idr" as const), idType: fc.constantFrom(2, 3), data: ascii(40) }),
  fc.record({ type: fc.constant("idr" as const), idType: fc.constant(5), data: bytes(16, 16) }),
  fc.record({ type: fc.constant("auth" as const), method: fc.constantFrom(1, 2, 3), data: bytes(1, 80) }),
  fc.record({ type: fc.constant("nonce" as const), nonce: bytes(16, 256) }),
  fc.record({ type: fc.constant("notify" as const), notifyType: fc.constantFrom(16384, 16406, 16430), data: bytes(0, 0) }),
  fc.record({ type: fc.constant("notify" as const), notifyType: fc.constant(16390), data: bytes(1, 64) }),
  fc.record({ type: fc.constant("notify" as const), notifyType: fc.constantFrom(16388, 16389), data: bytes(20, 20) }),
  fc.record({ type: fc.constant("notify" as const), protocol: fc.constant(3), spi: bytes(4, 4), notifyType: fc.constant(16393) }),
  fc.record({ type: fc.constant("delete" as const), protocol: fc.constant(3), spiSize: fc.constant(4), spis: fc.array(bytes(4, 4), { minLength: 1, maxLength: 5 }) }),
  fc.constant<PayloadSpec>({ type: "delete", protocol: 1, spiSize: 0, spis: [] }),
  fc.record({ type: fc.constant("vendor" as const), data: bytes(1, 40) }),
  fc.record({ type: fc.constantFrom("tsi" as const, "tsr" as const), selectors: fc.array(selector, { minLength: 1, maxLength: 4 }) }),
  fc.record({ type: fc.constant("cp" as const), cfgType: fc.constantFrom(1, 2), attributes: fc.array(fc.oneof(
    fc.record({ type: fc.constantFrom(1, 3), value: fc.oneof(bytes(0, 0), bytes(4, 4)) }),
    fc.record({ type: fc.constant(10), value: fc.oneof(bytes(0, 0), bytes(16, 16)) }),
  ), { maxLength: 4 }) }),
  fc.record({ type: fc.constant("certreq" as const), encoding: fc.constant(4), data: bytes(20, 20) }),
  fc.record({ type: fc.constant("cert" as const), encoding: fc.constant(12), data: bytes(1, 60) }),
);

/** Fields that must survive the round trip, per payload kind. */
function check(spec: PayloadSpec, got: Ikev2Payload): void {
  const hex = toHex;
  switch (spec.type) {
    case "sa": {
      if (got.kind !== "sa") throw new Error("kind");
      expect(got.proposals.length).toBe(spec.proposals.length);
      spec.proposals.forEach((p, i) => {
        const g = got.proposals[i];
        expect([g.num, g.protocol, hex(g.spi), g.transforms.length]).toEqual([i + 1, p.protocol, hex(p.spi), p.transforms.length]);
        p.transforms.forEach((t, j) => expect([g.transforms[j].type, g.transforms[j].id, g.transforms[j].keyLength]).toEqual([t.type, t.id, t.keyLength]));
      });
      return;
    }
    case "ke": if (got.kind !== "ke") throw new Error("kind"); expect([got.group, hex(got.data)]).toEqual([spec.group, hex(spec.data)]); return;
    case "idi": case "idr": if (got.kind !== "id") throw new Error("kind"); expect([got.type, got.idType, hex(got.data)]).toEqual([spec.type === "idi" ? 35 : 36, spec.idType, hex(spec.data)]); return;
    case "auth": if (got.kind !== "auth") throw new Error("kind"); expect([got.method, hex(got.data)]).toEqual([spec.method, hex(spec.data)]); return;
    case "nonce": if (got.kind !== "nonce") throw new Error("kind"); expect(hex(got.nonce)).toBe(hex(spec.nonce)); return;
    case "notify": if (got.kind !== "notify") throw new Error("kind"); expect([got.notifyType, got.protocol, hex(got.spi), hex(got.data)]).toEqual([spec.notifyType, spec.protocol ?? 0, hex(spec.spi ?? new Uint8Array(0)), hex(spec.data ?? new Uint8Array(0))]); return;
    case "delete": if (got.kind !== "delete") throw new Error("kind"); expect([got.protocol, got.spiSize, got.spis.map((x) => hex(x))]).toEqual([spec.protocol, spec.spiSize, spec.spis.map((x) => hex(x))]); return;
    case "vendor": if (got.kind !== "vendor") throw new Error("kind"); return;
    case "tsi": case "tsr": {
      if (got.kind !== "ts") throw new Error("kind");
      expect(got.type).toBe(spec.type === "tsi" ? 44 : 45);
      expect(got.selectors.map((s) => [s.type, s.ipProtocol, s.startPort, s.endPort, hex(s.raw.subarray(4))]))
        .toEqual(spec.selectors.map((s) => [s.tsType, s.ipProtocol, s.startPort, s.endPort, hex(s.start) + hex(s.end)]));
      return;
    }
    case "cp": if (got.kind !== "cp") throw new Error("kind"); expect([got.cfgType, got.attributes.map((a) => [a.type, hex(a.value)])]).toEqual([spec.cfgType, spec.attributes.map((a) => [a.type, hex(a.value)])]); return;
    case "cert": case "certreq": if (got.kind !== spec.type) throw new Error("kind"); expect([got.encoding, hex(got.data)]).toEqual([spec.encoding, hex(spec.data)]); return;
  }
}

describe("encoders round-trip through decodeIkev2", () => {
  test("every payload kind, random chains (fast-check)", () => {
    fc.assert(fc.property(header, fc.array(payload, { minLength: 0, maxLength: 8 }), (h: HeaderSpec, list) => {
      const msg = encodeIkev2Message(h, list);
      const an: Anomaly[] = [];
      const m = decodeIkev2(msg, 0, msg.length, an)!;
      expect(an).toEqual([]);
      expect([toHex(m.ispi), toHex(m.rspi), m.exchange, m.flags.initiator, m.flags.response, m.messageId, m.declaredLength])
        .toEqual([toHex(h.ispi), toHex(h.rspi), h.exchange, h.initiator, h.response, h.messageId, msg.length]);
      expect(m.payloads.length).toBe(list.length);
      list.forEach((p, i) => check(p, m.payloads[i]));
    }), { numRuns: 400 });
  });

  test("SK message: encoded chain sealed by sk-crypto opens and decodes to the same payloads", () => {
    fc.assert(fc.property(header, fc.array(payload, { minLength: 1, maxLength: 5 }), bytes(36, 36), (h, list, key) => {
      const chain = encodePayloadChain(list);
      const params = { encr: "aes-gcm-16" as const, integ: "none" as const, encKey: key };
      const msg = skSeal(params, skPrefix(h), chain.first, chain.bytes);
      const an: Anomaly[] = [];
      const m = decodeIkev2(msg, 0, msg.length, an)!;
      expect(an).toEqual([]);
      const sk = m.payloads[0];
      const r = skOpen(params, msg, sk.offset, sk.offset + sk.length);
      expect(r.ok).toBe(true);
      expect(toHex(r.plaintext!)).toBe(toHex(chain.bytes));
    }), { numRuns: 100 });
  });

  test("re-encoding a real strongSwan IKE_SA_INIT gives the same bytes", async () => {
    const { readFileSync } = await import("node:fs");
    const { gunzipSync } = await import("node:zlib");
    const log = gunzipSync(readFileSync(new URL("../../../../fixtures/made/d_ikev2_rekey/charon-vf1.log.gz", import.meta.url))).toString();
    // the initiator's AUTH octets start with the exact IKE_SA_INIT request
    const lines = log.split("\n");
    const at = lines.findIndex((x) => x.includes("octets = message + nonce"));
    let hex = "";
    for (let j = at + 1; j < lines.length; j++) {
      const d = lines[j].match(/\] <[^>]*>\s+\d+: ((?:[0-9A-F]{2} ?)+)/);
      if (!d) break;
      hex += d[1].replace(/ /g, "");
    }
    const raw = Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
    const len = (raw[24] << 24) | (raw[25] << 16) | (raw[26] << 8) | raw[27];
    const orig = raw.subarray(0, len);
    const m = decodeIkev2(orig, 0, orig.length, [])!;
    const specs: PayloadSpec[] = m.payloads.map((p): PayloadSpec => {
      switch (p.kind) {
        case "sa": return { type: "sa", proposals: p.proposals.map((pr) => ({ num: pr.num, protocol: pr.protocol, spi: pr.spi, transforms: pr.transforms.map((t) => ({ type: t.type, id: t.id, keyLength: t.keyLength })) })) };
        case "ke": return { type: "ke", group: p.group, data: p.data };
        case "nonce": return { type: "nonce", nonce: p.nonce };
        case "notify": return { type: "notify", protocol: p.protocol, spi: p.spi, notifyType: p.notifyType, data: p.data };
        default: throw new Error(p.kind);
      }
    });
    const again = encodeIkev2Message({ ispi: m.ispi, rspi: m.rspi, exchange: m.exchange, initiator: m.flags.initiator, response: m.flags.response, messageId: m.messageId }, specs);
    expect(toHex(again)).toBe(toHex(orig));
  });
});
