/**
 * Key file loading with format auto-detection: `--keys FILE` (repeatable) and
 * `--keys-inline` (a tcpdump `-E` string). Gzipped files (charon logs) are inflated.
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { looksLikeCharon, parseCharon } from "./charon.ts";
import { looksLikeTcpdump, parseTcpdumpFile, parseTcpdumpInline } from "./tcpdump.ts";
import { emptyKeys, KeyFileError, type KeyFormat, type ParsedKeys } from "./types.ts";
import { looksLikeKeylog, parseVpnkitKeylog } from "./vpnkit-keylog.ts";
import { looksLike, parseEspSa, parseIkev1Table, parseIkev2Table } from "./wireshark.ts";
import { looksLikeXfrm, parseXfrm } from "./xfrm.ts";
import { KeyStore } from "./store.ts";

/** Which format `text` is in; null when nothing matches. */
export function detectKeyFormat(text: string): KeyFormat | null {
  if (looksLikeXfrm(text)) return "xfrm";
  if (looksLikeCharon(text)) return "charon";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (looksLike("esp_sa", line)) return "esp_sa";
    if (looksLike("ikev2_decryption_table", line)) return "ikev2_decryption_table";
    if (looksLike("ikev1_decryption_table", line)) return "ikev1_decryption_table";
    if (looksLikeKeylog(line)) return "vpnkit-keylog";
    if (looksLikeTcpdump(line)) return "tcpdump";
    return null;
  }
  return null;
}

/** Parse key text of a known or detected format. `file` names it in errors. */
export function parseKeyText(text: string, file: string, format?: KeyFormat): ParsedKeys {
  const f = format ?? detectKeyFormat(text);
  switch (f) {
    case "esp_sa": return parseEspSa(text, file);
    case "ikev2_decryption_table": return parseIkev2Table(text, file);
    case "ikev1_decryption_table": return parseIkev1Table(text, file);
    case "xfrm": return parseXfrm(text, file);
    case "charon": return parseCharon(text, file);
    case "vpnkit-keylog": return parseVpnkitKeylog(text, file);
    case "tcpdump": return parseTcpdumpFile(text, file);
  }
  if (text.trim() === "" || text.split(/\r?\n/).every((l) => !l.trim() || l.trim().startsWith("#"))) return emptyKeys();
  const first = text.split(/\r?\n/).findIndex((l) => l.trim() && !l.trim().startsWith("#"));
  throw new KeyFileError(file, first + 1, "not a key format vpnkit knows (tcpdump -E secrets, Wireshark esp_sa / ikev2_decryption_table / ikev1_decryption_table, ip xfrm state, charon log, vpnkit key log)");
}

function readText(path: string): string {
  let b: Uint8Array;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new KeyFileError(path, 0, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) {
    try {
      b = gunzipSync(b);
    } catch {
      throw new KeyFileError(path, 0, "gzip data is corrupt");
    }
  }
  return new TextDecoder().decode(b);
}

/** Read and parse one key file (format detected). */
export function loadKeyFile(path: string): ParsedKeys {
  return parseKeyText(readText(path), path);
}

/** Parse a tcpdump `-E` string; `file NAME` is read relative to `baseDir` (default: the working directory). */
export function loadInlineKeys(arg: string, baseDir?: string): ParsedKeys {
  return parseTcpdumpInline(arg, (name) => readText(baseDir ? resolve(baseDir, name) : name));
}

/** Build a KeyStore from `--keys` files and `--keys-inline` strings. Throws KeyFileError. */
export function loadKeyStore(files: string[], inline: string[] = []): KeyStore {
  const ks = new KeyStore();
  for (const f of files) ks.add(loadKeyFile(f));
  for (const s of inline) ks.add(loadInlineKeys(s));
  return ks;
}

