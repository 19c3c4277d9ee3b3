/**
 * Secret files (pre-shared keys, key material, private keys, probe secrets, a config file
 * that holds inline keys): reading them, checking who else may read them (like ssh, a file
 * readable by group or others gets a warning naming it and its mode; `strict` turns the
 * warning into a refusal), and a minimum length. Runtime-neutral (`node:fs` only).
 * @module
 */
import { readFileSync, statSync } from "node:fs";

/** A secret file that cannot be used (missing, too short, or too open under `strict`). */
export class SecretFileError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "SecretFileError";
  }
}

/** Shortest pre-shared key accepted without `psk_allow_short = true` (bytes). */
export const MIN_PSK_LEN = 16;

export interface SecretPolicy {
  /** Where warnings go (one line each, no trailing newline). */
  warn: (msg: string) => void;
  /** Refuse (throw {@link SecretFileError}) instead of warning about a file readable by group/others. */
  strict?: boolean;
}

/** "0644" */
export function modeText(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, "0");
}

/** The problem with a secret file's permission bits, or null when only its owner can read it. */
export function secretModeProblem(path: string, mode: number): string | null {
  if ((mode & 0o077) === 0) return null;
  return `${path} has mode ${modeText(mode)}: readable by group/others (chmod 600 ${path})`;
}

/**
 * Check a secret file's mode: a warning (`warning: FILE has mode 0644: ...`) or, with
 * `strict`, a {@link SecretFileError}. A file that cannot be stat'ed is left to the reader.
 */
export function checkSecretFileMode(path: string, policy: SecretPolicy, what = "secret file"): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    return;
  }
  const p = secretModeProblem(path, mode);
  if (!p) return;
  if (policy.strict) throw new SecretFileError(`refusing ${what} ${p} (strict)`);
  policy.warn(`warning: ${what} ${p}`);
}

/** Overwrite secret buffers with zeros (JS strings cannot be wiped; keep secrets in bytes). */
export function zeroize(...bufs: (Uint8Array | null | undefined)[]): void {
  for (const b of bufs) b?.fill(0);
}

/**
 * Read a shared secret: the file's bytes without trailing whitespace/newlines (a passphrase
 * or e.g. `head -c 32 /dev/urandom | base64`). Checks the mode first (warning, or refusal
 * with `strict`); throws {@link SecretFileError} when unreadable or shorter than `minLen`.
 * The read buffer is zeroed; the caller zeroes the returned copy after use.
 */
export function readSecretFile(path: string, policy: SecretPolicy & { minLen: number; what?: string }): Uint8Array {
  checkSecretFileMode(path, policy, policy.what);
  let b: Uint8Array;
  try {
    b = readFileSync(path); // the Buffer itself (a copy would leave the secret behind unzeroed)
  } catch (e) {
    throw new SecretFileError(`cannot read secret file ${path}: ${(e as Error).message}`);
  }
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0x0a || b[end - 1] === 0x0d || b[end - 1] === 0x20 || b[end - 1] === 0x09)) end--;
  const secret = new Uint8Array(b.subarray(0, end)); // a copy (Buffer#slice would be a view of b)
  b.fill(0);
  if (secret.length < policy.minLen) {
    secret.fill(0);
    throw new SecretFileError(`secret in ${path} is too short: ${end} bytes, at least ${policy.minLen} needed`);
  }
  return secret;
}
