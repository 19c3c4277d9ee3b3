// Runs under Deno: runDecode's byte output (fast paths + ByteWriter) equals
// the full decoder's rendering, in every mode, on a real strongSwan capture.
import { Decoder, openCapture, packetHeaderLine, packetJson, parseFilter, renderTree, runDecode, summaryLine } from "../../mod.ts";

const CAP = new URL("../../fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap", import.meta.url).pathname;

async function expected(mode: "summary" | "verbose" | "json"): Promise<string> {
  const reader = await openCapture(CAP);
  const dec = new Decoder();
  let s = "";
  for await (const batch of reader.batches()) {
    for (const r of batch) {
      const p = dec.decode(r);
      s += mode === "summary" ? summaryLine(p) + "\n" : mode === "json" ? packetJson(p) + "\n" : renderTree(p, packetHeaderLine(p)) + "\n\n";
    }
  }
  return s;
}

for (const mode of ["summary", "verbose", "json"] as const) {
  Deno.test(`runDecode ${mode} output on Deno equals the full decoder's`, async () => {
    const chunks: Uint8Array[] = [];
    const out = {
      write(c: string | Uint8Array, done?: () => void) {
        chunks.push(typeof c === "string" ? new TextEncoder().encode(c) : c.slice());
        done?.();
        return true;
      },
      once() {},
    };
    const res = await runDecode(await openCapture(CAP), out, { mode, stats: false, filter: parseFilter({}), decoder: {} });
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    const want = await expected(mode);
    if (res.packets !== 16) throw new Error(`expected 16 packets, got ${res.packets}`);
    if (text !== want) throw new Error(`${mode}: output differs\n--- got\n${text.slice(0, 400)}\n--- want\n${want.slice(0, 400)}`);
  });
}
