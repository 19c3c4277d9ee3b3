/**
 * Deno smoke test for the ESP data plane (runtime neutrality, CONTRIBUTING "Layout").
 *
 *   node_modules/.bin/deno test --allow-read --config deno.json test/esp/deno/esp.deno.ts
 *
 * Named *.deno.ts so `bun test` does not pick it up. Uses node:test + node:assert only.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fromHex, toHex } from "../../../lib/core/bytes.ts";
import {
  InboundSa, nobleChaCha, nobleGcm, NODE_CHACHA_AVAILABLE, NODE_GCM_AVAILABLE, nodeChaCha, nodeGcm, openEspForDecode, OutboundSa,
} from "../../../lib/esp/mod.ts";
import type { AeadProvider, EspCipherName } from "../../../lib/esp/mod.ts";

interface G { keys: { spi: string; ekey: string; ikey: string }[]; esp: { spi: string; hex: string }[]; sll2?: { inner: { hex: string }[] } }
const golden = (n: string): G => JSON.parse(readFileSync(new URL(`../golden/${n}`, import.meta.url), "utf8"));
const h = (s: string) => fromHex(s)!;

test("providers available on this runtime", () => {
  assert.equal(NODE_GCM_AVAILABLE, true);
  console.log(`node:crypto GCM ${NODE_GCM_AVAILABLE}, node:crypto ChaCha20-Poly1305 ${NODE_CHACHA_AVAILABLE}`);
});

test("round trip every cipher, every provider pairing", () => {
  const sets: [EspCipherName, AeadProvider[]][] = [
    ["aes128gcm16", [nobleGcm, ...(NODE_GCM_AVAILABLE ? [nodeGcm] : [])]],
    ["aes256gcm16", [nobleGcm, ...(NODE_GCM_AVAILABLE ? [nodeGcm] : [])]],
    ["chacha20poly1305", [nobleChaCha, ...(NODE_CHACHA_AVAILABLE ? [nodeChaCha] : [])]],
  ];
  for (const [cipher, ps] of sets) {
    for (const po of ps) for (const pi of ps) {
      const cfg = { spi: 0x1234, cipher, keyMaterial: new Uint8Array(cipher === "aes128gcm16" ? 20 : 36).map((_, i) => i), esn: true };
      const o = new OutboundSa(cfg, po), i = new InboundSa(cfg, pi);
      for (let n = 0; n < 40; n++) {
        const r = i.open(o.seal(new Uint8Array(n).fill(n), 4)!);
        assert.ok(r.ok, `${cipher} ${po.name}→${pi.name} n=${n}`);
        assert.equal(r.payload.length, n);
      }
    }
  }
});

test("golden: fixture a (GCM) equals the cleartext TUN packets; k_esp_chacha20poly1305 opens", () => {
  const a = golden("a_gcm_natt.json");
  const inner = new Set(a.sll2!.inner.map((i) => i.hex));
  for (const e of a.esp) {
    const k = a.keys.find((k) => k.spi === e.spi)!;
    const r = new InboundSa({ spi: parseInt(e.spi, 16), cipher: "aes256gcm16", keyMaterial: h(k.ekey) }).open(h(e.hex));
    assert.ok(r.ok);
    assert.ok(inner.has(toHex(r.payload)));
  }
  const c = golden("k_esp_chacha20poly1305.json");
  for (const e of c.esp) {
    const k = c.keys.find((k) => k.spi === e.spi)!;
    const r = new InboundSa({ spi: parseInt(e.spi, 16), cipher: "chacha20poly1305", keyMaterial: h(k.ekey) }).open(h(e.hex));
    assert.ok(r.ok);
    assert.equal(r.nextHeader, 4);
  }
});

test("decoder: 3DES+SHA1 and CBC+SHA256 captures verify", () => {
  for (const [file, encr, integ] of [["k_esp_3des_sha1.json", "3des-cbc", "hmac-sha1-96"], ["b_cbc_sha256.json", "aes-cbc", "hmac-sha256-128"]] as const) {
    const g = golden(file);
    for (const e of g.esp) {
      const k = g.keys.find((k) => k.spi === e.spi)!;
      const r = openEspForDecode({ encr, encKey: h(k.ekey), integ, authKey: h(k.ikey) }, h(e.hex));
      assert.equal(r.icv, "good", file);
      assert.equal(r.nextHeader, 4);
    }
  }
});
