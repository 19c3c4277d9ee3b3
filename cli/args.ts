/** Argument helpers shared by the commands (port lists, repeatable options, --keys). */
import { InvalidArgumentError } from "@commander-js/extra-typings";
import type { KeyStore } from "../lib/keys/mod.ts";
import { EXIT } from "./exit.ts";

/** commander parser for a repeatable port option. */
export function portList(v: string, prev: number[] = []): number[] {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`not a port number: ${v}`);
  return [...prev, n];
}

/** commander parser for a repeatable string option. */
export function many(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/**
 * Load `--keys` / `--keys-inline`. Returns the store, undefined when none were
 * given, or null after printing the error (exit code already set to 2).
 */
export async function loadKeysOption(cmd: string, o: { keys?: string[]; keysInline?: string[] }): Promise<KeyStore | undefined | null> {
  if (!o.keys?.length && !o.keysInline?.length) return undefined;
  // loaded on demand: the key parsers and decryptors cost start-up time
  const { KeyFileError, loadKeyStore } = await import("../lib/keys/mod.ts");
  try {
    const store = loadKeyStore(o.keys ?? [], o.keysInline ?? []);
    if (store.hasEsp) {
      // HMAC and AES-CBC on the system's libcrypto when it is there (faster than node:crypto)
      const { libcryptoDecodeCrypto } = await import("../lib/platform/bun/decode-crypto-ffi.ts");
      store.crypto = libcryptoDecodeCrypto() ?? undefined;
    }
    return store;
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    process.stderr.write(`vpnkit ${cmd}: ${e.message}\n`);
    process.exitCode = EXIT.USAGE;
    return null;
  }
}
