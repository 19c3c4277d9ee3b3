/**
 * IKE and ESP proposals: strongSwan-style strings (parsed in proposal-string.ts:
 * "aes256gcm16-prfsha256-x25519", "aes128-aes256-sha256-ecp256", "aes256gcm16-ecp256-esn"),
 * their wire form, and selection (responder side:
 * our configured order wins, like strongSwan's default) and checking of the
 * responder's choice (initiator side).
 * @module
 */
import type { EspCipherName } from "../../../esp/types.ts";
import { cbcCipherOf } from "../../../esp/cbc.ts";
import type { Ikev2Proposal } from "../payloads/sa.ts";
import type { ProposalSpec, TransformSpec } from "../encode/payloads.ts";
import type { SkEncr, SkInteg } from "../sk-crypto.ts";
import { strongswanName } from "../strongswan-names.ts";
import { prfLength } from "./crypto.ts";
import { parseProposals } from "./proposal-string.ts";

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
  /**
   * IKE only, RFC 9370: the additional key exchanges ADDKE1..7 (index i: transform type 6+i;
   * -1 not negotiated, 0 NONE, else the Key Exchange Method ID). Undefined: none.
   */
  addke?: readonly number[];
  /** Number of the configured proposal this suite comes from (suites of one proposal share one wire proposal). */
  offer?: number;
}

export { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS } from "./proposal-string.ts";

/**
 * Parse strongSwan-style proposal strings (see proposal-string.ts) into the
 * ordered suites they allow; throws a ProposalError naming the bad word (config
 * time). modp1024 passes here: the explicit opt-in is checked where the
 * configuration is validated (lib/tunnel/config.ts).
 */
export function parseProposalList(list: readonly string[], protocol: "ike" | "esp"): Suite[] {
  // every IKE SA of a responder parses the same configuration: share one frozen result
  // (a few configurations at most; the cache is bounded all the same)
  const key = protocol + "\n" + list.join("\n");
  let r = parsedCache.get(key);
  if (!r) {
    r = Object.freeze(parseProposals(list, protocol, { allowModp1024: true }).suites.map((s) => Object.freeze(s))) as Suite[];
    if (parsedCache.size >= 64) parsedCache.delete(parsedCache.keys().next().value!);
    parsedCache.set(key, r);
  }
  return r;
}
const parsedCache = new Map<string, Suite[]>();

/** Wire form of a suite as a proposal with `spi`. */
export function suiteToProposal(s: Suite, spi: Uint8Array, num?: number): ProposalSpec {
  const t: TransformSpec[] = [{ type: 1, id: s.encr, keyLength: s.keyLength }];
  if (s.protocol === 1) t.push({ type: 2, id: s.prf! });
  if (s.integ) t.push({ type: 3, id: s.integ });
  if (s.ke !== undefined) t.push({ type: 4, id: s.ke });
  if (s.protocol === 3) t.push({ type: 5, id: s.esn ? 1 : 0 });
  s.addke?.forEach((id, i) => { if (id >= 0) t.push({ type: 6 + i, id }); });
  return { num, protocol: s.protocol, spi, transforms: t };
}

/**
 * Wire proposals offering `suites` (in order): suites from one configured
 * proposal (same `offer`) become one proposal holding each of their transforms
 * once, in first-seen order, as strongSwan sends them; numbered from 1.
 */
export function offerProposals(suites: readonly Suite[], spi: Uint8Array): ProposalSpec[] {
  const out: ProposalSpec[] = [];
  const byOffer = new Map<number, ProposalSpec>();
  for (const s of suites) {
    const one = suiteToProposal(s, spi, out.length + 1);
    const into = s.offer !== undefined ? byOffer.get(s.offer) : undefined;
    if (!into) {
      out.push(one);
      if (s.offer !== undefined) byOffer.set(s.offer, one);
      continue;
    }
    for (const t of one.transforms) {
      if (!into.transforms.some((x) => x.type === t.type && x.id === t.id && x.keyLength === t.keyLength)) {
        // keep transforms grouped by type: after the last of the same type
        let at = into.transforms.length;
        for (let i = into.transforms.length - 1; i >= 0; i--) if (into.transforms[i].type === t.type) { at = i + 1; break; }
        into.transforms.splice(at, 0, t);
      }
    }
  }
  return out;
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
  // RFC 9370 ADDKE1..7: the method we want, or (none) no such transform or NONE among them
  for (let i = 0; i < 7; i++) {
    const want = s.addke?.[i] ?? -1;
    if (want > 0 ? !has(p, 6 + i, want) : types.has(6 + i) && !has(p, 6 + i, 0)) return false;
  }
  for (const t of types) if (t > 12) return false;
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
  const add = [6, 7, 8, 9, 10, 11, 12].map(one);
  if (add.some((x) => x === null)) return null;
  for (const s of offered) {
    if (s.protocol !== chosen.protocol || s.encr !== e.id || s.keyLength !== e.keyLength) continue;
    if (s.protocol === 1 && pr?.id !== s.prf) continue;
    if ((s.integ ?? 0) !== (i?.id ?? 0)) continue;
    if ((s.ke ?? 0) !== (k?.id ?? 0)) continue;
    if (s.protocol === 3 && (n?.id ?? 0) !== (s.esn ? 1 : 0)) continue;
    if (add.some((x, j) => (x?.id ?? 0) !== Math.max(0, s.addke?.[j] ?? 0))) continue;
    return s;
  }
  return null;
}

/** SK_e length (AEAD: key + 4-byte salt) and SK_a length of a suite. */
export function keyLengths(s: Suite): { encr: number; integ: number } {
  const encr = s.encr === 28 ? 36 : s.encr === 20 ? s.keyLength! / 8 + 4 : s.keyLength! / 8;
  const integ = s.integ === 2 ? 20 : s.integ === 12 ? 32 : s.integ === 13 ? 48 : s.integ === 14 ? 64 : 0;
  return { encr, integ };
}

/** sk-crypto names for an IKE suite. */
export function skAlgorithms(s: Suite): { encr: SkEncr; integ: SkInteg } {
  const encr: SkEncr = s.encr === 20 ? "aes-gcm-16" : s.encr === 28 ? "chacha20-poly1305" : "aes-cbc";
  const integ: SkInteg = s.integ === 2 ? "hmac-sha1-96" : s.integ === 12 ? "hmac-sha2-256-128" : s.integ === 13 ? "hmac-sha2-384-192" : s.integ === 14 ? "hmac-sha2-512-256" : "none";
  return { encr, integ };
}

/** ESP data-plane cipher of an ESP suite (AES-CBC with its HMAC as "aes128-sha256", ...). */
export function espCipher(s: Suite): EspCipherName {
  if (s.encr === 12) {
    const c = cbcCipherOf(s.keyLength, s.integ);
    if (c === null) throw new Error(`ESP suite ${suiteName(s)} has no data-plane transform`);
    return c;
  }
  return s.encr === 28 ? "chacha20poly1305" : s.keyLength === 128 ? "aes128gcm16" : "aes256gcm16";
}

/** strongSwan's text of a suite, e.g. "IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519" (as charon logs "selected proposal"). */
export function suiteName(s: Suite): string {
  const parts = [strongswanName(1, s.encr, s.keyLength)];
  if (s.integ) parts.push(strongswanName(3, s.integ));
  if (s.prf) parts.push(strongswanName(2, s.prf));
  if (s.ke !== undefined) parts.push(strongswanName(4, s.ke));
  if (s.protocol === 3) parts.push(strongswanName(5, s.esn ? 1 : 0));
  s.addke?.forEach((id, i) => { if (id > 0) parts.push(strongswanName(6 + i, id)); });
  return (s.protocol === 1 ? "IKE:" : "ESP:") + parts.join("/");
}

/** PRF output length of an IKE suite. */
export function suitePrfLength(s: Suite): number {
  return prfLength(s.prf!);
}
