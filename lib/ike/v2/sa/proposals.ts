/**
 * IKE and ESP proposals: strongSwan-style names ("aes256gcm16-prfsha256-x25519",
 * "aes256gcm16-ecp256-esn"), their wire form, and selection (responder side:
 * our configured order wins, like strongSwan's default) and checking of the
 * responder's choice (initiator side).
 * @module
 */
import type { EspCipherName } from "../../../esp/types.ts";
import type { Ikev2Proposal } from "../payloads/sa.ts";
import { ENCR_IDS, INTEG_IDS, KE_IDS, PRF_IDS } from "../registry.ts";
import type { ProposalSpec, TransformSpec } from "../encode/payloads.ts";
import type { SkEncr, SkInteg } from "../sk-crypto.ts";
import { prfLength } from "./crypto.ts";
import { SUPPORTED_GROUPS } from "./dh.ts";

/** One concrete suite: exactly one transform of each type. */
export interface Suite {
  /** 1 IKE, 3 ESP. */
  protocol: number;
  encr: number;
  /** Key length in bits (AES). */
  keyLength?: number;
  /** IKE only. */
  prf?: number;
  /** 0 / undefined for AEAD. */
  integ?: number;
  /** KE group (IKE: required; ESP: PFS group, undefined = none). */
  ke?: number;
  /** ESP only: extended sequence numbers. */
  esn?: boolean;
}

/** Secure defaults. */
export const DEFAULT_IKE_PROPOSALS = ["aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384", "aes128gcm16-prfsha256-ecp256", "aes128-sha256-ecp256", "aes256-sha256-modp2048"];
export const DEFAULT_ESP_PROPOSALS = ["aes256gcm16", "chacha20poly1305", "aes128gcm16"];

const ENCR_TOKENS: Record<string, { encr: number; keyLength?: number; aead: boolean }> = {
  aes128gcm16: { encr: 20, keyLength: 128, aead: true },
  aes256gcm16: { encr: 20, keyLength: 256, aead: true },
  aes128gcm: { encr: 20, keyLength: 128, aead: true },
  aes256gcm: { encr: 20, keyLength: 256, aead: true },
  chacha20poly1305: { encr: 28, aead: true },
  aes128: { encr: 12, keyLength: 128, aead: false },
  aes256: { encr: 12, keyLength: 256, aead: false },
};
const INTEG_TOKENS: Record<string, number> = { sha256: 12, sha384: 13, sha512: 14 };
const PRF_TOKENS: Record<string, number> = { prfsha256: 5, prfsha384: 6, prfsha512: 7 };
const INTEG_TO_PRF: Record<number, number> = { 12: 5, 13: 6, 14: 7 };
const KE_TOKENS: Record<string, number> = { x25519: 31, curve25519: 31, ecp256: 19, ecp384: 20, modp2048: 14 };

/** Parse a strongSwan-style proposal string; throws a readable Error for bad input (config time). */
export function parseProposal(text: string, protocol: "ike" | "esp"): Suite {
  const s: Suite = { protocol: protocol === "ike" ? 1 : 3, encr: 0 };
  let aead = false;
  for (const tok of text.toLowerCase().split("-")) {
    if (ENCR_TOKENS[tok]) {
      s.encr = ENCR_TOKENS[tok].encr;
      s.keyLength = ENCR_TOKENS[tok].keyLength;
      aead = ENCR_TOKENS[tok].aead;
    } else if (INTEG_TOKENS[tok] !== undefined) s.integ = INTEG_TOKENS[tok];
    else if (PRF_TOKENS[tok] !== undefined && protocol === "ike") s.prf = PRF_TOKENS[tok];
    else if (KE_TOKENS[tok] !== undefined) s.ke = KE_TOKENS[tok];
    else if (tok === "esn" && protocol === "esp") s.esn = true;
    else if (tok === "noesn" && protocol === "esp") s.esn = false;
    else throw new Error(`proposal "${text}": unknown or unsupported algorithm "${tok}"`);
  }
  if (!s.encr) throw new Error(`proposal "${text}": no encryption algorithm`);
  if (aead && s.integ) throw new Error(`proposal "${text}": an AEAD cipher takes no integrity algorithm`);
  if (!aead && !s.integ) throw new Error(`proposal "${text}": ${text} needs an integrity algorithm`);
  if (protocol === "esp" && !aead) throw new Error(`proposal "${text}": the ESP data plane implements AEAD ciphers only (aes128gcm16, aes256gcm16, chacha20poly1305)`);
  if (protocol === "ike") {
    if (s.prf === undefined) {
      if (s.integ === undefined) throw new Error(`proposal "${text}": AEAD proposals need a PRF (e.g. prfsha256)`);
      s.prf = INTEG_TO_PRF[s.integ];
    }
    if (s.ke === undefined) throw new Error(`proposal "${text}": no key exchange group`);
  }
  if (s.ke !== undefined && !SUPPORTED_GROUPS.includes(s.ke)) throw new Error(`proposal "${text}": unsupported group`);
  return s;
}

/** Wire form of a suite as a proposal with `spi`. */
export function suiteToProposal(s: Suite, spi: Uint8Array, num?: number): ProposalSpec {
  const t: TransformSpec[] = [{ type: 1, id: s.encr, keyLength: s.keyLength }];
  if (s.protocol === 1) t.push({ type: 2, id: s.prf! });
  if (s.integ) t.push({ type: 3, id: s.integ });
  if (s.ke !== undefined) t.push({ type: 4, id: s.ke });
  if (s.protocol === 3) t.push({ type: 5, id: s.esn ? 1 : 0 });
  return { num, protocol: s.protocol, spi, transforms: t };
}

function has(p: Ikev2Proposal, type: number, id: number, keyLength?: number): boolean {
  return p.transforms.some((t) => t.type === type && t.id === id && (keyLength === undefined || t.keyLength === keyLength));
}

function typesIn(p: Ikev2Proposal): Set<number> {
  return new Set(p.transforms.map((t) => t.type));
}

/**
 * Does the received proposal `p` allow suite `s`? Every transform type in `p`
 * must be covered by `s` and vice versa (ESP without an ESN transform counts
 * as "no ESN"; KE NONE (0) counts as no PFS).
 */
export function proposalAllows(p: Ikev2Proposal, s: Suite): boolean {
  if (p.protocol !== s.protocol) return false;
  if (!has(p, 1, s.encr, s.keyLength)) return false;
  const types = typesIn(p);
  if (s.protocol === 1 && !has(p, 2, s.prf!)) return false;
  if (s.integ ? !has(p, 3, s.integ) : types.has(3) && !has(p, 3, 0)) return false;
  if (s.ke !== undefined ? !has(p, 4, s.ke) : types.has(4) && !has(p, 4, 0)) return false;
  if (s.protocol === 3 && types.has(5) && !has(p, 5, s.esn ? 1 : 0)) return false;
  if (s.protocol === 3 && !types.has(5) && s.esn) return false;
  for (const t of types) if (t > 5) return false;
  return true;
}

/** Responder: first of our suites (in our order) that one of the peer's proposals allows. */
export function selectProposal(received: readonly Ikev2Proposal[], ours: readonly Suite[]): { suite: Suite; proposal: Ikev2Proposal } | null {
  for (const s of ours) for (const p of received) if (proposalAllows(p, s)) return { suite: s, proposal: p };
  return null;
}

/**
 * Responder, ignoring the KE group: does some suite match except for the
 * group? Returns the group we want (for INVALID_KE_PAYLOAD), else null.
 */
export function groupWeWant(received: readonly Ikev2Proposal[], ours: readonly Suite[]): number | null {
  const r = selectProposal(received, ours);
  return r?.suite.ke ?? null;
}

/**
 * Initiator: turn the responder's single chosen proposal into a suite and check
 * it is one we offered (exactly one transform per type). Null when it is not.
 */
export function acceptChosen(chosen: Ikev2Proposal, offered: readonly Suite[]): Suite | null {
  const one = (type: number) => {
    const l = chosen.transforms.filter((t) => t.type === type);
    return l.length > 1 ? null : l[0];
  };
  const e = one(1), pr = one(2), i = one(3), k = one(4), n = one(5);
  if (e === null || pr === null || i === null || k === null || n === null || !e) return null;
  for (const s of offered) {
    if (s.protocol !== chosen.protocol || s.encr !== e.id || s.keyLength !== e.keyLength) continue;
    if (s.protocol === 1 && pr?.id !== s.prf) continue;
    if ((s.integ ?? 0) !== (i?.id ?? 0)) continue;
    if ((s.ke ?? 0) !== (k?.id ?? 0)) continue;
    if (s.protocol === 3 && (n?.id ?? 0) !== (s.esn ? 1 : 0)) continue;
    return s;
  }
  return null;
}

/** SK_e length (AEAD: key + 4-byte salt) and SK_a length of a suite. */
export function keyLengths(s: Suite): { encr: number; integ: number } {
  const encr = s.encr === 28 ? 36 : s.encr === 20 ? s.keyLength! / 8 + 4 : s.keyLength! / 8;
  const integ = s.integ === 12 ? 32 : s.integ === 13 ? 48 : s.integ === 14 ? 64 : 0;
  return { encr, integ };
}

/** sk-crypto names for an IKE suite. */
export function skAlgorithms(s: Suite): { encr: SkEncr; integ: SkInteg } {
  const encr: SkEncr = s.encr === 20 ? "aes-gcm-16" : s.encr === 28 ? "chacha20-poly1305" : "aes-cbc";
  const integ: SkInteg = s.integ === 12 ? "hmac-sha2-256-128" : s.integ === 13 ? "hmac-sha2-384-192" : s.integ === 14 ? "hmac-sha2-512-256" : "none";
  return { encr, integ };
}

/** ESP data-plane cipher of an ESP suite. */
export function espCipher(s: Suite): EspCipherName {
  return s.encr === 28 ? "chacha20poly1305" : s.keyLength === 128 ? "aes128gcm16" : "aes256gcm16";
}

/** strongSwan-like text of a suite, e.g. "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519". */
export function suiteName(s: Suite): string {
  const parts = [ENCR_IDS.name(s.encr).replace(/^ENCR_/, "") + (s.keyLength ? `_${s.keyLength}` : "")];
  if (s.integ) parts.push(INTEG_IDS.name(s.integ).replace(/^AUTH_/, ""));
  if (s.prf) parts.push(PRF_IDS.name(s.prf));
  if (s.ke !== undefined) parts.push(KE_IDS.name(s.ke));
  if (s.protocol === 3) parts.push(s.esn ? "ESN" : "NO_EXT_SEQ");
  return (s.protocol === 1 ? "IKE:" : "ESP:") + parts.join("/");
}

/** PRF output length of an IKE suite. */
export function suitePrfLength(s: Suite): number {
  return prfLength(s.prf!);
}
