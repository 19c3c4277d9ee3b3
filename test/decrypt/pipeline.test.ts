/**
 * Decryption inside the decode pipeline: wrong keys, SKF reassembly, the IKE tracker seeing
 * decrypted notifies, ESN inference across the 32-bit wrap, transport mode, summary lines,
 * tcpdump's -E cases against tcpdump's expected output, and fuzzing with real keys.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import type { DecodedPacket, LayerBase } from "../../lib/core/layer.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { summaryLine } from "../../lib/decode/summary.ts";
import type { EspDecryptInfo, Ikev2Decrypted } from "../../lib/decrypt/types.ts";
import { synthesizeIp } from "../../lib/decrypt/writer.ts";
import { OutboundSa } from "../../lib/esp/sa.ts";
import type { Ikev2Message } from "../../lib/ike/v2/message.ts";
import { loadInlineKeys, loadKeyFile, parseKeyText } from "../../lib/keys/load.ts";
import { KeyStore } from "../../lib/keys/store.ts";
import type { Ipv4Layer } from "../../lib/net/ipv4.ts";
import { decodeAll, ROOT } from "./helpers.ts";

const M = `${ROOT}fixtures/made`;
const S = `${ROOT}fixtures/strongswan`;
const T = `${ROOT}fixtures/tcpdump`;
const store = (...files: string[]) => new KeyStore(files.map(loadKeyFile));
const espOf = (p: DecodedPacket) => p.layers.filter((l) => l.layer === "esp") as (LayerBase & { spi: number; seq: number; decrypt?: EspDecryptInfo })[];

/** Flip every key byte: same formats and lengths, wrong values. */
function wrongKeys(text: string): string {
  return text.replace(/(0x)?([0-9a-f]{32,})/gi, (_m, p: string | undefined, h: string) => (p ?? "") + h.replace(/[0-9a-f]/gi, (c) => ((parseInt(c, 16) ^ 5).toString(16))));
}

describe("wrong keys", () => {
  for (const name of ["k_esp_aes128gcm16", "k_esp_aes128_sha256", "k_esp_3des_sha1", "k_esp_null_sha256", "c_ikev2_cert_frag"]) {
    test(`${name}: every ESP packet ICV BAD, every IKE message integrity BAD, nothing decoded`, async () => {
      const ks = new KeyStore([
        parseKeyText(wrongKeys(readFileSync(`${M}/${name}/esp_sa`, "utf8")), "esp_sa"),
        parseKeyText(wrongKeys(readFileSync(`${M}/${name}/ikev2_decryption_table`, "utf8")), "ikev2_decryption_table"),
      ]);
      const pkts = await decodeAll(`${M}/${name}/${name}.pcap`, ks);
      let esp = 0, ike = 0;
      for (const p of pkts) {
        expect(p.layers.some((l) => l.layer === "inner")).toBe(false);
        for (const e of espOf(p)) {
          expect(e.decrypt?.icv).toBe("bad");
          expect(summaryLine(p)).toContain("ICV BAD");
          esp++;
        }
        const m = p.layers.find((l) => l.layer === "ikev2") as Ikev2Message | undefined;
        const last = m?.payloads[m.payloads.length - 1] as (LayerBase & { kind: string; decrypted?: Ikev2Decrypted }) | undefined;
        if (last && (last.kind === "sk" || last.kind === "skf") && !p.notes?.[0]?.includes("held")) {
          expect(last.decrypted?.integrity).toBe("bad");
          expect(last.decrypted?.payloads).toBeUndefined();
          ike++;
        }
      }
      expect(esp + ike).toBeGreaterThan(0);
    });
  }
});

test("wrong IKEv1 key: no encrypted message is shown, each says why", async () => {
  for (const d of [`${M}/e2_ikev1_aggressive_psk`, `${S}/e1_ikev1_main_psk`]) {
    const name = d.slice(d.lastIndexOf("/") + 1);
    const ks = new KeyStore(parseKeyText(readFileSync(`${d}/ikev1_decryption_table`, "utf8").replace(/,([0-9a-f]+)$/m, (_m, k: string) => "," + k.replace(/[0-9a-f]/g, (c) => (parseInt(c, 16) ^ 9).toString(16))), "ikev1_decryption_table"));
    let n = 0;
    for (const p of await decodeAll(`${d}/${name}.pcap`, ks)) {
      const m = p.layers.find((l) => l.layer === "isakmp") as (LayerBase & { flags: { encryption: boolean }; decrypted?: { payloads?: unknown[]; reason?: string } }) | undefined;
      if (!m?.flags.encryption) continue;
      expect(m.decrypted?.payloads).toBeUndefined();
      expect(m.decrypted?.reason).toMatch(/do not parse|phase 1 was not decrypted/);
      expect(summaryLine(p)).toMatch(/ encrypted [0-9a-f:]+ \((decrypted payloads do not parse|phase-2 IV needs)/);
      n++;
    }
    expect(n).toBeGreaterThan(3);
  }
});

test("SKF: c_ikev2_cert_frag IKE_AUTH request reassembled from 10 fragments, response from 3", async () => {
  const pkts = await decodeAll(`${M}/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap`, store(`${M}/c_ikev2_cert_frag/ikev2_decryption_table`));
  const done = pkts.flatMap((p) => {
    const m = p.layers.find((l) => l.layer === "ikev2") as Ikev2Message | undefined;
    const d = (m?.payloads[m.payloads.length - 1] as { decrypted?: Ikev2Decrypted } | undefined)?.decrypted;
    return d?.fragments ? [{ no: p.no, fragments: d.fragments, n: d.payloads!.length, line: summaryLine(p) }] : [];
  });
  expect(done.map((d) => d.fragments.length)).toEqual([10, 3]);
  expect(done[0].fragments).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  expect(done[0].line).toContain("[ IDi CERT CERT N(INIT_CONTACT) CERTREQ IDr AUTH");
  expect(done[0].line).toContain("reassembled from packets 5, 6, 7, 8, 9, 10, 11, 12, 13, 14");
});

test("--stats: AUTHENTICATION_FAILED inside the encrypted IKE_AUTH response is seen with keys", async () => {
  const dec = new Decoder({ keys: store(`${S}/f1_ikev2_auth_failed/ikev2_decryption_table`) });
  const plain = new Decoder();
  for (const d of [dec, plain]) {
    for await (const b of (await (await import("../../lib/capture/index.ts")).openCapture(`${S}/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap`)).batches()) for (const r of b) d.decode(r);
  }
  expect(dec.stats().ikeSas[0].outcome).toBe("failed: AUTHENTICATION_FAILED in IKE_AUTH response (packet 6)");
  expect(plain.stats().ikeSas[0].outcome).toContain("encrypted");
});

test("summary lines show the verdict and the inner packet", async () => {
  const d = `${M}/k_esp_aes256gcm16`;
  const pkts = await decodeAll(`${d}/k_esp_aes256gcm16.pcap`, store(`${d}/esp_sa`, `${d}/ikev2_decryption_table`));
  const lines = pkts.map((p) => summaryLine(p));
  expect(lines.find((l) => l.includes("ESP"))).toMatch(/ESP spi 0x[0-9a-f]{8} seq 1 len \d+ ICV good → 198\.51\.100\.1 > 203\.0\.113\.1 ICMP Echo Request id \d+ seq 1$/);
  expect(lines.find((l) => l.includes("IKE_AUTH request"))).toContain("[ IDi N(INIT_CONTACT) IDr AUTH SA TSi TSr");
});

function rawRecord(no: number, data: Uint8Array): CaptureRecord {
  return { no, iface: 0, linkType: 101, tsSec: 1000 + no, tsNsec: 0, caplen: data.length, len: data.length, data };
}

describe("ESN (RFC 4303 App. A) and transport mode", () => {
  const key = new Uint8Array(20).map((_, i) => i + 1);
  const outer = { layer: "ipv4", src: "192.0.2.1", dst: "192.0.2.2" } as Ipv4Layer;
  const inner = synthesizeIp({ ...outer, src: "198.51.100.1", dst: "203.0.113.1" } as Ipv4Layer, 17, Uint8Array.from([0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0]))!;

  test("sequence numbers crossing 2^32 all verify with the inferred high half", () => {
    const sa = new OutboundSa({ spi: 0x1000, cipher: "aes128gcm16", keyMaterial: key, esn: true, initialSeq: 2n ** 32n - 4n });
    const ks = new KeyStore(parseKeyText(`ESP 192.0.2.1 192.0.2.2 0x00001000 aes128gcm16 0x${Buffer.from(key).toString("hex")} esn=1\n`, "keylog"));
    const dec = new Decoder({ keys: ks });
    const seen: string[] = [];
    for (let i = 1; i <= 8; i++) {
      const esp = sa.seal(inner, 4)!;
      const p = dec.decode(rawRecord(i, synthesizeIp(outer, 50, esp)!));
      const e = espOf(p)[0];
      expect(e.decrypt?.icv).toBe("good");
      seen.push(e.decrypt!.esnSeq!);
      expect(summaryLine(p)).toContain("ICV good → 198.51.100.1.12345 > 203.0.113.1.53 UDP");
    }
    expect(seen).toEqual([0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n].map((x) => String(2n ** 32n - 3n + x)));
    // Without ESN in the key, the same packets fail after nothing verifies.
    const sa2 = new OutboundSa({ spi: 0x1000, cipher: "aes128gcm16", keyMaterial: key, esn: true, initialSeq: 2n ** 32n + 10n });
    const noEsn = new Decoder({ keys: new KeyStore(parseKeyText(`ESP 192.0.2.1 192.0.2.2 0x00001000 aes128gcm16 0x${Buffer.from(key).toString("hex")} esn=0\n`, "keylog")) });
    expect(espOf(noEsn.decode(rawRecord(1, synthesizeIp(outer, 50, sa2.seal(inner, 4)!)!)))[0].decrypt?.icv).toBe("bad");
  });

  test("transport mode: UDP decoded from the plaintext, marker says transport", () => {
    const sa = new OutboundSa({ spi: 0x2000, cipher: "aes128gcm16", keyMaterial: key });
    const ks = new KeyStore(parseKeyText(`ESP 192.0.2.1 192.0.2.2 0x00002000 aes128gcm16 0x${Buffer.from(key).toString("hex")} esn=0\n`, "keylog"));
    const p = new Decoder({ keys: ks }).decode(rawRecord(1, synthesizeIp(outer, 50, sa.seal(inner.subarray(20), 17)!)!));
    const i = p.layers.findIndex((l) => l.layer === "inner");
    expect((p.layers[i] as LayerBase & { mode: string }).mode).toBe("transport");
    expect(p.layers[i + 1].layer).toBe("udp");
    expect(summaryLine(p)).toContain("ICV good → UDP");
  });
});

/** tcpdump's -E cases (fixtures/tcpdump/cases.tsv): our inner packets against tcpdump's expected output. */
describe("tcpdump -E cases", () => {
  const cases = readFileSync(`${T}/cases.tsv`, "utf8").split("\n").slice(1).filter(Boolean).map((l) => l.split("\t"))
    .filter(([, , , args]) => args?.includes("-E"));
  const secret = (args: string) => /-E "([^"]+)"/.exec(args)![1];

  test("all eight cases are there", () => {
    expect(cases.map((c) => c[0]).sort()).toEqual(["esp1", "esp2", "esp3", "esp4", "esp5", "espudp1", "ikev2pI2", "isakmp4"]);
  });

  for (const [name, input, expected, args] of cases) {
    test(name, async () => {
      const ks = new KeyStore(loadInlineKeys(secret(args), T));
      const pkts = await decodeAll(`${T}/${input}`, ks);
      const out = readFileSync(`${T}/${expected}`, "utf8");
      if (name === "ikev2pI2") {
        // tcpdump decrypts without checking the ICV; the capture's ICV is not HMAC-SHA1-96 of the
        // message under either direction's key (checked here with node:crypto), so vpnkit says
        // integrity BAD and shows no payloads rather than unauthenticated plaintext.
        const p = pkts[1];
        const m = p.layers.find((l) => l.layer === "ikev2") as Ikev2Message;
        const sk = m.payloads[m.payloads.length - 1] as LayerBase & { decrypted?: Ikev2Decrypted };
        expect(sk.decrypted?.integrity).toBe("bad");
        expect(sk.decrypted?.payloads).toBeUndefined();
        const raw = (await (await import("../../lib/capture/index.ts")).openCapture(`${T}/${input}`));
        const recs: Uint8Array[] = [];
        for await (const b of raw.batches()) for (const r of b) recs.push(r.data.slice());
        const msg = recs[1].subarray(m.offset, m.offset + m.length);
        for (const k of readFileSync(`${T}/ikev2pI2-secrets.txt`, "utf8").match(/sha1:0x([0-9a-f]+)/g)!) {
          const mac = createHmac("sha1", Buffer.from(k.slice(7), "hex")).update(msg.subarray(0, msg.length - 12)).digest().subarray(0, 12);
          expect(Buffer.compare(mac, msg.subarray(msg.length - 12))).not.toBe(0);
        }
        expect(out).toContain("v2IDi");
        // Asked for explicitly, the unverified plaintext decodes to what tcpdump prints
        // ("v2IDi: ... fqdn:west", "v2auth: ... method=rsasig"), still flagged integrity BAD.
        const uv = await (async () => {
          const { openCapture } = await import("../../lib/capture/index.ts");
          const dec = new Decoder({ keys: ks, showUnverified: true });
          const r = await openCapture(`${T}/${input}`);
          const ps = [];
          for await (const b of r.batches()) for (const rec of b) ps.push(dec.decode({ ...rec, data: rec.data.slice() }));
          return ps;
        })();
        const um = uv[1].layers.find((l) => l.layer === "ikev2") as Ikev2Message;
        const usk = um.payloads[um.payloads.length - 1] as LayerBase & { decrypted?: Ikev2Decrypted };
        expect(usk.decrypted?.integrity).toBe("bad");
        const pls = usk.decrypted?.payloads ?? [];
        const idi = pls.find((x) => x.kind === "id") as { text: string; idTypeName: string } | undefined;
        expect(idi?.idTypeName).toBe("ID_FQDN");
        expect(idi?.text).toBe("west");
        expect(out).toContain("fqdn:west");
        const auth = pls.find((x) => x.kind === "auth") as { method: number } | undefined;
        expect(auth?.method).toBe(1); // RSA Digital Signature
        expect(out).toContain("method=rsasig");
        return;
      }
      const want = out.split("\n").filter(Boolean).map((line) => {
        const inner = [...line.matchAll(/: IP (\S+) > (\S+): ICMP echo request, id (\d+), seq (\d+)/g)].map((x) => `${x[1]}>${x[2]} echo ${x[3]} ${x[4]}`);
        return inner;
      });
      const got = pkts.map((p) => {
        const r: string[] = [];
        for (let i = 0; i < p.layers.length; i++) {
          if (p.layers[i].layer !== "inner") continue;
          const ip = p.layers[i + 1] as LayerBase & { src: string; dst: string };
          const icmp = p.layers[i + 2] as LayerBase & { type: number; id?: number; seq?: number };
          if (ip.layer === "ipv4" && icmp?.layer === "icmp" && icmp.type === 8) r.push(`${ip.src}>${ip.dst} echo ${icmp.id} ${icmp.seq}`);
          else if (ip.layer === "ipv4" && p.layers[i + 2]?.layer === "esp") continue; // nested ESP (esp2/esp4)
          else r.push(`other ${ip.layer}`);
        }
        return r;
      });
      // Nested ESP (esp2, esp4): tcpdump prints the innermost ICMP once per line; so do we.
      expect(got.map((g) => g.filter((x) => !x.startsWith("other")))).toEqual(want);
      expect(got.flat().filter((x) => x.startsWith("other"))).toEqual([]);
      if (name === "espudp1" || name === "isakmp4") {
        // tcpdump shows no inner packet (espudp1: "[|esp]" / "ip-proto-227" garbage from the
        // wrong key; isakmp4: its ESP SA has no key). vpnkit shows none either, and says why.
        expect(want.flat()).toEqual([]);
        for (const p of pkts) for (const e of espOf(p)) if (e.decrypt) expect(e.decrypt.reason).toBeDefined();
      } else {
        expect(want.flat().length).toBeGreaterThan(0);
      }
    });
  }
});

describe("fuzz: mutated ESP and SK bytes with real keys never throw", () => {
  for (const name of ["k_esp_aes128_sha256", "k_esp_3des_sha1", "c_ikev2_cert_frag", "e2_ikev1_aggressive_psk"]) {
    test(name, async () => {
      const d = `${M}/${name}`;
      const files = ["esp_sa", "ikev2_decryption_table", "ikev1_decryption_table"].map((f) => `${d}/${f}`).filter((f) => { try { readFileSync(f); return true; } catch { return false; } });
      const recs: CaptureRecord[] = [];
      await decodeAll(`${d}/${name}.pcap`, undefined, (r) => void recs.push({ ...r, data: r.data.slice() }));
      fc.assert(fc.property(fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(), (muts, cut) => {
        const dec = new Decoder({ keys: store(...files) });
        for (const r of recs) {
          const data = r.data.slice();
          for (const [which, pos, x] of muts) if (which % recs.length === r.no - 1) data[42 + (pos % Math.max(1, data.length - 42))] ^= x;
          const len = r.no === (cut % recs.length) + 1 ? Math.max(0, data.length - (cut % 40)) : data.length;
          const p = dec.decode({ ...r, data: data.subarray(0, len), caplen: len });
          expect(p.anomalies.filter((a) => a.reason.startsWith("internal decoder error"))).toEqual([]);
          for (const e of espOf(p)) if (e.decrypt?.icv === "bad") expect(p.layers.some((l) => l.layer === "inner")).toBe(false);
          summaryLine(p);
        }
      }), { numRuns: 60 });
    }, 60000);
  }
});
