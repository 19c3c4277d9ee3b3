/**
 * The TCP transport's connection table (lib/tunnel/tcp-peers.ts) without sockets: RFC 9329
 * framing and demultiplexing of real strongSwan IKE and ESP messages (any split of the
 * stream), the IKE header peek, the multi-peer server's routing (by endpoint; an IKE response
 * after a reconnect by SPI, same address only), the client's resend of an unanswered IKE
 * request on a new connection, the bounds (connections, per address, without a frame yet,
 * first-frame and idle timeouts, send queues), and property/fuzz tests: arbitrary bytes,
 * splits and malformed lengths on many connections never throw and stay within the bounds.
 * Plus lib/tunnel/ike-stream.ts (the IKE SA settings over TCP) and the IKEv2-over-TCP config.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { concat, toHex } from "../../lib/core/bytes.ts";
import { classifyUdp, decodeNatt } from "../../lib/ipsec/natt.ts";
import { IKETCP_PREFIX } from "../../lib/ipsec/registry.ts";
import { exchangeTimeoutMs, streamSaConfig } from "../../lib/tunnel/ike-stream.ts";
import { peekIke, type StreamSock, TcpPeers, type TcpPeersOptions } from "../../lib/tunnel/tcp-peers.ts";
import { ConfigError, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { loadGolden, udpPayload } from "../ipsec/helpers.ts";

/** Real UDP/4500-style payloads (IKE with the non-ESP marker, ESP) of one direction of a strongSwan capture. */
function payloads(src: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const f of loadGolden("a_ikev2_psk_gcm_natt")) {
    if (!f.udp || f.ip!.src !== src) continue;
    const [off, end] = udpPayload(f);
    if (classifyUdp(f.udp.srcport, f.udp.dstport) === "ike") {
      out.push(concat(new Uint8Array(4), f.bytes.slice(off, end)));
      continue;
    }
    const l = decodeNatt(f.bytes, off, end, []);
    if (l.kind === "ike") out.push(concat(new Uint8Array(4), f.bytes.slice(l.off, end)));
    else if (l.kind === "esp") out.push(f.bytes.slice(l.off, end));
  }
  return out;
}

const INIT = payloads("192.0.2.1"), RESP = payloads("192.0.2.2");

function frame(p: Uint8Array): Uint8Array {
  const L = p.length + 2;
  return concat(new Uint8Array([L >> 8, L & 0xff]), p);
}

class FakeSock implements StreamSock {
  written: Uint8Array[] = [];
  closedCount = 0;
  /** Bytes the "kernel" takes per write (Infinity: all). */
  constructor(public take = Infinity) {}
  write(b: Uint8Array): number {
    const k = Math.min(b.length, this.take);
    this.written.push(b.slice(0, k));
    return k;
  }
  close(): void {
    this.closedCount++;
  }
  bytes(): Uint8Array {
    return concat(...this.written);
  }
}

type Got = { buf: string; addr: string; port: number };
function table(o: Partial<TcpPeersOptions> = {}): { t: TcpPeers; got: Got[] } {
  const got: Got[] = [];
  const t = new TcpPeers({ role: "server", remote: "192.0.2.1", remotePort: 0, multi: true, acceptAny: true, deliver: (b, addr, port) => got.push({ buf: toHex(b), addr, port }), ...o });
  return { t, got };
}
const L = { address: "192.0.2.2", port: 4500 };

describe("TcpPeers: framing and demultiplexing (real strongSwan IKE and ESP)", () => {
  const stream = concat(IKETCP_PREFIX, ...INIT.map(frame));
  const want = INIT.map((p) => toHex(p));

  test("the fixture has IKE and ESP; peekIke reads SPIi, message ID and the R flag", () => {
    expect(INIT.length).toBe(7);
    const h0 = peekIke(INIT[0])!, r0 = peekIke(RESP[0])!;
    expect(h0).toEqual({ spi: toHex(INIT[0].subarray(4, 12)), mid: 0, response: false });
    expect(r0).toEqual({ spi: h0.spi, mid: 0, response: true });
    expect(peekIke(INIT[1])!.mid).toBe(1);
    expect(peekIke(RESP[1])!).toEqual({ spi: h0.spi, mid: 1, response: true });
    expect(peekIke(INIT[2])).toBeNull(); // ESP
    expect(peekIke(new Uint8Array(20))).toBeNull();
  });

  test("a server gets every payload, byte for byte, from the connection's real endpoint, whatever the split", () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 40 }), (cuts) => {
      const { t, got } = table();
      const c = t.open(new FakeSock(), "192.0.2.1", 40001, L, 0)!;
      const pts = [...new Set(cuts)].sort((a, b) => a - b);
      let prev = 0;
      for (const p of [...pts, stream.length]) {
        expect(t.data(c, stream.subarray(prev, p), 1)).toBe(true);
        prev = p;
      }
      expect(got.map((g) => g.buf)).toEqual(want);
      expect(got.every((g) => g.addr === "192.0.2.1" && g.port === 40001)).toBe(true);
      expect(t.stats.framesIn).toBe(7);
    }), { numRuns: 200 });
  });

  test("a client writes the IKETCP prefix first, frames what it sends, and reports frames from the configured peer", () => {
    const got: Got[] = [];
    const t = new TcpPeers({ role: "client", remote: "192.0.2.2", remotePort: 4500, deliver: (b, addr, port) => got.push({ buf: toHex(b), addr, port }) });
    const s = new FakeSock();
    const c = t.open(s, "192.0.2.2", 4500, { address: "192.0.2.1", port: 51000 }, 0)!;
    t.send([INIT[0]], "192.0.2.2", 4500, 0);
    t.send([INIT[2], INIT[3]], "192.0.2.2", 4500, 0);
    expect(toHex(s.bytes())).toBe(toHex(concat(IKETCP_PREFIX, frame(INIT[0]), frame(INIT[2]), frame(INIT[3]))));
    t.data(c, concat(...RESP.map(frame)), 1);
    expect(got.map((g) => g.buf)).toEqual(RESP.map((p) => toHex(p)));
    expect(got.every((g) => g.addr === "192.0.2.2" && g.port === 4500)).toBe(true);
  });

  test("no IKETCP prefix, Length 0/1 or a too-long Length: the connection is closed and counted", () => {
    for (const bad of [frame(INIT[0]), concat(IKETCP_PREFIX, new Uint8Array([0, 1])), concat(IKETCP_PREFIX, new Uint8Array([0, 0]))]) {
      const { t } = table();
      const s = new FakeSock();
      const c = t.open(s, "192.0.2.1", 40001, L, 0)!;
      expect(t.data(c, bad, 1)).toBe(false);
      expect(s.closedCount).toBe(1);
      expect(t.stats.framingErrors).toBe(1);
      expect(t.list()).toEqual([]);
    }
    const { t } = table({ maxFrame: 100 });
    const c = t.open(new FakeSock(), "192.0.2.1", 40001, L, 0)!;
    expect(t.data(c, concat(IKETCP_PREFIX, frame(INIT[0])), 1)).toBe(false); // IKE_SA_INIT is over 100 bytes
  });
});

describe("TcpPeers: routing of a multi-peer server", () => {
  function twoPeers() {
    const r = table();
    const sa = new FakeSock(), sb = new FakeSock();
    const a = r.t.open(sa, "192.0.2.1", 40001, L, 0)!;
    const b = r.t.open(sb, "198.51.100.7", 50002, L, 0)!;
    r.t.data(a, concat(IKETCP_PREFIX, frame(INIT[0])), 1);
    r.t.data(b, IKETCP_PREFIX, 1);
    return { ...r, sa, sb, a, b };
  }

  test("each datagram leaves on its endpoint's connection; a missing endpoint is a not-connected drop", () => {
    const { t, sa, sb } = twoPeers();
    t.send([RESP[0]], "192.0.2.1", 40001, 2);
    t.send([RESP[2]], "198.51.100.7", 50002, 2);
    expect(toHex(sa.bytes())).toBe(toHex(frame(RESP[0])));
    expect(toHex(sb.bytes())).toBe(toHex(frame(RESP[2])));
    t.send([RESP[3]], "192.0.2.1", 40009, 2);
    expect(t.stats.notConnectedDrops).toBe(1);
    expect(t.connFor("192.0.2.1", 40001)!.local).toEqual(L);
  });

  test("IPv6 and IPv4-mapped peers: one endpoint whatever the text form", () => {
    const { t } = table();
    const s6 = new FakeSock(), s4 = new FakeSock();
    t.open(s6, "2001:db8::1", 40001, { address: "2001:db8::2", port: 4500 }, 0);
    t.open(s4, "::ffff:192.0.2.1", 40002, L, 0);
    t.send([RESP[2]], "2001:db8:0:0:0:0:0:1", 40001, 1);
    t.send([RESP[3]], "192.0.2.1", 40002, 1);
    expect(toHex(s6.bytes())).toBe(toHex(frame(RESP[2])));
    expect(toHex(s4.bytes())).toBe(toHex(frame(RESP[3])));
    expect(t.connFor("2001:DB8::1", 40001)!.local).toEqual({ address: "2001:db8::2", port: 4500 });
    expect(t.list().map((c) => c.addr)).toEqual(["2001:db8::1", "192.0.2.1"]);
  });

  test("after the initiator reconnects, an IKE response to its old endpoint goes on the connection its request came in on (same address only)", () => {
    const { t, a, sa } = twoPeers();
    t.closed(a);
    const s2 = new FakeSock();
    const a2 = t.open(s2, "192.0.2.1", 40077, L, 3)!;
    t.data(a2, concat(IKETCP_PREFIX, frame(INIT[1])), 4); // the retransmitted request, SPIi as before
    t.send([RESP[1]], "192.0.2.1", 40001, 5); // the IKE SA still has the old endpoint
    expect(toHex(s2.bytes())).toBe(toHex(frame(RESP[1])));
    expect(sa.written.length).toBe(0);
    // ESP is never rerouted by SPI: it follows the IKE SA's (authenticated) endpoint
    t.send([RESP[2]], "192.0.2.1", 40001, 5);
    expect(t.stats.notConnectedDrops).toBe(1);
    // a request with that SPI from another address does not take the responses
    const { t: t2, a: x } = twoPeers();
    t2.closed(x);
    const s3 = new FakeSock();
    const evil = t2.open(s3, "203.0.113.9", 1234, L, 3)!;
    t2.data(evil, concat(IKETCP_PREFIX, frame(INIT[1])), 4);
    t2.send([RESP[1]], "192.0.2.1", 40001, 5);
    expect(s3.written.length).toBe(0);
  });
});

describe("TcpPeers: a multi-peer server's own IKE requests", () => {
  test("a request that could not go out is written again when the peer speaks on a new connection from the same address", () => {
    const { t } = table();
    const a = t.open(new FakeSock(), "192.0.2.1", 40001, L, 0)!;
    t.data(a, concat(IKETCP_PREFIX, frame(INIT[0])), 1);
    t.closed(a);
    t.send([INIT[1]], "192.0.2.1", 40001, 2); // (any IKE request with that SPI stands for ours)
    expect(t.stats.notConnectedDrops).toBe(1);
    const se = new FakeSock();
    const evil = t.open(se, "203.0.113.9", 1, L, 3)!;
    t.data(evil, concat(IKETCP_PREFIX, frame(INIT[6])), 3);
    expect(se.written.length).toBe(0);
    const s2 = new FakeSock();
    const a2 = t.open(s2, "192.0.2.1", 40002, L, 4)!;
    t.data(a2, concat(IKETCP_PREFIX, frame(INIT[6])), 5);
    t.data(a2, frame(INIT[6]), 6);
    expect(toHex(s2.bytes())).toBe(toHex(frame(INIT[1])));
    expect(t.stats.ikeResent).toBe(1);
    // answered: forgotten
    t.data(a2, frame(RESP[1]), 7);
    t.closed(a2);
    const s3 = new FakeSock();
    const a3 = t.open(s3, "192.0.2.1", 40003, L, 8)!;
    t.data(a3, concat(IKETCP_PREFIX, frame(INIT[6])), 9);
    expect(s3.written.length).toBe(0);
  });
});

describe("TcpPeers: the client after a reconnect", () => {
  function client() {
    const t = new TcpPeers({ role: "client", remote: "192.0.2.2", remotePort: 4500, deliver: () => {} });
    return t;
  }
  test("an unanswered IKE request is written again on the new connection, once", () => {
    const t = client();
    const s1 = new FakeSock();
    const c1 = t.open(s1, "192.0.2.2", 4500, L, 0)!;
    t.send([INIT[1]], "192.0.2.2", 4500, 10);
    t.closed(c1);
    const s2 = new FakeSock();
    t.open(s2, "192.0.2.2", 4500, L, 20);
    expect(toHex(s2.bytes())).toBe(toHex(concat(IKETCP_PREFIX, frame(INIT[1]))));
    expect(t.stats.ikeResent).toBe(1);
  });
  test("an answered request, or one older than resendWithinMs, is not", () => {
    const t = client();
    const c1 = t.open(new FakeSock(), "192.0.2.2", 4500, L, 0)!;
    t.send([INIT[1]], "192.0.2.2", 4500, 10);
    t.data(c1, frame(RESP[1]), 11);
    t.closed(c1);
    const s2 = new FakeSock();
    const c2 = t.open(s2, "192.0.2.2", 4500, L, 20)!;
    expect(toHex(s2.bytes())).toBe(toHex(IKETCP_PREFIX));
    t.send([INIT[6]], "192.0.2.2", 4500, 30);
    t.closed(c2);
    const s3 = new FakeSock();
    t.open(s3, "192.0.2.2", 4500, L, 30 + 120_001);
    expect(toHex(s3.bytes())).toBe(toHex(IKETCP_PREFIX));
    expect(t.stats.ikeResent).toBe(0);
  });
  test("sent while disconnected: dropped and counted, and written once connected", () => {
    const t = client();
    t.send([INIT[0]], "192.0.2.2", 4500, 0);
    t.send([INIT[2]], "192.0.2.2", 4500, 0);
    expect(t.stats.notConnectedDrops).toBe(2);
    const c = t.open(new FakeSock(), "192.0.2.2", 4500, L, 1)!;
    t.closed(c);
    const s = new FakeSock();
    t.open(s, "192.0.2.2", 4500, L, 2);
    expect(toHex(s.bytes())).toBe(toHex(concat(IKETCP_PREFIX, frame(INIT[0]))));
  });
});

describe("TcpPeers: bounds", () => {
  test("connections, per address and without a frame yet are capped; refused ones are counted", () => {
    const { t } = table({ maxConnections: 6, maxPerAddress: 3, maxUnproven: 4 });
    const ok = (a: string, p: number) => t.open(new FakeSock(), a, p, L, 0) !== null;
    expect([ok("10.0.0.1", 1), ok("10.0.0.1", 2), ok("10.0.0.1", 3), ok("10.0.0.1", 4)]).toEqual([true, true, true, false]);
    expect([ok("10.0.0.2", 1), ok("10.0.0.3", 1), ok("10.0.0.4", 1)]).toEqual([true, false, false]); // 4 without a frame
    for (const c of t.list()) t.data(c, concat(IKETCP_PREFIX, frame(INIT[2])), 1);
    expect([ok("10.0.0.5", 1), ok("10.0.0.6", 1), ok("10.0.0.7", 1)]).toEqual([true, true, false]); // 6 in all
    expect(t.stats.rejected).toBe(4);
    expect(t.stats.connections).toBe(6);
  });

  test("a server logs at most 20 connection lines a second (peers control how many events there are)", () => {
    const lines: string[] = [];
    const { t } = table({ maxConnections: 2, log: (m) => lines.push(m) });
    for (let i = 0; i < 100; i++) t.open(new FakeSock(), "10.0.0.1", 1000 + i, L, 5000 + i);
    expect(t.stats.rejected).toBe(98);
    expect(lines.length).toBe(20);
    t.open(new FakeSock(), "10.0.0.1", 9, L, 6000);
    expect(lines[20]).toBe("tcp: 80 more connection log lines not shown");
  });

  test("only the configured peer without acceptAny; first-frame and idle timeouts close connections", () => {
    const { t } = table({ acceptAny: false, firstFrameMs: 1000, idleMs: 5000 });
    expect(t.open(new FakeSock(), "192.0.2.9", 1, L, 0)).toBeNull();
    const quiet = new FakeSock(), talker = new FakeSock();
    t.open(quiet, "192.0.2.1", 1, L, 0);
    const c = t.open(talker, "::ffff:192.0.2.1", 2, L, 0)!;
    t.data(c, concat(IKETCP_PREFIX, frame(INIT[2])), 500);
    t.tick(999);
    expect(quiet.closedCount).toBe(0);
    t.tick(1000);
    expect(quiet.closedCount).toBe(1);
    t.tick(5499);
    expect(talker.closedCount).toBe(0);
    t.tick(5500);
    expect(talker.closedCount).toBe(1);
    expect(t.stats.timeouts).toBe(2);
    expect(t.list()).toEqual([]);
  });

  test("send queues: per connection and in total; what does not fit is dropped and counted", () => {
    const { t } = table({ maxQueueBytes: 4000, maxTotalQueueBytes: 6000 });
    const s1 = new FakeSock(0), s2 = new FakeSock(0);
    t.open(s1, "10.0.0.1", 1, L, 0);
    t.open(s2, "10.0.0.2", 1, L, 0);
    const p = new Uint8Array(998).fill(7); // 1000-byte frames
    for (let i = 0; i < 10; i++) t.send([p], "10.0.0.1", 1, 0);
    for (let i = 0; i < 10; i++) t.send([p], "10.0.0.2", 1, 0);
    expect(t.connFor("10.0.0.1", 1)!.queued).toBeLessThanOrEqual(4000 + 1000);
    expect(t.stats.queuedBytes).toBeLessThanOrEqual(6000 + 2000);
    expect(t.stats.queueDrops).toBeGreaterThan(0);
    expect(t.stats.framesOut + t.stats.queueDrops).toBe(20);
  });
});

describe("TcpPeers: property and fuzz tests (anything a peer sends)", () => {
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.constantFrom(IKETCP_PREFIX, ...INIT.map(frame)),
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 40 })).map(([len, b]) => concat(new Uint8Array([len >> 8, len & 0xff]), b)),
  );
  test("arbitrary streams, splits, lengths and peers: never throws, every bound holds", () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.oneof(chunk, fc.constant(null)), fc.integer({ min: 0, max: 3000 })), { maxLength: 120 }),
      (ops) => {
        const { t } = table({ maxConnections: 5, maxPerAddress: 3, maxUnproven: 2, firstFrameMs: 2000, idleMs: 10_000, maxQueueBytes: 2000, maxTotalQueueBytes: 5000, maxFrame: 4096 });
        const conns = new Map<number, ReturnType<TcpPeers["open"]>>();
        let now = 0;
        for (const [who, bytes, dt] of ops) {
          now += dt;
          let c = conns.get(who);
          if (!c || c.closed) {
            c = t.open(new FakeSock(who % 2 ? 0 : Infinity), `10.0.0.${who % 4}`, 1000 + who, L, now);
            conns.set(who, c);
            if (!c) continue;
          }
          if (bytes === null) t.closed(c);
          else t.data(c, bytes, now);
          t.send([new Uint8Array(200 + who)], `10.0.0.${who % 4}`, 1000 + who, now);
          t.tick(now);
          expect(t.list().length).toBeLessThanOrEqual(5);
          expect(t.list().filter((x) => !x.proven).length).toBeLessThanOrEqual(2);
          expect(t.stats.queuedBytes).toBeLessThanOrEqual(5000 + 4096);
          for (const x of t.list()) expect(now - x.lastRx).toBeLessThan(10_000 + 3000 + 1);
        }
        t.closeAll();
        expect(t.stats.queuedBytes).toBe(0);
        expect(t.list()).toEqual([]);
      },
    ), { numRuns: 300 });
  });

  test("mutated real streams (flipped bytes, truncation) through a client: never throws", () => {
    const base = concat(...RESP.map(frame));
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }))), fc.nat(base.length), fc.array(fc.nat(base.length)), (flips, cut, splits) => {
      const b = base.slice(0, cut);
      for (const [i, v] of flips) if (i < b.length) b[i] = v;
      const t = new TcpPeers({ role: "client", remote: "192.0.2.2", remotePort: 4500, deliver: () => {} });
      const c = t.open(new FakeSock(), "192.0.2.2", 4500, L, 0)!;
      let prev = 0;
      for (const p of [...splits.filter((x) => x <= b.length).sort((x, y) => x - y), b.length]) {
        t.data(c, b.subarray(prev, p), 1);
        prev = p;
      }
      expect(t.stats.framesIn).toBeLessThanOrEqual(RESP.length + Math.ceil(b.length / 3));
    }), { numRuns: 300 });
  });
});

describe("IKEv2 over TCP: SA settings and configuration", () => {
  test("no retransmissions: one exchange timeout as long as UDP's whole schedule; no NAT keepalives, no forced encapsulation, no fragmentation", () => {
    expect(exchangeTimeoutMs({})).toBe(Math.round(4000 * (1 + 1.8 + 1.8 ** 2 + 1.8 ** 3 + 1.8 ** 4 + 1.8 ** 5)));
    const c = streamSaConfig({ localId: "192.0.2.1", local: { address: "0.0.0.0", port: 4500 }, remote: { address: "192.0.2.2", port: 4500 }, retransmitTimeout: 1000, retransmitTries: 2, forceEncap: true, natKeepalive: 20_000 }, { address: "192.0.2.1", port: 40001 });
    expect(c.retransmitTries).toBe(0);
    expect(c.retransmitTimeout).toBe(Math.round(1000 * (1 + 1.8 + 1.8 ** 2)));
    expect([c.natKeepalive, c.forceEncap, c.fragmentation, c.startOn4500]).toEqual([0, false, false, true]);
    expect(c.local).toEqual({ address: "192.0.2.1", port: 40001 });
    expect(streamSaConfig(c, null).local).toEqual({ address: "192.0.2.1", port: 40001 });
  });

  const raw = (o: Record<string, unknown> = {}, ike: Record<string, unknown> = {}) => ({
    transport: "tcp", remote: "192.0.2.2", tun_name: "t0", ...o,
    ike: { psk: "a-long-enough-test-psk", local_ts: ["10.1.0.1/32"], remote_ts: ["10.2.0.0/24"], ...ike },
  });
  const errKey = (r: ReturnType<typeof raw>) => {
    try {
      validateIkeConfig(r);
      return null;
    } catch (e) {
      return e instanceof ConfigError ? e.key : String(e);
    }
  };
  test("transport = \"tcp\" with [ike]: the initiator is the TCP client to port 4500, the responder the server; no plain IKE port", () => {
    const i = validateIkeConfig(raw());
    expect([i.transport, i.tcpRole, i.remotePort, i.localPort, i.ike.ikePort]).toEqual(["tcp", "client", 4500, 4500, 0]);
    const r = validateIkeConfig(raw({ remote: undefined }, { responder: true }));
    expect([r.transport, r.tcpRole, r.ike.remoteAny]).toEqual(["tcp", "server", true]);
    expect(validateIkeConfig(raw({ remote_port: 443 })).remotePort).toBe(443);
    expect(validateIkeConfig(raw({ tcp_role: "client" })).tcpRole).toBe("client");
    expect(errKey(raw({ tcp_role: "server" }))).toBe("tcp_role");
    expect(errKey(raw({}, { port: 500 }))).toBe("ike.port");
    expect(validateIkeConfig(raw({}, { port: 0 })).ike.ikePort).toBe(0);
    expect(validateIkeConfig(raw({ transport: "udp" })).ike.ikePort).toBe(500);
  });
});
