/**
 * strongSwan proposal strings ("aes128-aes256-sha256-sha384-ecp256-ecp384",
 * "aes256gcm16-prfsha384-x25519", "aes256gcm16-ecp256-esn", "default", several
 * comma-separated as in swanctl.conf) → the ordered list of concrete suites
 * they allow. Every listed algorithm is kept, in order: the suites are the
 * product encryption × integrity × PRF × key exchange (× ESN), first listed
 * first, so the responder's choice (our order wins, as strongSwan's default)
 * and the initiator's offer (one proposal per string, all its transforms, see
 * {@link offerProposals} in proposals.ts) follow the string.
 *
 * Config-time only: a bad word throws {@link ProposalError} naming it (the CLI
 * turns it into exit 2). What strongSwan does that vpnkit follows:
 * - IKE without a PRF word takes the PRFs of its integrity words (sha256 →
 *   PRF_HMAC_SHA2_256); with an AEAD cipher and no PRF word those words only
 *   name PRFs (strongSwan drops them as integrity algorithms).
 * - AEAD and classic ciphers do not mix in one proposal.
 * Where vpnkit is stricter: an AEAD proposal that also names an explicit PRF
 * and an integrity algorithm, or an ESP AEAD proposal with an integrity
 * algorithm, is refused instead of silently trimmed; PRF words in ESP and
 * esn/noesn in IKE are refused; modp1024 needs an explicit opt-in.
 * @module
 */
import { strongswanName } from "../strongswan-names.ts";
import type { Suite } from "./proposals.ts";

/** A proposal vpnkit cannot use, naming the offending word. */
export class ProposalError extends Error {
  /** The word (algorithm name) at fault, or the whole proposal. */
  readonly word: string;
  constructor(message: string, word: string) {
    super(message);
    this.name = "ProposalError";
    this.word = word;
  }
}

/**
 * What the `default` keyword stands for (and what vpnkit offers when nothing is
 * configured): AEAD first, then AES-CBC with HMAC-SHA2; only groups of at least
 * 128-bit strength except MODP-2048 (the most widely deployed group); no SHA-1,
 * no MODP-1024.
 */
export const DEFAULT_IKE_PROPOSALS = ["aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha384-ecp384", "aes128gcm16-prfsha256-ecp256", "aes128-sha256-ecp256", "aes256-sha256-modp2048"];
/** `default` for ESP: the AEAD ciphers the data plane implements. */
export const DEFAULT_ESP_PROPOSALS = ["aes256gcm16", "chacha20poly1305", "aes128gcm16"];

interface EncrTok { encr: number; keyLength?: number; aead: boolean }

const ENCR: Record<string, EncrTok> = {
  aes: { encr: 12, keyLength: 128, aead: false },
  aes128: { encr: 12, keyLength: 128, aead: false },
  aes192: { encr: 12, keyLength: 192, aead: false },
  aes256: { encr: 12, keyLength: 256, aead: false },
  aes128gcm16: { encr: 20, keyLength: 128, aead: true },
  aes256gcm16: { encr: 20, keyLength: 256, aead: true },
  aes128gcm128: { encr: 20, keyLength: 128, aead: true },
  aes256gcm128: { encr: 20, keyLength: 256, aead: true },
  aes128gcm: { encr: 20, keyLength: 128, aead: true },
  aes256gcm: { encr: 20, keyLength: 256, aead: true },
  chacha20poly1305: { encr: 28, aead: true },
};
const INTEG: Record<string, number> = { sha: 2, sha1: 2, sha256: 12, sha2_256: 12, sha384: 13, sha2_384: 13, sha512: 14, sha2_512: 14 };
const PRF: Record<string, number> = { prfsha: 2, prfsha1: 2, prfsha256: 5, prfsha2_256: 5, prfsha384: 6, prfsha2_384: 6, prfsha512: 7, prfsha2_512: 7, prfaesxcbc: 4, prfaescmac: 8 };
/** Integrity → PRF of the same hash (strongSwan's rule for IKE proposals without a PRF word). */
const INTEG_PRF: Record<number, number> = { 2: 2, 12: 5, 13: 6, 14: 7 };
const KE: Record<string, number> = {
  modp1024: 2, modp2048: 14, modp3072: 15, modp4096: 16, ecp256: 19, ecp384: 20, ecp521: 21, x25519: 31, curve25519: 31,
};
/** strongSwan words vpnkit knows but does not implement: refused with their strongSwan name. */
const KNOWN_UNSUPPORTED: Record<string, [number, number, number?]> = {
  "3des": [1, 3], des: [1, 2], null: [1, 11], blowfish: [1, 7], cast128: [1, 6],
  aes128ctr: [1, 13, 128], aes192ctr: [1, 13, 192], aes256ctr: [1, 13, 256],
  aes192gcm16: [1, 20, 192], aes128gcm8: [1, 18, 128], aes256gcm8: [1, 18, 256], aes128gcm12: [1, 19, 128], aes256gcm12: [1, 19, 256],
  aes128ccm16: [1, 16, 128], aes256ccm16: [1, 16, 256], aes128gmac: [1, 21, 128], aes256gmac: [1, 21, 256],
  camellia128: [1, 23, 128], camellia256: [1, 23, 256],
  md5: [3, 1], md5_128: [3, 6], sha1_160: [3, 7], aesxcbc: [3, 5], aescmac: [3, 8],
  prfmd5: [2, 1],
  modp768: [4, 1], modp1536: [4, 5], modp6144: [4, 17], modp8192: [4, 18], modp1024s160: [4, 22], modp2048s224: [4, 23], modp2048s256: [4, 24],
  ecp192: [4, 25], ecp224: [4, 26], ecp224bp: [4, 27], ecp256bp: [4, 28], ecp384bp: [4, 29], ecp512bp: [4, 30], x448: [4, 32], curve448: [4, 32],
};
/** RFC 9370 additional key exchange methods (strongSwan 6 "ke1_mlkem768" .. "ke7_..."): ML-KEM and the groups above. */
const ADDKE: Record<string, number> = { ...KE, mlkem512: 35, mlkem768: 36, mlkem1024: 37, none: 0 };
delete ADDKE.modp1024;

/** Options of the parser. */
export interface ProposalOptions {
  /** Accept modp1024 (MODP_1024, group 2): weak, only on explicit request. */
  allowModp1024?: boolean;
}

/** Upper bound of suites one proposal list expands to (the responder's selection walks them all). */
export const MAX_SUITES = 1024;

/**
 * ESP ciphers the data plane implements: AES-GCM-16 128/256, ChaCha20-Poly1305, and AES-CBC
 * 128/256 (with the integrity words of {@link INTEG}: sha1, sha256, sha384, sha512).
 * Returns why `e` cannot be used, or null.
 */
export function espDataPlaneRefuses(e: { encr: number; keyLength?: number; aead: boolean }): string | null {
  const ok = ((e.encr === 20 || e.encr === 12) && (e.keyLength === 128 || e.keyLength === 256)) || e.encr === 28;
  return ok ? null : "is not supported by the ESP data plane (aes128gcm16, aes256gcm16, chacha20poly1305, or aes128/aes256 with sha1, sha256, sha384, sha512)";
}

function fail(proto: string, text: string, word: string, why: string): never {
  throw new ProposalError(`${proto} proposal "${text}": ${word ? `"${word}" ` : ""}${why}`, word || text);
}

function push<T>(list: T[], v: T, eq: (a: T, b: T) => boolean = (a, b) => a === b): void {
  if (!list.some((x) => eq(x, v))) list.push(v);
}

/**
 * Parse one proposal (dash-separated words, no commas) into its suites in
 * preference order, each tagged with `offer` (its wire proposal number).
 */
export function parseOneProposal(text: string, protocol: "ike" | "esp", offer: number, opts: ProposalOptions = {}, warnings: string[] = []): Suite[] {
  const P = protocol.toUpperCase();
  const t = text.trim();
  if (t === "") fail(P, text, "", "is empty");
  const encrs: (EncrTok & { word: string })[] = [];
  const integs: number[] = [], prfs: number[] = [], kes: number[] = [], esns: boolean[] = [];
  const addke: number[][] = [[], [], [], [], [], [], []];
  for (const raw of t.split("-")) {
    const w = raw.toLowerCase();
    if (w === "") fail(P, text, "", "has an empty algorithm name (two dashes, or a dash at an end)");
    if (ENCR[w]) push(encrs, { ...ENCR[w], word: raw }, (a, b) => a.encr === b.encr && a.keyLength === b.keyLength);
    else if (INTEG[w] !== undefined) push(integs, INTEG[w]);
    else if (PRF[w] !== undefined) {
      if (protocol === "esp") fail(P, text, raw, "is a PRF: PRFs belong in IKE proposals only");
      push(prfs, PRF[w]);
    } else if (KE[w] !== undefined) {
      if (KE[w] === 2) {
        if (!opts.allowModp1024) fail(P, text, raw, "(MODP_1024) is weak: accepted only when explicitly allowed (ike.allow_modp1024 = true, --allow-modp1024)");
        push(warnings, `${P} proposal "${text}": modp1024 (MODP_1024) is weak (about 80-bit security), use modp2048 or better`);
      }
      push(kes, KE[w]);
    } else if (/^ke[1-7]_/.test(w)) {
      if (protocol === "esp") fail(P, text, raw, "is an additional key exchange (RFC 9370): vpnkit supports them in IKE proposals only");
      const id = ADDKE[w.slice(4)];
      if (id === undefined) fail(P, text, raw, KNOWN_UNSUPPORTED[w.slice(4)] || KE[w.slice(4)] ? "is not supported as an additional key exchange" : "is not a known key exchange method");
      push(addke[Number(w[2]) - 1], id);
    } else if (w === "mlkem512" || w === "mlkem768" || w === "mlkem1024") {
      fail(P, text, raw, `(${strongswanName(4, ADDKE[w])}) is supported as an additional key exchange only (RFC 9370: e.g. ke1_${w})`);
    } else if (w === "esn" || w === "noesn") {
      if (protocol === "ike") fail(P, text, raw, "belongs in ESP proposals only");
      push(esns, w === "esn");
    } else if (w === "default") fail(P, text, raw, "stands alone (\"default\" as a whole proposal)");
    else if (KNOWN_UNSUPPORTED[w]) {
      const [type, id, kl] = KNOWN_UNSUPPORTED[w];
      fail(P, text, raw, `(${strongswanName(type, id, kl)}) is not supported`);
    } else fail(P, text, raw, "is not a known algorithm");
  }
  if (encrs.length === 0) fail(P, text, "", "names no encryption algorithm");
  const aead = encrs[0].aead;
  const odd = encrs.find((e) => e.aead !== aead);
  if (odd) fail(P, text, odd.word, "mixes AEAD and non-AEAD ciphers in one proposal (give two proposals, comma-separated)");
  let integ = integs;
  let prf = prfs;
  if (protocol === "ike") {
    if (aead && integs.length && prfs.length) fail(P, text, integWord(t), "is an integrity algorithm, which an AEAD cipher does not take");
    if (prf.length === 0) prf = integs.map((i) => INTEG_PRF[i]);
    if (aead) integ = [];
    if (prf.length === 0) fail(P, text, "", aead ? "names no PRF (AEAD ciphers need one, e.g. prfsha256)" : "names no integrity algorithm (e.g. sha256)");
    if (!aead && integ.length === 0) fail(P, text, "", "names no integrity algorithm (e.g. sha256)");
    if (kes.length === 0) fail(P, text, "", "names no key exchange method (e.g. x25519, ecp256, modp2048)");
  } else {
    if (aead && integs.length) fail(P, text, integWord(t), "is an integrity algorithm, which an AEAD cipher does not take");
    if (!aead && integs.length === 0) fail(P, text, "", "names no integrity algorithm (e.g. sha256)");
    const refused = encrs.map((e) => [e, espDataPlaneRefuses(e)] as const).find(([, r]) => r);
    if (refused) fail(P, text, refused[0].word, refused[1]!);
  }
  const out: Suite[] = [];
  const proto = protocol === "ike" ? 1 : 3;
  for (const e of encrs) {
    for (const i of integ.length ? integ : [undefined]) {
      for (const p of protocol === "ike" ? prf : [undefined]) {
        for (const k of kes.length ? kes : [undefined]) {
          for (const n of protocol === "esp" ? (esns.length ? esns : [false]) : [undefined]) {
           for (const a of addkeCombinations(addke)) {
            if (out.length >= MAX_SUITES) fail(P, text, "", `allows more than ${MAX_SUITES} combinations`);
            const s: Suite = { protocol: proto, encr: e.encr, offer };
            if (e.keyLength !== undefined) s.keyLength = e.keyLength;
            if (p !== undefined) s.prf = p;
            if (i !== undefined) s.integ = i;
            if (k !== undefined) s.ke = k;
            if (n !== undefined) s.esn = n;
            if (a) s.addke = a;
            out.push(s);
           }
          }
        }
      }
    }
  }
  return out;
}

/**
 * The ADDKE1..7 choices of one proposal as suites carry them (index i: transform type 6+i;
 * -1: not named, 0: NONE named, else the method), in order; [undefined] when none is named.
 */
function addkeCombinations(addke: number[][]): (number[] | undefined)[] {
  if (addke.every((l) => l.length === 0)) return [undefined];
  let out: number[][] = [[]];
  for (const l of addke) out = out.flatMap((pre) => (l.length ? l : [-1]).map((id) => [...pre, id]));
  return out;
}

function integWord(t: string): string {
  return t.split("-").find((w) => INTEG[w.toLowerCase()] !== undefined) ?? t;
}

/** Result of {@link parseProposals}. */
export interface ParsedProposals {
  suites: Suite[];
  /** Warnings to log at start-up (weak algorithms that were explicitly allowed). */
  warnings: string[];
}

/**
 * Parse a list of proposals (each item may hold several, comma-separated; the
 * item `default` expands to the documented defaults) into suites in preference
 * order. Throws {@link ProposalError} naming the first bad word.
 */
export function parseProposals(list: readonly string[], protocol: "ike" | "esp", opts: ProposalOptions = {}): ParsedProposals {
  const warnings: string[] = [];
  const suites: Suite[] = [];
  const items = list.flatMap((x) => x.split(","));
  if (items.length === 0) throw new ProposalError(`${protocol.toUpperCase()} proposal list is empty`, "");
  let offer = 0;
  for (const item of items) {
    const texts = item.trim().toLowerCase() === "default" ? (protocol === "ike" ? DEFAULT_IKE_PROPOSALS : DEFAULT_ESP_PROPOSALS) : [item];
    for (const text of texts) {
      offer++;
      if (offer > 255) throw new ProposalError(`${protocol.toUpperCase()} proposal list has more than 255 proposals`, text);
      suites.push(...parseOneProposal(text, protocol, offer, opts, warnings));
      if (suites.length > MAX_SUITES) throw new ProposalError(`${protocol.toUpperCase()} proposals allow more than ${MAX_SUITES} combinations in all`, text);
    }
  }
  return { suites, warnings };
}
