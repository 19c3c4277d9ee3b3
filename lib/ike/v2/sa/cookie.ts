/**
 * Stateless IKE_SA_INIT COOKIE (RFC 7296 §2.6): a responder under load answers
 * an IKE_SA_INIT request with a COOKIE notify and keeps no state; the initiator
 * repeats the request with it. Pure functions, so an SA manager can answer
 * before creating any IKE SA.
 *
 * Cookie = VersionIDofSecret (4 bytes, 1) | SHA-256(Ni | IPi | SPIi | secret).
 * @module
 */
import { concat, ctEqual } from "../../../core/bytes.ts";
import { parseIp } from "../../../net/cidr.ts";
import { sha256Bytes } from "./crypto.ts";

const VERSION = new Uint8Array([0, 0, 0, 1]);

/** The COOKIE a responder keyed by `secret` demands from `fromAddress` for nonce `ni` and initiator SPI `spii`. */
export function cookieFor(secret: Uint8Array, ni: Uint8Array, fromAddress: string, spii: Uint8Array): Uint8Array {
  const ip = parseIp(fromAddress)?.addr ?? new Uint8Array(4);
  return concat(VERSION, sha256Bytes(concat(ni, ip, spii, secret)));
}

/** True when `cookie` (the COOKIE notify's data) is the one {@link cookieFor} gives (constant-time compare). */
export function verifyCookie(secret: Uint8Array, cookie: Uint8Array, ni: Uint8Array, fromAddress: string, spii: Uint8Array): boolean {
  return ctEqual(cookie, cookieFor(secret, ni, fromAddress, spii));
}
