import { describe, expect, test } from "bun:test";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import type { EspCipherName } from "../../lib/esp/types.ts";
import { tunnelMtu } from "../../lib/esp/mtu.ts";
import { TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { MemoryDevice, MemoryNetwork } from "../../lib/tunnel/memory.ts";
import { parseCidr } from "../../lib/net/cidr.ts";

function ipv4(src: number[], dst: number[], len: number, df = true, proto = 17): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[6] = df ? 0x40 : 0;
  p[8] = 64;
  p[9] = proto;
  p.set(src, 12);
  p.set(dst, 16);
  for (let i = 20; i < len; i++) p[i] = i & 0xff;
  return p;
}

function ipv6(src: Uint8Array, dst: Uint8Array, len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x60;
  p[4] = (len - 40) >> 8;
  p[5] = (len - 40) & 0xff;
  p[6] = 17;
  p[7] = 64;
  p.set(src, 8);
  p.set(dst, 24);
  return p;
}

const A6 = parseCidr("fd00::1")!.addr;
const B6 = parseCidr("fd00::2")!.addr;

function keyMat(cipher: EspCipherName, seed: number): Uint8Array {
  const n = cipher === "aes128gcm16" ? 20 : 36;
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);
}

function pair(cipher: EspCipherName, tooBigCalls: { inner: number; mtu: number }[] = [], extra: { icmpPerSecond?: number; now?: () => number } = {}) {
  const net = new MemoryNetwork();
  const sa = net.socket("192.0.2.1", 4500);
  const sb = net.socket("192.0.2.2", 4500);
  const da = new MemoryDevice();
  const db = new MemoryDevice();
  const kAB = keyMat(cipher, 1), kBA = keyMat(cipher, 2);
  const mtu = tunnelMtu(1500, cipher, { outer: "ipv4", udpEncap: true });
  const childA: TunnelChild = {
    name: "a",
    local: [parseCidr("10.9.0.1/32")!, parseCidr("fd00::1/128")!],
    remote: [parseCidr("10.9.0.2/32")!, parseCidr("fd00::2/128")!],
    outbound: new OutboundSa({ spi: 0x1001, cipher, keyMaterial: kAB }),
    inbound: [new InboundSa({ spi: 0x2002, cipher, keyMaterial: kBA })],
    mtu,
  };
  const childB: TunnelChild = {
    name: "b",
    local: [parseCidr("10.9.0.2/32")!, parseCidr("fd00::2/128")!],
    remote: [parseCidr("10.9.0.1/32")!, parseCidr("fd00::1/128")!],
    outbound: new OutboundSa({ spi: 0x2002, cipher, keyMaterial: kBA }),
    inbound: [new InboundSa({ spi: 0x1001, cipher, keyMaterial: kAB })],
    mtu,
  };
  const tooBig = (inner: Uint8Array, m: number) => {
    tooBigCalls.push({ inner: inner.length, mtu: m });
    return Uint8Array.of(0x45, 0xee);
  };
  const ea = new TunnelEngine({ device: da, socket: sa, remoteAddress: "192.0.2.2", remotePort: 4500, children: [childA], icmpTooBig: tooBig, keepaliveMs: 0, ...extra });
  const eb = new TunnelEngine({ device: db, socket: sb, remoteAddress: "192.0.2.1", remotePort: 4500, children: [childB], icmpTooBig: tooBig, keepaliveMs: 0 });
  ea.start();
  eb.start();
  return { net, da, db, ea, eb, mtu, sa, sb };
}

const CIPHERS: EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"];

describe("TunnelEngine over in-memory adapters", () => {
  for (const cipher of CIPHERS) {
    test(`${cipher}: IPv4 and IPv6 packets both ways, bytes intact, counters`, async () => {
      const { net, da, db, ea, eb } = pair(cipher);
      const p1 = ipv4([10, 9, 0, 1], [10, 9, 0, 2], 100);
      const p2 = ipv4([10, 9, 0, 2], [10, 9, 0, 1], 1400);
      const p3 = ipv6(A6, B6, 300);
      da.inject(p1, p3);
      db.inject(p2);
      await net.settle();
      expect(db.written.length).toBe(2);
      expect(db.written[0]).toEqual(p1);
      expect(db.written[1]).toEqual(p3);
      expect(da.written).toEqual([p2]);
      expect(ea.counters.packetsOut).toBe(2);
      expect(ea.counters.bytesOut).toBe(400);
      expect(eb.counters.packetsIn).toBe(2);
      expect(eb.counters.bytesIn).toBe(400);
      expect(ea.counters.packetsIn).toBe(1);
      // on the wire: ESP with the SPI first, never the plaintext
      for (const d of net.log) {
        expect(d.toPort).toBe(4500);
        const spi = ((d.buf[0] << 24) | (d.buf[1] << 16) | (d.buf[2] << 8) | d.buf[3]) >>> 0;
        expect([0x1001, 0x2002]).toContain(spi);
      }
      expect(Object.values(eb.counters.drops).every((v) => v === 0)).toBe(true);
    });
  }

  test("ESN SAs (64-bit sequence numbers) carry traffic", async () => {
    const net = new MemoryNetwork();
    const da = new MemoryDevice(), db = new MemoryDevice();
    const k = keyMat("aes256gcm16", 9);
    const child = (l: string, r: string, o: number, i: number): TunnelChild => ({
      name: "esn", local: [parseCidr(l)!], remote: [parseCidr(r)!], mtu: 1400,
      outbound: new OutboundSa({ spi: o, cipher: "aes256gcm16", keyMaterial: k, esn: true, initialSeq: 0xfffffffen }),
      // a fresh ESN window (T = 0) would infer seq 2^32-1 as the previous subspace (RFC 4303 A2.2): seed it
      inbound: [new InboundSa({ spi: i, cipher: "aes256gcm16", keyMaterial: k, esn: true, initialSeq: 0xfffffff0n })],
    });
    const ea = new TunnelEngine({ device: da, socket: net.socket("a", 4500), remoteAddress: "b", remotePort: 4500, children: [child("10.9.0.1/32", "10.9.0.2/32", 0x111, 0x222)], icmpTooBig: () => null, keepaliveMs: 0 });
    const eb = new TunnelEngine({ device: db, socket: net.socket("b", 4500), remoteAddress: "a", remotePort: 4500, children: [child("10.9.0.2/32", "10.9.0.1/32", 0x222, 0x111)], icmpTooBig: () => null, keepaliveMs: 0 });
    ea.start();
    eb.start();
    const p = ipv4([10, 9, 0, 1], [10, 9, 0, 2], 90);
    da.inject(p, p, p); // sequence numbers 2^32-1, 2^32, 2^32+1: across the 32-bit wrap
    await net.settle();
    expect(eb.counters.drops).toEqual({ icv: 0, replay: 0, noSa: 0, tooBig: 0, malformed: 0, dummy: 0, policy: 0, expired: 0, sealFailed: 0, deviceWrite: 0, notConnected: 0 });
    expect(db.written.length).toBe(3);
    expect(eb.counters.packetsIn).toBe(3);
    void ea;
  });

  test("a burst is sent as one batch", async () => {
    const { net, da, db, sa } = pair("aes256gcm16");
    const pkts = Array.from({ length: 10 }, () => ipv4([10, 9, 0, 1], [10, 9, 0, 2], 200));
    da.inject(...pkts);
    await net.settle();
    expect(sa.batches).toBe(1);
    expect(db.written.length).toBe(10);
  });

  test("replayed ESP is dropped and counted as replay, nothing reaches the device", async () => {
    const { net, da, db, eb } = pair("aes256gcm16");
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], 120));
    await net.settle();
    expect(db.written.length).toBe(1);
    const captured = net.log[0];
    net.inject(captured);
    net.inject(captured);
    expect(db.written.length).toBe(1);
    expect(eb.counters.drops.replay).toBe(2);
    expect(eb.counters.packetsIn).toBe(1);
  });

  test("a flipped byte is counted as icv and dropped", async () => {
    const { net, da, db, eb } = pair("chacha20poly1305");
    net.tap = (d) => {
      const b = d.buf.slice();
      b[b.length - 20] ^= 0x01;
      return b;
    };
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], 120));
    await net.settle();
    expect(db.written.length).toBe(0);
    expect(eb.counters.drops.icv).toBe(1);
  });

  test("unknown SPI → noSa; short datagram → malformed; keepalive and IKE marker classified", async () => {
    const ike: Uint8Array[] = [];
    const { net, db, eb } = pair("aes128gcm16");
    (eb as unknown as { onIke: (b: Uint8Array) => void }).onIke = (b) => ike.push(b);
    const from = { fromAddr: "192.0.2.1", fromPort: 4500, toAddr: "192.0.2.2", toPort: 4500 };
    net.inject({ ...from, buf: Uint8Array.of(0, 0, 0x99, 0x99, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8) });
    net.inject({ ...from, buf: Uint8Array.of(0, 0, 0x10, 1, 0) });
    net.inject({ ...from, buf: Uint8Array.of(0xff) });
    net.inject({ ...from, buf: Uint8Array.of(0, 0, 0, 0, 0x11, 0x22) });
    expect(eb.counters.drops.noSa).toBe(1);
    expect(eb.counters.drops.malformed).toBe(1);
    expect(eb.counters.keepalivesIn).toBe(1);
    expect(eb.counters.ikeIn).toBe(1);
    expect(ike.length).toBe(1);
    expect(db.written.length).toBe(0);
  });

  test("keepalive sends one 0xFF byte to the peer", async () => {
    const { net, ea, eb } = pair("aes256gcm16");
    ea.sendKeepalive();
    await net.settle();
    expect(net.log.length).toBe(1);
    expect(net.log[0].buf).toEqual(Uint8Array.of(0xff));
    expect(eb.counters.keepalivesIn).toBe(1);
  });

  test("too big with DF (IPv4) or IPv6 → ICMP written back, counted; IPv4 without DF is sent", async () => {
    const calls: { inner: number; mtu: number }[] = [];
    const { net, da, db, ea, mtu } = pair("aes256gcm16", calls);
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], mtu + 1, true));
    da.inject(ipv6(A6, B6, mtu + 1));
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], mtu, true));
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], mtu + 1, false));
    await net.settle();
    expect(ea.counters.drops.tooBig).toBe(2);
    expect(calls).toEqual([{ inner: mtu + 1, mtu }, { inner: mtu + 1, mtu }]);
    expect(da.written.length).toBe(2); // the two ICMP errors, back into our own device
    expect(db.written.length).toBe(2);
  });

  test("ICMP too-big replies are rate limited; tooBig still counts every drop", async () => {
    let t = 1_000_000;
    const { net, da, ea, mtu } = pair("aes256gcm16", [], { icmpPerSecond: 5, now: () => t });
    const big = () => ipv4([10, 9, 0, 1], [10, 9, 0, 2], mtu + 100, true);
    for (let i = 0; i < 20; i++) da.inject(big());
    await net.settle();
    expect(ea.counters.drops.tooBig).toBe(20);
    expect(ea.counters.icmpSent).toBe(5);
    t += 1000;
    for (let i = 0; i < 20; i++) da.inject(big());
    expect(ea.counters.icmpSent).toBe(10);
    expect(da.written.length).toBe(10);
  });

  test("policy: outbound to a destination outside the selectors and inbound from a foreign source are dropped", async () => {
    const { net, da, db, ea, eb } = pair("aes256gcm16");
    da.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 99], 100));
    da.inject(ipv4([10, 9, 0, 7], [10, 9, 0, 2], 100));
    await net.settle();
    expect(ea.counters.drops.policy).toBe(2);
    expect(net.log.length).toBe(0);
    // a correctly sealed packet whose inner source is not in B's remote selectors
    const rogue = new OutboundSa({ spi: 0x1001, cipher: "aes256gcm16", keyMaterial: keyMat("aes256gcm16", 1), initialSeq: 1000n });
    const esp = rogue.seal(ipv4([10, 9, 0, 66], [10, 9, 0, 2], 100), 4)!;
    net.inject({ buf: esp, fromAddr: "192.0.2.1", fromPort: 4500, toAddr: "192.0.2.2", toPort: 4500 });
    expect(eb.counters.drops.policy).toBe(1);
    expect(db.written.length).toBe(0);
  });
});
