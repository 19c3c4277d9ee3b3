/**
 * ISAKMP / IKEv1 registries as data (RFC 2407, 2408, 2409, 3947, 3706,
 * IANA "Internet Key Exchange (IKE) Attributes" and "ISAKMP Identifiers",
 * plus the widely deployed draft values: NAT-T drafts, XAUTH, Mode-Config,
 * Cisco Unity, Cisco IKE fragmentation).
 *
 * Unknown values print as `UNKNOWN(n)` (see {@link Registry}).
 * @module
 */
import { Registry } from "../../core/registry.ts";

/** ISAKMP exchange types (RFC 2408 §3.1, RFC 2409, IANA). */
export const EXCHANGE_TYPES = new Registry(
  "ISAKMP exchange type",
  {
    0: "NONE",
    1: "Base",
    2: "Identity Protection (Main Mode)",
    3: "Authentication Only",
    4: "Aggressive",
    5: "Informational",
    6: "Transaction (Mode-Config)",
    32: "Quick Mode",
    33: "New Group Mode",
  },
  [
    { from: 7, to: 31, label: "ISAKMP_FUTURE_USE" },
    { from: 34, to: 239, label: "DOI_SPECIFIC" },
    { from: 240, to: 255, label: "PRIVATE_USE" },
  ],
);

/** Short exchange names for one-line summaries. */
export const EXCHANGE_SHORT: Record<number, string> = {
  1: "Base",
  2: "Main Mode",
  3: "Auth Only",
  4: "Aggressive",
  5: "Informational",
  6: "Transaction",
  32: "Quick Mode",
  33: "New Group",
};

/** ISAKMP next-payload types (RFC 2408 §3.1, RFC 3547 GDOI, RFC 3947 NAT-T, drafts). */
export const PAYLOAD_TYPES = new Registry(
  "ISAKMP payload type",
  {
    0: "NONE",
    1: "SA",
    2: "P",
    3: "T",
    4: "KE",
    5: "ID",
    6: "CERT",
    7: "CR",
    8: "HASH",
    9: "SIG",
    10: "NONCE",
    11: "N",
    12: "D",
    13: "VID",
    14: "ATTR",
    15: "SAK",
    16: "SAT",
    17: "KD",
    18: "SEQ",
    19: "POP",
    20: "NAT-D",
    21: "NAT-OA",
    130: "NAT-D (draft)",
    131: "NAT-OA (draft)",
    132: "FRAG",
  },
  [{ from: 128, to: 255, label: "PRIVATE_USE" }],
);

/** strongSwan-style short payload names used by {@link isakmpSummary}. */
export const PAYLOAD_SHORT: Record<number, string> = {
  1: "SA",
  2: "P",
  3: "T",
  4: "KE",
  5: "ID",
  6: "CERT",
  7: "CERTREQ",
  8: "HASH",
  9: "SIG",
  10: "No",
  11: "N",
  12: "D",
  13: "V",
  14: "ATTR",
  15: "SAK",
  16: "SAT",
  17: "KD",
  18: "SEQ",
  19: "POP",
  20: "NAT-D",
  21: "NAT-OA",
  130: "NAT-D",
  131: "NAT-OA",
  132: "FRAG",
};

/** Domain of Interpretation (RFC 2407, RFC 3547). */
export const DOI = new Registry("ISAKMP DOI", { 0: "ISAKMP", 1: "IPSEC", 2: "GDOI" });

/** IPsec DOI situation bits (RFC 2407 §4.2). */
export const SITUATION_BITS: [number, string][] = [
  [0x1, "SIT_IDENTITY_ONLY"],
  [0x2, "SIT_SECRECY"],
  [0x4, "SIT_INTEGRITY"],
];

/** Names of the situation bits set in `sit`; unknown bits as `0x…`. */
export function situationNames(sit: number): string[] {
  const out: string[] = [];
  let rest = sit >>> 0;
  for (const [bit, name] of SITUATION_BITS) {
    if (rest & bit) {
      out.push(name);
      rest = (rest & ~bit) >>> 0;
    }
  }
  if (rest !== 0) out.push(`0x${rest.toString(16)}`);
  return out;
}

/** IPsec DOI protocol identifiers (RFC 2407 §4.4.1). */
export const PROTOCOL_IDS = new Registry(
  "ISAKMP protocol id",
  { 0: "RESERVED", 1: "ISAKMP", 2: "IPSEC_AH", 3: "IPSEC_ESP", 4: "IPCOMP", 5: "GIGABEAM_RADIO" },
  [{ from: 249, to: 255, label: "PRIVATE_USE" }],
);

/** Protocol id constants. */
export const PROTO_ISAKMP = 1;
export const PROTO_IPSEC_AH = 2;
export const PROTO_IPSEC_ESP = 3;
export const PROTO_IPCOMP = 4;

/** ISAKMP transform ids (RFC 2407 §4.4.2). */
export const ISAKMP_TRANSFORM_IDS = new Registry("ISAKMP transform id", { 0: "RESERVED", 1: "KEY_IKE" });

/** AH transform ids (RFC 2407 §4.4.3, IANA). */
export const AH_TRANSFORM_IDS = new Registry("AH transform id", {
  2: "AH_MD5",
  3: "AH_SHA",
  4: "AH_DES",
  5: "AH_SHA2-256",
  6: "AH_SHA2-384",
  7: "AH_SHA2-512",
  8: "AH_RIPEMD",
  9: "AH_AES-XCBC-MAC",
  10: "AH_RSA",
  11: "AH_AES-128-GMAC",
  12: "AH_AES-192-GMAC",
  13: "AH_AES-256-GMAC",
}, [{ from: 249, to: 255, label: "PRIVATE_USE" }]);

/** ESP transform ids (RFC 2407 §4.4.4, IANA). */
export const ESP_TRANSFORM_IDS = new Registry("ESP transform id", {
  1: "ESP_DES_IV64",
  2: "ESP_DES",
  3: "ESP_3DES",
  4: "ESP_RC5",
  5: "ESP_IDEA",
  6: "ESP_CAST",
  7: "ESP_BLOWFISH",
  8: "ESP_3IDEA",
  9: "ESP_DES_IV32",
  10: "ESP_RC4",
  11: "ESP_NULL",
  12: "ESP_AES",
  13: "ESP_AES-CTR",
  14: "ESP_AES-CCM_8",
  15: "ESP_AES-CCM_12",
  16: "ESP_AES-CCM_16",
  18: "ESP_AES-GCM_8",
  19: "ESP_AES-GCM_12",
  20: "ESP_AES-GCM_16",
  21: "ESP_SEED_CBC",
  22: "ESP_CAMELLIA",
  23: "ESP_NULL_AUTH_AES-GMAC",
}, [{ from: 249, to: 255, label: "PRIVATE_USE" }]);

/** IPCOMP transform ids (RFC 2407 §4.4.5, IANA). */
export const IPCOMP_TRANSFORM_IDS = new Registry("IPCOMP transform id", {
  1: "IPCOMP_OUI",
  2: "IPCOMP_DEFLATE",
  3: "IPCOMP_LZS",
  4: "IPCOMP_LZJH",
}, [{ from: 249, to: 255, label: "PRIVATE_USE" }]);

/** Transform-id registry for a protocol id. */
export function transformIdRegistry(protocolId: number): Registry {
  switch (protocolId) {
    case PROTO_ISAKMP: return ISAKMP_TRANSFORM_IDS;
    case PROTO_IPSEC_AH: return AH_TRANSFORM_IDS;
    case PROTO_IPSEC_ESP: return ESP_TRANSFORM_IDS;
    case PROTO_IPCOMP: return IPCOMP_TRANSFORM_IDS;
    default: return UNKNOWN_REGISTRY;
  }
}

const UNKNOWN_REGISTRY = new Registry("unknown", {});

// ---------------------------------------------------------------- phase 1 (IKE) attributes

/** IKE (phase 1) SA attribute classes (RFC 2409 Appendix A, IANA). */
export const IKE_ATTR_CLASSES = new Registry("IKE attribute class", {
  1: "Encryption-Algorithm",
  2: "Hash-Algorithm",
  3: "Authentication-Method",
  4: "Group-Description",
  5: "Group-Type",
  6: "Group-Prime",
  7: "Group-Generator-One",
  8: "Group-Generator-Two",
  9: "Group-Curve-A",
  10: "Group-Curve-B",
  11: "Life-Type",
  12: "Life-Duration",
  13: "PRF",
  14: "Key-Length",
  15: "Field-Size",
  16: "Group-Order",
}, [{ from: 32768, to: 65535, label: "PRIVATE_USE" }]);

export const IKE_ENCRYPTION_ALGS = new Registry("IKE encryption algorithm", {
  1: "DES-CBC",
  2: "IDEA-CBC",
  3: "Blowfish-CBC",
  4: "RC5-R16-B64-CBC",
  5: "3DES-CBC",
  6: "CAST-CBC",
  7: "AES-CBC",
  8: "CAMELLIA-CBC",
}, [{ from: 65001, to: 65535, label: "PRIVATE_USE" }]);

export const IKE_HASH_ALGS = new Registry("IKE hash algorithm", {
  1: "MD5",
  2: "SHA",
  3: "Tiger",
  4: "SHA2-256",
  5: "SHA2-384",
  6: "SHA2-512",
}, [{ from: 65001, to: 65535, label: "PRIVATE_USE" }]);

export const IKE_AUTH_METHODS = new Registry("IKE authentication method", {
  1: "Pre-shared key",
  2: "DSS signatures",
  3: "RSA signatures",
  4: "Encryption with RSA",
  5: "Revised encryption with RSA",
  6: "Encryption with El-Gamal",
  7: "Revised encryption with El-Gamal",
  8: "ECDSA signatures",
  9: "ECDSA with SHA-256 on the P-256 curve",
  10: "ECDSA with SHA-384 on the P-384 curve",
  11: "ECDSA with SHA-512 on the P-521 curve",
  // draft-ietf-ipsra-isakmp-hybrid-auth / draft-beaulieu-ike-xauth
  64221: "HybridInitRSA",
  64222: "HybridRespRSA",
  64223: "HybridInitDSS",
  64224: "HybridRespDSS",
  65001: "XAUTHInitPreShared",
  65002: "XAUTHRespPreShared",
  65003: "XAUTHInitDSS",
  65004: "XAUTHRespDSS",
  65005: "XAUTHInitRSA",
  65006: "XAUTHRespRSA",
  65007: "XAUTHInitRSAEncryption",
  65008: "XAUTHRespRSAEncryption",
  65009: "XAUTHInitRSARevisedEncryption",
  65010: "XAUTHRespRSARevisedEncryption",
}, [{ from: 65001, to: 65535, label: "PRIVATE_USE" }]);

/** Oakley / IKE groups (RFC 2409, 3526, 5114, 5903, 6932, 2412). */
export const IKE_GROUPS = new Registry("IKE group description", {
  1: "768-bit MODP",
  2: "1024-bit MODP",
  3: "EC2N group on GP[2^155]",
  4: "EC2N group on GP[2^185]",
  5: "1536-bit MODP",
  6: "EC2N group over GF[2^163]",
  7: "EC2N group over GF[2^163]",
  8: "EC2N group over GF[2^283]",
  9: "EC2N group over GF[2^283]",
  10: "EC2N group over GF[2^409]",
  11: "EC2N group over GF[2^409]",
  12: "EC2N group over GF[2^571]",
  13: "EC2N group over GF[2^571]",
  14: "2048-bit MODP",
  15: "3072-bit MODP",
  16: "4096-bit MODP",
  17: "6144-bit MODP",
  18: "8192-bit MODP",
  19: "256-bit random ECP",
  20: "384-bit random ECP",
  21: "521-bit random ECP",
  22: "1024-bit MODP with 160-bit Prime Order Subgroup",
  23: "2048-bit MODP with 224-bit Prime Order Subgroup",
  24: "2048-bit MODP with 256-bit Prime Order Subgroup",
  25: "192-bit random ECP",
  26: "224-bit random ECP",
  27: "brainpoolP224r1",
  28: "brainpoolP256r1",
  29: "brainpoolP384r1",
  30: "brainpoolP512r1",
}, [{ from: 32768, to: 65535, label: "PRIVATE_USE" }]);

export const IKE_GROUP_TYPES = new Registry("IKE group type", { 1: "MODP", 2: "ECP", 3: "EC2N" });

export const LIFE_TYPES = new Registry("life type", { 1: "Seconds", 2: "Kilobytes" });

/** Value registry for an IKE phase-1 attribute class (undefined when the value is a number or bytes). */
export const IKE_ATTR_VALUES: Record<number, Registry> = {
  1: IKE_ENCRYPTION_ALGS,
  2: IKE_HASH_ALGS,
  3: IKE_AUTH_METHODS,
  4: IKE_GROUPS,
  5: IKE_GROUP_TYPES,
  11: LIFE_TYPES,
};

// ---------------------------------------------------------------- phase 2 (IPsec DOI) attributes

/** IPsec DOI SA attribute classes (RFC 2407 §4.5, IANA). */
export const IPSEC_ATTR_CLASSES = new Registry("IPsec attribute class", {
  1: "SA-Life-Type",
  2: "SA-Life-Duration",
  3: "Group-Description",
  4: "Encapsulation-Mode",
  5: "Authentication-Algorithm",
  6: "Key-Length",
  7: "Key-Rounds",
  8: "Compress-Dictionary-Size",
  9: "Compress-Private-Algorithm",
  10: "ECN-Tunnel",
  11: "Extended-Sequence-Number",
  12: "Authentication-Key-Length",
  13: "Signature-Encoding-Algorithm",
  14: "Address-Preservation",
  15: "SA-Direction",
}, [{ from: 32001, to: 32767, label: "PRIVATE_USE" }]);

export const ENCAPSULATION_MODES = new Registry("IPsec encapsulation mode", {
  1: "Tunnel",
  2: "Transport",
  3: "UDP-Encapsulated-Tunnel",
  4: "UDP-Encapsulated-Transport",
  61440: "Check Point IPsec UDP Encapsulation",
  61443: "UDP-Encapsulated-Tunnel (draft)",
  61444: "UDP-Encapsulated-Transport (draft)",
}, [{ from: 61440, to: 65535, label: "PRIVATE_USE" }]);

export const IPSEC_AUTH_ALGS = new Registry("IPsec authentication algorithm", {
  1: "HMAC-MD5",
  2: "HMAC-SHA",
  3: "DES-MAC",
  4: "KPDK",
  5: "HMAC-SHA2-256",
  6: "HMAC-SHA2-384",
  7: "HMAC-SHA2-512",
  8: "HMAC-RIPEMD",
  9: "AES-XCBC-MAC",
  10: "SIG-RSA",
  11: "AES-128-GMAC",
  12: "AES-192-GMAC",
  13: "AES-256-GMAC",
}, [{ from: 61440, to: 65535, label: "PRIVATE_USE" }]);

export const ECN_TUNNEL = new Registry("ECN tunnel", { 1: "Allowed", 2: "Forbidden" });
export const ESN_VALUES = new Registry("extended sequence number", { 1: "64-bit Sequence Number" });
export const SIG_ENCODING = new Registry("signature encoding", { 1: "RSASSA-PKCS1-v1_5", 2: "RSASSA-PSS" });
export const ADDRESS_PRESERVATION = new Registry("address preservation", {
  1: "None",
  2: "Source-Only",
  3: "Destination-Only",
  4: "Source-and-Destination",
});
export const SA_DIRECTION = new Registry("SA direction", { 1: "Sender-Only", 2: "Receiver-Only", 3: "Symmetric" });

/** Value registry for an IPsec phase-2 attribute class. */
export const IPSEC_ATTR_VALUES: Record<number, Registry> = {
  1: LIFE_TYPES,
  3: IKE_GROUPS,
  4: ENCAPSULATION_MODES,
  5: IPSEC_AUTH_ALGS,
  10: ECN_TUNNEL,
  11: ESN_VALUES,
  13: SIG_ENCODING,
  14: ADDRESS_PRESERVATION,
  15: SA_DIRECTION,
};

// ---------------------------------------------------------------- identification, certificates

/** IPsec DOI identification types (RFC 2407 §4.6.2.1). */
export const ID_TYPES = new Registry("ISAKMP ID type", {
  0: "RESERVED",
  1: "IPV4_ADDR",
  2: "FQDN",
  3: "USER_FQDN",
  4: "IPV4_ADDR_SUBNET",
  5: "IPV6_ADDR",
  6: "IPV6_ADDR_SUBNET",
  7: "IPV4_ADDR_RANGE",
  8: "IPV6_ADDR_RANGE",
  9: "DER_ASN1_DN",
  10: "DER_ASN1_GN",
  11: "KEY_ID",
  12: "LIST",
}, [{ from: 249, to: 255, label: "PRIVATE_USE" }]);

/** Certificate encodings (RFC 2408 §3.9). */
export const CERT_ENCODINGS = new Registry("ISAKMP certificate encoding", {
  0: "NONE",
  1: "PKCS #7 wrapped X.509 certificate",
  2: "PGP Certificate",
  3: "DNS Signed Key",
  4: "X.509 Certificate - Signature",
  5: "X.509 Certificate - Key Exchange",
  6: "Kerberos Tokens",
  7: "Certificate Revocation List (CRL)",
  8: "Authority Revocation List (ARL)",
  9: "SPKI Certificate",
  10: "X.509 Certificate - Attribute",
});

// ---------------------------------------------------------------- notify

/** Notify message types (RFC 2408 §3.14.1, RFC 2407 §4.6.3, RFC 3706, drafts). */
export const NOTIFY_TYPES = new Registry(
  "ISAKMP notify message type",
  {
    1: "INVALID-PAYLOAD-TYPE",
    2: "DOI-NOT-SUPPORTED",
    3: "SITUATION-NOT-SUPPORTED",
    4: "INVALID-COOKIE",
    5: "INVALID-MAJOR-VERSION",
    6: "INVALID-MINOR-VERSION",
    7: "INVALID-EXCHANGE-TYPE",
    8: "INVALID-FLAGS",
    9: "INVALID-MESSAGE-ID",
    10: "INVALID-PROTOCOL-ID",
    11: "INVALID-SPI",
    12: "INVALID-TRANSFORM-ID",
    13: "ATTRIBUTES-NOT-SUPPORTED",
    14: "NO-PROPOSAL-CHOSEN",
    15: "BAD-PROPOSAL-SYNTAX",
    16: "PAYLOAD-MALFORMED",
    17: "INVALID-KEY-INFORMATION",
    18: "INVALID-ID-INFORMATION",
    19: "INVALID-CERT-ENCODING",
    20: "INVALID-CERTIFICATE",
    21: "CERT-TYPE-UNSUPPORTED",
    22: "INVALID-CERT-AUTHORITY",
    23: "INVALID-HASH-INFORMATION",
    24: "AUTHENTICATION-FAILED",
    25: "INVALID-SIGNATURE",
    26: "ADDRESS-NOTIFICATION",
    27: "NOTIFY-SA-LIFETIME",
    28: "CERTIFICATE-UNAVAILABLE",
    29: "UNSUPPORTED-EXCHANGE-TYPE",
    30: "UNEQUAL-PAYLOAD-LENGTHS",
    16384: "CONNECTED",
    24576: "RESPONDER-LIFETIME",
    24577: "REPLAY-STATUS",
    24578: "INITIAL-CONTACT",
    36136: "R-U-THERE",
    36137: "R-U-THERE-ACK",
    // Cisco Unity (private-use status values, as Wireshark names them)
    40501: "UNITY-LOAD-BALANCE",
    40502: "UNITY-UNKNOWN",
    40503: "UNITY-GROUP-HASH",
  },
  [
    { from: 8192, to: 16383, label: "PRIVATE_ERROR" },
    { from: 32768, to: 40959, label: "PRIVATE_STATUS" },
  ],
);

export const N_RESPONDER_LIFETIME = 24576;
export const N_REPLAY_STATUS = 24577;
export const N_INITIAL_CONTACT = 24578;
export const N_R_U_THERE = 36136;
export const N_R_U_THERE_ACK = 36137;

// ---------------------------------------------------------------- mode-config / XAUTH

/** Transaction-exchange (Mode-Config) message types (draft-dukes-ike-mode-cfg). */
export const CFG_TYPES = new Registry("ISAKMP config message type", {
  1: "ISAKMP_CFG_REQUEST",
  2: "ISAKMP_CFG_REPLY",
  3: "ISAKMP_CFG_SET",
  4: "ISAKMP_CFG_ACK",
});

/** Mode-Config, XAUTH and Cisco Unity attribute types. */
export const CFG_ATTR_TYPES = new Registry("ISAKMP config attribute", {
  1: "INTERNAL_IP4_ADDRESS",
  2: "INTERNAL_IP4_NETMASK",
  3: "INTERNAL_IP4_DNS",
  4: "INTERNAL_IP4_NBNS",
  5: "INTERNAL_ADDRESS_EXPIRY",
  6: "INTERNAL_IP4_DHCP",
  7: "APPLICATION_VERSION",
  8: "INTERNAL_IP6_ADDRESS",
  9: "INTERNAL_IP6_NETMASK",
  10: "INTERNAL_IP6_DNS",
  11: "INTERNAL_IP6_NBNS",
  12: "INTERNAL_IP6_DHCP",
  13: "INTERNAL_IP4_SUBNET",
  14: "SUPPORTED_ATTRIBUTES",
  15: "INTERNAL_IP6_SUBNET",
  16520: "XAUTH_TYPE",
  16521: "XAUTH_USER_NAME",
  16522: "XAUTH_USER_PASSWORD",
  16523: "XAUTH_PASSCODE",
  16524: "XAUTH_MESSAGE",
  16525: "XAUTH_CHALLENGE",
  16526: "XAUTH_DOMAIN",
  16527: "XAUTH_STATUS",
  16528: "XAUTH_NEXT_PIN",
  16529: "XAUTH_ANSWER",
  28672: "UNITY_BANNER",
  28673: "UNITY_SAVE_PASSWD",
  28674: "UNITY_DEF_DOMAIN",
  28675: "UNITY_SPLITDNS_NAME",
  28676: "UNITY_SPLIT_INCLUDE",
  28677: "UNITY_NATT_PORT",
  28678: "UNITY_LOCAL_LAN",
  28679: "UNITY_PFS",
  28680: "UNITY_FW_TYPE",
  28681: "UNITY_BACKUP_SERVERS",
  28682: "UNITY_DDNS_HOSTNAME",
});

/** Config attributes whose value is a secret (never render them by default). */
export const CFG_SECRET_ATTRS = new Set<number>([16522, 16523, 16529]);

export const XAUTH_TYPES = new Registry("XAUTH type", {
  0: "Generic",
  1: "RADIUS-CHAP",
  2: "OTP",
  3: "S/KEY",
});

export const CFG_ATTR_VALUES: Record<number, Registry> = { 16520: XAUTH_TYPES };

/** NAT-OA identification types (RFC 3947 §5.2). */
export const NATOA_ID_TYPES = new Registry("NAT-OA ID type", { 1: "IPV4_ADDR", 5: "IPV6_ADDR" });
