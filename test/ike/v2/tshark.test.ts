/**
 * Golden test: every IKEv2 message of the strongSwan captures, decoded by
 * vpnkit, compared field by field with tshark's -V decode stored next to the
 * capture (*.tshark.txt). Covers the header, every unencrypted payload
 * (SA proposals/transforms/key length, KE group + data length, nonce length,
 * Notify protocol/SPI/type/data, CERTREQ, Vendor ID) and the SK/SKF header
 * (Next Payload = first inner payload, fragment numbers).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { toHex } from "../../../lib/core/bytes.ts";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { decodeIkev2 } from "../../../lib/ike/v2/message.ts";
import { validateIkev2 } from "../../../lib/ike/v2/validate.ts";
import { bytesOf, field, kids, loadGolden, nameOf, paren, parseTsharkV, ROOT, wsPayloadType } from "./helpers.ts";
import { comparePayload, counts, isakmpNode } from "./tshark-compare.ts";

const CASES: [string, string][] = [
  ["strongswan_a_psk_gcm_natt", "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.tshark.txt"],
  ["strongswan_b_psk_cbc_sha256", "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.tshark.txt"],
  ["strongswan_f1_auth_failed", "fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.tshark.txt"],
  ["strongswan_f2_ike_no_proposal", "fixtures/strongswan/f2_ikev2_ike_no_proposal/f2_ikev2_ike_no_proposal.tshark.txt"],
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag/c_ikev2_cert_frag.tshark.txt"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey/d_ikev2_rekey.tshark.txt"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer.tshark.txt"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag/i_ikev2_ipfrag.tshark.txt"],
];

describe("IKEv2 decode matches tshark -V on strongSwan captures", () => {
  for (const [golden, tsharkFile] of CASES) {
    test(golden, () => {
      const g = loadGolden(golden);
      const frames = parseTsharkV(readFileSync(ROOT + tsharkFile, "utf8"));
      expect(g.messages.length).toBeGreaterThan(0);
      for (const m of g.messages) {
        const ctx = `${golden} frame ${m.frame}`;
        const ws = isakmpNode(frames.get(m.frame) ?? []);
        expect(ws, ctx).toBeDefined();
        const b = bytesOf(m);
        const an: Anomaly[] = [];
        const msg = decodeIkev2(b, 0, b.length, an)!;
        expect(msg, ctx).not.toBeNull();
        expect(an, ctx).toEqual([]);
        expect(validateIkev2(msg), ctx).toEqual([]);
        expect(toHex(msg.ispi), ctx).toBe(field(ws!, "Initiator SPI:")!);
        expect(toHex(msg.rspi), ctx).toBe(field(ws!, "Responder SPI:")!);
        expect(msg.nextPayload, ctx).toBe(paren(field(ws!, "Next payload:")));
        expect(`${msg.majorVersion}.${msg.minorVersion}`, ctx).toBe(field(ws!, "Version:")!);
        expect(msg.exchange, ctx).toBe(paren(field(ws!, "Exchange type:")));
        expect(msg.exchangeName, ctx).toBe(nameOf(field(ws!, "Exchange type:")));
        const flags = field(ws!, "Flags:")!;
        expect(msg.flags.raw, ctx).toBe(parseInt(flags.slice(2, 4), 16));
        expect(msg.flags.initiator, ctx).toBe(flags.includes("(Initiator,"));
        expect(msg.flags.response, ctx).toBe(flags.includes(", Response)"));
        expect(msg.flags.higherVersion, ctx).toBe(!flags.includes("No higher version"));
        expect(msg.messageId, ctx).toBe(parseInt(field(ws!, "Message ID:")!, 16));
        expect(msg.declaredLength, ctx).toBe(Number(field(ws!, "Length:")));
        expect(msg.length, ctx).toBe(b.length);
        const wps = kids(ws!, "Payload: ");
        expect(msg.payloads.map((p) => p.type), ctx).toEqual(wps.map((w) => wsPayloadType(w.text)));
        msg.payloads.forEach((p, i) => comparePayload(wps[i], p, `${ctx} payload ${i} (${p.typeName})`));
        counts.messages++;
      }
    });
  }
  test("coverage: messages and payloads compared", () => {
    // 69 IKEv2 messages in the 8 captures (see golden/*.json).
    expect(counts.messages).toBe(69);
    expect(counts.payloads).toBeGreaterThan(150);
  });
});
