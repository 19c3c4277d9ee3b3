// The IKEv2 fast paths (lib/decode/fast-ike.ts) must print exactly what the
// full decoder prints, packet for packet, and leave the IKE tracker (--stats)
// in the same state: on every fixture, on mutated IKE packets (header, flags,
// lengths, SPIs, message IDs, SK header, payload chain), on a port-500 /
// NAT-T mix, and on the generated benchmark mixes when present. The IKEv2
// templates (lib/decode/fast-ike-template.ts, used without the IKE tracker) are
// held to the real decoder's text on messages changed in and outside their
// opaque fields.
import { expect, test } from "bun:test";
import fc from "fast-check";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { openCapture } from "../../lib/capture/index.ts";
import type { CaptureRecord } from "../../lib/capture/types.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { packetHeaderLine, summaryLine } from "../../lib/decode/summary.ts";
import { packetJson } from "../../lib/decode/render-json.ts";
import { renderTree } from "../../lib/decode/render-tree.ts";
import { ByteWriter, collectText } from "../../lib/decode/output.ts";
import { runDecode } from "../../lib/decode/run.ts";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { decodeIkev2 } from "../../lib/ike/v2/message.ts";
import { validateIkev2 } from "../../lib/ike/v2/validate.ts";
import { IkeTemplates, ikeText, T_JSON, T_SUMMARY, T_TREE } from "../../lib/decode/fast-ike-template.ts";
import { FIX } from "./helpers.ts";

/** Shared real captures (read-only; used when present). */
const CORPUS = "/work/shared/corpus";

async function records(path: string, limit = Infinity): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  const r = await openCapture(path);
  for await (const batch of r.batches()) {
    for (const rec of batch) {
      if (out.length >= limit) return out;
      out.push({ ...rec, data: Uint8Array.prototype.slice.call(rec.data) });
    }
  }
  return out;
}

type Mode = "summary" | "json" | "tree";
const FAST: Record<Mode, (d: Decoder, w: ByteWriter, r: CaptureRecord) => boolean> = {
  summary: (d, w, r) => d.fastSummary(w, r),
  json: (d, w, r) => d.fastJson(w, r),
  tree: (d, w, r) => d.fastTree(w, r),
};
const FULL: Record<Mode, (d: Decoder, r: CaptureRecord) => string> = {
  summary: (d, r) => summaryLine(d.decode(r)) + "\n",
  json: (d, r) => packetJson(d.decode(r)) + "\n",
  tree: (d, r) => {
    const p = d.decode(r);
    return renderTree(p, packetHeaderLine(p)) + "\n\n";
  },
};
const dec = new TextDecoder();

/** Is this record IKE (UDP 500, or 4500 with the non-ESP marker) over Ethernet/IPv4? */
function isIke(r: CaptureRecord): boolean {
  const b = r.data;
  if (r.linkType !== 1 || b.length < 70 || b[12] !== 8 || b[13] !== 0 || b[23] !== 17) return false;
  const ihl = (b[14] & 15) * 4, u = 14 + ihl;
  const dp = (b[u + 2] << 8) | b[u + 3];
  if (dp === 500) return true;
  return dp === 4500 && b[u + 8] === 0 && b[u + 9] === 0 && b[u + 10] === 0 && b[u + 11] === 0;
}

/**
 * Fast path (full decoder where it declines) against the full decoder: the
 * text of each packet and the IKE/ESP tracker reports at the end. Returns
 * the fast-path answers on IKE packets (per mode, averaged).
 */
/** IKEv2 messages written from a template (lib/decode/fast-ike-template.ts) in the last compare(), per mode. */
let templateHits = 0;

function compare(recs: CaptureRecord[], slots?: number, trackIke = true): number {
  let ikeHits = 0;
  templateHits = 0;
  for (const mode of ["summary", "json", "tree"] as Mode[]) {
    const sink = collectText();
    const w = new ByteWriter(sink.out, 1024, 1024);
    const d = new Decoder({ fastPathSlots: slots, trackIke });
    const full = new Decoder();
    const texts: string[] = [];
    for (let i = 0; i < recs.length; i++) {
      const start = w.pos;
      let t: string;
      if (FAST[mode](d, w, recs[i])) {
        if (isIke(recs[i])) ikeHits++;
        t = dec.decode(w.buf.subarray(start, w.pos));
      } else {
        t = FULL[mode](d, recs[i]);
        w.text(t);
      }
      texts.push(t);
      expect(t).toBe(FULL[mode](full, recs[i]));
      if (i % 5 === 0 && w.full) void w.flush();
    }
    void w.flush();
    expect(sink.text()).toBe(texts.join(""));
    templateHits += d.fastIkeTemplateHits / 3;
    // the trackers saw the same packets the same way
    if (trackIke) expect(JSON.stringify(d.stats())).toBe(JSON.stringify(full.stats()));
    else {
      // untracked IKE (runDecode without --stats): same texts, same ESP state, no IKE SAs
      const { ikeSas, ...rest } = d.stats(), { ikeSas: _full, ...fullRest } = full.stats();
      expect(ikeSas).toEqual([]);
      expect(JSON.stringify(rest)).toBe(JSON.stringify(fullRest));
    }
  }
  return ikeHits / 3;
}

/** Every capture under `dir` (recursively). */
function capturesUnder(dir: string, out: string[]): string[] {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) capturesUnder(p, out);
    else if (/\.(pcap|pcapng|cap)(\.gz)?$/.test(e)) out.push(p);
  }
  return out;
}

// every capture of fixtures/ and test/net/fixtures, and the shared corpus when present
const fixtures = capturesUnder(FIX, []);
capturesUnder(join(FIX, "../test/net/fixtures"), fixtures);
capturesUnder(CORPUS, fixtures);

test("IKE fast path == full decoder, texts and tracker state, on every fixture", async () => {
  let hits = 0, ike = 0;
  for (const f of fixtures) {
    const recs = await records(f);
    ike += recs.filter(isIke).length;
    hits += compare(recs);
  }
  // most IKE packets of the fixtures are answered by the fast path
  expect(ike).toBeGreaterThan(150);
  expect(hits).toBeGreaterThan(ike / 2);
});

test("without the IKE tracker (decode without --stats): the same texts on every fixture, fast path and full decoder", async () => {
  let hits = 0, ike = 0;
  for (const f of fixtures) {
    const recs = await records(f);
    ike += recs.filter(isIke).length;
    hits += compare(recs, undefined, false);
  }
  expect(ike).toBeGreaterThan(150);
  expect(hits).toBeGreaterThan(ike / 2);
});

/** IKE packets of real IKEv2 fixtures (cleartext, SK-only, rekeys, DPD, failures, fragments, port 500 and 4500). */
async function ikePackets(): Promise<CaptureRecord[]> {
  const out: CaptureRecord[] = [];
  for (const d of ["d_ikev2_rekey", "d_ikev2_rekey_dpd", "f3_ikev2_child_no_proposal", "f4_ikev2_ts_unacceptable", "f5_ikev2_no_response", "c_ikev2_cert_frag"]) {
    const dir = `${FIX}made/${d}`;
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (/\.pcap(ng)?$/.test(f)) for (const r of await records(`${dir}/${f}`)) if (isIke(r)) out.push(r);
  }
  return out;
}

test("IKE fast path == full decoder on mutated real IKE packets (header, lengths, SPIs, SK header, chain)", async () => {
  const base = await ikePackets();
  expect(base.length).toBeGreaterThan(50);
  // positions relative to the IKE header (port 500: 42, NAT-T: 46), biased to the fields the fast path checks
  const rel = fc.oneof(fc.integer({ min: 0, max: 35 }), fc.integer({ min: -8, max: 300 }));
  const val = fc.oneof(fc.constantFrom(0, 1, 0x20, 0x28, 0x08, 0x10, 0x80, 0xff, 33, 34, 35, 36, 37, 41, 43, 44, 46, 53, 2, 0x21, 0x22), fc.integer({ min: 0, max: 255 }));
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.array(fc.tuple(rel, val), { maxLength: 3 }), fc.boolean()), { minLength: 1, maxLength: 30 }),
      (picks) => {
        const recs = picks.map(([i, flips, cut], k) => {
          const r = base[i];
          let d = r.data.slice();
          const ike = ((d[36] << 8) | d[37]) === 500 || ((d[34] << 8) | d[35]) === 500 ? 42 : 46;
          for (const [pos, v] of flips) {
            const at = ike + pos;
            if (at >= 0 && at < d.length) d[at] = v;
          }
          // sometimes truncate the frame (snaplen) or the IKE message
          if (cut && flips.length) d = d.subarray(0, Math.max(14, d.length - 1 - (flips[0][1] % 40)));
          return { ...r, no: k + 1, data: d, caplen: d.length };
        });
        compare(recs);
        compare(recs, 1);
        compare(recs, undefined, false);
      },
    ),
    { numRuns: 800 },
  );
});

test("IKE fast path: SK-only messages of every exchange type, both directions, any message ID", async () => {
  const base = (await ikePackets()).filter((r) => r.data[46 + 16] === 46 && r.data[46 + 18] !== 34);
  expect(base.length).toBeGreaterThan(10);
  const recs: CaptureRecord[] = [];
  let no = 1;
  for (const r of base.slice(0, 20)) {
    for (const exch of [33, 34, 35, 36, 37, 38, 43, 44, 45, 255]) {
      for (const flags of [0x00, 0x08, 0x20, 0x28, 0x10, 0x01]) {
        for (const mid of [0, 1, 0x7fffffff, 0xffffffff]) {
          const d = r.data.slice();
          d[46 + 18] = exch;
          d[46 + 19] = flags;
          d[46 + 20] = mid >>> 24;
          d[46 + 21] = (mid >>> 16) & 255;
          d[46 + 22] = (mid >>> 8) & 255;
          d[46 + 23] = mid & 255;
          recs.push({ ...r, no: no++, data: d });
        }
      }
    }
  }
  expect(compare(recs)).toBeGreaterThan(recs.length / 10);
});

// the IKE-heavy mixes c and d whole (every IKE_SA_INIT shape, rekeys, failures), the ESP mixes a and b on 20k packets
for (const m of ["a", "b", "c", "d"]) {
  const path = `/tmp/vpnkit-bench/mix-${m}/mix_${m}.pcap`;
  const limit = m === "c" || m === "d" ? Infinity : 20000;
  test.skipIf(!existsSync(path))(`fast paths == full decoder on ${limit === Infinity ? "all" : "20k"} packets of benchmark mix ${m} (${path})`, async () => {
    const recs = await records(path, limit);
    const hits = compare(recs);
    compare(recs, undefined, false);
    if (m === "c" || m === "d") {
      const ike = recs.filter(isIke).length;
      expect(hits).toBeGreaterThan(ike * 0.9);
      // without the tracker, IKE_SA_INIT messages are written from templates (all but a few first of a shape)
      const init = recs.filter((r) => isIke(r) && r.data[42 + 18] === 34).length;
      expect(init).toBeGreaterThan(10);
      console.log(`mix ${m}: ${init} IKE_SA_INIT, ${templateHits} written from templates`);
      expect(templateHits).toBeGreaterThan(init * (m === "d" ? 0.8 : 0.5));
    }
  });
}

test("cached AES-CBC decryption (per-key ECB + chaining) == a fresh CBC decipher, interleaved keys and sizes", async () => {
  const { aesCbcDecryptCached } = await import("../../lib/esp/decrypt.ts");
  const { blockCipher } = await import("../../lib/ike/v2/sk-crypto.ts");
  const keys = [new Uint8Array(16).fill(1), new Uint8Array(24).fill(2), new Uint8Array(32).map((_, i) => i * 13)];
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(2), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 40 }), fc.nat(255)), { minLength: 1, maxLength: 20 }), (ops) => {
      for (const [ki, iv, blocks, fill] of ops) {
        const ct = new Uint8Array(blocks * 16 + (fill % 7 === 0 ? 5 : 0)).map((_, i) => (i * 31 + fill) & 255);
        const got = aesCbcDecryptCached(keys[ki], iv, ct);
        if (ct.length === 0 || ct.length % 16 !== 0) expect(got).toBeNull();
        else expect(got).toEqual(blockCipher("aes-cbc", keys[ki], iv, ct, false));
      }
    }),
    { numRuns: 300 },
  );
});

test("runDecode without --stats leaves the IKE tracker off and prints the same bytes as with it", async () => {
  let files = 0;
  for (const f of fixtures) {
    if (!/ikev|ike_|natt|rekey/i.test(f)) continue;
    files++;
    for (const mode of ["summary", "verbose", "json"] as const) {
      const texts: string[] = [];
      for (const trackIke of [undefined, true]) {
        const sink = collectText();
        await runDecode(await openCapture(f), sink.out, { mode, stats: false, filter: {}, decoder: { trackIke } });
        texts.push(sink.text());
      }
      expect(texts[0]).toBe(texts[1]);
    }
  }
  expect(files).toBeGreaterThan(5);
});

// ---- IKEv2 message templates (lib/decode/fast-ike-template.ts) --------------------------

/** Offset and end of the IKE message of an Ethernet/IPv4/UDP IKE record. */
function ikeSpan(r: CaptureRecord): [number, number] {
  const d = r.data;
  const off = ((d[36] << 8) | d[37]) === 500 || ((d[34] << 8) | d[35]) === 500 ? 42 : 46;
  return [off, Math.min(d.length, 34 + ((d[38] << 8) | d[39]))];
}

/** What the fast path prints for the message at b[off, end) through the real decoder and validator, or null. */
function realText(b: Uint8Array, off: number, end: number, mode: number): string | null {
  const an: Anomaly[] = [];
  const m = decodeIkev2(b, off, end, an);
  if (m === null || an.length !== 0 || validateIkev2(m).length !== 0) return null;
  return ikeText(m, mode);
}

/** Ranges the templates treat as opaque, as the spec says (SPIs when non-zero, KE data, nonces, NAT-D/COOKIE data, SK/SKF ciphertext). */
function opaqueRanges(b: Uint8Array, off: number, end: number): [number, number][] {
  const m = decodeIkev2(b, off, end, [])!;
  const out: [number, number][] = [];
  const at = (v: Uint8Array) => v.byteOffset - b.byteOffset;
  for (const v of [m.ispi, m.rspi]) if (v.some((x) => x !== 0)) out.push([at(v), at(v) + 8]);
  for (const p of m.payloads) {
    const v = p.kind === "ke" ? p.data : p.kind === "nonce" ? p.nonce : p.kind === "notify" && [16388, 16389, 16390, 16401].includes(p.notifyType) ? p.data : p.kind === "sk" || p.kind === "skf" ? p.encrypted : null;
    if (v !== null && v.length >= 8) out.push([at(v), at(v) + v.length]);
  }
  return out;
}

let initBases: CaptureRecord[] | null = null;
/** IKEv2 messages of the fixtures, corpus and mix d that decode without an anomaly and are not a lone SK payload. */
async function templateBases(): Promise<CaptureRecord[]> {
  if (initBases !== null) return initBases;
  const out: CaptureRecord[] = [];
  const seen = new Set<string>();
  const files = [...fixtures];
  if (existsSync("/tmp/vpnkit-bench/mix-d/mix_d.pcap")) files.push("/tmp/vpnkit-bench/mix-d/mix_d.pcap");
  for (const f of files) {
    for (const r of await records(f, 30000)) {
      if (!isIke(r)) continue;
      const [off, end] = ikeSpan(r);
      if (r.data[off + 16] === 46 || realText(r.data, off, end, T_SUMMARY) === null) continue;
      // one message per shape and a few per capture (the same exchange repeats)
      const k = `${f}:${end - off}:${r.data[off + 18]}:${r.data[off + 19]}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(r);
    }
  }
  return (initBases = out);
}

test("IKE templates: written from a template == the real decoder's text, on messages changed in their opaque fields and anywhere else", async () => {
  const bases = await templateBases();
  expect(bases.length).toBeGreaterThan(10);
  let opaqueTries = 0, opaqueHits = 0, otherHits = 0;
  fc.assert(
    fc.property(
      fc.nat(bases.length - 1),
      fc.array(fc.tuple(fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.integer({ min: -3, max: 0 })), { minLength: 1, maxLength: 6 }),
      (bi, changes) => {
        const r = bases[bi];
        const [off, end] = ikeSpan(r);
        const ops = opaqueRanges(r.data, off, end);
        const tpl = new IkeTemplates();
        tpl.learn(r.data, off, end, decodeIkev2(r.data, off, end, [])!);
        for (const [opaqueOnly, flips, cut] of changes) {
          const d = r.data.slice();
          let e = end;
          if (opaqueOnly && ops.length > 0) {
            // change bytes of the opaque fields only: a template must answer (unless an SPI became zero)
            for (const [i, v] of flips) {
              const [s, t] = ops[i % ops.length];
              d[s + (v % (t - s))] = (d[s + (v % (t - s))] + 1 + (i % 255)) & 255;
            }
          } else {
            // anywhere in the message (header, payload headers, lengths, transforms), and maybe shorter
            for (const [i, v] of flips) d[off + (i % (end - off))] = v;
            e = end + cut;
          }
          const spiZero = ops.some(([s, t]) => t - s === 8 && s < off + 16 && d.subarray(s, t).every((x) => x === 0));
          for (const mode of [T_SUMMARY, T_JSON, T_TREE]) {
            const want = realText(d, off, e, mode);
            const t = tpl.find(d, off, e, mode);
            if (opaqueOnly && ops.length > 0 && e === end && !spiZero) {
              opaqueTries++;
              if (t !== null) opaqueHits++;
            }
            if (t === null) continue; // the real decoder's turn
            if (!opaqueOnly) otherHits++;
            expect(want).not.toBeNull();
            const sink = collectText();
            const w = new ByteWriter(sink.out, 64, 64);
            t.write(w, mode, d, off);
            void w.flush();
            expect(sink.text()).toBe(want!);
          }
        }
      },
    ),
    { numRuns: 400 },
  );
  // changes inside the opaque fields are answered by the template, in every mode
  expect(opaqueTries).toBeGreaterThan(300);
  expect(opaqueHits).toBeGreaterThan(opaqueTries * 0.9);
  expect(otherHits).toBeGreaterThanOrEqual(0);
});

test("IKE templates through the decoder (no IKE tracker): repeated and mutated IKE_SA_INIT and other cleartext messages == full decoder", async () => {
  const bases = await templateBases();
  let hits = 0;
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(bases.length - 1), fc.boolean(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 })), { minLength: 2, maxLength: 40 }),
      (picks) => {
        const recs = picks.map(([i, opaqueOnly, flips], k) => {
          const r = bases[i];
          const [off, end] = ikeSpan(r);
          const d = r.data.slice();
          const ops = opaqueRanges(r.data, off, end);
          for (const [j, v] of flips) {
            if (opaqueOnly && ops.length > 0) {
              const [s, t] = ops[j % ops.length];
              d[s + (v % (t - s))] ^= 1 + (j % 255);
            } else d[off + (j % (end - off))] = v;
          }
          return { ...r, no: k + 1, data: d };
        });
        compare(recs, undefined, false);
        hits += templateHits;
        compare(recs, 1, false);
      },
    ),
    { numRuns: 150 },
  );
  expect(hits).toBeGreaterThan(100);
});
