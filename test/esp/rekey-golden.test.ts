/**
 * SaDatabase make-before-break rekeying with real packets: fixtures/made/d_ikev2_rekey
 * (strongSwan rekeys the CHILD_SA every 6 s: 4 CHILD_SAs = 8 ESP SAs, 84 packets; keys from
 * charon's log). Each receiver's database rekeys when the first packet of the next SA
 * shows up; held-back packets of the old SA are accepted during the grace period and
 * refused (no SA) after it.
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/mod.ts";
import { golden, hex } from "./util.ts";

const d = golden("d_ikev2_rekey.json");

describe("d_ikev2_rekey through SaDatabase", () => {
  for (const receiver of ["192.0.2.1", "192.0.2.2"]) {
    test(`receiver ${receiver}: all packets open across 3 rekeys; late old-SA packets accepted within grace only`, () => {
      const GRACE = 2000;
      const spis = d.keys.filter((k) => k.dst === receiver).map((k) => k.spi);
      expect(spis.length).toBe(4);
      const cfg = (spi: string) => ({ spi: parseInt(spi, 16), cipher: "aes128gcm16" as const, keyMaterial: hex(d.keys.find((k) => k.spi === spi)!.ekey) });
      const pkts = d.esp.filter((e) => e.dst === receiver);
      expect(pkts.length).toBe(42);
      const db = new SaDatabase({ rekeyGraceMs: GRACE });
      db.installInbound(cfg(spis[0]));
      // hold back the last packet of each old SA, deliver it after the first packet of the next SA
      const lastOf = new Map<string, (typeof pkts)[number]>();
      for (const p of pkts) lastOf.set(p.spi, p);
      let cur = 0, opened = 0, lateOk = 0;
      for (const p of pkts) {
        const now = p.time! * 1000;
        if (p.spi !== spis[cur]) {
          expect(p.spi).toBe(spis[cur + 1]);
          db.rekey(parseInt(spis[cur], 16), cfg(spis[cur + 1]), { now });
          const r = db.open(hex(p.hex), now);
          expect(r.ok).toBe(true);
          opened++;
          const late = lastOf.get(spis[cur])!;
          const rl = db.open(hex(late.hex), now + GRACE - 1);
          expect(rl.ok).toBe(true);
          lateOk++;
          // after the grace period the old SA is gone
          expect(db.open(hex(late.hex), now + GRACE)).toMatchObject({ ok: false, reason: "no-sa" });
          cur++;
          continue;
        }
        if (cur < 3 && p === lastOf.get(p.spi)) continue; // held back
        const r = db.open(hex(p.hex), now);
        if (!r.ok) throw new Error(`frame ${p.frame}: ${r.reason}`);
        expect(r.nextHeader).toBe(4);
        opened++;
      }
      expect(cur).toBe(3);
      expect(opened + lateOk).toBe(42);
      expect(db.counters).toMatchObject({ icv: 0, replay: 0, malformed: 0, noSa: 3 });
      expect(db.spis().inbound).toEqual([parseInt(spis[3], 16)]);
    });
  }
});
