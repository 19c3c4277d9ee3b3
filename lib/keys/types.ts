/**
 * Key material for `vpnkit decode` decryption: one ESP SA, one IKEv2 SA, one IKEv1 SA,
 * and the error a bad key line produces. Keys never appear in messages or JSON renderings
 * (CONTRIBUTING §5): only {@link import("./store.ts").KeyStore.dump} prints them.
 * @module
 */
import type { EspDecodeParams } from "../esp/decrypt.ts";
import type { SkParams } from "../ike/v2/sk-crypto.ts";

/** Where a key came from, for messages: `file:line`. */
export interface KeyOrigin {
  file: string;
  line: number;
  format: KeyFormat;
}

export type KeyFormat =
  | "tcpdump" | "esp_sa" | "ikev2_decryption_table" | "ikev1_decryption_table"
  | "xfrm" | "charon" | "vpnkit-keylog";

/** One ESP SA. `spi` undefined = tcpdump's default SA (any SPI). */
export interface EspKey {
  spi?: number;
  /** Outer source / destination address (canonical text); undefined = any. */
  src?: string;
  dst?: string;
  /** Decrypt parameters (no `esn`: the pipeline infers the high half per packet). */
  params: Omit<EspDecodeParams, "esn">;
  /** Extended sequence numbers. */
  esn: boolean;
  /**
   * Bytes of ICV to strip without checking (tcpdump's `-hmac96`, Wireshark's
   * "ANY n bit authentication [no checking]"): only set with `params.integ` "none".
   */
  icvSkip?: number;
  origin: KeyOrigin;
}

/** One IKEv2 SA: keys for both directions. SPIs as 16 lower-case hex digits. */
export interface Ikev2Key {
  ispi: string;
  rspi: string;
  /** SK_ei / SK_ai: messages sent by the original initiator (I flag set). */
  initiator: SkParams;
  /** SK_er / SK_ar. */
  responder: SkParams;
  origin: KeyOrigin;
}

/** IKEv1 phase-1 encryption key (SKEYID_e expanded, RFC 2409 App. B). Cookies as hex. */
export interface Ikev1Key {
  icookie: string;
  rcookie?: string;
  /** The final encryption key (its length picks the AES size; the cipher comes from the SA payload). */
  encKey: Uint8Array;
  origin: KeyOrigin;
}

/** What one key file or string yields. */
export interface ParsedKeys {
  esp: EspKey[];
  ikev2: Ikev2Key[];
  ikev1: Ikev1Key[];
}

export function emptyKeys(): ParsedKeys {
  return { esp: [], ikev2: [], ikev1: [] };
}

/** A key line that cannot be used: names the file and line, never the key. */
export class KeyFileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(line > 0 ? `${file}:${line}: ${reason}` : `${file}: ${reason}`);
    this.name = "KeyFileError";
  }
}

/** Hex key text (with or without 0x, `:` or spaces allowed as separators) → bytes, or null. */
export function keyHex(s: string): Uint8Array | null {
  let t = s.trim();
  if (t.startsWith("0x") || t.startsWith("0X")) t = t.slice(2);
  t = t.replace(/[:\s]/g, "");
  if (t.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(t)) return null;
  const out = new Uint8Array(t.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(t.substr(i * 2, 2), 16);
  return out;
}

/** SPI text ("0x1234abcd", "1234abcd" in hex context, or decimal with `dec`) → number, or null. */
export function spiNumber(s: string): number | null {
  const t = s.trim();
  const m = /^(?:0x)?([0-9a-fA-F]{1,8})$/.exec(t);
  if (!m) return null;
  return parseInt(m[1], 16) >>> 0;
}

/** Canonical address text (IPv4 dotted, IPv6 RFC 5952 as the decoder prints it); null if not an address. */
export function canonAddr(s: string): string | null {
  const t = s.trim();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(t)) return t.split(".").every((x) => Number(x) <= 255) ? t.split(".").map(Number).join(".") : null;
  if (t.includes(":")) {
    try {
      const h = new URL(`http://[${t.replace(/^\[|\]$/g, "")}]/`).hostname;
      return h.slice(1, -1);
    } catch {
      return null;
    }
  }
  return null;
}

/** Expected key lengths check; returns a reason or null. Never mentions the key bytes. */
export function keyLenProblem(what: string, key: Uint8Array, lens: number[]): string | null {
  return lens.includes(key.length) ? null : `${what} key is ${key.length} bytes, expected ${lens.join(" or ")}`;
}

/** Call `fn` for each non-empty, non-`#` line (trimmed), with its 1-based number and an error maker. */
export function forEachKeyLine(text: string, file: string, fn: (line: string, n: number, err: (reason: string) => KeyFileError) => void): void {
  const lines = text.split(/\r?\n/);
  for (let n = 1; n <= lines.length; n++) {
    const line = lines[n - 1].trim();
    if (!line || line.startsWith("#")) continue;
    fn(line, n, (r) => new KeyFileError(file, n, r));
  }
}
