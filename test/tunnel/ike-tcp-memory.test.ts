/**
 * IKEv2 over the TCP transport's connection table, in memory (no sockets, no root): IkeDrivers
 * with the stream seam (lib/tunnel/ike-stream.ts) over TcpPeers (lib/tunnel/tcp-peers.ts)
 * joined by byte pipes. One responder (multi-peer server) and two initiators: one whose
 * connection the responder sees from the address and port it was made from (no NAT), one
 * seen from another address and port (a NAT). Checks: both tunnels up, one connection each;
 * the NAT_DETECTION payloads, hashed over the real TCP endpoints, tell the truth (NAT only
 * for the second); no retransmissions and no keepalives; a connection lost with a request in
 * flight, then one lost with the answer in flight: the initiator reconnects from a new port,
 * writes the request again, gets its answer (the second time through the response route by
 * SPI), and the responder's IKE SA and Child SA follow the new connection; a liveness check
 * of the responder's, sent while the connection was down, goes out again on the new one.
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import type { TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";
import { type PeerConn, type StreamSock, TcpPeers } from "../../lib/tunnel/tcp-peers.ts";

const readFile = () => new Uint8Array(0);
const SERVER = { address: "192.0.2.2", port: 4500 };
const PSK = "tcp-memory-psk-0123456789";

/** One direction of a connection: writes are queued for the other end (and can be lost). */
class Pipe implements StreamSock {
  dead = false;
  constructor(private readonly q: { run: () => void; pipe: Pipe }[]) {}
  target: ((b: Uint8Array) => void) | null = null;
  write(b: Uint8Array): number {
    const c = b.slice();
    if (!this.dead) this.q.push({ pipe: this, run: () => this.target?.(c) });
    return b.length;
  }
  close(): void {
    this.dead = true;
  }
}

function world() {
  const q: { run: () => void; pipe: Pipe }[] = [];
  let now = 1_000_000;
  const clock = () => now;
  const rlogs: string[] = [];
  let server!: IkeDriver;
  const srvPeers = new TcpPeers({
    role: "server", remote: "0.0.0.0", remotePort: 0, multi: true, acceptAny: true,
    deliver: (b, addr, port) => server.onDatagram(b, addr, port, "natt"),
  });
  const rcfg = validateIkeConfig(mergeRawIke({ local: SERVER.address, transport: "tcp" }, { psk: PSK, responder: true, local_ts: ["10.2.0.0/24"], remote_ts: ["10.1.0.0/16"] }), readFile);
  const rchild: TunnelChild = { name: "ike", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
  server = new IkeDriver({
    cfg: rcfg, db: new SaDatabase(), child: rchild, log: (_l, m) => rlogs.push(m), now: clock, setInterval: () => 0, clearInterval: () => {},
    send: (b, addr, port) => srvPeers.send([b], addr, port, now),
    stream: { localEndpoint: (p) => srvPeers.connFor(p.address, p.port)?.local ?? null },
  });

  function client(n: number, local: { address: string; port: number }, seenAs: { address: string; port: number }) {
    const logs: string[] = [];
    let drv!: IkeDriver;
    const peers = new TcpPeers({ role: "client", remote: SERVER.address, remotePort: SERVER.port, deliver: (b, addr, port) => drv.onDatagram(b, addr, port, "natt") });
    const cfg = validateIkeConfig(mergeRawIke({ local: local.address, remote: SERVER.address, transport: "tcp" }, { psk: PSK, local_ts: [`10.1.${n}.0/24`], remote_ts: ["10.2.0.0/24"] }), readFile);
    const child: TunnelChild = { name: `c${n}`, local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
    drv = new IkeDriver({
      cfg, db: new SaDatabase(), child, log: (_l, m) => logs.push(m), now: clock, setInterval: () => 0, clearInterval: () => {},
      send: (b, addr, port) => peers.send([b], addr, port, now),
      stream: { localEndpoint: () => peers.list()[0]?.local ?? null },
    });
    const conn = { c: null as PeerConn | null, s: null as PeerConn | null, up: null as Pipe | null, down: null as Pipe | null };
    /** Make the TCP connection from `local.port` (seen by the server from `seenAs`). */
    const connect = (lport: number, sport: number) => {
      const up = new Pipe(q), down = new Pipe(q);
      const s = srvPeers.open(down, seenAs.address, sport, SERVER, now)!;
      const c = peers.open(up, SERVER.address, SERVER.port, { address: local.address, port: lport }, now)!;
      up.target = (b) => srvPeers.data(s, b, now);
      down.target = (b) => peers.data(c, b, now);
      Object.assign(conn, { c, s, up, down });
    };
    /** The connection breaks: both ends see it closed; what was in flight is lost. */
    const cut = () => {
      conn.up!.close();
      conn.down!.close();
      peers.closed(conn.c!);
      srvPeers.closed(conn.s!);
    };
    return { drv, peers, logs, connect, cut, conn, local, seenAs };
  }

  const settle = (max = 10_000, until?: () => boolean) => {
    for (let k = 0; k < max && q.length; k++) {
      if (until?.()) return;
      const x = q.shift()!;
      if (!x.pipe.dead) x.run();
    }
  };
  return { q, settle, server, srvPeers, rlogs, client, tick: (ms: number) => (now += ms) };
}

describe("IKEv2 over TcpPeers, in memory", () => {
  test("two initiators (one behind a NAT) up over one connection each; truthful NAT-D; reconnects with a request or an answer lost in flight", () => {
    const w = world();
    const a = w.client(1, { address: "192.0.2.1", port: 0 }, { address: "192.0.2.1", port: 0 });
    const b = w.client(2, { address: "10.0.0.5", port: 0 }, { address: "198.51.100.7", port: 0 });
    a.connect(40001, 40001);
    b.connect(50001, 61001); // the NAT rewrites address and port
    w.server.start();
    a.drv.start();
    b.drv.start();
    w.settle();
    for (const c of [a, b]) expect(c.logs.join("\n")).toMatch(/Child SA installed/);
    expect(w.rlogs.filter((l) => /Child SA installed/.test(l)).length).toBe(2);
    expect(w.srvPeers.list().length).toBe(2);
    // NAT-D over the real endpoints: a NAT only in front of b
    expect(a.logs.join("\n")).not.toMatch(/NAT detected/);
    expect(b.logs.join("\n")).toMatch(/NAT detected \(we are behind a NAT\)/);
    expect(w.rlogs.join("\n")).toMatch(/NAT detected \(peer is behind a NAT\)/);
    const st = w.server.status().ikeSas.map((s) => s.remote).sort();
    expect(st).toEqual(["192.0.2.1:40001", "198.51.100.7:61001"]);
    expect(a.drv.status().ikeSas[0].local).toBe("192.0.2.1:40001");

    // a liveness check lost with the connection: written again on the new one, answered there
    const e = a.drv.manager.list()[0];
    a.drv.manager.call(e, (sa) => sa.dpd(Date.now()), Date.now());
    a.cut();
    expect(a.peers.stats.notConnectedDrops).toBe(0);
    a.connect(40002, 40002);
    expect(a.peers.stats.ikeResent).toBe(1);
    w.settle();
    expect(a.logs.join("\n")).toMatch(/liveness check answered/);
    expect(w.server.status().ikeSas.map((s) => s.remote)).toContain("192.0.2.1:40002");
    expect(w.rlogs.join("\n")).toMatch(/ESP over TCP to 192\.0\.2\.1:40002 now/);

    // the answer lost: the request arrives, the connection breaks before the response does;
    // the retransmitted request's cached answer reaches the new connection through the SPI route
    const answered = () => a.logs.filter((l) => /liveness check answered/.test(l)).length;
    const before = answered();
    a.drv.manager.call(e, (sa) => sa.dpd(Date.now()), Date.now());
    w.settle(1); // the request reaches the responder; its answer is queued
    expect(w.q.length).toBe(1);
    a.cut();
    a.connect(40003, 40003);
    w.settle();
    expect(answered()).toBe(before + 1);
    expect(w.srvPeers.stats.notConnectedDrops).toBe(0);
    expect(w.srvPeers.list().length).toBe(2);
    // the responder's own request (a liveness check) sent while a's connection is down: once a
    // is back and speaks on the new connection, the request goes out again and is answered
    const re = w.server.manager.list().find((x) => x.sa.remote.address === "192.0.2.1")!;
    const rAnswered = () => w.rlogs.filter((l) => /liveness check answered/.test(l)).length;
    const rBefore = rAnswered();
    a.cut();
    w.server.manager.call(re, (sa) => sa.dpd(Date.now()), Date.now());
    expect(w.srvPeers.stats.notConnectedDrops).toBe(1);
    a.connect(40004, 40004);
    a.drv.manager.call(e, (sa) => sa.dpd(Date.now()), Date.now()); // what ike-tcp-up.ts does after a reconnect
    w.settle();
    expect(rAnswered()).toBe(rBefore + 1);
    expect(answered()).toBe(before + 2);
    expect(w.srvPeers.stats.ikeResent).toBe(1);
    expect(w.server.status().ikeSas.map((s) => s.remote)).toContain("192.0.2.1:40004");

    // b was never disturbed; nothing was retransmitted and no keepalive sent
    expect(b.peers.stats.ikeResent).toBe(0);
    for (const l of [...a.logs, ...b.logs, ...w.rlogs]) expect(l).not.toMatch(/retransmit \d+ of request/);
    expect(a.peers.stats.keepalivesSuppressed + b.peers.stats.keepalivesSuppressed + w.srvPeers.stats.keepalivesSuppressed).toBe(0);
  });
});
