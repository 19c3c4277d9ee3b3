/**
 * RFC 9370 additional key exchanges in proposal strings (strongSwan 6 syntax
 * "aes256gcm16-prfsha384-ecp384-ke1_mlkem768", ke1_..ke7_): suites, wire transforms
 * (types 6..12), strongSwan's names (KE1_ML_KEM_768), selection against peers that do
 * and do not offer them, and the errors (fast-check: only ProposalError escapes).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Ikev2Proposal } from "../../../../lib/ike/v2/payloads/sa.ts";
import { parseProposals, ProposalError } from "../../../../lib/ike/v2/sa/proposal-string.ts";
import { acceptChosen, offerProposals, selectProposal, suiteName, suiteToProposal } from "../../../../lib/ike/v2/sa/proposals.ts";
import { strongswanName } from "../../../../lib/ike/v2/strongswan-names.ts";

const ike = (...l: string[]) => parseProposals(l, "ike").suites;
function asReceived(p: ReturnType<typeof offerProposals>[number]): Ikev2Proposal {
  return { num: p.num ?? 1, protocol: p.protocol, spi: p.spi, transforms: p.transforms.map((t) => ({ type: t.type, id: t.id, keyLength: t.keyLength })) } as unknown as Ikev2Proposal;
}
const offer = (...l: string[]) => offerProposals(ike(...l), new Uint8Array(0)).map(asReceived);

describe("ke1_..ke7_ words", () => {
  test("aes256gcm16-prfsha384-ecp384-ke1_mlkem768: one suite, ADDKE1 = ML-KEM-768 (36) on the wire", () => {
    const s = ike("aes256gcm16-prfsha384-ecp384-ke1_mlkem768");
    expect(s.length).toBe(1);
    expect(s[0].addke).toEqual([36, -1, -1, -1, -1, -1, -1]);
    expect(suiteName(s[0])).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384/KE1_ML_KEM_768");
    expect(suiteToProposal(s[0], new Uint8Array(0)).transforms.filter((t) => t.type > 5)).toEqual([{ type: 6, id: 36 }]);
  });
  test("ke2_ and ke7_, several methods and none: the product, in order", () => {
    const s = ike("aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke1_mlkem1024-ke7_x25519-ke7_none");
    expect(s.map(suiteName)).toEqual([
      "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_768/KE7_CURVE_25519",
      "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_768",
      "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_1024/KE7_CURVE_25519",
      "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519/KE1_ML_KEM_1024",
    ]);
    const w = offer("aes256gcm16-prfsha256-x25519-ke1_mlkem768-ke1_mlkem1024-ke7_x25519-ke7_none")[0];
    expect(w.transforms.filter((t) => t.type > 5).map((t) => [t.type, t.id])).toEqual([[6, 36], [6, 37], [12, 31], [12, 0]]);
  });
  test("strongSwan names of ADDKE transforms, UNKNOWN for unknown IDs", () => {
    expect(strongswanName(6, 36)).toBe("KE1_ML_KEM_768");
    expect(strongswanName(12, 0)).toBe("KE7_NONE");
    expect(strongswanName(7, 999)).toBe("KE2_UNKNOWN(999)");
  });
  test("errors name the word", () => {
    const bad: [string, string][] = [
      ["aes256gcm16-prfsha384-mlkem768", "additional key exchange only"],
      ["aes256gcm16-prfsha384-ecp384-ke8_mlkem768", "not a known algorithm"],
      ["aes256gcm16-prfsha384-ecp384-ke1_foo", "not a known key exchange method"],
      ["aes256gcm16-prfsha384-ecp384-ke1_ecp192", "not supported as an additional key exchange"],
      ["aes256gcm16-prfsha384-ecp384-ke1_modp1024", "not supported as an additional key exchange"],
    ];
    for (const [p, why] of bad) expect(() => ike(p)).toThrow(why);
    expect(() => parseProposals(["aes256gcm16-ke1_mlkem768"], "esp")).toThrow("IKE proposals only");
  });
  test("fuzz: random ke words throw only ProposalError", () => {
    const word = fc.oneof(fc.constantFrom("ke1_mlkem768", "ke2_none", "ke7_x25519", "ke0_mlkem768", "ke3_", "ke1_mlkem", "mlkem768", "ke9_ecp256"), fc.string({ maxLength: 8 }));
    fc.assert(fc.property(fc.array(word, { maxLength: 5 }), (ws) => {
      try {
        ike(["aes256gcm16-prfsha256-x25519", ...ws].join("-"));
      } catch (e) {
        if (!(e instanceof ProposalError)) throw e;
      }
      return true;
    }), { numRuns: 300 });
  });
});

describe("selection", () => {
  const PQ = "aes256gcm16-prfsha384-ecp384-ke1_mlkem768", CLASSIC = "aes256gcm16-prfsha256-x25519";
  test("both offer ke1_mlkem768: the PQ suite is chosen and accepted", () => {
    const r = selectProposal(offer(PQ, CLASSIC), ike(PQ, CLASSIC))!;
    expect(suiteName(r.suite)).toContain("KE1_ML_KEM_768");
    const back = asReceived(suiteToProposal(r.suite, new Uint8Array(0), 1));
    expect(acceptChosen(back, ike(PQ, CLASSIC))).toEqual(r.suite);
  });
  test("a peer without ADDKE (strongSwan 5.9, classic only) gets the classic suite", () => {
    const r = selectProposal(offer(CLASSIC), ike(PQ, CLASSIC))!;
    expect(suiteName(r.suite)).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519");
  });
  test("a PQ-only responder refuses a classic offer; a classic responder refuses a PQ-only offer", () => {
    expect(selectProposal(offer(CLASSIC), ike(PQ))).toBeNull();
    expect(selectProposal(offer(PQ), ike("aes256gcm16-prfsha384-ecp384"))).toBeNull();
  });
  test("ke1_none makes ADDKE1 optional: a classic responder picks NONE, the initiator accepts it", () => {
    const mine = ike("aes256gcm16-prfsha384-ecp384-ke1_mlkem768-ke1_none");
    const r = selectProposal(offerProposals(mine, new Uint8Array(0)).map(asReceived), ike("aes256gcm16-prfsha384-ecp384"))!;
    expect(r).not.toBeNull();
    const chosen = asReceived(suiteToProposal(r.suite, new Uint8Array(0), 1));
    expect(suiteName(acceptChosen(chosen, mine)!)).toBe("IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384");
  });
  test("the initiator refuses a choice of an ADDKE method it did not offer", () => {
    const chosen = asReceived(suiteToProposal(ike("aes256gcm16-prfsha384-ecp384-ke1_mlkem1024")[0], new Uint8Array(0), 1));
    expect(acceptChosen(chosen, ike(PQ))).toBeNull();
  });
});
