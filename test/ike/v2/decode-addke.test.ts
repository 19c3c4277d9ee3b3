/**
 * The decoder on RFC 9370 / RFC 9242 wire elements: IKE_INTERMEDIATE (43) and IKE_FOLLOWUP_KE
 * (44) exchanges, ADDKE1..7 transform types (6..12) with ML-KEM IDs, the
 * INTERMEDIATE_EXCHANGE_SUPPORTED and ADDITIONAL_KEY_EXCHANGE notifies; unknown IDs print
 * UNKNOWN(n). Messages built with the encoder (in clear, as a decoder sees them either way).
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../lib/core/anomaly.ts";
import { encodeIkev2Message } from "../../../lib/ike/v2/encode/message.ts";
import { decodeIkev2 } from "../../../lib/ike/v2/message.ts";
import { ikev2Summary } from "../../../lib/ike/v2/summary.ts";

const SPI = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

function msg(exchange: number, payloads: Parameters<typeof encodeIkev2Message>[1]) {
  const b = encodeIkev2Message({ ispi: SPI, rspi: SPI, exchange, initiator: true, response: false, messageId: 3 }, payloads);
  const an: Anomaly[] = [];
  const m = decodeIkev2(b, 0, b.length, an)!;
  return { m, an };
}

describe("RFC 9370 / RFC 9242 in the decoder", () => {
  test("IKE_FOLLOWUP_KE with KE (ML-KEM-768) and ADDITIONAL_KEY_EXCHANGE", () => {
    const { m, an } = msg(44, [{ type: "ke", group: 36, data: new Uint8Array(1184) }, { type: "notify", notifyType: 16441, data: new Uint8Array([9, 9]) }]);
    expect(an).toEqual([]);
    expect(m.exchangeName).toBe("IKE_FOLLOWUP_KE");
    const ke = m.payloads.find((p) => p.kind === "ke") as { group: number; groupName: string; data: Uint8Array };
    expect([ke.group, ke.data.length]).toEqual([36, 1184]);
    expect(JSON.stringify(m.payloads)).toContain("ml-kem-768");
    expect(JSON.stringify(m.payloads)).toContain("ADDITIONAL_KEY_EXCHANGE");
  });
  test("IKE_INTERMEDIATE; ADDKE transforms named, unknown IDs UNKNOWN(n)", () => {
    const { m, an } = msg(43, [{ type: "sa", proposals: [{ num: 1, protocol: 1, spi: new Uint8Array(0), transforms: [
      { type: 1, id: 20, keyLength: 256 }, { type: 2, id: 6 }, { type: 4, id: 20 }, { type: 6, id: 36 }, { type: 7, id: 0 }, { type: 12, id: 999 },
    ] }] }, { type: "notify", notifyType: 16438 }]);
    expect(an).toEqual([]);
    expect(m.exchangeName).toBe("IKE_INTERMEDIATE");
    const sa = m.payloads.find((p) => p.kind === "sa") as { proposals: { transforms: { typeName: string; idName: string }[] }[] };
    expect(sa.proposals[0].transforms.slice(3).map((t) => `${t.typeName}=${t.idName}`)).toEqual(["ADDKE1=ml-kem-768", "ADDKE2=NONE", "ADDKE7=UNKNOWN(999)"]);
    expect(ikev2Summary(m)).toContain("INT_SUP");
  });
  test("an unknown exchange type prints UNKNOWN(n)", () => {
    const { m } = msg(99, []);
    expect(m.exchangeName).toBe("UNKNOWN(99)");
  });
});
