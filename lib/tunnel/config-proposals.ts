/**
 * `ike.ike_proposal`, `ike.esp_proposal` and `ike.allow_modp1024`: every
 * proposal is parsed at start-up (lib/ike/v2/sa/proposal-string.ts), so a word
 * vpnkit cannot use stops `vpnkit up` with exit 2 naming it, instead of a
 * NO_PROPOSAL_CHOSEN when a peer connects.
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `ike.ike_proposal` | string[] | aes256gcm16-prfsha256-x25519 | IKE proposals, strongSwan syntax; several algorithms of a kind are all offered, in order; comma-separated lists and `default` as in swanctl.conf |
 * | `ike.esp_proposal` | string[] | aes256gcm16, chacha20poly1305 | ESP proposals (AEAD ciphers, or aes128/aes256 with sha1/sha256/sha384/sha512; `-esn`/`-noesn`; a group such as `-x25519` for PFS on rekeys) |
 * | `ike.allow_modp1024` | bool | false | accept `modp1024` (MODP_1024, weak) in a proposal; vpnkit warns at start-up |
 * @module
 */
import { parseProposals, ProposalError } from "../ike/v2/sa/proposal-string.ts";
import { espCipher } from "../ike/v2/sa/proposals.ts";
import { tunnelMtu } from "../esp/mtu.ts";
import { ConfigError } from "./config.ts";

/** Validated proposal settings (the strings are kept: the IKE SA parses them again). */
export interface ProposalSettings {
  ikeProposals: string[];
  espProposals: string[];
  /** Start-up warnings (weak algorithms explicitly allowed). */
  warnings: string[];
}

function list(v: unknown, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const arr = typeof v === "string" ? [v] : v;
  if (!Array.isArray(arr) || arr.some((x) => typeof x !== "string")) throw new ConfigError(key, "must be a string or a list of strings");
  if (arr.length === 0) throw new ConfigError(key, "is an empty list (leave it out for the default)");
  return arr as string[];
}

/**
 * The tunnel MTU (and, unless `tun_mtu` was given, the TUN MTU) lowered so that every ESP
 * transform the proposals allow fits the path MTU: AES-CBC with HMAC carries a 16-byte IV,
 * block padding and up to 32 bytes of ICV, more than the AEADs the base config assumed.
 */
export function fitEspMtu(
  c: { pathMtu: number; outer: "ipv4" | "ipv6"; tunnelMtu: number; tunMtu: number }, espProposals: readonly string[], tunMtuGiven: boolean,
): { tunnelMtu: number; tunMtu: number } {
  let m = c.tunnelMtu;
  for (const s of parseProposals(espProposals, "esp", { allowModp1024: true }).suites) m = Math.min(m, tunnelMtu(c.pathMtu, espCipher(s), { outer: c.outer, udpEncap: true }));
  return { tunnelMtu: m, tunMtu: tunMtuGiven ? c.tunMtu : Math.min(c.tunMtu, m) };
}

/** Check the `[ike]` proposal keys; throws ConfigError (exit 2) naming the word vpnkit cannot use. */
export function validateProposals(ike: { ike_proposal?: unknown; esp_proposal?: unknown; allow_modp1024?: unknown }): ProposalSettings {
  const allow = ike.allow_modp1024;
  if (allow !== undefined && allow !== null && typeof allow !== "boolean") throw new ConfigError("ike.allow_modp1024", "must be true or false");
  const opts = { allowModp1024: allow === true };
  const ikeProposals = list(ike.ike_proposal, "ike.ike_proposal") ?? ["aes256gcm16-prfsha256-x25519"];
  const espProposals = list(ike.esp_proposal, "ike.esp_proposal") ?? ["aes256gcm16", "chacha20poly1305"];
  const warnings: string[] = [];
  for (const [key, l, proto] of [["ike.ike_proposal", ikeProposals, "ike"], ["ike.esp_proposal", espProposals, "esp"]] as const) {
    try {
      warnings.push(...parseProposals(l, proto, opts).warnings);
    } catch (e) {
      if (e instanceof ProposalError) throw new ConfigError(key, e.message);
      throw e;
    }
  }
  return { ikeProposals, espProposals, warnings };
}
