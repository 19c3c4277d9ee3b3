/**
 * Deno: the SA interface of the IKE driver (lib/tunnel/child-sink.ts) through the public API,
 * runtime-neutral. Named *.deno.ts so `bun test` does not pick it up (test/tunnel/child-sink.test.ts
 * covers it on Bun).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalChildSink, OutboundSa, SaDatabase, type TunnelChild } from "../../../mod.ts";

test("LocalChildSink: install, rekey make before break, remove; a sealed packet opens on the installed SA", () => {
  const db = new SaDatabase();
  const child: TunnelChild = { name: "t", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
  let reindexed = 0;
  const sink = new LocalChildSink(db, child, () => reindexed++);
  const k = (b: number) => new Uint8Array(36).fill(b);
  sink.install({ spiIn: 0x1001, spiOut: 0x2001, cipher: "aes256gcm16", keyIn: k(1), keyOut: k(2), esn: false, local: [], remote: [] });
  sink.install({ spiIn: 0x1002, spiOut: 0x2002, cipher: "aes256gcm16", keyIn: k(3), keyOut: k(4), esn: false, local: [], remote: [] });
  assert.equal(child.outbound?.spi, 0x2002);
  assert.deepEqual(child.inbound.map((s) => s.spi), [0x1001, 0x1002]);
  const peer = new OutboundSa({ spi: 0x1002, cipher: "aes256gcm16", keyMaterial: k(3) });
  const inner = Uint8Array.from({ length: 40 }, (_, i) => (i === 0 ? 0x45 : i));
  assert.equal(child.inbound[1].open(peer.seal(inner, 4)!).ok, true);
  sink.remove(0x1001, 0x2001, 0x2002);
  sink.remove(0x1002, 0x2002, null);
  assert.equal(child.outbound, null);
  assert.deepEqual(db.spis(), { inbound: [], outbound: [] });
  assert.equal(reindexed, 4);
});
