/**
 * Proposal strings as strongSwan parses them (lib/ike/v2/sa/proposal-string.ts):
 * every listed algorithm kept in order, one wire proposal per string, `default`,
 * comma lists, esn/noesn, strongSwan's names, and a ProposalError naming the word
 * for everything vpnkit cannot use (fast-check: nothing else ever escapes).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { Ikev2Proposal } from "../../../../lib/ike/v2/payloads/sa.ts";
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, parseProposals, ProposalError } from "../../../../lib/ike/v2/sa/proposal-string.ts";
import { acceptChosen, espCipher, keyLengths, offerProposals, selectProposal, suiteName, suiteToProposal, type Suite } from "../../../../lib/ike/v2/sa/proposals.ts";

const ike = (...l: string[]) => parseProposals(l, "ike").suites;
const esp = (...l: string[]) => parseProposals(l, "esp").suites;
const names = (l: Suite[]) => l.map(suiteName);

/** A decoded-looking proposal from an offer (what the peer would parse). */
function asReceived(p: ReturnType<typeof offerProposals>[number]): Ikev2Proposal {
  return { num: p.num ?? 1, protocol: p.protocol, spi: p.spi, transforms: p.transforms.map((t) => ({ type: t.type, id: t.id, keyLength: t.keyLength })) } as unknown as Ikev2Proposal;
}

describe("every listed algorithm, in order", () => {
  const LIST = "aes128-aes256-sha256-sha384-ecp256-ecp384";
  test(`${LIST}: 16 suites, first and last ends as strongSwan names them`, () => {
    const s = ike(LIST);
    expect(s.length).toBe(16);
    expect(suiteName(s[0])).toBe("IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_256");
    expect(suiteName(s[15])).toBe("IKE:AES_CBC_256/HMAC_SHA2_384_192/PRF_HMAC_SHA2_384/ECP_384");
    expect(new Set(s.map((x) => x.offer))).toEqual(new Set([1]));
  });
  test("offered as ONE proposal with every transform once, in the string's order", () => {
    const o = offerProposals(ike(LIST), new Uint8Array(0));
    expect(o.length).toBe(1);
    expect(o[0].transforms.map((t) => [t.type, t.id, t.keyLength])).toEqual([
      [1, 12, 128], [1, 12, 256], [2, 5, undefined], [2, 6, undefined], [3, 12, undefined], [3, 13, undefined], [4, 19, undefined], [4, 20, undefined],
    ]);
  });
  test("a responder with either end selects it from the full offer; the initiator accepts the choice", () => {
    const offer = ike(LIST);
    const recv = offerProposals(offer, new Uint8Array(0)).map(asReceived);
    for (const end of ["aes128-sha256-ecp256", "aes256-sha384-ecp384"]) {
      const sel = selectProposal(recv, ike(end))!;
      expect(sel).not.toBeNull();
      expect(suiteName(sel.suite)).toBe(suiteName(ike(end)[0]));
      const chosen = asReceived(suiteToProposal(sel.suite, new Uint8Array(0), 1));
      expect(acceptChosen(chosen, offer)).not.toBeNull();
    }
    // our order wins: with the whole list on both sides the first of each kind is chosen
    expect(suiteName(selectProposal(recv, offer)!.suite)).toBe(suiteName(offer[0]));
  });
  test("several proposals (comma-separated or as list items) keep their order and their own wire proposal", () => {
    const a = ike("aes256gcm16-prfsha384-ecp384,aes128-sha1-modp3072", "chacha20poly1305-prfsha256-x25519");
    expect(names(a)).toEqual(["IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384", "IKE:AES_CBC_128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_3072", "IKE:CHACHA20_POLY1305/PRF_HMAC_SHA2_256/CURVE_25519"]);
    expect(offerProposals(a, new Uint8Array(0)).map((p) => p.num)).toEqual([1, 2, 3]);
  });
  test("duplicate words count once", () => {
    expect(ike("aes128-aes128-sha256-sha256-ecp256").length).toBe(1);
  });
});

describe("keywords", () => {
  test("default expands to the documented safe set, alone or in a list", () => {
    expect(names(ike("default"))).toEqual(names(ike(...DEFAULT_IKE_PROPOSALS)));
    expect(names(esp("default"))).toEqual(names(esp(...DEFAULT_ESP_PROPOSALS)));
    const l = ike("aes192-sha256-ecp521, default");
    expect(suiteName(l[0])).toBe("IKE:AES_CBC_192/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/ECP_521");
    expect(names(l.slice(1))).toEqual(names(ike(...DEFAULT_IKE_PROPOSALS)));
    // nothing weak in the defaults
    for (const s of ike("default")) expect([2, 14, 15, 16, 19, 20, 21, 31]).toContain(s.ke!);
    expect(names(ike("default")).join()).not.toMatch(/SHA1|MODP_1024/);
  });
  test("esn / noesn: both offered in the order given; no word means NO_EXT_SEQ", () => {
    expect(names(esp("aes256gcm16-esn-noesn"))).toEqual(["ESP:AES_GCM_16_256/EXT_SEQ", "ESP:AES_GCM_16_256/NO_EXT_SEQ"]);
    expect(names(esp("chacha20poly1305"))).toEqual(["ESP:CHACHA20_POLY1305/NO_EXT_SEQ"]);
    expect(offerProposals(esp("aes128gcm16-aes256gcm16-esn-noesn-x25519"), new Uint8Array(4))[0].transforms.map((t) => [t.type, t.id])).toEqual([[1, 20], [1, 20], [4, 31], [5, 1], [5, 0]]);
  });
  test("ESP AES-CBC with HMAC (issue 15): the data plane's names, strongSwan's suite names", () => {
    expect(names(esp("aes256-sha256"))).toEqual(["ESP:AES_CBC_256/HMAC_SHA2_256_128/NO_EXT_SEQ"]);
    expect(names(esp("aes128-aes256-sha1-sha384-sha512"))).toEqual([
      "ESP:AES_CBC_128/HMAC_SHA1_96/NO_EXT_SEQ", "ESP:AES_CBC_128/HMAC_SHA2_384_192/NO_EXT_SEQ", "ESP:AES_CBC_128/HMAC_SHA2_512_256/NO_EXT_SEQ",
      "ESP:AES_CBC_256/HMAC_SHA1_96/NO_EXT_SEQ", "ESP:AES_CBC_256/HMAC_SHA2_384_192/NO_EXT_SEQ", "ESP:AES_CBC_256/HMAC_SHA2_512_256/NO_EXT_SEQ",
    ]);
    expect(esp("aes128-aes256-sha1-sha256-sha384-sha512").map(espCipher)).toEqual([
      "aes128-sha1", "aes128-sha256", "aes128-sha384", "aes128-sha512", "aes256-sha1", "aes256-sha256", "aes256-sha384", "aes256-sha512",
    ]);
    // the child KEYMAT of each direction: encryption key, then integrity key (RFC 7296 §2.17)
    expect(esp("aes128-sha1", "aes256-sha512").map(keyLengths)).toEqual([{ encr: 16, integ: 20 }, { encr: 32, integ: 64 }]);
    expect(offerProposals(esp("aes256-sha256-x25519"), new Uint8Array(4))[0].transforms.map((t) => [t.type, t.id, t.keyLength])).toEqual([[1, 12, 256], [3, 12, undefined], [4, 31, undefined], [5, 0, undefined]]);
  });
  test("IKE without a PRF word: the integrity words' PRFs; with an AEAD cipher they only name PRFs (as strongSwan)", () => {
    expect(names(ike("aes256-sha1-sha512-ecp256"))).toContain("IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA2_512/ECP_256");
    expect(names(ike("aes256gcm16-sha384-ecp384"))).toEqual(["IKE:AES_GCM_16_256/PRF_HMAC_SHA2_384/ECP_384"]);
  });
  test("new algorithms and their strongSwan names", () => {
    expect(names(ike("aes192-sha1-prfaesxcbc-prfaescmac-modp4096-ecp521")).slice(0, 3)).toEqual([
      "IKE:AES_CBC_192/HMAC_SHA1_96/PRF_AES128_XCBC/MODP_4096", "IKE:AES_CBC_192/HMAC_SHA1_96/PRF_AES128_XCBC/ECP_521", "IKE:AES_CBC_192/HMAC_SHA1_96/PRF_AES128_CMAC/MODP_4096",
    ]);
    expect(names(ike("aes256gcm16-prfsha256-modp3072-x25519"))).toEqual(["IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/MODP_3072", "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519"]);
  });
  test("modp1024 only with the opt-in, and then with a warning", () => {
    expect(() => ike("aes256-sha1-modp1024")).toThrow(/"modp1024" \(MODP_1024\) is weak/);
    const r = parseProposals(["aes256-sha1-modp1024"], "ike", { allowModp1024: true });
    expect(names(r.suites)).toEqual(["IKE:AES_CBC_256/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024"]);
    expect(r.warnings).toEqual(['IKE proposal "aes256-sha1-modp1024": modp1024 (MODP_1024) is weak (about 80-bit security), use modp2048 or better']);
  });
});

describe("refused, naming the word", () => {
  const cases: [string, "ike" | "esp", string, RegExp][] = [
    ["unknown cipher", "ike", "aes512-sha256-ecp256", /"aes512" is not a known algorithm/],
    ["unknown group", "ike", "aes256-sha256-ecp999", /"ecp999" is not a known algorithm/],
    ["known but unsupported cipher", "ike", "3des-sha256-modp2048", /"3des" \(3DES_CBC\) is not supported/],
    ["known but unsupported integrity", "ike", "aes256-md5-modp2048", /"md5" \(HMAC_MD5_96\) is not supported/],
    ["known but unsupported group", "ike", "aes256-sha256-curve448", /"curve448" \(CURVE_448\) is not supported/],
    ["no integrity for a non-AEAD IKE proposal", "ike", "aes256-prfsha256-ecp256", /names no integrity algorithm/],
    ["no PRF for an AEAD IKE proposal", "ike", "aes256gcm16-x25519", /names no PRF/],
    ["AEAD with integrity and a PRF (IKE)", "ike", "aes256gcm16-sha256-prfsha256-x25519", /"sha256" is an integrity algorithm, which an AEAD cipher does not take/],
    ["no key exchange (IKE)", "ike", "aes256-sha256", /names no key exchange method/],
    ["no cipher", "ike", "sha256-ecp256", /names no encryption algorithm/],
    ["AEAD and non-AEAD mixed", "ike", "aes256-aes256gcm16-sha256-ecp256", /"aes256gcm16" mixes AEAD and non-AEAD/],
    ["esn in IKE", "ike", "aes256gcm16-prfsha256-x25519-esn", /"esn" belongs in ESP proposals only/],
    ["empty proposal", "ike", "", /is empty/],
    ["empty word", "ike", "aes256--sha256-ecp256", /empty algorithm name/],
    ["default inside a proposal", "ike", "aes256-default", /"default" stands alone/],
    ["a bad second proposal of a comma list", "ike", "aes256gcm16-prfsha256-x25519,foo", /"foo" is not a known algorithm/],
    ["modp1024 without the opt-in", "ike", "aes256-sha1-modp1024", /"modp1024" \(MODP_1024\) is weak/],
    ["ESP AES-CBC-192 (data plane)", "esp", "aes192-sha256", /"aes192" is not supported by the ESP data plane/],
    ["ESP AES-CBC-192 in a list (data plane)", "esp", "aes128-aes192-sha256", /"aes192" is not supported by the ESP data plane/],
    ["ESP AEAD with integrity", "esp", "aes256gcm16-sha256", /"sha256" is an integrity algorithm/],
    ["ESP with a PRF", "esp", "aes256gcm16-prfsha256", /"prfsha256" is a PRF/],
    ["ESP unknown group", "esp", "aes256gcm16-ecp999", /"ecp999" is not a known algorithm/],
    ["ESP AES-GCM-192 (not in the data plane)", "esp", "aes192gcm16", /"aes192gcm16" \(AES_GCM_16_192\) is not supported/],
  ];
  for (const [what, proto, text, re] of cases) {
    test(`${what}: ${proto} "${text}"`, () => {
      let err: unknown;
      try {
        parseProposals([text], proto);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProposalError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain(`${proto.toUpperCase()} proposal`);
    });
  }
  test("an empty list", () => {
    expect(() => parseProposals([], "ike")).toThrow(ProposalError);
  });
  test("a list allowing too many combinations is refused, not expanded without bound", () => {
    const big = "aes128-aes192-aes256-sha1-sha256-sha384-sha512-prfsha1-prfsha256-prfsha384-prfsha512-prfaesxcbc-prfaescmac-modp2048-modp3072-modp4096-ecp256-ecp384-ecp521-x25519";
    expect(ike(big).length).toBe(504); // 3 ciphers × 4 integrity × 6 PRFs × 7 groups
    expect(() => ike(big, big, big)).toThrow(/more than 1024 combinations/);
    expect(() => ike(...Array(300).fill("aes256gcm16-prfsha256-x25519"))).toThrow(/more than 255 proposals/);
  });
});

describe("property: any string of words", () => {
  const WORDS = ["aes128", "aes192", "aes256", "aes256gcm16", "chacha20poly1305", "sha1", "sha256", "sha384", "prfsha256", "prfaesxcbc", "prfaescmac", "ecp256", "ecp521", "modp3072", "modp1024", "x25519", "esn", "noesn", "default", "3des", "md5", "", "zz", "AES256", ",", " "];
  test("parses or throws a ProposalError, never anything else; suites are complete", () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(...WORDS), { maxLength: 8 }), fc.constantFrom("ike" as const, "esp" as const), fc.boolean(), (words, proto, allow) => {
      const text = words.join("-");
      try {
        const r = parseProposals([text], proto, { allowModp1024: allow });
        for (const s of r.suites) {
          expect(s.encr).toBeGreaterThan(0);
          if (proto === "ike") {
            expect(s.prf).toBeDefined();
            expect(s.ke).toBeDefined();
          }
          expect(suiteName(s)).not.toContain("UNKNOWN");
        }
        expect(r.suites.length).toBeGreaterThan(0);
      } catch (e) {
        if (!(e instanceof ProposalError)) throw e;
      }
    }), { numRuns: 2000 });
  });
});
