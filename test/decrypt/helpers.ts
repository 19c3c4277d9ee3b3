/** Test helpers: decode a capture with keys, and tshark with decryption on (the oracle). */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import type { DecodedPacket } from "../../lib/core/layer.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import type { KeyStore } from "../../lib/keys/store.ts";

export const ROOT = new URL("../../", import.meta.url).pathname;

/** Decode every packet of `path` with `keys`; `each` sees the record too. */
export async function decodeAll(path: string, keys?: KeyStore, each?: (rec: CaptureRecord, p: DecodedPacket) => void | Promise<void>): Promise<DecodedPacket[]> {
  const dec = new Decoder({ keys });
  const out: DecodedPacket[] = [];
  const r = await openCapture(path);
  for await (const b of r.batches()) {
    for (const rec of b) {
      const p = dec.decode(rec);
      out.push(p);
      if (each) await each(rec, p);
    }
  }
  return out;
}

export function haveTshark(): boolean {
  return spawnSync("tshark", ["-v"]).status === 0;
}

/**
 * tshark -T fields with decryption configured like scripts/capture/decode.sh: a temporary
 * config dir holding the case's UAT files and the ESP decryption preferences. Returns
 * frame number → field → all occurrences.
 */
export function tsharkFields(pcap: string, caseDir: string, fields: string[]): Map<number, Record<string, string[]>> {
  const prof = mkdtempSync(join(tmpdir(), "vpnkit-decrypt-test-"));
  try {
    for (const u of ["ikev2_decryption_table", "ikev1_decryption_table", "esp_sa"]) if (existsSync(join(caseDir, u))) copyFileSync(join(caseDir, u), join(prof, u));
    writeFileSync(join(prof, "preferences"), "esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n");
    const args = ["-n", "-r", pcap, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", "-E", "separator=\t", "-e", "frame.number", ...fields.flatMap((f) => ["-e", f])];
    const r = spawnSync("tshark", args, { env: { ...process.env, WIRESHARK_CONFIG_DIR: prof }, encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
    const out = new Map<number, Record<string, string[]>>();
    for (const line of r.stdout.split("\n")) {
      if (!line) continue;
      const cols = line.split("\t");
      const rec: Record<string, string[]> = {};
      fields.forEach((f, i) => (rec[f] = cols[i + 1] ? cols[i + 1].split("|") : []));
      out.set(Number(cols[0]), rec);
    }
    return out;
  } finally {
    rmSync(prof, { recursive: true, force: true });
  }
}

/** Run tshark on a file (no decryption) and return `-T fields` rows. */
export function tsharkPlain(pcap: string, fields: string[]): string[][] {
  const r = spawnSync("tshark", ["-n", "-r", pcap, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|", ...fields.flatMap((f) => ["-e", f])], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split("\t"));
}
