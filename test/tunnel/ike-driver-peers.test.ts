/**
 * The IKE driver as a road-warrior server wired to the packet path (in memory, no root): one
 * responder IkeDriver (IkeSaManager, pool) installs each client's Child SA as its OWN engine
 * child through a LocalChildSink over a real TunnelEngine, keyed per Child SA, with that
 * client's endpoint (address + port from its IKE SA). Three initiator IkeDrivers ask for
 * virtual IPs; two sit behind one NAT address (same IP, different ports). Checks: distinct
 * virtual IPs; inner traffic to each virtual IP leaves as ESP to that client's address:port
 * (and opens only with its SA); client → client through the server; a client cannot send as
 * another (policy drop); NAT rebinding seen on an authenticated IKE message moves the child's
 * ESP (updateRemote) and a Child SA rekey stays in the same engine child; a client's delete
 * removes its child and frees its address.
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { parseCidr } from "../../lib/net/cidr.ts";
import { LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { type IkeTunnelConfig, mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { type DatagramSocket, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";
import { MemoryDevice } from "../../lib/tunnel/memory.ts";

const cidr = (s: string) => parseCidr(s)!;
const readFile = () => new Uint8Array(0);
const spiOf = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;

function ipv4(src: string, dst: string, tag: number): Uint8Array {
  const p = new Uint8Array(60);
  p[0] = 0x45;
  p[3] = 60;
  p[8] = 64;
  p[9] = 17;
  p.set(cidr(src).addr, 12);
  p.set(cidr(dst).addr, 16);
  p[20] = tag;
  return p;
}

/** The server engine's socket: records what it sends; `deliver` plays a datagram in. */
class Sock implements DatagramSocket {
  readonly sent: { buf: Uint8Array; addr: string; port: number }[] = [];
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  send(buf: Uint8Array, addr: string, port: number): void {
    this.sent.push({ buf: buf.slice(), addr, port });
  }
  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    for (const b of bufs) this.send(b, addr, port);
  }
  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }
  deliver(buf: Uint8Array, addr: string, port: number): void {
    this.cb!(buf, addr, port);
  }
}

const SERVER = "192.0.2.1";
const NAT = "198.51.100.7";

interface Client {
  n: number;
  /** Where the server sees it (changed to test NAT rebinding). */
  addr: string;
  port: number;
  driver: IkeDriver;
  child: TunnelChild;
  logs: string[];
}

function setup() {
  const queue: (() => void)[] = [];
  const rcfg: IkeTunnelConfig = validateIkeConfig(mergeRawIke({ local: SERVER }, {
    psk: "rw-psk-long-enough-0123", responder: true, pool: "10.9.0.0/28", local_ts: ["0.0.0.0/0"], local_id: "server",
    ike_proposal: ["aes128-sha256-ecp256"], esp_proposal: ["chacha20poly1305"],
  }), readFile);
  expect(rcfg.ike.remoteAny).toBe(true);
  const dev = new MemoryDevice();
  const sock = new Sock();
  const db = new SaDatabase();
  const dflt: TunnelChild = { name: "ike", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
  const engine = new TunnelEngine({ device: dev, socket: sock, remoteAddress: "0.0.0.0", remotePort: 0, children: [dflt], icmpTooBig: () => null, keepaliveMs: 0 });
  engine.start();
  const sink = new LocalChildSink(db, dflt, () => engine.reindex(), engine);
  const clients: Client[] = [];
  const rlogs: string[] = [];
  const plainIke: { addr: string; port: number }[] = [];
  const server = new IkeDriver({
    cfg: rcfg, sink, log: (_l, m) => rlogs.push(m), setInterval: () => 0, clearInterval: () => {},
    send: (b, addr, port) => {
      const c = clients.find((x) => x.addr === addr && x.port === port);
      if (c) queue.push(() => c.driver.onDatagram(b.slice(), SERVER, 4500));
    },
    // the plain IKE socket (UDP 500): the clients talk NAT-T from their first message (from
    // NAT-picked ports, not 4500), so every answer must go on the NAT-T socket, never here
    sendIke: (_b, addr, port) => plainIke.push({ addr, port }),
  });
  const endpoints = [{ addr: NAT, port: 40001 }, { addr: NAT, port: 40002 }, { addr: "192.0.2.3", port: 4500 }];
  endpoints.forEach((e, i) => {
    const n = i + 1;
    const cfg = validateIkeConfig(mergeRawIke({ local: `10.0.${n}.2`, remote: SERVER }, {
      psk: "rw-psk-long-enough-0123", virtual_ip: true, remote_ts: ["0.0.0.0/0"], local_id: `client${n}@example.org`, remote_id: "server",
      ike_proposal: ["aes128-sha256-ecp256"], esp_proposal: ["chacha20poly1305"],
    }), readFile);
    const child: TunnelChild = { name: `c${n}`, local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
    const logs: string[] = [];
    const c: Client = {
      n, addr: e.addr, port: e.port, child, logs,
      driver: new IkeDriver({
        cfg, db: new SaDatabase(), child, reindex: () => {}, log: (_l, m) => logs.push(m), setInterval: () => 0, clearInterval: () => {},
        send: (b) => queue.push(() => server.onDatagram(b.slice(), c.addr, c.port)),
      }),
    };
    clients.push(c);
  });
  const settle = async () => {
    for (let k = 0; k < 5000 && queue.length; k++) {
      queue.shift()!();
      await Promise.resolve();
    }
  };
  return { server, engine, sink, dev, sock, dflt, clients, settle, rlogs, plainIke };
}

describe("IkeDriver responder on the many-children packet path (in memory)", () => {
  test("three road warriors (two behind one NAT address): own child, own endpoint, own virtual IP; client to client; anti-spoofing; NAT rebinding; delete frees the address", async () => {
    const { server, engine, sink, dev, sock, dflt, clients, settle, rlogs, plainIke } = setup();
    server.start();
    for (const c of clients) c.driver.start();
    await settle();
    const dump = () => JSON.stringify({ server: rlogs.slice(-30), c: clients.map((c) => c.logs.slice(-10)) }, null, 1);
    const vips = clients.map((c) => c.driver.virtualIp);
    expect(vips.every((v) => v !== null), dump()).toBe(true);
    expect(new Set(vips).size).toBe(3);
    expect(plainIke).toEqual([]);
    for (const c of clients) expect(c.child.outbound, dump()).not.toBeNull();
    // one keyed engine child per client, with its virtual IP as remote selector and its endpoint
    const keyed = sink.children().filter((x) => x.name !== "ike");
    expect(keyed.length).toBe(3);
    for (const c of clients) {
      const k = keyed.find((x) => x.remote.join() === `${c.driver.virtualIp}/32`)!;
      expect(k, dump()).toBeDefined();
      expect(k.peer).toEqual({ address: c.addr, port: c.port });
      expect(k.local).toEqual(["0.0.0.0/0"]);
    }
    expect(dflt.outbound).toBeNull();
    expect(engine.children.length).toBe(4);

    // server → each client: ESP to that client's address:port, opened by its own inbound SA only
    for (const c of clients) dev.inject(ipv4("10.1.0.1", c.driver.virtualIp!, c.n));
    expect(sock.sent.length).toBe(3);
    for (const c of clients) {
      const d = sock.sent.find((x) => x.addr === c.addr && x.port === c.port)!;
      expect(d, JSON.stringify(sock.sent.map((x) => [x.addr, x.port]))).toBeDefined();
      expect(spiOf(d.buf)).toBe(c.child.inbound[0].spi);
      const o = c.child.inbound[0].open(d.buf);
      expect(o.ok).toBe(true);
      for (const other of clients) if (other !== c) expect(spiOf(d.buf)).not.toBe(other.child.inbound[0].spi);
    }

    // client 1 → client 2 through the server: in from client 1's endpoint, out to the TUN;
    // the kernel routes it back into the TUN, and the engine sends it to client 2's endpoint
    const [c1, c2] = clients;
    const p12 = ipv4(c1.driver.virtualIp!, c2.driver.virtualIp!, 0x12);
    sock.deliver(c1.child.outbound!.seal(p12, 4)!, c1.addr, c1.port);
    expect(dev.written.length).toBe(1);
    expect(dev.written[0][20]).toBe(0x12);
    sock.sent.length = 0;
    dev.inject(dev.written[0].slice());
    expect(sock.sent.length).toBe(1);
    expect([sock.sent[0].addr, sock.sent[0].port]).toEqual([c2.addr, c2.port]);
    expect(c2.child.inbound[0].open(sock.sent[0].buf).ok).toBe(true);

    // client 1 sending as client 2: dropped by the policy check of client 1's child
    const before = engine.counters.drops.policy;
    sock.deliver(c1.child.outbound!.seal(ipv4(c2.driver.virtualIp!, "10.1.0.1", 0x21), 4)!, c1.addr, c1.port);
    expect(engine.counters.drops.policy).toBe(before + 1);
    expect(dev.written.length).toBe(1);

    // NAT rebinding: client 2's mapping changes; its next authenticated IKE message (a Child
    // SA rekey) comes from the new port; the rekeyed pair stays in the same engine child
    const key2 = keyed.find((x) => x.peer?.port === 40002)!.name;
    c2.port = 40099;
    c2.driver.rekeyChild(c2.child.inbound[0].spi, "test");
    await settle();
    expect(rlogs.some((m) => m.includes("peer now at 198.51.100.7:40099")), dump()).toBe(true);
    const after = sink.children().filter((x) => x.name !== "ike");
    expect(after.length).toBe(3);
    const k2 = after.find((x) => x.name === key2)!;
    expect(k2.peer).toEqual({ address: NAT, port: 40099 });
    expect(k2.spiOut).toBe(c2.child.inbound[c2.child.inbound.length - 1].spi);
    sock.sent.length = 0;
    dev.inject(ipv4("10.1.0.1", c2.driver.virtualIp!, 0x22));
    expect(sock.sent.map((x) => [x.addr, x.port])).toEqual([[NAT, 40099]]);

    // client 3 deletes its IKE SA: its child goes, its address is free again
    const vip3 = clients[2].driver.virtualIp!;
    await clients[2].driver.stop(0);
    await settle();
    expect(sink.children().filter((x) => x.name !== "ike").length).toBe(2);
    expect(server.pool!.inUse()).not.toContain(vip3);
    expect(rlogs.some((m) => m === `virtual IP ${vip3} released`)).toBe(true);
    sock.sent.length = 0;
    dev.inject(ipv4("10.1.0.1", vip3, 0x33));
    expect(sock.sent.length).toBe(0);

    const st = server.status();
    expect(st.ikeSas.filter((s) => s.state === "established").length).toBe(2);
    expect(st.ikeSas.every((s) => s.childSas.length === 1)).toBe(true);
    for (const c of clients.slice(0, 2)) await c.driver.stop(0);
    await settle();
    expect(sink.keyedCount).toBe(0);
    expect(engine.children.length).toBe(1);
    await server.stop(0);
    engine.stop();
  });
});
