/** IKEv1 registries: names, unknowns, ranges, per-protocol transform ids. */
import { describe, expect, test } from "bun:test";
import {
  AH_TRANSFORM_IDS,
  CFG_ATTR_TYPES,
  ENCAPSULATION_MODES,
  ESP_TRANSFORM_IDS,
  EXCHANGE_TYPES,
  ID_TYPES,
  IKE_ATTR_CLASSES,
  IKE_AUTH_METHODS,
  IKE_GROUPS,
  IPSEC_ATTR_CLASSES,
  NOTIFY_TYPES,
  PAYLOAD_TYPES,
  PROTOCOL_IDS,
  situationNames,
  transformIdRegistry,
} from "../../../lib/ike/v1/registry.ts";

describe("IKEv1 registries", () => {
  test("exchange types", () => {
    expect(EXCHANGE_TYPES.name(2)).toBe("Identity Protection (Main Mode)");
    expect(EXCHANGE_TYPES.name(4)).toBe("Aggressive");
    expect(EXCHANGE_TYPES.name(6)).toBe("Transaction (Mode-Config)");
    expect(EXCHANGE_TYPES.name(32)).toBe("Quick Mode");
    expect(EXCHANGE_TYPES.name(33)).toBe("New Group Mode");
    expect(EXCHANGE_TYPES.name(250)).toBe("PRIVATE_USE(250)");
  });
  test("payload types incl. NAT-T, drafts, GDOI, fragments; unknown", () => {
    expect([20, 21, 130, 131, 132, 15, 19].map((t) => PAYLOAD_TYPES.name(t))).toEqual(["NAT-D", "NAT-OA", "NAT-D (draft)", "NAT-OA (draft)", "FRAG", "SAK", "POP"]);
    expect(PAYLOAD_TYPES.name(50)).toBe("UNKNOWN(50)");
  });
  test("protocols and transform ids per protocol", () => {
    expect(PROTOCOL_IDS.name(3)).toBe("IPSEC_ESP");
    expect(transformIdRegistry(1).name(1)).toBe("KEY_IKE");
    expect(transformIdRegistry(3).name(3)).toBe("ESP_3DES");
    expect(transformIdRegistry(3).name(12)).toBe("ESP_AES");
    expect(transformIdRegistry(3).name(11)).toBe("ESP_NULL");
    expect(ESP_TRANSFORM_IDS.name(20)).toBe("ESP_AES-GCM_16");
    expect(AH_TRANSFORM_IDS.name(2)).toBe("AH_MD5");
    expect(transformIdRegistry(2).name(3)).toBe("AH_SHA");
    expect(transformIdRegistry(4).name(2)).toBe("IPCOMP_DEFLATE");
    expect(transformIdRegistry(9).name(1)).toBe("UNKNOWN(1)");
  });
  test("attribute classes and values", () => {
    expect(IKE_ATTR_CLASSES.name(14)).toBe("Key-Length");
    expect(IKE_AUTH_METHODS.name(65001)).toBe("XAUTHInitPreShared");
    expect(IKE_AUTH_METHODS.name(64221)).toBe("HybridInitRSA");
    expect(IKE_GROUPS.name(14)).toBe("2048-bit MODP");
    expect(IPSEC_ATTR_CLASSES.name(4)).toBe("Encapsulation-Mode");
    expect(IPSEC_ATTR_CLASSES.name(11)).toBe("Extended-Sequence-Number");
    expect([1, 2, 3, 4, 61443, 61444].map((v) => ENCAPSULATION_MODES.name(v))).toEqual([
      "Tunnel",
      "Transport",
      "UDP-Encapsulated-Tunnel",
      "UDP-Encapsulated-Transport",
      "UDP-Encapsulated-Tunnel (draft)",
      "UDP-Encapsulated-Transport (draft)",
    ]);
  });
  test("ID types, notify types, config attributes, situation", () => {
    expect([4, 8, 9, 11].map((t) => ID_TYPES.name(t))).toEqual(["IPV4_ADDR_SUBNET", "IPV6_ADDR_RANGE", "DER_ASN1_DN", "KEY_ID"]);
    expect(NOTIFY_TYPES.name(14)).toBe("NO-PROPOSAL-CHOSEN");
    expect(NOTIFY_TYPES.name(30)).toBe("UNEQUAL-PAYLOAD-LENGTHS");
    expect(NOTIFY_TYPES.name(24576)).toBe("RESPONDER-LIFETIME");
    expect(NOTIFY_TYPES.name(24578)).toBe("INITIAL-CONTACT");
    expect(NOTIFY_TYPES.name(36136)).toBe("R-U-THERE");
    expect(NOTIFY_TYPES.name(36137)).toBe("R-U-THERE-ACK");
    expect(NOTIFY_TYPES.name(9000)).toBe("PRIVATE_ERROR(9000)");
    expect(NOTIFY_TYPES.name(99)).toBe("UNKNOWN(99)");
    expect(CFG_ATTR_TYPES.name(16522)).toBe("XAUTH_USER_PASSWORD");
    expect(situationNames(1)).toEqual(["SIT_IDENTITY_ONLY"]);
    expect(situationNames(0x13)).toEqual(["SIT_IDENTITY_ONLY", "SIT_SECRECY", "0x10"]);
  });
});
