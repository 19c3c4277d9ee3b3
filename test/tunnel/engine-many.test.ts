/**
 * A road-warrior server engine with many children (one per client), installed the way the
 * IKE layer does it (LocalChildSink with child keys and peer endpoints), over in-memory
 * adapters: routing by inner destination, two clients behind one NAT address (same IP,
 * different ports), inbound anti-spoofing between clients, batches sent per destination,
 * NAT rebinding (updateRemote), per-child counters, keepalives per peer, removal.
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import { LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { type DatagramSocket, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { MemoryDevice, MemoryNetwork, type MemorySocket } from "../../lib/tunnel/memory.ts";
import { parseCidr } from "../../lib/net/cidr.ts";

const cidr = (s: string) => parseCidr(s)!;
const key = (seed: number) => Uint8Array.from({ length: 36 }, (_, i) => (i * 13 + seed) & 0xff);

function ipv4(src: string, dst: string, len = 100, tag = 0): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(cidr(src).addr, 12);
  p.set(cidr(dst).addr, 16);
  p[20] = tag;
  return p;
}

const spiOf = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;

/** Records each send / sendBatch call's destination before passing it on. */
class RecordingSocket implements DatagramSocket {
  readonly calls: { kind: "send" | "batch"; n: number; addr: string; port: number; spis: number[] }[] = [];
  constructor(private readonly s: MemorySocket) {}
  send(buf: Uint8Array, addr: string, port: number): void {
    this.calls.push({ kind: "send", n: 1, addr, port, spis: [spiOf(buf)] });
    this.s.send(buf, addr, port);
  }
  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    this.calls.push({ kind: "batch", n: bufs.length, addr, port, spis: bufs.map(spiOf) });
    this.s.sendBatch(bufs, addr, port);
  }
  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.s.onMessage(cb);
  }
}

interface Client {
  n: number;
  addr: string;
  port: number;
  inner: string;
  dev: MemoryDevice;
  engine: TunnelEngine;
  out: OutboundSa;
  spiToServer: number;
  spiFromServer: number;
}

const SERVER = { address: "198.51.100.1", port: 4500 };

/** Server with `idle` extra children (no peer engine) and real clients at the given endpoints. */
function setup(endpoints: { addr: string; port: number }[], idle = 0) {
  const net = new MemoryNetwork();
  const sdev = new MemoryDevice();
  const ssock = new RecordingSocket(net.socket(SERVER.address, SERVER.port));
  const db = new SaDatabase();
  const dflt: TunnelChild = { name: "default", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
  const server = new TunnelEngine({ device: sdev, socket: ssock, remoteAddress: "0.0.0.0", remotePort: 0, children: [dflt], icmpTooBig: () => null, keepaliveMs: 0 });
  const sink = new LocalChildSink(db, dflt, () => server.reindex(), server);
  server.start();
  for (let i = 0; i < idle; i++) {
    sink.install({
      spiIn: 0xa0000000 + i, spiOut: 0xa1000000 + i, cipher: "aes256gcm16", keyIn: key(i), keyOut: key(i + 1), esn: false,
      local: [cidr("10.1.0.0/16")], remote: [cidr(`10.9.${i >> 8}.${i & 255}/32`)], child: `idle-${i}`, peer: { address: "192.0.2.50", port: 1024 + i },
    });
  }
  const clients: Client[] = endpoints.map((e, i) => {
    const n = i + 1;
    const inner = `10.8.0.${n}`;
    const spiToServer = 0x1000 + n, spiFromServer = 0x2000 + n;
    const kCS = key(100 + n), kSC = key(200 + n);
    const dev = new MemoryDevice();
    const out = new OutboundSa({ spi: spiToServer, cipher: "aes256gcm16", keyMaterial: kCS });
    const child: TunnelChild = { name: `c${n}`, local: [cidr(`${inner}/32`)], remote: [cidr("10.1.0.0/16")], outbound: out, inbound: [new InboundSa({ spi: spiFromServer, cipher: "aes256gcm16", keyMaterial: kSC })], mtu: 1400 };
    const engine = new TunnelEngine({ device: dev, socket: net.socket(e.addr, e.port), remoteAddress: SERVER.address, remotePort: SERVER.port, children: [child], icmpTooBig: () => null, keepaliveMs: 0 });
    engine.start();
    sink.install({
      spiIn: spiToServer, spiOut: spiFromServer, cipher: "aes256gcm16", keyIn: kCS, keyOut: kSC, esn: false,
      local: [cidr("10.1.0.0/16")], remote: [cidr(`${inner}/32`)], child: `client-${n}`, peer: { address: e.addr, port: e.port },
    });
    return { n, addr: e.addr, port: e.port, inner, dev, engine, out, spiToServer, spiFromServer };
  });
  return { net, sdev, ssock, db, dflt, server, sink, clients };
}

const NAT = "203.0.113.7";

describe("TunnelEngine with many children (road-warrior server)", () => {
  test("two clients behind one NAT address (different ports) and one on IPv6: each gets its own traffic, both ways", async () => {
    const { net, sdev, server, sink, clients } = setup([{ addr: NAT, port: 4500 }, { addr: NAT, port: 61001 }, { addr: "2001:db8::9", port: 4500 }], 50);
    expect(server.children.length).toBe(1 + 50 + 3);
    for (const c of clients) sdev.inject(ipv4("10.1.0.1", c.inner, 120, c.n));
    await net.settle();
    for (const c of clients) {
      expect(c.dev.written.length).toBe(1);
      expect(c.dev.written[0][20]).toBe(c.n);
      expect(c.dev.written[0].subarray(16, 20)).toEqual(cidr(c.inner).addr);
    }
    // on the wire: each client's SPI to its own address and port
    for (const d of net.log.filter((x) => x.fromAddr === SERVER.address)) {
      const c = clients.find((x) => x.spiFromServer === spiOf(d.buf))!;
      expect([d.toAddr, d.toPort]).toEqual([c.addr, c.port]);
    }
    for (const c of clients) c.dev.inject(ipv4(c.inner, "10.1.0.1", 200, 0x40 + c.n));
    await net.settle();
    expect(sdev.written.map((p) => p[20]).sort()).toEqual([0x41, 0x42, 0x43]);
    const st = sink.children().filter((x) => x.name.startsWith("client-"));
    expect(st.map((x) => [x.name, x.stats.packetsOut, x.stats.bytesOut, x.stats.packetsIn, x.stats.bytesIn])).toEqual([
      ["client-1", 1, 120, 1, 200],
      ["client-2", 1, 120, 1, 200],
      ["client-3", 1, 120, 1, 200],
    ]);
    expect(st[1].peer).toEqual({ address: NAT, port: 61001 });
    expect(st[0].remote).toEqual(["10.8.0.1/32"]);
    expect(server.counters.drops.policy + server.counters.drops.noSa).toBe(0);
    // no route: dropped as policy
    sdev.inject(ipv4("10.1.0.1", "10.8.0.99"));
    expect(server.counters.drops.policy).toBe(1);
  });

  test("inbound anti-spoofing: a client's SA carrying another client's inner source is dropped and counted on that child", async () => {
    const { net, sdev, server, sink, clients } = setup([{ addr: NAT, port: 4500 }, { addr: NAT, port: 4501 }]);
    const [a, b] = clients;
    // client A seals a packet with B's inner address (its own engine would refuse to route it)
    const spoof = a.out.seal(ipv4(b.inner, "10.1.0.1", 80), 4)!;
    net.inject({ buf: spoof, fromAddr: a.addr, fromPort: a.port, toAddr: SERVER.address, toPort: SERVER.port });
    // and one to an inner destination outside the server's local selector
    const out = a.out.seal(ipv4(a.inner, "10.99.0.1", 80), 4)!;
    net.inject({ buf: out, fromAddr: a.addr, fromPort: a.port, toAddr: SERVER.address, toPort: SERVER.port });
    await net.settle();
    expect(sdev.written.length).toBe(0);
    expect(server.counters.drops.policy).toBe(2);
    const st = sink.children();
    expect(st.find((x) => x.name === "client-1")!.stats.policyDrops).toBe(2);
    expect(st.find((x) => x.name === "client-2")!.stats.policyDrops).toBe(0);
    // B's own packet passes
    b.dev.inject(ipv4(b.inner, "10.1.0.1", 80));
    await net.settle();
    expect(sdev.written.length).toBe(1);
    // each SA has its own replay window: B's packet again is a replay, A's seq 3 is new to A's window
    const fromB = net.log.filter((d) => spiOf(d.buf) === b.spiToServer);
    expect(fromB.length).toBe(1);
    net.inject(fromB[0]);
    a.dev.inject(ipv4(a.inner, "10.1.0.1", 80));
    await net.settle();
    expect(server.counters.drops.replay).toBe(1);
    expect(sdev.written.length).toBe(2);
  });

  test("a burst to several peers: one send call per destination, each peer's packets in order", async () => {
    const { net, sdev, ssock, clients } = setup([{ addr: NAT, port: 4500 }, { addr: NAT, port: 4501 }, { addr: "192.0.2.9", port: 4500 }]);
    const [a, b, c] = clients;
    sdev.inject(...[a, b, a, b, c, a].map((x, i) => ipv4("10.1.0.1", x.inner, 100 + i, i)));
    await net.settle();
    expect(ssock.calls.map((x) => [x.kind, x.n, x.addr, x.port])).toEqual([
      ["batch", 3, NAT, 4500],
      ["batch", 2, NAT, 4501],
      ["send", 1, "192.0.2.9", 4500],
    ]);
    expect(a.dev.written.map((p) => p[20])).toEqual([0, 2, 5]);
    expect(b.dev.written.map((p) => p[20])).toEqual([1, 3]);
    expect(c.dev.written.map((p) => p[20])).toEqual([4]);
    // one peer only: one batch, as before
    ssock.calls.length = 0;
    sdev.inject(ipv4("10.1.0.1", a.inner), ipv4("10.1.0.1", a.inner));
    expect(ssock.calls.map((x) => [x.kind, x.n, x.port])).toEqual([["batch", 2, 4500]]);
  });

  test("NAT rebinding: updateRemote moves a child's ESP to the new port; keepalives go to each peer once", async () => {
    const { net, sdev, server, sink, clients, ssock } = setup([{ addr: NAT, port: 4500 }, { addr: NAT, port: 4501 }]);
    const [a, b] = clients;
    sink.updateRemote(a.spiFromServer, { address: NAT, port: 5555 });
    sink.updateRemote(0xdead, { address: NAT, port: 1 }); // unknown: ignored
    sdev.inject(ipv4("10.1.0.1", a.inner));
    sdev.inject(ipv4("10.1.0.1", b.inner));
    await net.settle();
    const wire = net.log.filter((d) => d.fromAddr === SERVER.address).map((d) => [spiOf(d.buf), d.toPort]);
    expect(wire).toEqual([[a.spiFromServer, 5555], [b.spiFromServer, 4501]]);
    ssock.calls.length = 0;
    server.sendKeepalive();
    // the default child has no SA and no endpoint: no keepalive to the default remote
    expect(ssock.calls.map((x) => `${x.addr}:${x.port}`).sort()).toEqual([`${NAT}:4501`, `${NAT}:5555`]);
    expect(server.counters.keepalivesSent).toBe(2);
  });

  test("removal: the child leaves the engine with its last pair; a rekeyed child keeps its route; another child's SPI is no fallback", async () => {
    const { net, sdev, server, sink, clients, db } = setup([{ addr: NAT, port: 4500 }, { addr: NAT, port: 4501 }], 20);
    const [a, b] = clients;
    const n0 = server.children.length;
    // rekey A: a new pair under the same key (selectors and endpoint kept)
    sink.install({
      spiIn: 0x3001, spiOut: 0x4001, cipher: "aes256gcm16", keyIn: key(7), keyOut: key(8), esn: false,
      local: [], remote: [], child: "client-1",
    });
    expect(server.children.length).toBe(n0);
    const ca = server.children.find((c) => c.name === "client-1")!;
    expect(ca.outbound?.spi).toBe(0x4001);
    expect(ca.inbound.map((x) => x.spi)).toEqual([a.spiToServer, 0x3001]);
    // the new pair goes again with B's SPI named as the successor: not A's, so no outbound at all
    sink.remove(0x3001, 0x4001, b.spiFromServer);
    expect(ca.outbound).toBeNull();
    expect(server.children).toContain(ca); // it still has A's first inbound SA
    // once more, now naming A's own older pair: that one takes over
    sink.install({ spiIn: 0x3002, spiOut: 0x4002, cipher: "aes256gcm16", keyIn: key(9), keyOut: key(10), esn: false, local: [], remote: [], child: "client-1" });
    sink.remove(0x3002, 0x4002, a.spiFromServer);
    expect(ca.outbound?.spi).toBe(a.spiFromServer);
    expect(ca.endpoint).toEqual({ address: NAT, port: 4500 });
    // B goes entirely
    sink.remove(b.spiToServer, b.spiFromServer, a.spiFromServer);
    expect(server.children.length).toBe(n0 - 1);
    expect(server.children.some((c) => c.name === "client-2")).toBe(false);
    expect(db.lookupInbound(b.spiToServer)).toBeUndefined();
    expect(server.routeFor(cidr("10.1.0.1").addr, cidr(b.inner).addr)).toBeNull();
    expect(server.routeFor(cidr("10.1.0.1").addr, cidr(a.inner).addr)?.name).toBe("client-1");
    sdev.inject(ipv4("10.1.0.1", b.inner));
    b.dev.inject(ipv4(b.inner, "10.1.0.1"));
    await net.settle();
    expect(server.counters.drops.policy).toBe(1);
    expect(server.counters.drops.noSa).toBe(1);
    // A still works both ways
    sdev.inject(ipv4("10.1.0.1", a.inner));
    a.dev.inject(ipv4(a.inner, "10.1.0.1"));
    await net.settle();
    expect(a.dev.written.length).toBe(1);
    expect(sdev.written.length).toBe(1);
    // every idle child removed too: only A and the default remain
    for (let i = 0; i < 20; i++) sink.remove(0xa0000000 + i, 0xa1000000 + i, null);
    expect(server.children.map((c) => c.name)).toEqual(["default", "client-1"]);
    expect(sink.keyedCount).toBe(1);
  });
});
