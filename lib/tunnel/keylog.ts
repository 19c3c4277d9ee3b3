/**
 * ESP key log (`vpnkit up --keylog FILE`). Written only when asked for; keys go
 * nowhere else (CONTRIBUTING §5). Files are created with mode 0600.
 *
 * FILE gets one line per SA, appended when the SA is installed:
 *
 *     ESP <src> <dst> 0x<spi> <cipher> 0x<keymaterial> esn=<0|1>
 *
 *  - `<src> <dst>`: outer addresses in the SA's direction (sender first), IPv4 dotted or IPv6 text;
 *  - `0x<spi>`: 8 lower-case hex digits;
 *  - `<cipher>`: vpnkit/strongSwan name (aes128gcm16, aes256gcm16, chacha20poly1305, or
 *    AES-CBC with HMAC as aes128-sha256, aes256-sha384, aes256-sha512, aes128-sha1, ...);
 *  - `0x<keymaterial>`: key||salt in lower-case hex (RFC 4106 / RFC 7634 salt, 4 bytes), or for
 *    CBC the encryption key then the integrity key (RFC 7296 §2.17 order);
 *  - `esn=1` when extended sequence numbers are on.
 *
 * FILE.esp_sa gets the same SA in Wireshark's `esp_sa` UAT format (the file a Wireshark
 * profile directory holds; see scripts/capture/decode.sh):
 *
 *     "IPv4","<src>","<dst>","0x<spi>","AES-GCM with 16 octet ICV [RFC4106]","0x<key||salt>","NULL",""
 *
 * ChaCha20-Poly1305 is written as "ChaCha20 with Poly1305 [RFC7634]", which Wireshark
 * understands from 4.2 on (4.0 has no ChaCha20 ESP decryption). CBC SAs are written as
 *
 *     "IPv4","<src>","<dst>","0x<spi>","AES-CBC [RFC3602]","0x<enc key>","HMAC-SHA-256-128 [RFC4868]","0x<integ key>"
 *
 * Safety (issue 14): the files hold keys. {@link prepareKeylog} runs before the tunnel starts:
 * each file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600; a file that already
 * exists is refused unless `append` (`--keylog-append`, `keylog_append = true`) is given AND it
 * is a regular file (not a symlink, FIFO or device) owned by the running user with mode 0600.
 * Every later write opens with O_NOFOLLOW and checks the same (fstat on the open descriptor),
 * so keys never land in a file someone else created or can read.
 * @module
 */
import { closeSync, constants as fsc, fchmodSync, fstatSync, lstatSync, openSync, writeSync } from "node:fs";
import { modeText } from "../core/secret.ts";
import { toHex } from "../core/bytes.ts";
import type { EspAeadName, EspCipherName, EspHmacName } from "../esp/types.ts";
import { cbcSuite, isCbcCipher } from "../esp/cbc.ts";

export interface KeylogSa {
  src: string;
  dst: string;
  spi: number;
  cipher: EspCipherName;
  keyMaterial: Uint8Array;
  esn: boolean;
}

/** Wireshark's encryption algorithm names (esp_sa UAT, field 5). */
export const WIRESHARK_ENCRYPTION: Record<EspAeadName, string> & Partial<Record<EspCipherName, string>> = {
  aes128gcm16: "AES-GCM with 16 octet ICV [RFC4106]",
  aes256gcm16: "AES-GCM with 16 octet ICV [RFC4106]",
  chacha20poly1305: "ChaCha20 with Poly1305 [RFC7634]",
};

function spiHex(spi: number): string {
  return "0x" + (spi >>> 0).toString(16).padStart(8, "0");
}

/** Wireshark's name of the CBC encryption (esp_sa field 5; the key length comes from the key). */
export const WIRESHARK_CBC = "AES-CBC [RFC3602]";

/** Wireshark's authentication algorithm names (esp_sa field 7). */
export const WIRESHARK_AUTH: Record<EspHmacName, string> = {
  sha1: "HMAC-SHA-1-96 [RFC2404]",
  sha256: "HMAC-SHA-256-128 [RFC4868]",
  sha384: "HMAC-SHA-384-192 [RFC4868]",
  sha512: "HMAC-SHA-512-256 [RFC4868]",
};

/** vpnkit's own key log line (no trailing newline). */
export function keylogLine(sa: KeylogSa): string {
  return `ESP ${sa.src} ${sa.dst} ${spiHex(sa.spi)} ${sa.cipher} 0x${toHex(sa.keyMaterial)} esn=${sa.esn ? 1 : 0}`;
}

/** Wireshark esp_sa UAT line (no trailing newline). */
export function espSaLine(sa: KeylogSa): string {
  const proto = sa.src.includes(":") ? "IPv6" : "IPv4";
  if (isCbcCipher(sa.cipher)) {
    const s = cbcSuite(sa.cipher);
    const enc = sa.keyMaterial.subarray(0, s.encKeyLen), integ = sa.keyMaterial.subarray(s.encKeyLen);
    return [proto, sa.src, sa.dst, spiHex(sa.spi), WIRESHARK_CBC, "0x" + toHex(enc), WIRESHARK_AUTH[s.hash], "0x" + toHex(integ)]
      .map((f) => `"${f}"`).join(",");
  }
  return [proto, sa.src, sa.dst, spiHex(sa.spi), WIRESHARK_ENCRYPTION[sa.cipher], "0x" + toHex(sa.keyMaterial), "NULL", ""]
    .map((f) => `"${f}"`).join(",");
}

/**
 * The comment written before an ESN SA in FILE.esp_sa: Wireshark's esp_sa table (4.0, the
 * Debian 12 tshark) has no field or preference for extended sequence numbers, so it computes
 * the AEAD's AAD without the high 32 bits and shows every ICV of such an SA bad (the payload
 * still decrypts). vpnkit's own key log carries esn=1 and `vpnkit decode --keys FILE` checks
 * those ICVs.
 */
export function esnNote(sa: KeylogSa): string {
  return `# ${spiHex(sa.spi)} uses ESN: Wireshark's esp_sa has no ESN setting, so its ICVs show bad there (payloads decrypt); check them with: vpnkit decode --keys <the vpnkit key log, esn=1>`;
}

/** A key log that may not be written (exists, symlink, wrong owner or mode). */
export class KeylogError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = "KeylogError";
  }
}

/** The files of a key log FILE and their headers. */
export function keylogFiles(path: string): { path: string; header: string }[] {
  return [
    { path, header: "" },
    { path: path + ".esp_sa", header: "# vpnkit key log (Wireshark esp_sa UAT)\n" },
    { path: path + ".ikev2_decryption_table", header: "# vpnkit key log (Wireshark ikev2_decryption_table UAT)\n" },
  ];
}

const O_NOFOLLOW = fsc.O_NOFOLLOW ?? 0o400000;
const O_NONBLOCK = fsc.O_NONBLOCK ?? 0o4000; // a FIFO without reader fails (ENXIO) instead of blocking
const O_CLOEXEC = 0o2000000;
const euid = (): number => (typeof process.geteuid === "function" ? process.geteuid() : -1);

/** Why an open key-log descriptor must not receive keys, or null. */
function fdProblem(fd: number, path: string): string | null {
  const st = fstatSync(fd);
  if (!st.isFile()) return `${path} is not a regular file`;
  const me = euid();
  if (me >= 0 && st.uid !== me) return `${path} is owned by uid ${st.uid}, not by us (uid ${me})`;
  if ((st.mode & 0o777) !== 0o600) return `${path} has mode ${modeText(st.mode)}, not 0600`;
  return null;
}

function describeExisting(path: string): string {
  try {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return `${path} is a symbolic link`;
  } catch { /* raced away: say "exists" */ }
  return `${path} exists`;
}

/**
 * Open an existing key-log file for appending (O_NOFOLLOW) and check it; throws
 * {@link KeylogError}. `create`: create it (O_EXCL, 0600) when missing.
 */
function openChecked(path: string, header: string, create: boolean): number {
  let fd: number;
  let fresh = false;
  const base = fsc.O_WRONLY | fsc.O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  try {
    if (create) {
      try {
        fd = openSync(path, base | fsc.O_CREAT | fsc.O_EXCL, 0o600);
        fresh = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        fd = openSync(path, base);
      }
    } else {
      fd = openSync(path, base);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw new KeylogError(`key log ${path} is a symbolic link: refused`);
    if (code === "ENXIO") throw new KeylogError(`key log ${path} is not a regular file: refused`);
    throw new KeylogError(`key log ${path}: ${(e as Error).message}`);
  }
  if (fresh) {
    fchmodSync(fd, 0o600); // the umask only takes bits away, but be exact
    if (header) writeSync(fd, header);
    return fd;
  }
  const p = fdProblem(fd, path);
  if (p) {
    closeSync(fd);
    throw new KeylogError(`key log ${p}: refused`);
  }
  return fd;
}

/**
 * Before the tunnel starts: create FILE, FILE.esp_sa and FILE.ikev2_decryption_table
 * (O_CREAT|O_EXCL|O_NOFOLLOW, 0600), or with `append` accept existing ones that are regular
 * files owned by us with mode 0600. Throws {@link KeylogError} (one line) otherwise.
 */
export function prepareKeylog(path: string, append: boolean): void {
  for (const f of keylogFiles(path)) {
    let fd: number;
    try {
      fd = openSync(f.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw new KeylogError(`key log ${f.path}: ${(e as Error).message}`);
      if (!append) throw new KeylogError(`key log ${describeExisting(f.path)}: refusing to write keys into an existing file (remove it, or append with --keylog-append / keylog_append = true to a regular file you own with mode 0600)`);
      closeSync(openChecked(f.path, f.header, false));
      continue;
    }
    fchmodSync(fd, 0o600);
    if (f.header) writeSync(fd, f.header);
    closeSync(fd);
  }
}

/** Append one line to a key-log file: created fresh (0600) if missing, else checked as above. */
function appendLine(path: string, header: string, line: string): void {
  const fd = openChecked(path, header, true);
  try {
    writeSync(fd, line + "\n");
  } finally {
    closeSync(fd);
  }
}

/** Appends installed SAs to FILE and FILE.esp_sa (see {@link prepareKeylog} for the safety rules). */
export class KeyLog {
  constructor(readonly path: string) {}

  /** Record one SA (call when it is installed). Throws {@link KeylogError} for an unsafe file. */
  add(sa: KeylogSa): void {
    const [main, ws] = keylogFiles(this.path);
    appendLine(main.path, main.header, keylogLine(sa));
    appendLine(ws.path, ws.header, (sa.esn ? esnNote(sa) + "\n" : "") + espSaLine(sa));
  }
}

// ------------------------------------------------------------------ IKEv2 SA keys

/**
 * IKEv2 SA keys (from an IkeSa `keylog` action). FILE gets the vpnkit line
 *
 *     IKEv2 <ispi> <rspi> <encr> 0x<SK_ei> 0x<SK_er> <integ> <0x<SK_ai>|-> <0x<SK_ar>|->
 *
 * (encr: aes128gcm16 / aes256gcm16 / chacha20poly1305 / aes128 / aes256 (CBC); integ: none,
 * sha1, sha256, sha384, sha512; SK_e* include the salt for AEAD), and FILE.ikev2_decryption_table
 * the same SA in Wireshark's `ikev2_decryption_table` UAT format.
 */
export interface KeylogIke {
  ispi: Uint8Array;
  rspi: Uint8Array;
  encr: import("../ike/v2/sk-crypto.ts").SkEncr;
  integ: import("../ike/v2/sk-crypto.ts").SkInteg;
  encrKeyBits: number;
  skei: Uint8Array;
  sker: Uint8Array;
  skai: Uint8Array;
  skar: Uint8Array;
}

function ikeEncrName(k: KeylogIke): { vpnkit: string; wireshark: string } | null {
  const bits = k.encrKeyBits;
  const gcm = /^aes-gcm-(8|12|16)$/.exec(k.encr);
  if (gcm) return { vpnkit: `aes${bits}gcm${gcm[1]}`, wireshark: `AES-GCM-${bits} with ${gcm[1]} octet ICV [RFC5282]` };
  if (k.encr === "chacha20-poly1305") return { vpnkit: "chacha20poly1305", wireshark: "CHACHA20-POLY1305 [RFC7634]" };
  if (k.encr === "aes-cbc") return { vpnkit: `aes${bits}`, wireshark: `AES-CBC-${bits} [RFC3602]` };
  return null;
}

const IKE_INTEG: Record<string, { vpnkit: string; wireshark: string }> = {
  "none": { vpnkit: "none", wireshark: "NONE [RFC4306]" },
  "hmac-sha1-96": { vpnkit: "sha1", wireshark: "HMAC_SHA1_96 [RFC2404]" },
  "hmac-sha2-256-128": { vpnkit: "sha256", wireshark: "HMAC_SHA2_256_128 [RFC4868]" },
  "hmac-sha2-384-192": { vpnkit: "sha384", wireshark: "HMAC_SHA2_384_192 [RFC4868]" },
  "hmac-sha2-512-256": { vpnkit: "sha512", wireshark: "HMAC_SHA2_512_256 [RFC4868]" },
};

/** vpnkit IKEv2 key log line, or null for an algorithm the key log cannot name. */
export function ikeKeylogLine(k: KeylogIke): string | null {
  const e = ikeEncrName(k), i = IKE_INTEG[k.integ];
  if (!e || !i) return null;
  const opt = (b: Uint8Array) => (b.length ? "0x" + toHex(b) : "-");
  return `IKEv2 ${toHex(k.ispi)} ${toHex(k.rspi)} ${e.vpnkit} 0x${toHex(k.skei)} 0x${toHex(k.sker)} ${i.vpnkit} ${opt(k.skai)} ${opt(k.skar)}`;
}

/** Wireshark ikev2_decryption_table UAT line, or null. */
export function ikev2TableLine(k: KeylogIke): string | null {
  const e = ikeEncrName(k), i = IKE_INTEG[k.integ];
  if (!e || !i) return null;
  // hex-bytes fields unquoted, names quoted: what Wireshark itself writes (quoted hex is refused)
  return [toHex(k.ispi), toHex(k.rspi), toHex(k.skei), toHex(k.sker), `"${e.wireshark}"`, toHex(k.skai), toHex(k.skar), `"${i.wireshark}"`].join(",");
}

/** Append IKE SA keys to FILE and FILE.ikev2_decryption_table; false when the algorithm has no key-log name. */
export function keylogAddIke(path: string, k: KeylogIke): boolean {
  const line = ikeKeylogLine(k), ws = ikev2TableLine(k);
  if (!line || !ws) return false;
  const f = keylogFiles(path);
  appendLine(f[0].path, f[0].header, line);
  appendLine(f[2].path, f[2].header, ws);
  return true;
}
