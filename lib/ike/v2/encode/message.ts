/**
 * IKEv2 header and message encoders (RFC 7296 §3.1), including the framing of
 * the SK payload's prefix; sealing (cipher, IV, padding, ICV) is
 * `lib/ike/v2/sk-crypto.ts`' job.
 * @module
 */
import { putU32 } from "../../../core/bytes.ts";
import { IKEV2_HEADER_LEN } from "../header.ts";
import { encodePayloadChain, type PayloadSpec } from "./payloads.ts";

export interface HeaderSpec {
  /** 8 bytes each. */
  ispi: Uint8Array;
  rspi: Uint8Array;
  /** 34 IKE_SA_INIT, 35 IKE_AUTH, 36 CREATE_CHILD_SA, 37 INFORMATIONAL. */
  exchange: number;
  /** I flag: sent by the original initiator. */
  initiator: boolean;
  /** R flag. */
  response: boolean;
  messageId: number;
}

/** Flags octet for a header spec (V is never set: we speak 2.0 only). */
export function headerFlags(h: HeaderSpec): number {
  return (h.initiator ? 0x08 : 0) | (h.response ? 0x20 : 0);
}

/** Write the 28-byte header into `out[0, 28)`. */
export function writeIkev2Header(out: Uint8Array, h: HeaderSpec, nextPayload: number, length: number): void {
  // byte by byte, not out.set(spi.subarray(0, 8)): a subarray moves the SA's own 8-byte SPI
  // arrays into ArrayBuffers of their own for good (~0.3 KB each per held SA, issue 12)
  const { ispi, rspi } = h;
  for (let i = 0; i < 8; i++) {
    out[i] = i < ispi.length ? ispi[i] : 0;
    out[8 + i] = i < rspi.length ? rspi[i] : 0;
  }
  out[16] = nextPayload;
  out[17] = 0x20;
  out[18] = h.exchange;
  out[19] = headerFlags(h);
  putU32(out, 20, h.messageId >>> 0);
  putU32(out, 24, length);
}

/** Encode an unencrypted message: header + payload chain. */
export function encodeIkev2Message(h: HeaderSpec, payloads: readonly PayloadSpec[]): Uint8Array {
  const chain = encodePayloadChain(payloads);
  const out = new Uint8Array(IKEV2_HEADER_LEN + chain.bytes.length);
  writeIkev2Header(out, h, chain.first, out.length);
  out.set(chain.bytes, IKEV2_HEADER_LEN);
  return out;
}

/**
 * Header-only prefix for `skSeal` (lib/ike/v2/sk-crypto.ts): Next Payload = SK (46), or
 * SKF (53) for a fragment (RFC 7383); the length is filled in by skSeal.
 */
export function skPrefix(h: HeaderSpec, next: 46 | 53 = 46): Uint8Array {
  const out = new Uint8Array(IKEV2_HEADER_LEN);
  writeIkev2Header(out, h, next, IKEV2_HEADER_LEN);
  return out;
}
