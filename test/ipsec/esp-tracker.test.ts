import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { decodeEsp } from "../../lib/ipsec/esp.ts";
import { type EspObservation, type EspSaKeyInfo, type EspSeqStatus, EspTracker } from "../../lib/ipsec/esp-tracker.ts";
import { decodeNatt } from "../../lib/ipsec/natt.ts";
import { ipEnd, loadGolden, ROOT, udpPayload } from "./helpers.ts";

/** Feed every ESP packet of a golden capture through decodeEsp into a tracker. */
function track(name: string, t = new EspTracker()) {
  for (const f of loadGolden(name)) {
    if (!f.esp) continue;
    let off = f.esp.off;
    let end = ipEnd(f);
    let key: EspSaKeyInfo;
    if (f.udp) {
      const [o, e] = udpPayload(f);
      const l = decodeNatt(f.bytes, o, e, []);
      off = l.off;
      end = e;
      key = { spi: 0, src: f.ip!.src, dst: f.ip!.dst, sport: f.udp.srcport, dport: f.udp.dstport };
    } else {
      key = { spi: 0, src: f.ip!.src, dst: f.ip!.dst };
    }
    const esp = decodeEsp(f.bytes, off, end, [])!;
    key.spi = esp.spi;
    t.observe(key, esp.seq!, esp.length, f.no, f.tsSec, f.tsNsec);
  }
  return t;
}

describe("EspTracker on real captures", () => {
  test("d_ikev2_rekey: 8 ESP SAs with counts and seq ranges as tshark sees them, paired as charon's child SAs", () => {
    const frames = loadGolden("d_ikev2_rekey").filter((f) => f.esp);
    const t = track("d_ikev2_rekey");
    const rep = t.report();
    expect(rep.length).toBe(8);
    for (const r of rep) {
      const mine = frames.filter((f) => parseInt(f.esp!.spi, 16) === r.spi);
      const seqs = mine.map((f) => f.esp!.seq!);
      expect(r.packets).toBe(mine.length);
      expect(r.src).toBe(mine[0].ip!.src);
      expect(r.dst).toBe(mine[0].ip!.dst);
      expect(r.minSeq).toBe(Math.min(...seqs));
      expect(r.maxSeq).toBe(Math.max(...seqs));
      expect(r.bytes).toBe(mine.reduce((a, f) => a + f.esp!.len, 0));
      expect(r.first.no).toBe(mine[0].no);
      expect(r.last.no).toBe(mine[mine.length - 1].no);
      expect(r.first.tsSec).toBe(mine[0].tsSec);
      expect(r.duplicates).toBe(0);
      expect(r.missing).toBe(0);
      expect(r.outOfOrder).toBe(0);
      expect(r.unique).toBe(r.packets);
      expect(r.sport).toBe(4500);
      expect(r.portChanges).toBe(0);
      expect(r.spiHex).toBe(r.spi.toString(16).padStart(8, "0"));
    }
    // Ground truth for pairing: the child SA each SPI belongs to, from charon's log (keys.json).
    const keys = JSON.parse(readFileSync(join(ROOT, "fixtures/made/d_ikev2_rekey/keys.json"), "utf8"));
    const child = new Map<number, string>(keys.esp.map((e: { spi: string; child: string }) => [parseInt(e.spi, 16), e.child]));
    const pairs = t.pairs();
    expect(pairs.length).toBe(4);
    for (const p of pairs) {
      expect(child.get(rep[p.a].spi)).toBe(child.get(rep[p.b].spi)!);
      expect(rep[p.a].pairedWith).toBe(p.b);
      expect(rep[p.b].pairedWith).toBe(p.a);
    }
    expect(t.oneWay()).toEqual([]);
  });

  test("isakmp4: the only SA is one-way; esp0: 8 in-order packets, one SA", () => {
    const t = track("isakmp4");
    const r = t.report();
    expect(r.length).toBe(1);
    expect(r[0].spi).toBe(0xf4dc0ae5);
    expect(r[0].pairedWith).toBeNull();
    expect(t.oneWay()).toEqual([0]);
    const e = track("esp0").report();
    expect(e.length).toBe(1);
    expect([e[0].packets, e[0].minSeq, e[0].maxSeq, e[0].missing, e[0].bytes]).toEqual([8, 1, 8, 0, 8 * 116]);
  });
});

const K: EspSaKeyInfo = { spi: 0x1234, src: "10.0.0.1", dst: "10.0.0.2" };

function run(seqs: number[], t = new EspTracker({ window: 64 })) {
  return { t, obs: seqs.map((s, i) => t.observe(K, s, 100, i + 1, 1000 + i, 0)) };
}

describe("EspTracker sequence analysis", () => {
  test("gap, late fill, duplicate, too old", () => {
    const { t, obs } = run([1, 2, 5, 3, 3, 6, 200, 100, 6]);
    expect(obs.map((o) => o.status)).toEqual(["first", "in-order", "gap", "out-of-order", "duplicate", "in-order", "gap", "too-old", "too-old"]);
    expect(obs[2].missing).toBe(2);
    expect(obs[6].missing).toBe(193);
    const r = t.report()[0];
    expect(r.packets).toBe(9);
    expect(r.duplicates).toBe(1);
    expect(r.unique + r.duplicates).toBe(r.packets);
    expect(r.outOfOrder).toBe(1);
    expect(r.tooOld).toBe(2);
    expect(r.missing).toBe(1 + 193); // 4, and 7..199
    expect(r.gapEvents).toBe(2);
    expect(r.gaps).toEqual([
      { fromSeq: 3, toSeq: 4, count: 2, afterPacket: 2, atPacket: 3, filledLate: 1 },
      { fromSeq: 7, toSeq: 199, count: 193, afterPacket: 6, atPacket: 7, filledLate: 0 },
    ]);
    expect(r.gapsTruncated).toBe(false);
    expect([r.minSeq, r.maxSeq, r.highestExtSeq]).toEqual([1, 200, 200]);
  });

  test("packets below the first one seen extend the range", () => {
    const { t } = run([10, 8, 9]);
    const r = t.report()[0];
    expect(r.missing).toBe(0);
    expect(r.outOfOrder).toBe(2);
    const { t: t2 } = run([10, 7]);
    expect(t2.report()[0].missing).toBe(2);
  });

  test("ESN wrap: 0xfffffffe, 0xffffffff, 0, 1 is in order and flagged once", () => {
    const { t, obs } = run([0xfffffffe, 0xffffffff, 0, 1, 0xffffffff]);
    expect(obs.map((o) => o.status)).toEqual(["first", "in-order", "in-order", "in-order", "duplicate"]);
    expect(obs.map((o) => o.esnWrap)).toEqual([false, false, true, false, false]);
    expect(obs[2].extSeq).toBe(2 ** 32);
    const r = t.report()[0];
    expect(r.esnWraps).toBe(1);
    expect(r.highestExtSeq).toBe(2 ** 32 + 1);
    expect(r.missing).toBe(0);
  });

  test("seq 0 at the start is counted; port changes (NAT rebinding) are counted, not a new SA", () => {
    const t = new EspTracker();
    t.observe({ ...K, sport: 4500, dport: 4500 }, 0, 10, 1, 0, 0);
    const o = t.observe({ ...K, sport: 61000, dport: 4500 }, 1, 10, 2, 0, 0);
    expect(o.portChange).toBe(true);
    const r = t.report()[0];
    expect(r.zeroSeq).toBe(1);
    expect(r.portChanges).toBe(1);
    expect(r.sport).toBe(61000);
    expect(t.size).toBe(1);
  });

  test("gap list is bounded and says so", () => {
    const seqs: number[] = [];
    for (let i = 0; i < 50; i++) seqs.push(i * 3 + 1);
    const t = new EspTracker({ maxGapRanges: 4 });
    seqs.forEach((s, i) => t.observe(K, s, 1, i + 1, 0, 0));
    const r = t.report()[0];
    expect(r.gaps.length).toBe(4);
    expect(r.gapEvents).toBe(49);
    expect(r.gapsTruncated).toBe(true);
    expect(r.missing).toBe(98);
  });

  test("SA cap (first-N): extra SAs are counted as untracked", () => {
    const t = new EspTracker({ maxSas: 3 });
    for (let spi = 1000; spi < 1010; spi++) for (let s = 1; s <= 2; s++) t.observe({ ...K, spi }, s, 50, 0, 0, 0);
    expect(t.size).toBe(3);
    expect(t.report().length).toBe(3);
    expect(t.untracked).toEqual({ packets: 14, bytes: 700, sas: 3 });
    expect(t.observe({ ...K, spi: 5000 }, 1, 1, 0, 0, 0).status).toBe("untracked");
  });

  test("pairing needs swapped addresses and first packets within pairWindowSec", () => {
    const t = new EspTracker({ pairWindowSec: 5 });
    t.observe({ spi: 0x1001, src: "a", dst: "b" }, 1, 1, 1, 100, 0);
    t.observe({ spi: 0x1002, src: "b", dst: "a" }, 1, 1, 2, 101, 0);
    t.observe({ spi: 0x1003, src: "a", dst: "b" }, 1, 1, 3, 200, 0);
    t.observe({ spi: 0x1004, src: "b", dst: "a" }, 1, 1, 4, 300, 0);
    t.observe({ spi: 0x1005, src: "a", dst: "c" }, 1, 1, 5, 300, 0);
    expect(t.pairs()).toEqual([{ a: 0, b: 1, deltaSec: 1 }]);
    expect(t.oneWay()).toEqual([2, 3, 4]);
  });
});

describe("EspTracker handles (observeHandle) give exactly what observe gives", () => {
  type Ev = { sa: number; ports: number; seq: number; bytes: number };
  /** SA i's identity with port variant p (a NAT rebinding, or several fast-path flows of one SA). */
  const info = (sa: number, p: number): EspSaKeyInfo =>
    sa % 3 === 2 ? { spi: 0x1000 + (sa >> 1), src: `10.0.${sa & 7}.1`, dst: "10.9.9.9" } : { spi: 0x1000 + (sa >> 1), src: `10.0.${sa & 7}.1`, dst: "10.9.9.9", sport: 4500 + p, dport: 4500 };

  /** Feed `evs` to one tracker through observe and to another through handles (one per SA and port variant, made lazily or up front). */
  function both(evs: Ev[], opts: ConstructorParameters<typeof EspTracker>[0] = {}, upFront = false) {
    const a = new EspTracker(opts);
    const b = new EspTracker(opts);
    const handles = new Map<string, ReturnType<EspTracker["handle"]>>();
    const get = (e: Ev) => {
      const k = `${e.sa}/${e.ports}`;
      let h = handles.get(k);
      if (h === undefined) handles.set(k, (h = b.handle(info(e.sa, e.ports))));
      return h;
    };
    if (upFront) for (const e of evs) get(e);
    const oa: EspObservation[] = [];
    const ob: EspObservation[] = [];
    evs.forEach((e, i) => {
      oa.push(a.observe(info(e.sa, e.ports), e.seq, e.bytes, i + 1, 1000 + (i >> 4), (i * 7919) % 1e9));
      ob.push(b.observeHandle(get(e), e.seq, e.bytes, i + 1, 1000 + (i >> 4), (i * 7919) % 1e9));
    });
    expect(ob).toEqual(oa);
    expect(b.report()).toEqual(a.report());
    expect(b.untracked).toEqual(a.untracked);
    expect(b.size).toBe(a.size);
    expect(b.pairs()).toEqual(a.pairs());
    return { a, b, oa };
  }

  test("interleaved flows with gaps, duplicates, reorders, too-old, ESN wraps and port changes", () => {
    const evs: Ev[] = [];
    const seq = [1, 1, 1, 1, 1, 1];
    for (let i = 0; i < 6000; i++) {
      const sa = (i * 7) % 6;
      const r = (i * 2654435761) >>> 0;
      const kind = r % 23;
      let s: number;
      if (kind === 0) s = seq[sa] += 5 + (r % 300); // gap
      else if (kind === 1) s = seq[sa]; // duplicate of the highest
      else if (kind === 2) s = Math.max(0, seq[sa] - 1 - (r % 40)); // late or duplicate inside the window
      else if (kind === 3) s = Math.max(0, seq[sa] - 5000); // too old
      else if (kind === 4 && sa === 4) s = seq[sa] = 0xffffffff - (r % 3); // towards an ESN wrap
      else s = seq[sa] = (seq[sa] + 1) >>> 0;
      evs.push({ sa, ports: kind === 5 ? 1 : 0, seq: s, bytes: 100 + (r % 1400) });
    }
    const { oa } = both(evs);
    const seen = new Set(oa.map((o) => o.status));
    for (const st of ["first", "in-order", "gap", "duplicate", "out-of-order", "too-old"]) expect(seen.has(st as EspSeqStatus)).toBe(true);
    expect(oa.some((o) => o.portChange)).toBe(true);
    expect(oa.some((o) => o.esnWrap)).toBe(true);
    both(evs, {}, true);
  });

  test("beyond the SA cap: untracked SAs stay untracked, the same through handles", () => {
    const evs: Ev[] = [];
    // 4100 SAs > the default cap of 4096, each seen twice, then the first and the last ones again
    for (let sa = 0; sa < 4100; sa++) evs.push({ sa, ports: 0, seq: 1, bytes: 10 });
    for (let sa = 0; sa < 4100; sa++) evs.push({ sa, ports: sa & 1, seq: 3, bytes: 20 });
    for (const sa of [0, 4095, 4096, 4099]) evs.push({ sa, ports: 0, seq: 2, bytes: 30 });
    const { a, oa } = both(evs);
    expect(a.size).toBe(4096);
    expect(a.untracked.packets).toBe(4 + 4 + 2);
    expect(oa[oa.length - 1].status).toBe("untracked");
    expect(oa[oa.length - 4].status).toBe("out-of-order");
    both(evs, { maxSas: 5 }, true);
  });

  test("random streams (fast-check), small window and cap", () => {
    const ev = fc.record({ sa: fc.integer({ min: 0, max: 9 }), ports: fc.integer({ min: 0, max: 2 }), seq: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(0xfffffffe, 0xffffffff, 0, 1)), bytes: fc.integer({ min: -5, max: 2000 }) });
    fc.assert(
      fc.property(fc.array(ev, { maxLength: 300 }), fc.boolean(), (evs, upFront) => {
        both(evs, { window: 32, maxSas: 6, maxGapRanges: 3 }, upFront);
      }),
      { numRuns: 300 },
    );
  });

  test("a handle of another tracker works there too, without being bound to it", () => {
    const t1 = new EspTracker();
    const t2 = new EspTracker();
    const h = t1.handle(K);
    expect(t2.observeHandle(h, 1, 10, 1, 0, 0).status).toBe("first");
    expect(t1.observeHandle(h, 5, 10, 2, 0, 0).status).toBe("first");
    expect(t2.observeHandle(h, 2, 10, 3, 0, 0).status).toBe("in-order");
    expect(t1.observeHandle(h, 6, 10, 4, 0, 0).status).toBe("in-order");
    expect(t2.observe(K, 4, 10, 5, 0, 0)).toEqual({ saId: 0, status: "gap", missing: 1, esnWrap: false, extSeq: 4, portChange: false });
    expect(t1.report()[0].packets).toBe(2);
    expect(t2.report()[0].packets).toBe(3);
  });
});
