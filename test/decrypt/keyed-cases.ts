/**
 * Test helper: every capture this repository can decode with keys (fixtures/strongswan and
 * fixtures/made with their key files, tcpdump's -E cases, wrong keys, and the first 20k
 * packets of the benchmark mixes when /tmp/vpnkit-bench has them), rendered by the real
 * `runDecode` loop into a string.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { openCapture } from "../../lib/capture/index.ts";
import { runDecode } from "../../lib/decode/run.ts";
import { loadInlineKeys, loadKeyFile, parseKeyText } from "../../lib/keys/load.ts";
import { KeyStore } from "../../lib/keys/store.ts";
import type { ParsedKeys } from "../../lib/keys/types.ts";
import { libcryptoDecodeCrypto } from "../../lib/platform/bun/decode-crypto-ffi.ts";
import { ROOT } from "./helpers.ts";

export interface KeyedCase {
  name: string;
  pcap: string;
  /** Fresh parsed keys (a KeyStore zeroes its keys when done). */
  keys: () => ParsedKeys[];
  /** Only the first packets (the benchmark mixes). */
  limit?: number;
}

const KEY_FILES = ["esp_sa", "ikev2_decryption_table", "ikev1_decryption_table"];

/** Flip every key byte: same formats and lengths, wrong values. */
function wrongKeys(text: string): string {
  return text.replace(/(0x)?([0-9a-f]{32,})/gi, (_m, p: string | undefined, h: string) => (p ?? "") + h.replace(/[0-9a-f]/gi, (c) => (parseInt(c, 16) ^ 5).toString(16)));
}

export function keyedCases(): KeyedCase[] {
  const out: KeyedCase[] = [];
  for (const base of ["fixtures/strongswan", "fixtures/made"]) {
    for (const d of readdirSync(ROOT + base).sort()) {
      const dir = `${ROOT}${base}/${d}`;
      const files = KEY_FILES.filter((f) => existsSync(`${dir}/${f}`)).map((f) => `${dir}/${f}`);
      if (d === "k_esp_chacha20poly1305") files.push(`${dir}/charon-vf1.log.gz`);
      if (!existsSync(`${dir}/${d}.pcap`) || files.length === 0) continue;
      out.push({ name: d, pcap: `${dir}/${d}.pcap`, keys: () => files.map(loadKeyFile) });
      if (files.some((f) => f.endsWith("esp_sa")) && /^k_esp_/.test(d)) {
        out.push({
          name: `${d} (wrong keys)`,
          pcap: `${dir}/${d}.pcap`,
          keys: () => files.filter((f) => !f.endsWith(".gz")).map((f) => parseKeyText(wrongKeys(readFileSync(f, "utf8")), f.slice(f.lastIndexOf("/") + 1))),
        });
      }
    }
  }
  const T = `${ROOT}fixtures/tcpdump`;
  for (const l of readFileSync(`${T}/cases.tsv`, "utf8").split("\n").slice(1)) {
    const [name, input, , args] = l.split("\t");
    const m = args === undefined ? null : /-E "([^"]+)"/.exec(args);
    if (m === null) continue;
    out.push({ name: `tcpdump ${name}`, pcap: `${T}/${input}`, keys: () => [loadInlineKeys(m[1], T)] });
  }
  for (const x of ["a", "b", "c", "d"]) {
    const dir = `/tmp/vpnkit-bench/mix-${x}`;
    out.push({ name: `mix ${x} (first 20k packets)`, pcap: `${dir}/mix_${x}.pcap`, keys: () => ["esp_sa", "ikev2_decryption_table"].map((f) => loadKeyFile(`${dir}/${f}`)), limit: 20000 });
  }
  return out;
}

/** The text `vpnkit decode --keys` prints for a case (`crypto`: with the libcrypto backend). */
export async function renderKeyed(c: KeyedCase, mode: "summary" | "json" | "verbose", o: { crypto: boolean; fastPath?: boolean; fastPathSlots?: number }): Promise<string> {
  const ks = new KeyStore(c.keys());
  if (o.crypto) ks.crypto = libcryptoDecodeCrypto() ?? undefined;
  const chunks: string[] = [];
  const dec = new TextDecoder();
  const sink = {
    write(chunk: string | Uint8Array, done?: (err?: Error | null) => void) {
      chunks.push(typeof chunk === "string" ? chunk : dec.decode(chunk));
      done?.();
      return true;
    },
    once(_e: "drain", cb: () => void) {
      cb();
    },
  };
  try {
    const reader = await openCapture(c.pcap);
    await runDecode(reader, sink, {
      mode,
      stats: false,
      filter: {},
      decoder: { keys: ks, fastPath: o.fastPath, fastPathSlots: o.fastPathSlots },
      count: c.limit,
    });
  } finally {
    ks.zero();
  }
  return chunks.join("");
}
