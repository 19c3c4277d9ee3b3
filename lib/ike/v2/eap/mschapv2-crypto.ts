/**
 * MS-CHAPv2 (RFC 2759) and its key derivation for EAP (RFC 3079 §3, used as the EAP-MSCHAPv2
 * MSK): NT password hash, challenge response, authenticator response, MSK. node:crypto's
 * MD4 and DES (single DES as 3DES-EDE with one key, available on Bun, Node and Deno).
 * Verification compares in constant time.
 * @module
 */
import { createCipheriv, createHash } from "node:crypto";
import { sha1 } from "@noble/hashes/legacy.js";
import { concat, ctEqual } from "../../../core/bytes.ts";

const enc = new TextEncoder();

function md4(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("md4").update(b).digest());
}

/** UTF-16LE bytes of a password (RFC 2759 §8.3: Unicode, ≤ 256 characters). */
export function unicodePassword(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    out[2 * i] = c & 0xff;
    out[2 * i + 1] = c >> 8;
  }
  return out;
}

/** NtPasswordHash (RFC 2759 §8.3): MD4 of the UTF-16LE password. */
export function ntPasswordHash(password: string): Uint8Array {
  return md4(unicodePassword(password));
}

/** HashNtPasswordHash (RFC 2759 §8.4). */
export function hashNtPasswordHash(hash: Uint8Array): Uint8Array {
  return md4(hash);
}

/** ChallengeHash (RFC 2759 §8.2): first 8 bytes of SHA1(peer ‖ authenticator challenge ‖ user name). */
export function challengeHash(peerChallenge: Uint8Array, authChallenge: Uint8Array, userName: string): Uint8Array {
  return sha1(concat(peerChallenge, authChallenge, enc.encode(userName))).subarray(0, 8);
}

/** A 7-byte key spread to 8 DES key bytes (parity bits unused). */
function desKey(k7: Uint8Array): Uint8Array {
  const k = new Uint8Array(8);
  k[0] = k7[0];
  k[1] = ((k7[0] << 7) | (k7[1] >> 1)) & 0xff;
  k[2] = ((k7[1] << 6) | (k7[2] >> 2)) & 0xff;
  k[3] = ((k7[2] << 5) | (k7[3] >> 3)) & 0xff;
  k[4] = ((k7[3] << 4) | (k7[4] >> 4)) & 0xff;
  k[5] = ((k7[4] << 3) | (k7[5] >> 5)) & 0xff;
  k[6] = ((k7[5] << 2) | (k7[6] >> 6)) & 0xff;
  k[7] = (k7[6] << 1) & 0xff;
  return k;
}

function desEncrypt(block8: Uint8Array, key7: Uint8Array): Uint8Array {
  const k = desKey(key7);
  const c = createCipheriv("des-ede3-cbc", concat(k, k, k), new Uint8Array(8));
  c.setAutoPadding(false);
  return new Uint8Array(c.update(block8)).subarray(0, 8);
}

/** ChallengeResponse (RFC 2759 §8.5): the 8-byte challenge DES-encrypted under the zero-padded hash, 24 bytes. */
export function challengeResponse(challenge8: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  const z = new Uint8Array(21);
  z.set(passwordHash.subarray(0, 16));
  return concat(desEncrypt(challenge8, z.subarray(0, 7)), desEncrypt(challenge8, z.subarray(7, 14)), desEncrypt(challenge8, z.subarray(14, 21)));
}

/** GenerateNTResponse (RFC 2759 §8.1), from the password hash. */
export function ntResponse(authChallenge: Uint8Array, peerChallenge: Uint8Array, userName: string, passwordHash: Uint8Array): Uint8Array {
  return challengeResponse(challengeHash(peerChallenge, authChallenge, userName), passwordHash);
}

const MAGIC1 = enc.encode("Magic server to client signing constant");
const MAGIC2 = enc.encode("Pad to make it do more than one iteration");

/** GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" and 40 upper-case hex digits. */
export function authenticatorResponse(passwordHash: Uint8Array, ntResp: Uint8Array, peerChallenge: Uint8Array, authChallenge: Uint8Array, userName: string): string {
  const d1 = sha1(concat(hashNtPasswordHash(passwordHash), ntResp, MAGIC1));
  const d2 = sha1(concat(d1, challengeHash(peerChallenge, authChallenge, userName), MAGIC2));
  return "S=" + [...d2].map((x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
}

/** Does the peer's NT-Response match the password? (constant-time compare) */
export function verifyNtResponse(got: Uint8Array, authChallenge: Uint8Array, peerChallenge: Uint8Array, userName: string, passwordHash: Uint8Array): boolean {
  return got.length === 24 && ctEqual(got, ntResponse(authChallenge, peerChallenge, userName, passwordHash));
}

// RFC 3079 §3.4 key derivation
const MPPE_MAGIC1 = enc.encode("This is the MPPE Master Key");
const MPPE_MAGIC2 = enc.encode("On the client side, this is the send key; on the server side, it is the receive key.");
const MPPE_MAGIC3 = enc.encode("On the client side, this is the receive key; on the server side, it is the send key.");
const PAD1 = new Uint8Array(40);
const PAD2 = new Uint8Array(40).fill(0xf2);

/** GetMasterKey (RFC 3079 §3.4). */
export function masterKey(passwordHashHash: Uint8Array, ntResp: Uint8Array): Uint8Array {
  return sha1(concat(passwordHashHash, ntResp, MPPE_MAGIC1)).subarray(0, 16);
}

/** GetAsymmetricStartKey (RFC 3079 §3.4), 16 bytes. */
export function asymmetricStartKey(master: Uint8Array, isSend: boolean, isServer: boolean): Uint8Array {
  const magic = isSend === isServer ? MPPE_MAGIC3 : MPPE_MAGIC2;
  return sha1(concat(master, PAD1, magic, PAD2)).subarray(0, 16);
}

/**
 * The EAP-MSCHAPv2 MSK as strongSwan and the native clients compute it: the server's
 * MasterReceiveKey ‖ MasterSendKey (= the client's send ‖ receive key), 32 bytes; the same
 * on both sides. Checked against charon in test/interop/eap.test.ts.
 */
export function mschapv2Msk(passwordHash: Uint8Array, ntResp: Uint8Array): Uint8Array {
  const mk = masterKey(hashNtPasswordHash(passwordHash), ntResp);
  return concat(asymmetricStartKey(mk, false, true), asymmetricStartKey(mk, true, true));
}
