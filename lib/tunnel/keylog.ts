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
 *  - `<cipher>`: vpnkit/strongSwan name (aes128gcm16, aes256gcm16, chacha20poly1305);
 *  - `0x<keymaterial>`: key||salt in lower-case hex (RFC 4106 / RFC 7634 salt, 4 bytes);
 *  - `esn=1` when extended sequence numbers are on.
 *
 * FILE.esp_sa gets the same SA in Wireshark's `esp_sa` UAT format (the file a Wireshark
 * profile directory holds; see scripts/capture/decode.sh):
 *
 *     "IPv4","<src>","<dst>","0x<spi>","AES-GCM with 16 octet ICV [RFC4106]","0x<key||salt>","NULL",""
 *
 * ChaCha20-Poly1305 is written as "ChaCha20 with Poly1305 [RFC7634]", which Wireshark
 * understands from 4.2 on (4.0 has no ChaCha20 ESP decryption).
 * @module
 */
import { appendFileSync, closeSync, existsSync, openSync } from "node:fs";
import { toHex } from "../core/bytes.ts";
import type { EspCipherName } from "../esp/types.ts";

export interface KeylogSa {
  src: string;
  dst: string;
  spi: number;
  cipher: EspCipherName;
  keyMaterial: Uint8Array;
  esn: boolean;
}

/** Wireshark's encryption algorithm names (esp_sa UAT, field 5). */
export const WIRESHARK_ENCRYPTION: Record<EspCipherName, string> = {
  aes128gcm16: "AES-GCM with 16 octet ICV [RFC4106]",
  aes256gcm16: "AES-GCM with 16 octet ICV [RFC4106]",
  chacha20poly1305: "ChaCha20 with Poly1305 [RFC7634]",
};

function spiHex(spi: number): string {
  return "0x" + (spi >>> 0).toString(16).padStart(8, "0");
}

/** vpnkit's own key log line (no trailing newline). */
export function keylogLine(sa: KeylogSa): string {
  return `ESP ${sa.src} ${sa.dst} ${spiHex(sa.spi)} ${sa.cipher} 0x${toHex(sa.keyMaterial)} esn=${sa.esn ? 1 : 0}`;
}

/** Wireshark esp_sa UAT line (no trailing newline). */
export function espSaLine(sa: KeylogSa): string {
  const proto = sa.src.includes(":") ? "IPv6" : "IPv4";
  return [proto, sa.src, sa.dst, spiHex(sa.spi), WIRESHARK_ENCRYPTION[sa.cipher], "0x" + toHex(sa.keyMaterial), "NULL", ""]
    .map((f) => `"${f}"`).join(",");
}

function ensure(path: string, header?: string): void {
  if (!existsSync(path)) {
    closeSync(openSync(path, "a", 0o600));
    if (header) appendFileSync(path, header, { mode: 0o600 });
  }
}

/** Appends installed SAs to FILE and FILE.esp_sa. */
export class KeyLog {
  constructor(readonly path: string) {}

  /** Record one SA (call when it is installed). */
  add(sa: KeylogSa): void {
    ensure(this.path);
    appendFileSync(this.path, keylogLine(sa) + "\n", { mode: 0o600 });
    const ws = this.path + ".esp_sa";
    ensure(ws, "# vpnkit key log (Wireshark esp_sa UAT)\n");
    appendFileSync(ws, espSaLine(sa) + "\n", { mode: 0o600 });
  }
}
