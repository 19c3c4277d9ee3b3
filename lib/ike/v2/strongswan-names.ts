/**
 * strongSwan's names for IKEv2 transforms (as charon logs them and `swanctl
 * --list-sas` shows them: AES_GCM_16_256, HMAC_SHA2_256_128, PRF_HMAC_SHA2_384,
 * ECP_384, CURVE_25519, NO_EXT_SEQ), derived from the IANA registries in
 * registry.ts. Only the key exchange methods and a few ciphers need a table of
 * their own; anything unknown falls back to the IANA name (`UNKNOWN(n)`).
 * @module
 */
import { Registry } from "../../core/registry.ts";
import { ENCR_IDS, INTEG_IDS, KE_IDS, PRF_IDS } from "./registry.ts";

/** strongSwan's key_exchange_method_names (src/libstrongswan/crypto/key_exchange.c). */
export const KE_STRONGSWAN = new Registry("strongSwan key exchange method names", {
  0: "KE_NONE",
  1: "MODP_768",
  2: "MODP_1024",
  5: "MODP_1536",
  14: "MODP_2048",
  15: "MODP_3072",
  16: "MODP_4096",
  17: "MODP_6144",
  18: "MODP_8192",
  19: "ECP_256",
  20: "ECP_384",
  21: "ECP_521",
  22: "MODP_1024_160",
  23: "MODP_2048_224",
  24: "MODP_2048_256",
  25: "ECP_192",
  26: "ECP_224",
  27: "ECP_224_BP",
  28: "ECP_256_BP",
  29: "ECP_384_BP",
  30: "ECP_512_BP",
  31: "CURVE_25519",
  32: "CURVE_448",
  35: "ML_KEM_512",
  36: "ML_KEM_768",
  37: "ML_KEM_1024",
});

/** Where strongSwan's encryption name is not the IANA name without "ENCR_". */
const ENCR_SPECIAL: Record<number, string> = { 2: "DES_CBC", 3: "3DES_CBC", 6: "CAST_CBC", 7: "BLOWFISH_CBC" };

/** strongSwan name of transform `type` (1 ENCR, 2 PRF, 3 INTEG, 4 KE, 5 ESN, 6-12 ADDKE1-7) with ID `id` (and key length in bits). */
export function strongswanName(type: number, id: number, keyLength?: number): string {
  switch (type) {
    case 1: {
      const n = ENCR_SPECIAL[id] ?? ENCR_IDS.name(id).replace(/^ENCR_/, "");
      return keyLength ? `${n}_${keyLength}` : n;
    }
    case 2: return PRF_IDS.name(id);
    case 3: return INTEG_IDS.name(id).replace(/^AUTH_/, "");
    case 4: return KE_STRONGSWAN.has(id) ? KE_STRONGSWAN.name(id) : KE_IDS.name(id);
    case 5: return id === 1 ? "EXT_SEQ" : id === 0 ? "NO_EXT_SEQ" : `UNKNOWN(${id})`;
    // RFC 9370 ADDKE1..7, as strongSwan 6 prints them: KE1_ML_KEM_768
    case 6: case 7: case 8: case 9: case 10: case 11: case 12: return `KE${type - 5}_${id === 0 ? "NONE" : strongswanName(4, id)}`;
    default: return `UNKNOWN(${id})`;
  }
}
