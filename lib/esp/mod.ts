/**
 * ESP data plane: SAs, SA database, AEAD and AES-CBC+HMAC providers, MTU arithmetic, ICMP too-big,
 * and a wide-cipher decrypt helper for the decoder. No I/O.
 * @module
 */

export type {
  AeadProvider, DropCounters, EncapOptions, EspCipherName, Lifetime, OpenFailure, OpenResult, SaConfig, SaEvent,
} from "./types.ts";
export {
  cipherKeyLength, NODE_CHACHA_AVAILABLE, NODE_GCM_AVAILABLE, nobleChaCha, nobleGcm, nodeChaCha, nodeGcm, SALT_LEN,
  selectAeadProvider, TAG_LEN,
} from "./aead.ts";
export type { ProviderPreference } from "./aead.ts";
export type { CbcHmacProvider, EspAeadName, EspCbcName, EspCrypto, EspHmacName } from "./types.ts";
export { cbcSuite, ESP_CBC_CIPHERS, espKeyMaterialLength, isCbcCipher, nobleCbcHmac, selectEspCrypto } from "./cbc.ts";
export type { CbcSuite } from "./cbc.ts";
export { ReplayWindow } from "./replay.ts";
export { InboundSa, NEXT_HEADER_DUMMY, OutboundSa } from "./sa.ts";
export { newDropCounters, SaDatabase } from "./sadb.ts";
export type { DbOpenResult, SaDatabaseOptions } from "./sadb.ts";
export { ESP_HEADER_LEN, ESP_ICV_LEN, ESP_IV_LEN, espOuterLength, espOverhead, espPadLength, tunnelMtu } from "./mtu.ts";
export { buildIcmpTooBig, internetChecksum } from "./icmp.ts";
export type { IcmpTooBigOptions } from "./icmp.ts";
export { openEspForDecode } from "./decrypt.ts";
export type { DecodeEncr, DecodeInteg, EspDecodeParams, EspDecodeResult } from "./decrypt.ts";
