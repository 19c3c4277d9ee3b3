/**
 * The connection table of the TCP transport (RFC 9329), runtime-neutral and I/O-free: the
 * sockets come in as {@link StreamSock} handles (write / close), bytes and time are passed in.
 * lib/platform/bun/tcp-transport.ts is the Bun adapter (listen, connect, reconnect, timers).
 *
 * Each connection has its RFC 9329 stream parser (lib/ipsec/tcpencap.ts: "IKETCP" prefix on
 * the initiator's stream, 2-byte Length, IKE behind the 4-byte zero non-ESP marker, ESP
 * without) and its send queue. Received frames are handed on as the UDP/4500 payload the
 * engine expects (IKE with the marker put back), from the connection's peer endpoint.
 *
 * Modes:
 * - `client`: one connection at a time; everything is sent on it and every frame is reported
 *   as coming from the configured `remote:remotePort`. The last IKE request sent and not yet
 *   answered is kept (one, a copy) and written again on the next connection after a drop
 *   (RFC 9329 §6: the initiator re-establishes the connection and the IKE SA goes on; there
 *   are no IKE retransmission timers over TCP, so a request lost with the connection would
 *   otherwise wait for the exchange timeout).
 * - `server` (`multi: false`, manual keys): one peer, from `remote` only; a newer connection
 *   from it replaces the older one.
 * - `server` (`multi: true`, IKEv2 responder): many peers, one connection each, each reported
 *   with its real address and (ephemeral) port, so the IKE SA manager tells them apart and
 *   sends to the same endpoint. A datagram goes out on the connection of its destination
 *   endpoint. An IKE response whose endpoint has no connection any more (the initiator
 *   reconnected and retransmitted the request on its new connection) goes out on the
 *   connection the request with that IKE SPI last came in on, if it is from the same address
 *   (RFC 9329 §6: the responder answers on the connection the request came in on). Its own
 *   last request per IKE SA, until answered, is written again when an IKE message with that
 *   SPI comes in on another connection from the same address (the peer reconnected while the
 *   request was in flight or could not be sent).
 *
 * Bounds (anything a peer sends is bounded): connections (`maxConnections`, and
 * `maxPerAddress` from one address), connections that have not delivered a complete frame
 * yet (`maxUnproven`, each closed after `firstFrameMs`), idle connections (`idleMs` without a
 * frame), the receive buffer (the parser's one frame, at most `maxFrame` bytes), the send
 * queue per connection (`maxQueueBytes`) and in total (`maxTotalQueueBytes`; frames that do
 * not fit are dropped and counted, as a full UDP socket buffer drops datagrams), and the
 * response routes (4 per connection slot, oldest forgotten first).
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { IKETCP_PREFIX } from "../ipsec/registry.ts";
import { TcpEncapParser } from "../ipsec/tcpencap.ts";
import { endpointKey as key, hostPort, peekIke, sameAddr, stripMapped } from "./tcp-endpoints.ts";

export { hostPort, peekIke, sameAddr, stripMapped } from "./tcp-endpoints.ts";

export type TcpRole = "client" | "server";

/** One accepted or connected socket, as the table sees it. */
export interface StreamSock {
  /** Write bytes; returns how many the kernel took (the rest is the caller's to queue). */
  write(b: Uint8Array): number;
  /** Close at once (RST or FIN, the adapter's choice); the adapter then calls {@link TcpPeers.closed}. */
  close(): void;
}

export interface TcpPeersOptions {
  role: TcpRole;
  /** The configured peer: the client's destination; the server's only accepted address (unless `acceptAny`). */
  remote: string;
  remotePort: number;
  /** Server: many peers, one connection each (IKEv2 responder). Default false. */
  multi?: boolean;
  /** Server with `multi`: accept any address (`remote = %any`). */
  acceptAny?: boolean;
  /** Bytes queued per connection while the kernel's send buffer is full (default 256 KiB). */
  maxQueueBytes?: number;
  /** Bytes queued over all connections (default 16 MiB). */
  maxTotalQueueBytes?: number;
  /** Server with `multi`: connections at once (default 256), from one address (default 64). */
  maxConnections?: number;
  maxPerAddress?: number;
  /** Server with `multi`: connections that have not delivered a complete frame yet (default 32). */
  maxUnproven?: number;
  /** Server: close a connection without a complete frame after this many ms (default 10 s). */
  firstFrameMs?: number;
  /** Server with `multi`: close a connection without a frame for this many ms (default 10 min; 0 = never). */
  idleMs?: number;
  /** Client: an unanswered IKE request older than this is not written again after a reconnect (default 120 s). */
  resendWithinMs?: number;
  /** Largest frame accepted (default 65535, the Length field's maximum). */
  maxFrame?: number;
  /** A received datagram (IKE with the non-ESP marker, or ESP) from `addr:port`. */
  deliver: (buf: Uint8Array, addr: string, port: number) => void;
  log?: (msg: string) => void;
}

export interface TcpPeersStats {
  /** Frames not sent (queue full, not connected, too long): same meaning as the UDP socket's counter. */
  sendErrors: number;
  framesOut: number;
  bytesOut: number;
  framesIn: number;
  bytesIn: number;
  queueDrops: number;
  notConnectedDrops: number;
  keepalivesSuppressed: number;
  keepalivesIn: number;
  /** Connections established (client) or accepted (server). */
  connects: number;
  disconnects: number;
  /** Server: connections refused (address not allowed, or a limit reached). */
  rejected: number;
  /** Connections closed because of a framing error. */
  framingErrors: number;
  /** Server: connections closed by the first-frame or idle timeout. */
  timeouts: number;
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Failed connection attempts (client; counted by the adapter). */
  connectErrors: number;
  /** Client: unanswered IKE requests written again on a new connection. */
  ikeResent: number;
  /** Connections up now. */
  connections: number;
}

/** One connection. */
export class PeerConn {
  readonly parser: TcpEncapParser;
  readonly queue: Uint8Array[] = [];
  queued = 0;
  closed = false;
  /** Has delivered at least one complete frame. */
  proven = false;
  lastRx: number;
  constructor(
    readonly sock: StreamSock,
    /** The peer endpoint frames are reported from (client: the configured remote). */
    readonly addr: string,
    readonly port: number,
    readonly local: { address: string; port: number },
    readonly openedAt: number,
    role: TcpRole,
    maxFrame: number,
  ) {
    // the client-to-server direction starts with "IKETCP"; the other never does
    this.parser = new TcpEncapParser({ prefix: role === "server" ? "required" : "none", maxFrame });
    this.lastRx = openedAt;
  }
}

const MARKER_LEN = 4;
const DRAIN_CHUNK = 256 * 1024;

export class TcpPeers {
  readonly stats: TcpPeersStats = {
    sendErrors: 0, framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0, queueDrops: 0, notConnectedDrops: 0,
    keepalivesSuppressed: 0, keepalivesIn: 0, connects: 0, disconnects: 0, rejected: 0, framingErrors: 0, timeouts: 0,
    queuedBytes: 0, maxQueuedBytes: 0, connectErrors: 0, ikeResent: 0, connections: 0,
  };
  /** The one connection (client, single-peer server) or the newest one (multi). */
  private current: PeerConn | null = null;
  private readonly byKey = new Map<string, PeerConn>();
  /** Multi server: IKE SPIi → the connection its last request came in on (bounded, oldest first out). */
  private readonly routes = new Map<string, PeerConn>();
  /** Client: the last IKE request sent and not answered yet. */
  private pending: { data: Uint8Array; spi: string; mid: number; at: number } | null = null;
  /** Multi server: per IKE SPIi, our last request not answered yet and the connection it went on (bounded, oldest first out). */
  private readonly ours = new Map<string, { data: Uint8Array; mid: number; at: number; addr: string; conn: PeerConn | null }>();
  private readonly an: Anomaly[] = [];
  private readonly o: Required<Omit<TcpPeersOptions, "log" | "deliver" | "acceptAny" | "multi">> & TcpPeersOptions;
  private readonly log: (m: string) => void;
  private everConnected = false;
  /** The latest time passed in (for the log limit). */
  private clock = 0;
  private logSec = -1;
  private logLines = 0;
  private logSkipped = 0;

  constructor(o: TcpPeersOptions) {
    this.o = {
      maxQueueBytes: 256 * 1024, maxTotalQueueBytes: 16 * 1024 * 1024, maxConnections: 256, maxPerAddress: 64, maxUnproven: 32,
      firstFrameMs: 10_000, idleMs: 600_000, resendWithinMs: 120_000, maxFrame: 65535, ...o,
    };
    const raw = o.log ?? (() => {});
    // a server's lines are one per connection event, which peers control: at most 20 a second
    this.log = this.multi ? (m) => this.limitedLog(raw, m) : raw;
  }

  private limitedLog(raw: (m: string) => void, m: string): void {
    const sec = Math.floor(this.clock / 1000);
    if (sec !== this.logSec) {
      if (this.logSkipped) raw(`tcp: ${this.logSkipped} more connection log lines not shown`);
      this.logSec = sec;
      this.logLines = this.logSkipped = 0;
    }
    if (this.logLines >= 20) {
      this.logSkipped++;
      return;
    }
    this.logLines++;
    raw(m);
  }

  get multi(): boolean {
    return this.o.role === "server" && this.o.multi === true;
  }

  /** True while a connection is up (multi server: while any is). */
  get connected(): boolean {
    return this.multi ? this.byKey.size > 0 : this.current !== null && !this.current.closed;
  }

  /** The connection a datagram to `addr:port` leaves on, or null. */
  connFor(addr: string, port: number): PeerConn | null {
    if (!this.multi) return this.current !== null && !this.current.closed ? this.current : null;
    return this.byKey.get(key(addr, port)) ?? null;
  }

  /** Every open connection (newest last). */
  list(): PeerConn[] {
    return this.multi ? [...this.byKey.values()] : this.current && !this.current.closed ? [this.current] : [];
  }

  /**
   * A connection is up. Returns its entry, or null when refused (the caller closes the socket;
   * nothing else to undo). `now` in ms.
   */
  open(sock: StreamSock, peerAddr: string, peerPort: number, local: { address: string; port: number }, now: number): PeerConn | null {
    const o = this.o;
    this.clock = now;
    const addr = stripMapped(peerAddr);
    if (o.role === "server" && !(this.multi && o.acceptAny) && !sameAddr(addr, o.remote)) {
      this.stats.rejected++;
      this.log(`tcp: connection from ${hostPort(addr, peerPort)} rejected (peer is ${o.remote})`);
      return null;
    }
    if (this.multi) {
      const conns = [...this.byKey.values()];
      const why = conns.length >= o.maxConnections ? `${o.maxConnections} connections` :
        conns.filter((c) => !c.proven).length >= o.maxUnproven ? `${o.maxUnproven} connections without a complete frame yet` :
        conns.filter((c) => sameAddr(c.addr, addr)).length >= o.maxPerAddress ? `${o.maxPerAddress} connections from ${addr}` : "";
      if (why) {
        this.stats.rejected++;
        this.log(`tcp: connection from ${hostPort(addr, peerPort)} refused: ${why} already`);
        return null;
      }
    }
    const role = o.role;
    const c = new PeerConn(sock, role === "client" ? o.remote : addr, role === "client" ? o.remotePort : peerPort, local, now, role, o.maxFrame);
    this.stats.connects++;
    if (this.multi) {
      this.byKey.set(key(c.addr, c.port), c);
      this.current = c;
    } else {
      const old = this.current;
      this.current = c;
      if (old && !old.closed) {
        this.log(`tcp: peer reconnected from ${hostPort(addr, peerPort)}; closing the older connection`);
        this.drop(old);
        old.sock.close();
      }
    }
    this.stats.connections = this.list().length;
    this.log(`tcp: ${role === "server" ? "accepted" : "connected to"} ${hostPort(addr, peerPort)} (local ${hostPort(local.address, local.port)})`);
    if (role === "client") {
      this.writeRaw(c, IKETCP_PREFIX.slice());
      const p = this.pending;
      if (this.everConnected && p && now - p.at <= o.resendWithinMs) {
        this.stats.ikeResent++;
        this.log(`tcp: IKE request ${p.mid} unanswered when the connection dropped: sent again on the new connection`);
        this.sendOne(c, p.data);
      }
    }
    this.everConnected = true;
    return c;
  }

  private drop(c: PeerConn): void {
    if (c.closed) return;
    c.closed = true;
    this.stats.disconnects++;
    this.stats.queuedBytes -= c.queued;
    c.queue.length = 0;
    c.queued = 0;
    if (this.multi) {
      const k = key(c.addr, c.port);
      if (this.byKey.get(k) === c) this.byKey.delete(k);
    }
    if (this.current === c) this.current = this.multi ? [...this.byKey.values()].pop() ?? null : null;
    this.stats.connections = this.list().length;
  }

  /** The socket of `c` closed (by the peer, an error, or us). Returns true when it was the client's current connection. */
  closed(c: PeerConn): boolean {
    const wasCurrent = this.current === c;
    if (!c.closed) {
      this.drop(c);
      this.log(`tcp: connection with ${hostPort(c.addr, c.port)} (local ${hostPort(c.local.address, c.local.port)}) closed`);
    }
    return wasCurrent;
  }

  /** Bytes arrived on `c`. Returns false when the connection was closed for a framing error. */
  data(c: PeerConn, d: Uint8Array, now: number): boolean {
    if (c.closed) return false;
    this.clock = now;
    const an = this.an;
    an.length = 0;
    const frames = c.parser.push(d, an);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      c.proven = true;
      c.lastRx = now;
      if (f.kind === "keepalive") {
        this.stats.keepalivesIn++;
        continue;
      }
      let buf = f.data;
      if (f.kind === "ike") {
        buf = new Uint8Array(MARKER_LEN + f.data.length);
        buf.set(f.data, MARKER_LEN);
        const h = peekIke(buf);
        if (h) this.sawIke(c, h, now);
      }
      this.stats.framesIn++;
      this.stats.bytesIn += buf.length;
      try {
        this.o.deliver(buf, c.addr, c.port);
      } catch {
        // the engine never throws on wire data; be safe anyway
      }
      if (c.closed) return false;
    }
    if (an.length > 0 && (c.parser.resyncing || an.some((a) => a.reason.includes("IKETCP")))) {
      this.stats.framingErrors++;
      this.log(`tcp: framing error from ${hostPort(c.addr, c.port)}: ${an[0].reason}; closing the connection`);
      this.drop(c);
      c.sock.close();
      return false;
    }
    return true;
  }

  private sawIke(c: PeerConn, h: { spi: string; mid: number; response: boolean }, now: number): void {
    if (this.multi) {
      const mine = this.ours.get(h.spi);
      if (mine && h.response && h.mid === mine.mid) this.ours.delete(h.spi);
      else if (mine && mine.conn !== c && sameAddr(mine.addr, c.addr) && now - mine.at <= this.o.resendWithinMs) {
        // the peer came back on a new connection while our request was lost with the old one
        mine.conn = c;
        this.stats.ikeResent++;
        this.log(`tcp: IKE request ${mine.mid} to ${hostPort(c.addr, c.port)} unanswered when its connection went: sent again on the new one`);
        this.sendOne(c, mine.data);
      }
      if (h.response) return;
      this.routes.delete(h.spi);
      this.routes.set(h.spi, c);
      const cap = 4 * this.o.maxConnections;
      while (this.routes.size > cap) this.routes.delete(this.routes.keys().next().value!);
    } else if (this.o.role === "client" && h.response && this.pending && this.pending.spi === h.spi && this.pending.mid === h.mid) {
      this.pending = null;
    }
  }

  /** Close connections past their first-frame or idle time (server). */
  tick(now: number): void {
    if (this.o.role !== "server") return;
    this.clock = now;
    for (const c of this.list()) {
      const first = !c.proven && now - c.openedAt >= this.o.firstFrameMs;
      const idle = this.multi && this.o.idleMs > 0 && now - c.lastRx >= this.o.idleMs;
      if (!first && !idle) continue;
      this.stats.timeouts++;
      this.log(`tcp: connection with ${hostPort(c.addr, c.port)} closed: ${first ? `no complete frame within ${this.o.firstFrameMs} ms` : `idle for ${this.o.idleMs} ms`}`);
      this.drop(c);
      c.sock.close();
    }
  }

  /** Frame and send datagrams to `addr:port` (one write for the batch). */
  send(bufs: Uint8Array[], addr: string, port: number, now: number): void {
    let c = this.connFor(addr, port);
    if (this.o.role === "client") {
      for (const b of bufs) {
        const h = peekIke(b);
        if (h && !h.response) this.pending = { data: b.slice(), spi: h.spi, mid: h.mid, at: now };
      }
    } else if (this.multi && bufs.length === 1) {
      const h = peekIke(bufs[0]);
      if (h && h.response && c === null) {
        // an IKE response for a peer that reconnected: the connection its request came in on
        const r = this.routes.get(h.spi);
        if (r && !r.closed && sameAddr(r.addr, addr)) c = r;
      } else if (h && !h.response) {
        // our own request: kept until answered, to go out again if the peer reconnects first
        this.ours.delete(h.spi);
        this.ours.set(h.spi, { data: bufs[0].slice(), mid: h.mid, at: now, addr, conn: c });
        const cap = 4 * this.o.maxConnections;
        while (this.ours.size > cap) this.ours.delete(this.ours.keys().next().value!);
      }
    }
    let total = 0, n = 0;
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i];
      if (b.length === 1 && b[0] === 0xff) {
        this.stats.keepalivesSuppressed++;
        continue;
      }
      if (b.length > 0xffff - 2) {
        this.stats.sendErrors++;
        continue;
      }
      if (c === null || c.closed) {
        this.stats.notConnectedDrops++;
        this.stats.sendErrors++;
        continue;
      }
      total += 2 + b.length;
      n++;
    }
    if (n === 0 || c === null) return;
    const out = new Uint8Array(total);
    let off = 0, frames = 0;
    // what may still be queued: the bounds apply to whole frames
    let room = c.queue.length > 0 ? Math.min(this.o.maxQueueBytes - c.queued, this.o.maxTotalQueueBytes - this.stats.queuedBytes) : Infinity;
    for (let i = 0; i < bufs.length; i++) {
      const b = bufs[i];
      if ((b.length === 1 && b[0] === 0xff) || b.length > 0xffff - 2) continue;
      const fl = 2 + b.length;
      if (fl > room) {
        this.stats.queueDrops++;
        this.stats.sendErrors++;
        continue;
      }
      room -= fl;
      out[off] = fl >> 8;
      out[off + 1] = fl & 0xff;
      out.set(b, off + 2);
      off += fl;
      frames++;
    }
    if (frames === 0) return;
    this.stats.framesOut += frames;
    this.stats.bytesOut += off;
    this.writeRaw(c, off === total ? out : out.subarray(0, off));
  }

  /** One frame on `c` (the client's resend). */
  private sendOne(c: PeerConn, b: Uint8Array): void {
    const out = new Uint8Array(2 + b.length);
    out[0] = out.length >> 8;
    out[1] = out.length & 0xff;
    out.set(b, 2);
    this.stats.framesOut++;
    this.stats.bytesOut += out.length;
    this.writeRaw(c, out);
  }

  /** Write now if nothing is queued, else queue what the kernel does not take. */
  private writeRaw(c: PeerConn, b: Uint8Array): void {
    if (c.queue.length === 0) {
      const w = c.sock.write(b);
      const k = w > 0 ? w : 0;
      if (k >= b.length) return;
      b = b.subarray(k);
    }
    c.queue.push(b);
    c.queued += b.length;
    this.stats.queuedBytes += b.length;
    if (this.stats.queuedBytes > this.stats.maxQueuedBytes) this.stats.maxQueuedBytes = this.stats.queuedBytes;
  }

  /** The kernel takes more on `c`: write the queue. */
  drain(c: PeerConn): void {
    while (!c.closed && c.queue.length > 0) {
      let chunk: Uint8Array;
      if (c.queue.length === 1 || c.queue[0].length >= DRAIN_CHUNK) {
        chunk = c.queue.shift()!;
      } else {
        let len = 0, k = 0;
        while (k < c.queue.length && len + c.queue[k].length <= DRAIN_CHUNK) len += c.queue[k++].length;
        if (k === 0) k = 1, len = c.queue[0].length;
        chunk = new Uint8Array(len);
        let o = 0;
        for (let j = 0; j < k; j++) {
          chunk.set(c.queue[j], o);
          o += c.queue[j].length;
        }
        c.queue.splice(0, k);
      }
      c.queued -= chunk.length;
      this.stats.queuedBytes -= chunk.length;
      const w = c.sock.write(chunk);
      const k = w > 0 ? w : 0;
      if (k < chunk.length) {
        const rest = chunk.subarray(k);
        c.queue.unshift(rest);
        c.queued += rest.length;
        this.stats.queuedBytes += rest.length;
        return;
      }
    }
  }

  /** Close every connection (the adapter stops listening / connecting). */
  closeAll(): void {
    for (const c of this.list()) {
      this.drop(c);
      c.sock.close();
    }
    this.routes.clear();
    this.ours.clear();
    this.pending = null;
  }
}
