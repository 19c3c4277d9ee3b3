/** SaDatabase: lookup, drop counters, make-before-break rekey, events, tick, remove. */
import { describe, expect, test } from "bun:test";
import { nobleChaCha, nobleGcm, OutboundSa, SaDatabase } from "../../lib/esp/mod.ts";
import type { SaConfig, SaEvent } from "../../lib/esp/mod.ts";
import { keyMaterial } from "./util.ts";

const cfg = (spi: number, seed = spi & 0xff, extra: Partial<SaConfig> = {}): SaConfig => ({
  spi, cipher: "aes256gcm16", keyMaterial: keyMaterial(36, seed), ...extra,
});

/** Two databases wired back to back: a's outbound = b's inbound and vice versa. */
function peers(opts: ConstructorParameters<typeof SaDatabase>[0] = {}) {
  const a = new SaDatabase(opts), b = new SaDatabase(opts);
  a.installOutbound(cfg(0x1001)); b.installInbound(cfg(0x1001));
  b.installOutbound(cfg(0x2002)); a.installInbound(cfg(0x2002));
  return { a, b };
}

describe("SaDatabase", () => {
  test("seal/open through the database, lookup by SPI", () => {
    const { a, b } = peers();
    const p = a.seal(new Uint8Array([4, 5, 6]), 4)!;
    expect(b.open(p)).toMatchObject({ ok: true, payload: new Uint8Array([4, 5, 6]) });
    expect(b.lookupInbound(0x1001)).toBeDefined();
    expect(b.lookupInbound(0x9999)).toBeUndefined();
    expect(a.outbound?.spi).toBe(0x1001);
    expect(a.spis()).toEqual({ inbound: [0x2002], outbound: [0x1001] });
    expect(() => a.installInbound(cfg(0x2002))).toThrow();
  });

  test("drop counters: noSa, icv, replay, dummy, malformed, expired", () => {
    const { a, b } = peers();
    const p = a.seal(new Uint8Array(8), 4)!;
    expect(b.open(p).ok).toBe(true);
    expect(b.open(p)).toEqual({ ok: false, reason: "replay" });
    const bad = a.seal(new Uint8Array(8), 4)!;
    bad[20] ^= 1;
    expect(b.open(bad)).toEqual({ ok: false, reason: "icv" });
    expect(b.open(a.seal(new Uint8Array(8), 59)!)).toEqual({ ok: false, reason: "dummy" });
    expect(b.open(new Uint8Array(5))).toEqual({ ok: false, reason: "malformed" });
    const other = new OutboundSa(cfg(0x3003)).seal(new Uint8Array(8), 4)!;
    expect(b.open(other)).toEqual({ ok: false, reason: "no-sa", spi: 0x3003 });
    expect(b.counters).toEqual({ icv: 1, replay: 1, noSa: 1, tooBig: 0, malformed: 1, dummy: 1, expired: 0 });
    // short packet with a known SPI
    const short = p.subarray(0, 20);
    expect(b.open(short)).toEqual({ ok: false, reason: "malformed" });
    expect(b.counters.malformed).toBe(2);
  });

  test("make-before-break rekey: old inbound SA accepted during the grace period only", () => {
    const t0 = 5_000_000;
    const { a, b } = peers({ rekeyGraceMs: 2000 });
    const oldOut = a.outbound!;
    const inFlight = a.seal(new Uint8Array([1]), 4, t0)!;
    // responder side installs the new inbound first (make), initiator switches outbound
    b.rekey(0x1001, cfg(0x1101, 77), { now: t0 });
    const newOut = a.rekey(0x1001, cfg(0x1101, 77), { now: t0 }) as OutboundSa;
    expect(a.outbound).toBe(newOut);
    expect(a.lookupOutbound(0x1001)).toBeUndefined();
    expect(oldOut.expired).toBe(true); // old outbound destroyed
    expect((oldOut as unknown as { key: Uint8Array }).key.every((x) => x === 0)).toBe(true);
    expect((oldOut as unknown as { salt: number }).salt).toBe(0);
    const fresh = a.seal(new Uint8Array([2]), 4, t0 + 10)!;
    expect(b.open(fresh, t0 + 10)).toMatchObject({ ok: true, payload: new Uint8Array([2]) });
    expect(b.open(inFlight, t0 + 1999)).toMatchObject({ ok: true, payload: new Uint8Array([1]) });
    // after the grace period the old SA is gone (lazily on open, or via tick)
    const late = new OutboundSa({ ...cfg(0x1001), initialSeq: 10n }).seal(new Uint8Array([3]), 4)!;
    expect(b.open(late, t0 + 2000)).toEqual({ ok: false, reason: "no-sa", spi: 0x1001 });
    expect(b.lookupInbound(0x1001)).toBeUndefined();
    expect(b.lookupInbound(0x1101)).toBeDefined();
  });

  test("tick removes retired SAs after the grace time and hard-expired SAs, forwarding events", () => {
    const events: SaEvent[] = [];
    const t0 = 1_000;
    const db = new SaDatabase({ rekeyGraceMs: 500, onEvent: (e) => events.push(e) });
    const old = db.installInbound(cfg(0x4004, 1, { createdAt: t0 }));
    db.installInbound(cfg(0x5005, 2, { createdAt: t0, soft: { seconds: 1 }, hard: { seconds: 3 } }));
    db.installOutbound(cfg(0x6006, 3, { createdAt: t0, hard: { seconds: 2 } }));
    db.rekey(0x4004, cfg(0x4104, 4), { now: t0 });
    db.tick(t0 + 499);
    expect(db.lookupInbound(0x4004)).toBe(old);
    db.tick(t0 + 1000);
    expect(db.lookupInbound(0x4004)).toBeUndefined();
    expect(old.expired).toBe(true);
    expect(events).toEqual([{ type: "soft-expire", spi: 0x5005, direction: "in", reason: "seconds" }]);
    db.tick(t0 + 2000);
    expect(db.outbound).toBeUndefined();
    expect(db.seal(new Uint8Array(1), 4)).toBeNull();
    db.tick(t0 + 3000);
    expect(db.lookupInbound(0x5005)).toBeUndefined();
    expect(events.map((e) => `${e.spi.toString(16)} ${e.type}`)).toEqual([
      "5005 soft-expire", "6006 hard-expire", "5005 hard-expire",
    ]);
  });

  test("a hard-expired outbound SA makes seal return null and counts it", () => {
    const db = new SaDatabase();
    db.installOutbound(cfg(0x7007, 1, { hard: { packets: 1 } }));
    expect(db.seal(new Uint8Array(1), 4)).not.toBeNull();
    expect(db.seal(new Uint8Array(1), 4)).toBeNull();
    expect(db.counters.expired).toBe(1);
  });

  test("remove() destroys (keys zeroed); rekey of an unknown SPI throws unless a direction is given", () => {
    const db = new SaDatabase();
    const sa = db.installInbound(cfg(0x8008));
    expect(db.remove(0x8008)).toBe(true);
    expect(db.remove(0x8008)).toBe(false);
    expect((sa as unknown as { key: Uint8Array }).key.every((x) => x === 0)).toBe(true);
    expect((sa as unknown as { salt: number }).salt).toBe(0);
    expect(() => db.rekey(0x8008, cfg(0x8108))).toThrow();
    expect(db.rekey(0x8008, cfg(0x8108), { direction: "in" }).spi).toBe(0x8108);
    db.destroy();
    expect(db.spis()).toEqual({ inbound: [], outbound: [] });
  });

  test("a per-cipher provider chooser is used", () => {
    const names: string[] = [];
    const db = new SaDatabase({ crypto: (c) => { names.push(c); return c === "chacha20poly1305" ? nobleChaCha : nobleGcm; } });
    const o = db.installOutbound(cfg(0x9009));
    db.installInbound({ spi: 0x9109, cipher: "chacha20poly1305", keyMaterial: keyMaterial(36) });
    expect(names).toEqual(["aes256gcm16", "chacha20poly1305"]);
    expect((o as unknown as { crypto: { name: string } }).crypto.name).toBe("noble");
  });
});
