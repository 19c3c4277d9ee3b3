/** OutboundSa / InboundSa: round trips, counter IVs, ESN, replay, padding, dummy, lifetimes, destroy. */
import { describe, expect, test } from "bun:test";
import { putU32, u32 } from "../../lib/core/bytes.ts";
import {
  InboundSa, nobleChaCha, nobleGcm, nodeGcm, NODE_GCM_AVAILABLE, OutboundSa, selectAeadProvider,
} from "../../lib/esp/mod.ts";
import type { AeadProvider, EspCipherName, SaConfig, SaEvent } from "../../lib/esp/mod.ts";
import { ipv4Packet, ipv6Packet, keyMaterial } from "./util.ts";

const CIPHERS: EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"];
const kmLen = (c: EspCipherName) => (c === "aes128gcm16" ? 20 : 36);

function provs(c: EspCipherName): [string, AeadProvider][] {
  if (c === "chacha20poly1305") return [["noble-chacha", nobleChaCha]];
  return NODE_GCM_AVAILABLE ? [["node", nodeGcm], ["noble", nobleGcm]] : [["noble", nobleGcm]];
}

function pair(cipher: EspCipherName, extra: Partial<SaConfig> = {}, inExtra: Partial<SaConfig> = {}, pOut?: AeadProvider, pIn?: AeadProvider) {
  const cfg: SaConfig = { spi: 0xc0ffee01, cipher, keyMaterial: keyMaterial(kmLen(cipher)), ...extra };
  return { out: new OutboundSa(cfg, pOut), inb: new InboundSa({ ...cfg, ...inExtra }, pIn), cfg };
}

/** Build an ESP packet by hand (custom plaintext incl. trailer), sealed with the SA's key. */
function craft(cfg: SaConfig, seqHi: number, seqLo: number, ptWithTrailer: Uint8Array, esn = false): Uint8Array {
  const kl = cfg.keyMaterial.length - 4;
  const key = cfg.keyMaterial.subarray(0, kl);
  const nonce = new Uint8Array(12);
  nonce.set(cfg.keyMaterial.subarray(kl));
  putU32(nonce, 4, seqHi);
  putU32(nonce, 8, seqLo);
  const aad = new Uint8Array(esn ? 12 : 8);
  putU32(aad, 0, cfg.spi);
  if (esn) { putU32(aad, 4, seqHi); putU32(aad, 8, seqLo); } else putU32(aad, 4, seqLo);
  const prov = selectAeadProvider(cfg.cipher);
  const ct = prov.seal(key, nonce, aad, ptWithTrailer);
  const out = new Uint8Array(16 + ct.length);
  putU32(out, 0, cfg.spi);
  putU32(out, 4, seqLo);
  out.set(nonce.subarray(4), 8);
  out.set(ct, 16);
  return out;
}

describe("round trips", () => {
  for (const c of CIPHERS) {
    for (const [po, pOut] of provs(c)) {
      for (const [pi, pIn] of provs(c)) {
        test(`${c}: seal(${po}) → open(${pi}), IPv4 and IPv6 inner, sizes 0..80 and 1400`, () => {
          const { out, inb } = pair(c, {}, {}, pOut, pIn);
          let seq = 0n;
          const inners = [ipv4Packet(56), ipv6Packet(56), ipv4Packet(1372), new Uint8Array(0)];
          for (let n = 1; n <= 80; n++) inners.push(new Uint8Array(n).map((_, i) => (i * 7) & 0xff));
          for (const inner of inners) {
            const nh = inner.length && inner[0] >> 4 === 6 ? 41 : 4;
            const esp = out.seal(inner, nh)!;
            seq++;
            const pad = (4 - ((inner.length + 2) % 4)) % 4;
            expect(esp.length).toBe(16 + inner.length + pad + 2 + 16);
            expect(u32(esp, 0)).toBe(0xc0ffee01);
            expect(BigInt(u32(esp, 4))).toBe(seq);
            expect(u32(esp, 8)).toBe(0); // IV = 64-bit sequence number
            expect(BigInt(u32(esp, 12))).toBe(seq);
            const r = inb.open(esp);
            if (!r.ok) throw new Error(r.reason);
            expect(r.nextHeader).toBe(nh);
            expect(r.payload).toEqual(inner);
            expect(r.seq).toBe(seq);
          }
        });
      }
    }
  }

  test("seal does not modify the input; ciphertext differs per packet (counter nonce)", () => {
    const { out } = pair("aes256gcm16");
    const inner = ipv4Packet(100);
    const copy = inner.slice();
    const a = out.seal(inner, 4)!, b = out.seal(inner, 4)!;
    expect(inner).toEqual(copy);
    expect(a.subarray(16, 48)).not.toEqual(b.subarray(16, 48));
  });

  test("IVs are the sequence numbers: 5000 packets, all distinct", () => {
    const { out } = pair("aes128gcm16");
    const ivs = new Set<string>();
    for (let i = 1; i <= 5000; i++) {
      const p = out.seal(new Uint8Array(4), 4)!;
      expect(u32(p, 12)).toBe(i);
      ivs.add(`${u32(p, 8)}:${u32(p, 12)}`);
    }
    expect(ivs.size).toBe(5000);
  });

  test("config validation: key length, reserved SPI, provider support", () => {
    expect(() => new OutboundSa({ spi: 0x1000, cipher: "aes256gcm16", keyMaterial: new Uint8Array(32) })).toThrow();
    expect(() => new OutboundSa({ spi: 0x1000, cipher: "aes128gcm16", keyMaterial: new Uint8Array(36) })).toThrow();
    expect(() => new InboundSa({ spi: 5, cipher: "aes128gcm16", keyMaterial: new Uint8Array(20) })).toThrow();
    if (NODE_GCM_AVAILABLE) expect(() => new InboundSa({ spi: 0x1000, cipher: "chacha20poly1305", keyMaterial: new Uint8Array(36) }, nodeGcm)).toThrow();
  });

  test("the SA keeps its own copy of the key material", () => {
    const km = keyMaterial(36);
    const out = new OutboundSa({ spi: 0x1000, cipher: "aes256gcm16", keyMaterial: km });
    const inb = new InboundSa({ spi: 0x1000, cipher: "aes256gcm16", keyMaterial: km });
    km.fill(0);
    const r = inb.open(out.seal(new Uint8Array([1, 2, 3]), 4)!);
    expect(r.ok).toBe(true);
  });
});

describe("malformed input", () => {
  test("short packets, wrong SPI, garbage → malformed / icv, never throws", () => {
    const { out, inb } = pair("aes256gcm16");
    expect(inb.open(new Uint8Array(0))).toEqual({ ok: false, reason: "malformed" });
    expect(inb.open(new Uint8Array(33))).toEqual({ ok: false, reason: "malformed" });
    const p = out.seal(new Uint8Array(10), 4)!;
    const wrongSpi = p.slice();
    wrongSpi[3] ^= 1;
    expect(inb.open(wrongSpi)).toEqual({ ok: false, reason: "malformed" });
    const trunc = p.subarray(0, p.length - 1);
    expect(inb.open(trunc)).toEqual({ ok: false, reason: "icv" });
    expect(inb.open(p).ok).toBe(true);
  });
});

describe("padding and trailer", () => {
  const c: EspCipherName = "aes256gcm16";
  const { cfg } = pair(c);
  const fresh = () => new InboundSa(cfg);

  test("monotonic padding 1,2,3 accepted; pad length may equal the whole plaintext", () => {
    const pt = new Uint8Array([0xaa, 1, 2, 3, 3, 4]);
    expect(fresh().open(craft(cfg, 0, 1, pt))).toMatchObject({ ok: true, nextHeader: 4, payload: new Uint8Array([0xaa]) });
    const empty = new Uint8Array([1, 2, 2, 4]);
    expect(fresh().open(craft(cfg, 0, 1, empty))).toMatchObject({ ok: true, payload: new Uint8Array(0) });
  });

  test("wrong pad bytes → malformed (even with a valid ICV)", () => {
    expect(fresh().open(craft(cfg, 0, 1, new Uint8Array([0xaa, 0, 0, 0, 3, 4])))).toEqual({ ok: false, reason: "malformed" });
    expect(fresh().open(craft(cfg, 0, 1, new Uint8Array([0xaa, 1, 3, 2, 3, 4])))).toEqual({ ok: false, reason: "malformed" });
    expect(fresh().open(craft(cfg, 0, 1, new Uint8Array([0xaa, 2, 2, 4])))).toEqual({ ok: false, reason: "malformed" });
  });

  test("pad length larger than the plaintext → malformed", () => {
    expect(fresh().open(craft(cfg, 0, 1, new Uint8Array([1, 2, 3, 4])))).toEqual({ ok: false, reason: "malformed" });
    expect(fresh().open(craft(cfg, 0, 1, new Uint8Array([255, 4])))).toEqual({ ok: false, reason: "malformed" });
  });

  test("an authentic but malformed packet still consumes its sequence number", () => {
    const sa = fresh();
    const bad = craft(cfg, 0, 7, new Uint8Array([0xaa, 9, 9, 2, 4]));
    expect(sa.open(bad)).toEqual({ ok: false, reason: "malformed" });
    expect(sa.open(bad)).toEqual({ ok: false, reason: "replay" });
  });

  test("next header 59 → dummy, dropped", () => {
    const { out, inb } = pair(c);
    expect(inb.open(out.seal(new Uint8Array(20), 59)!)).toEqual({ ok: false, reason: "dummy" });
    expect(inb.open(out.seal(new Uint8Array(20), 4)!).ok).toBe(true);
  });
});

describe("anti-replay", () => {
  const c: EspCipherName = "aes128gcm16";

  function sealed(n: number, extra: Partial<SaConfig> = {}) {
    const { out, cfg } = pair(c, extra);
    const pk: Uint8Array[] = [new Uint8Array(0)];
    for (let i = 1; i <= n; i++) pk.push(out.seal(new Uint8Array([i & 0xff, 0, 0, 0]), 4)!);
    return { pk, cfg };
  }

  test("duplicates are dropped", () => {
    const { pk, cfg } = sealed(3);
    const inb = new InboundSa(cfg);
    expect(inb.open(pk[1]).ok).toBe(true);
    expect(inb.open(pk[1])).toEqual({ ok: false, reason: "replay" });
    expect(inb.open(pk[2]).ok).toBe(true);
    expect(inb.open(pk[1])).toEqual({ ok: false, reason: "replay" });
    expect(inb.open(pk[2])).toEqual({ ok: false, reason: "replay" });
  });

  test("window edges (1024): top-1023 accepted, top-1024 too old", () => {
    const { pk, cfg } = sealed(2100);
    const inb = new InboundSa(cfg);
    expect(inb.replay.size).toBe(1024);
    expect(inb.open(pk[2000]).ok).toBe(true);
    expect(inb.open(pk[976])).toEqual({ ok: false, reason: "replay" });
    expect(inb.open(pk[977]).ok).toBe(true);
    expect(inb.open(pk[977])).toEqual({ ok: false, reason: "replay" });
    expect(inb.open(pk[1999]).ok).toBe(true);
    expect(inb.open(pk[1]).ok).toBe(false);
    // slide by exactly one: 977 falls out, 978 still inside
    expect(inb.open(pk[2001]).ok).toBe(true);
    expect(inb.open(pk[978]).ok).toBe(true);
  });

  test("larger window 4096 and sub-minimum sizes raised to 1024", () => {
    const { pk, cfg } = sealed(5000, { replayWindow: 4096 });
    const inb = new InboundSa(cfg);
    expect(inb.replay.size).toBe(4096);
    expect(inb.open(pk[5000]).ok).toBe(true);
    expect(inb.open(pk[905]).ok).toBe(true);
    expect(inb.open(pk[904])).toEqual({ ok: false, reason: "replay" });
    expect(new InboundSa({ ...cfg, replayWindow: 64 }).replay.size).toBe(1024);
  });

  test("reorder within the window: every packet accepted exactly once", () => {
    const { pk, cfg } = sealed(1500);
    const inb = new InboundSa(cfg);
    // deterministic shuffle of 1..1500 with displacement < 1024
    const order: number[] = [];
    for (let blk = 0; blk < 1500; blk += 500) {
      const ids = Array.from({ length: 500 }, (_, i) => blk + i + 1);
      for (let i = ids.length - 1; i > 0; i--) {
        const j = (i * 7919 + 13) % (i + 1);
        [ids[i], ids[j]] = [ids[j], ids[i]];
      }
      order.push(...ids);
    }
    let ok = 0;
    for (const i of order) if (inb.open(pk[i]).ok) ok++;
    expect(ok).toBe(1500);
    for (const i of order) expect(inb.open(pk[i]).ok).toBe(false);
  });

  test("a forged packet with a huge sequence number and a bad ICV does not move the window", () => {
    const { pk, cfg } = sealed(20);
    const inb = new InboundSa(cfg);
    expect(inb.open(pk[10]).ok).toBe(true);
    const forged = pk[11].slice();
    putU32(forged, 4, 0xfffffff0);
    expect(inb.open(forged)).toEqual({ ok: false, reason: "icv" });
    expect(inb.replay.top).toBe(10n);
    for (let i = 1; i <= 20; i++) if (i !== 10) expect(inb.open(pk[i]).ok).toBe(true);
    // and a bad-ICV copy of an unseen in-window packet does not mark it as seen
    const { pk: pk2, cfg: cfg2 } = sealed(5);
    const inb2 = new InboundSa(cfg2);
    const bad = pk2[3].slice();
    bad[bad.length - 1] ^= 1;
    expect(inb2.open(bad)).toEqual({ ok: false, reason: "icv" });
    expect(inb2.open(pk2[3]).ok).toBe(true);
  });

  test("replayWindow 0 turns anti-replay off", () => {
    const { pk, cfg } = sealed(3, { replayWindow: 0 });
    const inb = new InboundSa(cfg);
    expect(inb.open(pk[2]).ok).toBe(true);
    expect(inb.open(pk[2]).ok).toBe(true);
    expect(inb.open(pk[1]).ok).toBe(true);
  });

  test("sequence number 0 is never accepted", () => {
    const { cfg } = pair(c);
    const p = craft(cfg, 0, 0, new Uint8Array([1, 2, 2, 4]));
    expect(new InboundSa(cfg).open(p)).toEqual({ ok: false, reason: "replay" });
  });
});

describe("ESN and sequence exhaustion", () => {
  for (const c of CIPHERS) {
    test(`${c}: ESN across the 2^32 boundary, with reordering, AAD carries the high bits`, () => {
      const start = (1n << 32n) - 4n;
      const { out, inb, cfg } = pair(c, { esn: true, initialSeq: start }, { initialSeq: start - 10n });
      const pk: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) pk.push(out.seal(new Uint8Array([i, 1, 2, 3]), 4)!);
      expect(out.seq).toBe(start + 8n);
      // wire: low 32 bits only; IV: full 64-bit counter
      expect(u32(pk[4], 4)).toBe(1);
      expect(u32(pk[4], 8)).toBe(1);
      expect(u32(pk[2], 4)).toBe(0xffffffff);
      expect(u32(pk[3], 4)).toBe(0);
      const order = [0, 1, 4, 3, 2, 6, 5, 7];
      for (const i of order) {
        const r = inb.open(pk[i]);
        if (!r.ok) throw new Error(`${i}: ${r.reason}`);
        expect(r.seq).toBe(start + 1n + BigInt(i));
        expect(r.payload[0]).toBe(i);
      }
      for (const i of order) expect(inb.open(pk[i])).toEqual({ ok: false, reason: "replay" });
      // a non-ESN receiver cannot verify the ESN packets (high bits are in the AAD)
      const noEsn = new InboundSa({ ...cfg, esn: false });
      expect(noEsn.open(pk[0])).toEqual({ ok: false, reason: "icv" });
    });
  }

  test("ESN receiver starting fresh: first subspace, then far-ahead packets infer hi+1", () => {
    const { cfg } = pair("aes256gcm16", { esn: true });
    const inb = new InboundSa(cfg);
    const out = new OutboundSa({ ...cfg, initialSeq: 0n });
    expect(inb.open(out.seal(new Uint8Array(4), 4)!)).toMatchObject({ ok: true, seq: 1n });
    // window top near the end of subspace 0, then a wrapped packet
    const out2 = new OutboundSa({ ...cfg, initialSeq: 0xfffffff0n });
    const inb2 = new InboundSa({ ...cfg, initialSeq: 0xffffff00n });
    expect(inb2.open(out2.seal(new Uint8Array(4), 4)!)).toMatchObject({ ok: true, seq: 0xfffffff1n });
    const out3 = new OutboundSa({ ...cfg, initialSeq: 0x100000005n });
    expect(inb2.open(out3.seal(new Uint8Array(4), 4)!)).toMatchObject({ ok: true, seq: 0x100000006n });
    // now a packet from the previous subspace, still in the window
    expect(inb2.open(out2.seal(new Uint8Array(4), 4)!)).toMatchObject({ ok: true, seq: 0xfffffff2n });
  });

  test("without ESN the SA dies after 2^32-1 packets: soft, then hard 'seq-exhausted', then null", () => {
    const events: SaEvent[] = [];
    const { out, inb } = pair("aes256gcm16", { initialSeq: 0xfffffffcn }, { initialSeq: 0xfffffff0n });
    out.onEvent = (e) => events.push(e);
    const a = out.seal(new Uint8Array(4), 4)!; // ...fd
    const b = out.seal(new Uint8Array(4), 4)!; // ...fe
    const c = out.seal(new Uint8Array(4), 4)!; // ...ff: last one
    expect(u32(c, 4)).toBe(0xffffffff);
    expect(out.seal(new Uint8Array(4), 4)).toBeNull();
    expect(out.seal(new Uint8Array(4), 4)).toBeNull();
    expect(events.map((e) => `${e.type}/${e.reason}`)).toEqual(["soft-expire/seq-exhausted", "hard-expire/seq-exhausted"]);
    expect(out.events).toEqual(events);
    expect(events[1]).toEqual({ type: "hard-expire", spi: 0xc0ffee01, direction: "out", reason: "seq-exhausted" });
    for (const p of [a, b, c]) expect(inb.open(p).ok).toBe(true);
    expect(out.expired).toBe(true);
  });

  test("with ESN the counter runs to 2^64-1 and never wraps", () => {
    const { out } = pair("chacha20poly1305", { esn: true, initialSeq: (1n << 64n) - 3n });
    expect(out.seal(new Uint8Array(1), 4)).not.toBeNull();
    const last = out.seal(new Uint8Array(1), 4)!;
    expect(u32(last, 8)).toBe(0xffffffff);
    expect(u32(last, 12)).toBe(0xffffffff);
    expect(out.seal(new Uint8Array(1), 4)).toBeNull();
    expect(out.events.at(-1)).toMatchObject({ type: "hard-expire", reason: "seq-exhausted" });
    expect(() => pair("chacha20poly1305", { esn: false, initialSeq: 1n << 32n })).toThrow();
  });
});

describe("lifetimes", () => {
  test("packets: soft at 3, hard at 5 (outbound), then null", () => {
    const { out } = pair("aes128gcm16", { soft: { packets: 3 }, hard: { packets: 5 } });
    const got: (Uint8Array | null)[] = [];
    for (let i = 0; i < 7; i++) got.push(out.seal(new Uint8Array(10), 4));
    expect(got.map((g) => g !== null)).toEqual([true, true, true, true, true, false, false]);
    expect(out.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["soft-expire/packets", "hard-expire/packets"]);
    expect(out.softExpired).toBe(true);
    expect(out.expired).toBe(true);
  });

  test("bytes (inner payload bytes): soft at 100, hard at 250", () => {
    const { out } = pair("aes128gcm16", { soft: { bytes: 100 }, hard: { bytes: 250 } });
    expect(out.seal(new Uint8Array(60), 4)).not.toBeNull();
    expect(out.events.length).toBe(0);
    expect(out.seal(new Uint8Array(60), 4)).not.toBeNull(); // 120 ≥ 100 → soft
    expect(out.events.map((e) => e.type)).toEqual(["soft-expire"]);
    expect(out.seal(new Uint8Array(200), 4)).not.toBeNull(); // 320 ≥ 250 → hard after this one
    expect(out.seal(new Uint8Array(1), 4)).toBeNull();
    expect(out.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["soft-expire/bytes", "hard-expire/bytes"]);
    expect(out.stats.bytes).toBe(320);
  });

  test("seconds with an injected clock, both directions; tick() without traffic", () => {
    const t0 = 1_000_000;
    const { out, inb } = pair("aes256gcm16", { createdAt: t0, soft: { seconds: 10 }, hard: { seconds: 20 } });
    const p1 = out.seal(new Uint8Array(8), 4, t0 + 1000)!;
    expect(inb.open(p1, t0 + 1000).ok).toBe(true);
    expect(out.events).toEqual([]);
    const p2 = out.seal(new Uint8Array(8), 4, t0 + 10_000)!;
    expect(out.events.map((e) => e.type)).toEqual(["soft-expire"]);
    expect(inb.tick(t0 + 15_000)).toBe(false);
    expect(inb.events).toEqual([{ type: "soft-expire", spi: 0xc0ffee01, direction: "in", reason: "seconds" }]);
    expect(inb.open(p2, t0 + 19_999).ok).toBe(true);
    expect(out.seal(new Uint8Array(8), 4, t0 + 20_000)).toBeNull();
    const p3 = new OutboundSa({ spi: 0xc0ffee01, cipher: "aes256gcm16", keyMaterial: keyMaterial(36), initialSeq: 5n }).seal(new Uint8Array(8), 4)!;
    expect(inb.open(p3, t0 + 20_000)).toEqual({ ok: false, reason: "expired" });
    expect(inb.events.map((e) => `${e.type}/${e.reason}`)).toEqual(["soft-expire/seconds", "hard-expire/seconds"]);
  });

  test("inbound packets lifetime: the packet that reaches the hard limit is delivered, later ones refused", () => {
    const { out, inb } = pair("chacha20poly1305", {}, { hard: { packets: 2 } });
    expect(inb.open(out.seal(new Uint8Array(4), 4)!).ok).toBe(true);
    expect(inb.open(out.seal(new Uint8Array(4), 4)!).ok).toBe(true);
    expect(inb.open(out.seal(new Uint8Array(4), 4)!)).toEqual({ ok: false, reason: "expired" });
    expect(inb.events).toEqual([{ type: "hard-expire", spi: 0xc0ffee01, direction: "in", reason: "packets" }]);
  });

  test("each event fires once; hard without soft is reported alone", () => {
    const { out } = pair("aes128gcm16", { hard: { packets: 1 } });
    out.seal(new Uint8Array(1), 4);
    out.seal(new Uint8Array(1), 4);
    out.tick();
    expect(out.events.length).toBe(1);
  });
});

describe("destroy", () => {
  test("zeroes the key material, refuses seal/open", () => {
    for (const c of CIPHERS) {
      const { out, inb } = pair(c);
      const p = out.seal(new Uint8Array(4), 4)!;
      // the SA's copy of the key material: the key, and the salt (a u32; the per-packet nonce is shared)
      const held = (sa: unknown) => sa as { key: Uint8Array; salt: number };
      const kOut = held(out).key, kIn = held(inb).key;
      expect(kOut.some((x) => x !== 0)).toBe(true);
      expect(held(inb).salt).not.toBe(0);
      expect(held(out).salt).not.toBe(0);
      out.destroy();
      inb.destroy();
      inb.destroy(); // idempotent
      for (const a of [kOut, kIn]) expect(a.every((x) => x === 0)).toBe(true);
      expect(held(out).salt).toBe(0);
      expect(held(inb).salt).toBe(0);
      expect(out.seal(new Uint8Array(4), 4)).toBeNull();
      expect(inb.open(p)).toEqual({ ok: false, reason: "expired" });
      expect(out.expired && inb.expired).toBe(true);
    }
  });
});

describe("warm(): touches the cipher context, changes nothing", () => {
  /** Records every nonce the SA hands to its AEAD provider. */
  function recording(inner: AeadProvider): { p: AeadProvider; seals: string[]; opens: string[] } {
    const seals: string[] = [], opens: string[] = [];
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const p: AeadProvider = {
      name: inner.name,
      supports: (c) => inner.supports(c),
      forget: (k) => inner.forget?.(k),
      seal: (k, n, a, pt, out) => {
        seals.push(hex(n));
        return inner.seal(k, n, a, pt, out);
      },
      open: (k, n, a, ct) => {
        opens.push(hex(n));
        return inner.open(k, n, a, ct);
      },
    };
    return { p, seals, opens };
  }

  for (const cipher of CIPHERS) {
    for (const [pname, prov] of provs(cipher)) {
      test(`${cipher} (${pname}): no sequence number, window or lifetime moves; warm nonces are never packet nonces`, () => {
        const ro = recording(prov), ri = recording(prov);
        const { out, inb } = pair(cipher, {}, {}, ro.p, ri.p);
        const pkts: Uint8Array[] = [];
        for (let i = 0; i < 5; i++) {
          expect(out.warm()).toBe(true);
          expect(inb.warm()).toBe(true);
          pkts.push(out.seal(ipv4Packet(60 + i), 4)!);
        }
        // sequence numbers 1..5 as if warm() had never run
        expect(pkts.map((p) => u32(p, 4))).toEqual([1, 2, 3, 4, 5]);
        expect(out.seq).toBe(5n);
        expect(out.stats.packets).toBe(5);
        for (const p of pkts) expect(inb.open(p).ok).toBe(true);
        expect(inb.stats.packets).toBe(5);
        // a replay is still a replay, a fresh packet still passes
        expect(inb.open(pkts[4])).toEqual({ ok: false, reason: "replay" });
        // 5 warm seals + 5 packet seals; every warm nonce has IV bit 63 set and is unique,
        // and no packet nonce has it (non-ESN: the IV's upper half is 0 on the wire)
        const warmN = ro.seals.filter((n) => parseInt(n.slice(8, 10), 16) >= 0x80);
        const pktN = ro.seals.filter((n) => parseInt(n.slice(8, 10), 16) < 0x80);
        expect(warmN.length).toBe(5);
        expect(new Set(warmN).size).toBe(5);
        expect(pktN.length).toBe(5);
        for (const n of pktN) expect(n.slice(8, 16)).toBe("00000000");
      });
    }
  }

  test("ESN outbound: nothing is sealed (every IV could be a real one); inbound ESN still warms", () => {
    const r = recording(provs("aes256gcm16")[0][1]);
    const { out, inb } = pair("aes256gcm16", { esn: true }, {}, r.p, r.p);
    expect(out.warm()).toBe(false);
    expect(r.seals.length).toBe(0);
    expect(inb.warm()).toBe(true);
    expect(r.opens.length).toBe(1);
  });

  test("after destroy(): refuses", () => {
    const { out, inb } = pair("aes128gcm16");
    out.destroy();
    inb.destroy();
    expect(out.warm()).toBe(false);
    expect(inb.warm()).toBe(false);
  });
});
