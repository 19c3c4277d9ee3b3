/**
 * `vpnkit decode --keys` across RFC 9370 key updates: an IKE SA whose keys change after each
 * IKE_INTERMEDIATE keeps its SPIs, so the key log has several lines for one SPI pair
 * (lib/tunnel/keylog.ts → lib/keys/vpnkit-keylog.ts → KeyStore keeps them all →
 * Ikev2Decryptor takes the key set that verifies). Messages from a vpnkit↔vpnkit run
 * (I/O-free, test/ike/v2/sa/harness.ts), IKE_SA_INIT to IKE_AUTH, every one decrypted.
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../lib/core/anomaly.ts";
import { decodeIkev2 } from "../../lib/ike/v2/message.ts";
import { parseVpnkitKeylog } from "../../lib/keys/vpnkit-keylog.ts";
import { KeyStore } from "../../lib/keys/store.ts";
import { ikeKeylogLine } from "../../lib/tunnel/keylog.ts";
import { baseCfg, Loop } from "../ike/v2/sa/harness.ts";

const PQ = "aes256gcm16-prfsha384-ecp384-ke1_mlkem768-ke2_x25519";

describe("decrypting IKE_INTERMEDIATE and what follows with the updated keys", () => {
  for (const fragmentSize of [1280, 576]) {
    test(`fragment size ${fragmentSize}: every encrypted message decrypts, IKE_INTERMEDIATE named`, () => {
      const l = new Loop(baseCfg("i", { ikeProposals: [PQ], fragmentSize }), baseCfg("r", { ikeProposals: [PQ], fragmentSize }));
      l.run();
      l.take("i", l.i.dpd(l.now)); // an INFORMATIONAL under the final keys
      l.run();
      expect(l.of("i", "established").length).toBe(1);
      const lines = l.of("i", "keylog").map((k) => ikeKeylogLine(k)!);
      expect(lines.length).toBe(3);
      expect(new Set(lines.map((x) => x.split(" ").slice(1, 3).join(" "))).size).toBe(1); // one SPI pair
      const store = new KeyStore(parseVpnkitKeylog(lines.join("\n") + "\n", "keylog"));
      expect(store.ikev2All(l.i.spii, l.i.spir).length).toBe(3);
      const dec = store.decryptors().ikev2;
      const names: string[] = [];
      let whole = 0;
      l.sent.forEach((w, no) => {
        const an: Anomaly[] = [];
        const m = decodeIkev2(w.data, 0, w.data.length, an)!;
        names.push(m.exchangeName);
        if (m.exchange === 34) return;
        const d = dec.decrypt(w.data, m, no + 1, an)!;
        expect(d.integrity).toBe("good");
        if (d.payloads) whole++;
        if (m.exchange === 43) expect(d.payloads === undefined || d.payloads.some((p) => p.kind === "ke" || p.kind === "generic")).toBe(true);
      });
      expect(names).toContain("IKE_INTERMEDIATE");
      expect(whole).toBe(8); // 2 × IKE_INTERMEDIATE, IKE_AUTH, INFORMATIONAL: requests and responses
      expect(dec.incomplete()).toEqual([]);
    });
  }
  test("the same key set twice is kept once", () => {
    const l = new Loop(baseCfg("i", { ikeProposals: [PQ] }), baseCfg("r", { ikeProposals: [PQ] }));
    l.run();
    const lines = [...l.of("i", "keylog"), ...l.of("r", "keylog")].map((k) => ikeKeylogLine(k)!);
    const store = new KeyStore(parseVpnkitKeylog(lines.join("\n") + "\n", "keylog"));
    expect(store.ikev2All(l.i.spii, l.i.spir).length).toBe(3);
  });
});
