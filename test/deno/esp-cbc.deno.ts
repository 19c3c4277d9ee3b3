// Runs under Deno: ESP with AES-CBC + HMAC on the library's portable provider (@noble, no FFI):
// every transform seals and opens through mod.ts's OutboundSa / InboundSa, the decoder's own
// opener agrees on the ICV, and a tampered packet is an ICV failure.
import { InboundSa, openEspForDecode, OutboundSa } from "../../mod.ts";
import { cbcSuite, ESP_CBC_CIPHERS, espKeyMaterialLength } from "../../lib/esp/mod.ts";

const INTEG = { sha1: "hmac-sha1-96", sha256: "hmac-sha256-128", sha384: "hmac-sha384-192", sha512: "hmac-sha512-256" } as const;

Deno.test("ESP AES-CBC + HMAC round trips on Deno (noble provider)", () => {
  for (const cipher of ESP_CBC_CIPHERS) {
    const s = cbcSuite(cipher);
    const km = new Uint8Array(espKeyMaterialLength(cipher)).map((_, i) => (i * 13 + 5) & 0xff);
    const out = new OutboundSa({ spi: 0x5000, cipher, keyMaterial: km });
    const inn = new InboundSa({ spi: 0x5000, cipher, keyMaterial: km });
    for (const n of [0, 17, 1000]) {
      const inner = new Uint8Array(n).map((_, i) => i & 0xff);
      const esp = out.seal(inner, 4)!;
      const d = openEspForDecode({ encr: "aes-cbc", encKey: km.subarray(0, s.encKeyLen), integ: INTEG[s.hash], authKey: km.subarray(s.encKeyLen) }, esp);
      if (d.icv !== "good") throw new Error(`${cipher}: decoder says ICV ${d.icv}`);
      const bad = esp.slice();
      bad[30] ^= 1;
      const r0 = inn.open(bad);
      if (r0.ok || r0.reason !== "icv") throw new Error(`${cipher}: tampered packet not an ICV failure`);
      const r = inn.open(esp);
      if (!r.ok || r.payload.length !== n || r.payload.some((b, i) => b !== (i & 0xff))) throw new Error(`${cipher}: round trip failed`);
    }
  }
});
