/**
 * IANA "Internet Key Exchange Version 2 (IKEv2) Parameters" registries as
 * data tables (RFC 7296 and its extensions), plus the RFC 7427 hash
 * algorithm registry and the EAP code/type tables carried in EAP payloads.
 *
 * Names follow the IANA registry text. Names were cross-checked against the
 * names Wireshark 4.0 knows and tcpdump's IKEv2 output; where those tools
 * print something different the tests map the difference explicitly.
 * Unknown values print as `UNKNOWN(n)`; private-use ranges are labelled.
 * @module
 */
import { Registry } from "../../core/registry.ts";

/** IKEv2 Exchange Types (RFC 7296 §3.1 and extensions). */
export const EXCHANGE_TYPES = new Registry("IKEv2 Exchange Types", {
  34: "IKE_SA_INIT",
  35: "IKE_AUTH",
  36: "CREATE_CHILD_SA",
  37: "INFORMATIONAL",
  38: "IKE_SESSION_RESUME", // RFC 5723
  39: "GSA_AUTH", // G-IKEv2
  40: "GSA_REGISTRATION",
  41: "GSA_REKEY",
  42: "GSA_INBAND_REKEY",
  43: "IKE_INTERMEDIATE", // RFC 9242
  44: "IKE_FOLLOWUP_KE", // RFC 9370
}, [
  { from: 0, to: 33, label: "RESERVED" },
  { from: 240, to: 255, label: "PRIVATE_USE" },
]);

/** IKEv2 Payload Types: full names (as the registry and Wireshark print them). */
export const PAYLOAD_TYPES = new Registry("IKEv2 Payload Types", {
  0: "No Next Payload",
  33: "Security Association",
  34: "Key Exchange",
  35: "Identification - Initiator",
  36: "Identification - Responder",
  37: "Certificate",
  38: "Certificate Request",
  39: "Authentication",
  40: "Nonce",
  41: "Notify",
  42: "Delete",
  43: "Vendor ID",
  44: "Traffic Selector - Initiator",
  45: "Traffic Selector - Responder",
  46: "Encrypted and Authenticated",
  47: "Configuration",
  48: "Extensible Authentication",
  49: "Generic Secure Password Methods",
  50: "Group Identification",
  51: "Group Security Association",
  52: "Key Download",
  53: "Encrypted and Authenticated Fragment", // RFC 7383
  54: "Puzzle Solution", // RFC 8019
}, [
  { from: 1, to: 32, label: "RESERVED" },
  { from: 128, to: 255, label: "PRIVATE_USE" },
]);

/** IKEv2 Payload Types: the registry's short notation (SA, KE, IDi, …). */
export const PAYLOAD_ABBREV = new Registry("IKEv2 Payload Type Notation", {
  0: "NONE",
  33: "SA",
  34: "KE",
  35: "IDi",
  36: "IDr",
  37: "CERT",
  38: "CERTREQ",
  39: "AUTH",
  40: "No",
  41: "N",
  42: "D",
  43: "V",
  44: "TSi",
  45: "TSr",
  46: "SK",
  47: "CP",
  48: "EAP",
  49: "GSPM",
  50: "IDg",
  51: "GSA",
  52: "KD",
  53: "SKF",
  54: "PS",
});

/** Transform types. */
export const TRANSFORM_TYPES = new Registry("IKEv2 Transform Types", {
  1: "ENCR",
  2: "PRF",
  3: "INTEG",
  4: "KE", // "Diffie-Hellman Group (D-H)", renamed Key Exchange Method by RFC 9370
  5: "ESN",
  6: "ADDKE1", // RFC 9370
  7: "ADDKE2",
  8: "ADDKE3",
  9: "ADDKE4",
  10: "ADDKE5",
  11: "ADDKE6",
  12: "ADDKE7",
  13: "KWA", // G-IKEv2 Key Wrap Algorithm
  14: "GCAUTH", // G-IKEv2 Group Controller Authentication Method
}, [{ from: 241, to: 255, label: "PRIVATE_USE" }]);

/** Transform Type 1 — Encryption Algorithm Transform IDs. */
export const ENCR_IDS = new Registry("IKEv2 Encryption Algorithm Transform IDs", {
  0: "RESERVED",
  1: "ENCR_DES_IV64",
  2: "ENCR_DES",
  3: "ENCR_3DES",
  4: "ENCR_RC5",
  5: "ENCR_IDEA",
  6: "ENCR_CAST",
  7: "ENCR_BLOWFISH",
  8: "ENCR_3IDEA",
  9: "ENCR_DES_IV32",
  11: "ENCR_NULL",
  12: "ENCR_AES_CBC",
  13: "ENCR_AES_CTR",
  14: "ENCR_AES_CCM_8",
  15: "ENCR_AES_CCM_12",
  16: "ENCR_AES_CCM_16",
  18: "ENCR_AES_GCM_8",
  19: "ENCR_AES_GCM_12",
  20: "ENCR_AES_GCM_16",
  21: "ENCR_NULL_AUTH_AES_GMAC",
  23: "ENCR_CAMELLIA_CBC",
  24: "ENCR_CAMELLIA_CTR",
  25: "ENCR_CAMELLIA_CCM_8",
  26: "ENCR_CAMELLIA_CCM_12",
  27: "ENCR_CAMELLIA_CCM_16",
  28: "ENCR_CHACHA20_POLY1305",
  29: "ENCR_AES_CCM_8_IIV",
  30: "ENCR_AES_GCM_16_IIV",
  31: "ENCR_CHACHA20_POLY1305_IIV",
  32: "ENCR_KUZNYECHIK_MGM_KTREE",
  33: "ENCR_MAGMA_MGM_KTREE",
  34: "ENCR_KUZNYECHIK_MGM_MAC_KTREE",
  35: "ENCR_MAGMA_MGM_MAC_KTREE",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Transform Type 2 — Pseudorandom Function Transform IDs. */
export const PRF_IDS = new Registry("IKEv2 Pseudorandom Function Transform IDs", {
  0: "RESERVED",
  1: "PRF_HMAC_MD5",
  2: "PRF_HMAC_SHA1",
  3: "PRF_HMAC_TIGER",
  4: "PRF_AES128_XCBC",
  5: "PRF_HMAC_SHA2_256",
  6: "PRF_HMAC_SHA2_384",
  7: "PRF_HMAC_SHA2_512",
  8: "PRF_AES128_CMAC",
  9: "PRF_HMAC_STREEBOG_512",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Transform Type 3 — Integrity Algorithm Transform IDs. */
export const INTEG_IDS = new Registry("IKEv2 Integrity Algorithm Transform IDs", {
  0: "NONE",
  1: "AUTH_HMAC_MD5_96",
  2: "AUTH_HMAC_SHA1_96",
  3: "AUTH_DES_MAC",
  4: "AUTH_KPDK_MD5",
  5: "AUTH_AES_XCBC_96",
  6: "AUTH_HMAC_MD5_128",
  7: "AUTH_HMAC_SHA1_160",
  8: "AUTH_AES_CMAC_96",
  9: "AUTH_AES_128_GMAC",
  10: "AUTH_AES_192_GMAC",
  11: "AUTH_AES_256_GMAC",
  12: "AUTH_HMAC_SHA2_256_128",
  13: "AUTH_HMAC_SHA2_384_192",
  14: "AUTH_HMAC_SHA2_512_256",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Transform Type 4 (and ADDKE 6–12) — Key Exchange Method (DH group) IDs. */
export const KE_IDS = new Registry("IKEv2 Key Exchange Method Transform IDs", {
  0: "NONE",
  1: "768-bit MODP Group",
  2: "1024-bit MODP Group",
  5: "1536-bit MODP Group",
  14: "2048-bit MODP Group",
  15: "3072-bit MODP Group",
  16: "4096-bit MODP Group",
  17: "6144-bit MODP Group",
  18: "8192-bit MODP Group",
  19: "256-bit random ECP group",
  20: "384-bit random ECP group",
  21: "521-bit random ECP group",
  22: "1024-bit MODP Group with 160-bit Prime Order Subgroup",
  23: "2048-bit MODP Group with 224-bit Prime Order Subgroup",
  24: "2048-bit MODP Group with 256-bit Prime Order Subgroup",
  25: "192-bit Random ECP Group",
  26: "224-bit Random ECP Group",
  27: "brainpoolP224r1",
  28: "brainpoolP256r1",
  29: "brainpoolP384r1",
  30: "brainpoolP512r1",
  31: "Curve25519",
  32: "Curve448",
  33: "GOST3410_2012_256",
  34: "GOST3410_2012_512",
  35: "ml-kem-512",
  36: "ml-kem-768",
  37: "ml-kem-1024",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/**
 * Transform Type 5 — Extended Sequence Numbers Transform IDs. Values 0/1 keep
 * the RFC 7296 names every tool prints (IANA now lists them as "32-bit
 * Sequential Numbers" / "Partially Transmitted 64-bit Sequential Numbers").
 */
export const ESN_IDS = new Registry("IKEv2 Extended Sequence Numbers Transform IDs", {
  0: "No Extended Sequence Numbers",
  1: "Extended Sequence Numbers",
  2: "32-bit Unspecified Numbers",
});

/** Transform Type 13 — Key Wrap Algorithm Transform IDs (G-IKEv2). */
export const KWA_IDS = new Registry("IKEv2 Key Wrap Algorithm Transform IDs", {
  0: "RESERVED",
  1: "KW_5649_128",
  2: "KW_5649_192",
  3: "KW_5649_256",
  4: "KW_ARX",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Transform Type 14 — Group Controller Authentication Method Transform IDs (G-IKEv2). */
export const GCAUTH_IDS = new Registry("IKEv2 Group Controller Authentication Method Transform IDs", {
  0: "RESERVED",
  1: "Implicit",
  2: "Digital Signature",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Transform-ID registry for a transform type (ADDKE types share KE's). */
export function transformIdRegistry(type: number): Registry | undefined {
  switch (type) {
    case 1: return ENCR_IDS;
    case 2: return PRF_IDS;
    case 3: return INTEG_IDS;
    case 5: return ESN_IDS;
    case 13: return KWA_IDS;
    case 14: return GCAUTH_IDS;
    default:
      if (type === 4 || (type >= 6 && type <= 12)) return KE_IDS;
      return undefined;
  }
}

/** Name of transform ID `id` of transform type `type`. */
export function transformIdName(type: number, id: number): string {
  const r = transformIdRegistry(type);
  return r ? r.name(id) : `UNKNOWN(${id})`;
}

/** Transform attribute types. */
export const TRANSFORM_ATTRIBUTE_TYPES = new Registry("IKEv2 Transform Attribute Types", {
  14: "Key Length",
  18: "Signature Algorithm Identifier", // G-IKEv2
}, [{ from: 16384, to: 32767, label: "PRIVATE_USE" }]);

/** Security Protocol Identifiers. */
export const PROTOCOL_IDS = new Registry("IKEv2 Security Protocol Identifiers", {
  0: "RESERVED",
  1: "IKE",
  2: "AH",
  3: "ESP",
  4: "FC_ESP_HEADER",
  5: "FC_CT_AUTHENTICATION",
  6: "GIKE_UPDATE",
}, [{ from: 201, to: 255, label: "PRIVATE_USE" }]);

/** Identification Payload ID Types. */
export const ID_TYPES = new Registry("IKEv2 Identification Payload ID Types", {
  0: "RESERVED",
  1: "ID_IPV4_ADDR",
  2: "ID_FQDN",
  3: "ID_RFC822_ADDR",
  5: "ID_IPV6_ADDR",
  9: "ID_DER_ASN1_DN",
  10: "ID_DER_ASN1_GN",
  11: "ID_KEY_ID",
  12: "ID_FC_NAME",
  13: "ID_NULL",
}, [{ from: 249, to: 255, label: "PRIVATE_USE" }]);

/** Authentication Methods. */
export const AUTH_METHODS = new Registry("IKEv2 Authentication Method", {
  0: "RESERVED",
  1: "RSA Digital Signature",
  2: "Shared Key Message Integrity Code",
  3: "DSS Digital Signature",
  9: "ECDSA with SHA-256 on the P-256 curve",
  10: "ECDSA with SHA-384 on the P-384 curve",
  11: "ECDSA with SHA-512 on the P-521 curve",
  12: "Generic Secure Password Authentication Method",
  13: "NULL Authentication",
  14: "Digital Signature",
}, [{ from: 201, to: 255, label: "PRIVATE_USE" }]);

/** Certificate Encodings. */
export const CERT_ENCODINGS = new Registry("IKEv2 Certificate Encodings", {
  0: "RESERVED",
  1: "PKCS #7 wrapped X.509 certificate",
  2: "PGP Certificate",
  3: "DNS Signed Key",
  4: "X.509 Certificate - Signature",
  6: "Kerberos Token",
  7: "Certificate Revocation List (CRL)",
  8: "Authority Revocation List (ARL)",
  9: "SPKI Certificate",
  10: "X.509 Certificate - Attribute",
  11: "Raw RSA Key (DEPRECATED)",
  12: "Hash and URL of X.509 certificate",
  13: "Hash and URL of X.509 bundle",
  14: "OCSP Content",
  15: "Raw Public Key",
}, [{ from: 201, to: 255, label: "PRIVATE_USE" }]);

/** Traffic Selector Types. */
export const TS_TYPES = new Registry("IKEv2 Traffic Selector Types", {
  7: "TS_IPV4_ADDR_RANGE",
  8: "TS_IPV6_ADDR_RANGE",
  9: "TS_FC_ADDR_RANGE",
  10: "TS_SECLABEL",
}, [
  { from: 0, to: 6, label: "RESERVED" },
  { from: 241, to: 255, label: "PRIVATE_USE" },
]);

/** Configuration Payload CFG Types. */
export const CP_TYPES = new Registry("IKEv2 Configuration Payload CFG Types", {
  0: "RESERVED",
  1: "CFG_REQUEST",
  2: "CFG_REPLY",
  3: "CFG_SET",
  4: "CFG_ACK",
}, [{ from: 128, to: 255, label: "PRIVATE_USE" }]);

/** Configuration Payload Attribute Types. */
export const CP_ATTRIBUTE_TYPES = new Registry("IKEv2 Configuration Payload Attribute Types", {
  0: "RESERVED",
  1: "INTERNAL_IP4_ADDRESS",
  2: "INTERNAL_IP4_NETMASK",
  3: "INTERNAL_IP4_DNS",
  4: "INTERNAL_IP4_NBNS",
  5: "RESERVED",
  6: "INTERNAL_IP4_DHCP",
  7: "APPLICATION_VERSION",
  8: "INTERNAL_IP6_ADDRESS",
  9: "RESERVED",
  10: "INTERNAL_IP6_DNS",
  11: "RESERVED",
  12: "INTERNAL_IP6_DHCP",
  13: "INTERNAL_IP4_SUBNET",
  14: "SUPPORTED_ATTRIBUTES",
  15: "INTERNAL_IP6_SUBNET",
  16: "MIP6_HOME_PREFIX",
  17: "INTERNAL_IP6_LINK",
  18: "INTERNAL_IP6_PREFIX",
  19: "HOME_AGENT_ADDRESS",
  20: "P_CSCF_IP4_ADDRESS",
  21: "P_CSCF_IP6_ADDRESS",
  22: "FTT_KAT",
  23: "EXTERNAL_SOURCE_IP4_NAT_INFO",
  24: "TIMEOUT_PERIOD_FOR_LIVENESS_CHECK",
  25: "INTERNAL_DNS_DOMAIN",
  26: "INTERNAL_DNSSEC_TA",
  27: "ENCDNS_IP4",
  28: "ENCDNS_IP6",
  29: "ENCDNS_DIGEST_INFO",
}, [{ from: 16384, to: 32767, label: "PRIVATE_USE" }]);

/** Notify Message Types: error types 0–16383. */
const NOTIFY_ERRORS: Record<number, string> = {
  0: "RESERVED",
  1: "UNSUPPORTED_CRITICAL_PAYLOAD",
  4: "INVALID_IKE_SPI",
  5: "INVALID_MAJOR_VERSION",
  7: "INVALID_SYNTAX",
  9: "INVALID_MESSAGE_ID",
  11: "INVALID_SPI",
  14: "NO_PROPOSAL_CHOSEN",
  17: "INVALID_KE_PAYLOAD",
  24: "AUTHENTICATION_FAILED",
  34: "SINGLE_PAIR_REQUIRED",
  35: "NO_ADDITIONAL_SAS",
  36: "INTERNAL_ADDRESS_FAILURE",
  37: "FAILED_CP_REQUIRED",
  38: "TS_UNACCEPTABLE",
  39: "INVALID_SELECTORS",
  40: "UNACCEPTABLE_ADDRESSES",
  41: "UNEXPECTED_NAT_DETECTED",
  42: "USE_ASSIGNED_HoA",
  43: "TEMPORARY_FAILURE",
  44: "CHILD_SA_NOT_FOUND",
  45: "INVALID_GROUP_ID",
  46: "AUTHORIZATION_FAILED",
  47: "STATE_NOT_FOUND",
  48: "TS_MAX_QUEUE",
  49: "REGISTRATION_FAILED",
};

/** Notify Message Types: status types 16384–40959. */
const NOTIFY_STATUS: Record<number, string> = {
  16384: "INITIAL_CONTACT",
  16385: "SET_WINDOW_SIZE",
  16386: "ADDITIONAL_TS_POSSIBLE",
  16387: "IPCOMP_SUPPORTED",
  16388: "NAT_DETECTION_SOURCE_IP",
  16389: "NAT_DETECTION_DESTINATION_IP",
  16390: "COOKIE",
  16391: "USE_TRANSPORT_MODE",
  16392: "HTTP_CERT_LOOKUP_SUPPORTED",
  16393: "REKEY_SA",
  16394: "ESP_TFC_PADDING_NOT_SUPPORTED",
  16395: "NON_FIRST_FRAGMENTS_ALSO",
  16396: "MOBIKE_SUPPORTED",
  16397: "ADDITIONAL_IP4_ADDRESS",
  16398: "ADDITIONAL_IP6_ADDRESS",
  16399: "NO_ADDITIONAL_ADDRESSES",
  16400: "UPDATE_SA_ADDRESSES",
  16401: "COOKIE2",
  16402: "NO_NATS_ALLOWED",
  16403: "AUTH_LIFETIME",
  16404: "MULTIPLE_AUTH_SUPPORTED",
  16405: "ANOTHER_AUTH_FOLLOWS",
  16406: "REDIRECT_SUPPORTED",
  16407: "REDIRECT",
  16408: "REDIRECTED_FROM",
  16409: "TICKET_LT_OPAQUE",
  16410: "TICKET_REQUEST",
  16411: "TICKET_ACK",
  16412: "TICKET_NACK",
  16413: "TICKET_OPAQUE",
  16414: "LINK_ID",
  16415: "USE_WESP_MODE",
  16416: "ROHC_SUPPORTED",
  16417: "EAP_ONLY_AUTHENTICATION",
  16418: "CHILDLESS_IKEV2_SUPPORTED",
  16419: "QUICK_CRASH_DETECTION",
  16420: "IKEV2_MESSAGE_ID_SYNC_SUPPORTED",
  16421: "IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED",
  16422: "IKEV2_MESSAGE_ID_SYNC",
  16423: "IPSEC_REPLAY_COUNTER_SYNC",
  16424: "SECURE_PASSWORD_METHODS",
  16425: "PSK_PERSIST",
  16426: "PSK_CONFIRM",
  16427: "ERX_SUPPORTED",
  16428: "IFOM_CAPABILITY",
  16429: "GROUP_SENDER", // was SENDER_REQUEST_ID (renamed by G-IKEv2)
  16430: "IKEV2_FRAGMENTATION_SUPPORTED",
  16431: "SIGNATURE_HASH_ALGORITHMS",
  16432: "CLONE_IKE_SA_SUPPORTED",
  16433: "CLONE_IKE_SA",
  16434: "PUZZLE",
  16435: "USE_PPK",
  16436: "PPK_IDENTITY",
  16437: "NO_PPK_AUTH",
  16438: "INTERMEDIATE_EXCHANGE_SUPPORTED",
  16439: "IP4_ALLOWED",
  16440: "IP6_ALLOWED",
  16441: "ADDITIONAL_KEY_EXCHANGE",
  16442: "USE_AGGFRAG",
  16443: "SUPPORTED_AUTH_METHODS",
  16444: "SA_RESOURCE_INFO",
  16445: "USE_PPK_INT",
  16446: "PPK_IDENTITY_KEY",
  16447: "IKE_SA_INIT_FULL_TRANSCRIPT_AUTH",
};

/** Notify Message Types (error 0–16383, status 16384–65535). */
export const NOTIFY_TYPES = new Registry("IKEv2 Notify Message Types", { ...NOTIFY_ERRORS, ...NOTIFY_STATUS }, [
  { from: 8192, to: 16383, label: "PRIVATE_USE" },
  { from: 40960, to: 65535, label: "PRIVATE_USE" },
]);

/** True for Notify error types (0–16383). */
export function isNotifyError(type: number): boolean {
  return type >= 0 && type < 16384;
}

/**
 * Compact Notify names in the style of strongSwan's log lines
 * (`N(NATD_S_IP)`). Types not listed fall back to the registry name.
 */
export const NOTIFY_SHORT = new Registry("IKEv2 Notify short names", {
  1: "CRIT",
  4: "INVAL_IKE_SPI",
  5: "INVAL_MAJOR",
  7: "INVAL_SYN",
  9: "INVAL_MID",
  11: "INVAL_SPI",
  14: "NO_PROP",
  17: "INVAL_KE",
  24: "AUTH_FAILED",
  34: "SINGLE_PAIR",
  35: "NO_ADD_SAS",
  36: "INT_ADDR_FAIL",
  37: "FAIL_CP_REQ",
  38: "TS_UNACCEPT",
  39: "INVAL_SEL",
  40: "UNACCEPT_ADDR",
  41: "UNEXPECT_NAT",
  42: "USE_ASSIGNED_HoA",
  43: "TEMP_FAIL",
  44: "CHILD_SA_NOT_FOUND",
  16384: "INIT_CONTACT",
  16385: "SET_WINSIZE",
  16386: "ADD_TS_POSS",
  16387: "IPCOMP_SUP",
  16388: "NATD_S_IP",
  16389: "NATD_D_IP",
  16390: "COOKIE",
  16391: "USE_TRANSP",
  16392: "HTTP_CERT_LOOK",
  16393: "REKEY_SA",
  16394: "ESP_TFC_PAD_N",
  16395: "NON_FIRST_FRAG",
  16396: "MOBIKE_SUP",
  16397: "ADD_4_ADDR",
  16398: "ADD_6_ADDR",
  16399: "NO_ADD_ADDR",
  16400: "UPD_SA_ADDR",
  16401: "COOKIE2",
  16402: "NO_NATS",
  16403: "AUTH_LFT",
  16404: "MULT_AUTH",
  16405: "AUTH_FOLLOWS",
  16406: "REDIR_SUP",
  16407: "REDIR",
  16408: "REDIR_FROM",
  16409: "TKT_LT_OPAK",
  16410: "TKT_REQ",
  16411: "TKT_ACK",
  16412: "TKT_NACK",
  16413: "TKT_OPAK",
  16414: "LINK_ID",
  16415: "WESP_MODE",
  16416: "ROHC_SUP",
  16417: "EAP_ONLY",
  16418: "CHDLESS_SUP",
  16419: "CRASH_DET",
  16420: "MSG_ID_SYN_SUP",
  16421: "RPL_CTR_SYN_SUP",
  16422: "MSG_ID_SYN",
  16423: "RPL_CTR_SYN",
  16424: "SEC_PASSWD",
  16425: "PSK_PST",
  16426: "PSK_CFM",
  16427: "ERX_SUP",
  16428: "IFOM_CAP",
  16430: "FRAG_SUP",
  16431: "HASH_ALG",
  16435: "USE_PPK",
  16436: "PPK_ID",
  16437: "NO_PPK",
  16438: "INT_SUP",
  16441: "ADD_KE",
  16442: "USE_AGGFRAG",
});

/** Short Notify name (strongSwan log style), falling back to the full name. */
export function notifyShortName(type: number): string {
  return NOTIFY_SHORT.has(type) ? NOTIFY_SHORT.name(type) : NOTIFY_TYPES.name(type);
}

/** RFC 7427 IKEv2 Hash Algorithms (SIGNATURE_HASH_ALGORITHMS). */
export const HASH_ALGORITHMS = new Registry("IKEv2 Hash Algorithms", {
  0: "RESERVED",
  1: "SHA1",
  2: "SHA2-256",
  3: "SHA2-384",
  4: "SHA2-512",
  5: "Identity",
  6: "STREEBOG_256",
  7: "STREEBOG_512",
}, [{ from: 1024, to: 65535, label: "PRIVATE_USE" }]);

/** Redirect Gateway Identity Types (RFC 5685). */
export const GATEWAY_ID_TYPES = new Registry("IKEv2 Gateway Identity Types", {
  1: "IPv4 address",
  2: "IPv6 address",
  3: "FQDN",
}, [{ from: 240, to: 255, label: "PRIVATE_USE" }]);

/** EAP codes (RFC 3748, RFC 6696). */
export const EAP_CODES = new Registry("EAP Codes", {
  1: "Request",
  2: "Response",
  3: "Success",
  4: "Failure",
  5: "Initiate",
  6: "Finish",
});

/** Common EAP method types. */
export const EAP_TYPES = new Registry("EAP Method Types", {
  1: "Identity",
  2: "Notification",
  3: "Legacy Nak",
  4: "MD5-Challenge",
  5: "One-Time Password (OTP)",
  6: "Generic Token Card (GTC)",
  13: "EAP-TLS",
  17: "EAP-Cisco Wireless (LEAP)",
  18: "EAP-SIM",
  21: "EAP-TTLS",
  23: "EAP-AKA",
  25: "PEAP",
  26: "EAP-MSCHAP-V2",
  38: "EAP-HTTP Digest",
  43: "EAP-FAST",
  47: "EAP-PSK",
  48: "EAP-SAKE",
  49: "EAP-IKEv2",
  50: "EAP-AKA'",
  51: "EAP-GPSK",
  52: "EAP-pwd",
  53: "EAP-EKE",
  55: "TEAP",
  254: "Expanded Type",
  255: "Experimental",
});
