/**
 * Decrypt-capable ESP opener for the decoder (skeleton; implementation follows).
 * @module
 */

export type DecodeEncr = "aes-gcm" | "aes-cbc" | "aes-ctr" | "3des-cbc" | "null" | "chacha20-poly1305";
export type DecodeInteg = "none" | "hmac-md5-96" | "hmac-sha1-96" | "hmac-sha256-128" | "hmac-sha384-192" | "hmac-sha512-256";

export interface EspDecodeParams {
  encr: DecodeEncr;
  encKey: Uint8Array;
  icvLen?: number;
  integ: DecodeInteg;
  authKey?: Uint8Array;
  esn?: { high: number };
}

export interface EspDecodeResult {
  icv: "good" | "bad" | "none";
  nextHeader?: number;
  payload?: Uint8Array;
  padLength?: number;
  reason?: string;
}

export function openEspForDecode(_params: EspDecodeParams, _espPacket: Uint8Array): EspDecodeResult {
  return { icv: "none", reason: "not implemented yet" };
}
