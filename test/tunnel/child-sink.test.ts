/**
 * LocalChildSink: the SA interface the IKE driver installs Child SAs through, applied to an
 * SA database and an engine child (what the data-plane worker runs on its side).
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { type ChildInstall, LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import type { TunnelChild } from "../../lib/tunnel/engine.ts";
import { parseCidr } from "../../lib/net/cidr.ts";

const key = (b: number) => new Uint8Array(36).fill(b);
const pair = (spiIn: number, spiOut: number, b: number, local: string[] = [], remote: string[] = []): ChildInstall => ({
  spiIn, spiOut, cipher: "aes256gcm16", keyIn: key(b), keyOut: key(b + 1), esn: false,
  local: local.map((c) => parseCidr(c)!), remote: remote.map((c) => parseCidr(c)!),
});
const inner = Uint8Array.from({ length: 40 }, (_, k) => (k === 0 ? 0x45 : k));

function setup() {
  const db = new SaDatabase();
  const child: TunnelChild = { name: "t", local: [parseCidr("10.1.0.0/24")!], remote: [parseCidr("10.2.0.0/24")!], outbound: null, inbound: [], mtu: 1400 };
  let reindexed = 0;
  const sink = new LocalChildSink(db, child, () => reindexed++);
  return { db, child, sink, reindexed: () => reindexed };
}

describe("LocalChildSink", () => {
  test("install puts the pair in the database and the child, copies the keys, takes the selectors", () => {
    const { db, child, sink, reindexed } = setup();
    const c = pair(0x1001, 0x2001, 7, ["10.1.0.5/32"], ["10.2.0.0/16"]);
    sink.install(c);
    c.keyIn.fill(0);
    c.keyOut.fill(0);
    expect(child.outbound?.spi).toBe(0x2001);
    expect(child.inbound.map((s) => s.spi)).toEqual([0x1001]);
    expect(child.local.map((x) => x.text)).toEqual(["10.1.0.5/32"]);
    expect(child.remote.map((x) => x.text)).toEqual(["10.2.0.0/16"]);
    expect(reindexed()).toBe(1);
    expect(db.lookupInbound(0x1001)).toBe(child.inbound[0] as never);
    // the SA kept its own key: a packet sealed with key(8) by the peer opens
    const peer = new SaDatabase();
    const peerOut = peer.installOutbound({ spi: 0x1001, cipher: "aes256gcm16", keyMaterial: key(7) });
    expect(child.inbound[0].open(peerOut.seal(inner, 4)!).ok).toBe(true);
    expect(sink.newest()?.outSa.spi).toBe(0x2001);
  });

  test("empty negotiated selectors keep the child's", () => {
    const { child, sink } = setup();
    sink.install(pair(0x1001, 0x2001, 1));
    expect(child.local.map((x) => x.text)).toEqual(["10.1.0.0/24"]);
    expect(child.remote.map((x) => x.text)).toEqual(["10.2.0.0/24"]);
  });

  test("rekey: make before break, then remove falls back to the named pair or to none; keys destroyed", () => {
    const { db, child, sink } = setup();
    sink.install(pair(0x1001, 0x2001, 1));
    sink.install(pair(0x1002, 0x2002, 3));
    expect(child.inbound.map((s) => s.spi)).toEqual([0x1001, 0x1002]);
    expect(child.outbound?.spi).toBe(0x2002);
    // removing the old pair leaves the current outbound alone
    sink.remove(0x1001, 0x2001, 0x2002);
    expect(child.inbound.map((s) => s.spi)).toEqual([0x1002]);
    expect(child.outbound?.spi).toBe(0x2002);
    expect(db.lookupInbound(0x1001)).toBeUndefined();
    expect(db.lookupOutbound(0x2001)).toBeUndefined();
    // unknown SPIs: nothing happens
    sink.remove(0x9999, 0x8888, null);
    expect(child.inbound.length).toBe(1);
    // the current pair goes, with a named successor that exists
    sink.install(pair(0x1003, 0x2003, 5));
    sink.remove(0x1003, 0x2003, 0x2002);
    expect(child.outbound?.spi).toBe(0x2002);
    // and with none
    sink.remove(0x1002, 0x2002, null);
    expect(child.outbound).toBeNull();
    expect(child.inbound).toEqual([]);
    expect(sink.newest()).toBeNull();
    expect(db.spis()).toEqual({ inbound: [], outbound: [] });
  });

  test("a refused outbound install leaves nothing installed", () => {
    const { db, child, sink } = setup();
    const c = pair(0x1001, 0x2001, 1);
    c.keyOut = new Uint8Array(5); // wrong length
    expect(() => sink.install(c)).toThrow();
    expect(child.inbound).toEqual([]);
    expect(child.outbound).toBeNull();
    expect(db.spis()).toEqual({ inbound: [], outbound: [] });
  });

  test("keyed installs: a new child per key through the host, the peer endpoint kept, updateRemote; without a host the default child takes them", () => {
    const { db, child, sink } = setup();
    sink.install({ ...pair(0x1001, 0x2001, 1, [], ["10.2.0.9/32"]), child: "peer-a", peer: { address: "203.0.113.7", port: 4500 } });
    // no host: one child, as before
    expect(child.outbound?.spi).toBe(0x2001);
    expect(child.endpoint).toEqual({ address: "203.0.113.7", port: 4500 });
    expect(sink.keyedCount).toBe(0);
    const added: TunnelChild[] = [];
    const host = { addChild: (c: TunnelChild) => void added.push(c), removeChild: (c: TunnelChild) => added.splice(added.indexOf(c), 1).length === 1 };
    const s2 = new LocalChildSink(db, child, () => {}, host);
    s2.install({ ...pair(0x1101, 0x2101, 3, ["10.1.0.0/24"], ["10.2.0.1/32"]), child: "peer-b", peer: { address: "203.0.113.7", port: 4501 } });
    s2.install({ ...pair(0x1102, 0x2102, 5, [], []), child: "peer-b" }); // rekey: same child
    s2.install({ ...pair(0x1201, 0x2201, 7, [], ["10.2.0.2/32"]), child: "peer-c", peer: { address: "2001:db8::1", port: 4500 } });
    expect(added.map((c) => c.name)).toEqual(["peer-b", "peer-c"]);
    const [b, c] = added;
    expect(b.inbound.map((x) => x.spi)).toEqual([0x1101, 0x1102]);
    expect(b.outbound?.spi).toBe(0x2102);
    expect(b.remote.map((x) => x.text)).toEqual(["10.2.0.1/32"]);
    expect(b.endpoint).toEqual({ address: "203.0.113.7", port: 4501 });
    s2.updateRemote(0x2101, { address: "203.0.113.8", port: 9 });
    expect(b.endpoint).toEqual({ address: "203.0.113.8", port: 9 });
    expect(c.endpoint).toEqual({ address: "2001:db8::1", port: 4500 });
    const st = s2.children();
    expect(st.map((x) => [x.name, x.spiIn, x.spiOut])).toEqual([["t", 0x1001, 0x2001], ["peer-b", 0x1102, 0x2102], ["peer-c", 0x1201, 0x2201]]);
    s2.remove(0x1101, 0x2101, 0x2102);
    s2.remove(0x1102, 0x2102, null);
    expect(added.map((x) => x.name)).toEqual(["peer-c"]);
    expect(db.lookupInbound(0x1102)).toBeUndefined();
  });
});
