// Runs under Deno: `runDecode` with ESP keys (the decrypting summary fast path,
// lib/decrypt/fast-esp.ts, on node:crypto: no libcrypto backend in lib/) prints the same
// bytes as the full decoder, for CBC + HMAC, 3DES, GCM, ChaCha20 and NULL ESP fixtures.
import { loadKeyStore, openCapture, runDecode } from "../../mod.ts";

async function render(dir: string, files: string[], fastPath: boolean): Promise<string> {
  const base = new URL(`../../fixtures/${dir}/`, import.meta.url).pathname;
  const name = dir.slice(dir.lastIndexOf("/") + 1);
  const keys = loadKeyStore(files.map((f) => base + f));
  const chunks: string[] = [];
  const td = new TextDecoder();
  const sink = {
    write(c: string | Uint8Array, done?: (err?: Error | null) => void) {
      chunks.push(typeof c === "string" ? c : td.decode(c));
      done?.();
      return true;
    },
    once(_e: "drain", cb: () => void) {
      cb();
    },
  };
  await runDecode(await openCapture(`${base}${name}.pcap`), sink, { mode: "summary", stats: false, filter: {}, decoder: { keys, fastPath } });
  keys.zero();
  return chunks.join("");
}

for (const [dir, files] of [
  ["made/k_esp_aes128_sha256", ["esp_sa"]],
  ["made/k_esp_3des_sha1", ["esp_sa"]],
  ["made/k_esp_aes128gcm16", ["esp_sa"]],
  ["made/k_esp_null_sha256", ["esp_sa"]],
  ["made/k_esp_chacha20poly1305", ["charon-vf1.log.gz"]],
  ["made/d_ikev2_rekey", ["esp_sa", "ikev2_decryption_table"]],
] as const) {
  Deno.test(`decode --keys fast path == full decoder on Deno: ${dir}`, async () => {
    const fast = await render(dir, [...files], true);
    const full = await render(dir, [...files], false);
    if (!fast.includes("ICV good \u2192 ")) throw new Error(`no decrypted line:\n${fast}`);
    if (fast !== full) throw new Error(`fast path:\n${fast}\nfull decoder:\n${full}`);
  });
}
