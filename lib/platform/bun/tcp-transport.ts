/**
 * Outer transport over TCP (RFC 9329): a {@link DatagramSocket} that carries what would be
 * UDP/4500 payloads (ESP packets, and IKE messages behind the 4-byte non-ESP marker) as
 * frames on one TCP connection:
 *
 * ```
 * client -> server:  "IKETCP"  Length(2) payload  Length(2) payload ...
 * server -> client:            Length(2) payload  Length(2) payload ...
 * ```
 *
 * Length counts itself; a frame's payload is byte for byte the UDP payload the engine would
 * have sent (so the engine is unchanged). One-byte NAT-keepalives (0xFF) are not sent: the
 * TCP connection itself holds NAT state, and RFC 9329 framing has no keepalive frame
 * (received ones are tolerated and ignored). `carriesKeepalives = false` tells the engine,
 * which then neither sends nor counts them: both ends report 0 keepalives sent and received.
 * While no connection is up, `connected` is false and the engine drops outbound packets
 * before sealing them (`drops.notConnected`), so they are not counted as sent.
 *
 * Reporting: {@link TcpTransport.endpoints} gives the connection's real addresses and ports
 * (a client's local port is ephemeral, a server's peer port too) for the log and `vpnkit
 * status`; connect errors name the errno (ECONNREFUSED, ETIMEDOUT, ...).
 *
 * Roles: the client connects to `remote:remotePort` and reconnects with exponential backoff
 * (100 ms .. 5 s, ±20% jitter); the server listens on `local:localPort` and accepts one peer,
 * from `remote` only (a newer connection from the peer replaces the old one; others are
 * closed and counted). TCP_NODELAY is set on both ends.
 *
 * Back-pressure: frames are written whole; what the kernel does not take is queued, up to
 * `maxQueueBytes` (default 256 KiB), and written on `drain`. A frame that does not fit is
 * dropped and counted (`queueDrops`), as a full UDP socket buffer would drop a datagram;
 * so the queue (and the delay it adds) stays bounded. While no connection is up, frames are
 * dropped (`notConnectedDrops`).
 *
 * Receive: each connection's byte stream goes through the RFC 9329 parser used by
 * `vpnkit decode` (lib/ipsec/tcpencap.ts). A fatal framing error (Length 0/1 or above the
 * maximum) or a client stream without the "IKETCP" prefix closes the connection.
 * @module
 */
import type { Anomaly } from "../../core/anomaly.ts";
import { IKETCP_PREFIX } from "../../ipsec/registry.ts";
import { TcpEncapParser } from "../../ipsec/tcpencap.ts";
import type { DatagramSocket } from "../../tunnel/engine.ts";

export type TcpRole = "client" | "server";

export interface TcpTransportOptions {
  role: TcpRole;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  /** Bytes queued in user space while the kernel's send buffer is full (default 256 KiB). */
  maxQueueBytes?: number;
  /** Reconnect backoff bounds in ms (client). Defaults 100 / 5000. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  log?: (msg: string) => void;
}

export interface TcpTransportStats {
  /** Frames not sent (queue full or not connected): same meaning as the UDP socket's counter. */
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
  /** Server: connections from an address other than `remote`, closed. */
  rejected: number;
  /** Connections closed because of a framing error. */
  framingErrors: number;
  /** Bytes queued now, and the most ever queued. */
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Failed connection attempts (client). */
  connectErrors: number;
}

/** The errno name of a socket error (ECONNREFUSED, ETIMEDOUT, ...), or "". */
export function errnoName(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? code : "";
}

/** `host:port`, IPv6 in brackets. */
function hostPort(a: string, p: number): string {
  const h = stripMapped(a);
  return `${h.includes(":") ? `[${h}]` : h}:${p}`;
}

type Cb = (buf: Uint8Array, addr: string, port: number) => void;
interface ConnData {
  conn: Conn | null;
}
type Sock = Bun.Socket<ConnData>;

const MARKER = new Uint8Array(4);
const DRAIN_CHUNK = 256 * 1024;

/** One TCP connection: its parser and its send queue. */
class Conn {
  readonly parser: TcpEncapParser;
  readonly queue: Uint8Array[] = [];
  queued = 0;
  closed = false;
  constructor(readonly sock: Sock, readonly t: TcpTransport, readonly addr: string, readonly port: number, role: TcpRole) {
    // the client-to-server direction starts with "IKETCP"; the other never does
    this.parser = new TcpEncapParser({ prefix: role === "server" ? "required" : "none" });
  }
}

function stripMapped(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

function sameAddr(a: string, b: string): boolean {
  const x = stripMapped(a).toLowerCase(), y = stripMapped(b).toLowerCase();
  if (x === y) return true;
  // IPv6 textual forms may differ (zero compression)
  if (x.includes(":") && y.includes(":")) return expand6(x) === expand6(y);
  return false;
}

function expand6(a: string): string {
  const [h, t] = a.split("::");
  const hp = h ? h.split(":") : [];
  const tp = t !== undefined && t ? t.split(":") : [];
  const fill = t !== undefined ? Array(8 - hp.length - tp.length).fill("0") : [];
  return [...hp, ...fill, ...tp].map((x) => parseInt(x || "0", 16).toString(16)).join(":");
}

export class TcpTransport implements DatagramSocket {
  readonly stats: TcpTransportStats = {
    sendErrors: 0, framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0, queueDrops: 0, notConnectedDrops: 0,
    keepalivesSuppressed: 0, keepalivesIn: 0, connects: 0, disconnects: 0, rejected: 0, framingErrors: 0,
    queuedBytes: 0, maxQueuedBytes: 0, connectErrors: 0,
  };
  /** The engine sends no 1-byte NAT-keepalives over TCP (and counts none). */
  readonly carriesKeepalives = false;
  private cb: Cb | null = null;
  private conn: Conn | null = null;
  private listener: Bun.TCPSocketListener<ConnData> | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly maxQueue: number;
  private readonly log: (m: string) => void;
  private readonly an: Anomaly[] = [];

  private constructor(readonly opts: TcpTransportOptions) {
    this.maxQueue = opts.maxQueueBytes ?? 256 * 1024;
    this.log = opts.log ?? (() => {});
  }

  /** Server: listening when this resolves (bind errors reject). Client: connecting in the background. */
  static async start(opts: TcpTransportOptions): Promise<TcpTransport> {
    const t = new TcpTransport(opts);
    if (opts.role === "server") t.listen();
    else t.connect();
    return t;
  }

  /** True while a connection to the peer is up. */
  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  /** The current connection's real endpoints (`addr:port`), or null while none is up. */
  endpoints(): { local: string; remote: string } | null {
    const c = this.conn;
    if (c === null || c.closed) return null;
    const s = c.sock;
    return { local: hostPort(s.localAddress, s.localPort), remote: hostPort(s.remoteAddress, s.remotePort) };
  }

  /** Local port of the listener (server) or of the current connection (client), 0 if none. */
  get port(): number {
    if (this.listener) return this.listener.port;
    return this.conn ? this.conn.sock.localPort : 0;
  }

  private handlers() {
    return {
      binaryType: "uint8array" as const,
      open: (s: Sock) => this.onOpen(s),
      data: (s: Sock, d: Uint8Array) => {
        const c = s.data?.conn;
        if (c) this.onData(c, d);
      },
      drain: (s: Sock) => {
        const c = s.data?.conn;
        if (c) this.drain(c);
      },
      close: (s: Sock) => this.onClose(s),
      end: (s: Sock) => {
        s.end();
      },
      error: (s: Sock, e: Error) => {
        const code = errnoName(e);
        this.log(`tcp: ${code ? `${code}: ` : ""}${e.message}`);
        this.onClose(s);
      },
      connectError: (_s: Sock, e: Error) => {
        const code = errnoName(e);
        this.stats.connectErrors++;
        this.log(`tcp: connect to ${this.peerText()} failed: ${code ? `${code} (${e.message})` : e.message}`);
        this.scheduleReconnect();
      },
    };
  }

  private peerText(): string {
    const r = this.opts.remote;
    return `${r.includes(":") ? `[${r}]` : r}:${this.opts.remotePort}`;
  }

  private listen(): void {
    const { local, localPort } = this.opts;
    try {
      this.listener = Bun.listen<ConnData>({ hostname: local, port: localPort, data: { conn: null }, socket: this.handlers() });
    } catch (e) {
      throw new Error(`cannot listen on TCP ${local.includes(":") ? `[${local}]` : local}:${localPort}: ${(e as Error).message}`);
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.retryTimer = null;
    Bun.connect<ConnData>({ hostname: this.opts.remote, port: this.opts.remotePort, data: { conn: null }, socket: this.handlers() })
      .catch(() => {
        // reported through connectError
      });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.opts.role !== "client" || this.retryTimer !== null) return;
    const min = this.opts.backoffMinMs ?? 100, max = this.opts.backoffMaxMs ?? 5000;
    const base = Math.min(max, min * 2 ** Math.min(this.attempt, 16));
    this.attempt++;
    const ms = Math.round(base * (0.8 + 0.4 * Math.random()));
    this.retryTimer = setTimeout(() => this.connect(), ms);
  }

  private onOpen(s: Sock): void {
    if (this.stopped) {
      s.terminate();
      return;
    }
    const addr = stripMapped(s.remoteAddress);
    const role = this.opts.role;
    if (role === "server" && !sameAddr(addr, this.opts.remote)) {
      this.stats.rejected++;
      this.log(`tcp: connection from ${addr}:${s.remotePort} rejected (peer is ${this.opts.remote})`);
      s.data = { conn: null };
      s.terminate();
      return;
    }
    s.setNoDelay(true);
    s.setKeepAlive(true, 15);
    const old = this.conn;
    const c = new Conn(s, this, role === "server" ? addr : this.opts.remote, role === "server" ? s.remotePort : this.opts.remotePort, role);
    s.data = { conn: c };
    this.conn = c;
    this.stats.connects++;
    this.attempt = 0;
    if (old && !old.closed) {
      this.log(`tcp: peer reconnected from ${addr}:${s.remotePort}; closing the older connection`);
      this.dropConn(old);
      old.sock.terminate();
    }
    this.log(`tcp: ${role === "server" ? "accepted" : "connected to"} ${hostPort(addr, s.remotePort)} (local ${hostPort(s.localAddress, s.localPort)})`);
    if (role === "client") this.writeRaw(c, IKETCP_PREFIX.slice());
  }

  private dropConn(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    this.stats.disconnects++;
    this.stats.queuedBytes -= c.queued;
    c.queue.length = 0;
    c.queued = 0;
    if (this.conn === c) this.conn = null;
  }

  private onClose(s: Sock): void {
    const c = s.data?.conn;
    if (!c) return;
    const wasCurrent = this.conn === c;
    if (!c.closed) {
      this.dropConn(c);
      this.log(`tcp: connection with ${hostPort(c.addr, c.port)} (local ${hostPort(c.sock.localAddress, c.sock.localPort)}) closed`);
    }
    if (wasCurrent) this.scheduleReconnect();
  }

  private onData(c: Conn, d: Uint8Array): void {
    if (c.closed) return;
    const an = this.an;
    an.length = 0;
    const frames = c.parser.push(d, an);
    const cb = this.cb;
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i];
      if (f.kind === "keepalive") {
        this.stats.keepalivesIn++;
        continue;
      }
      let buf = f.data;
      if (f.kind === "ike") {
        buf = new Uint8Array(4 + f.data.length);
        buf.set(MARKER, 0);
        buf.set(f.data, 4);
      }
      this.stats.framesIn++;
      this.stats.bytesIn += buf.length;
      if (cb) {
        try {
          cb(buf, c.addr, c.port);
        } catch {
          // the engine never throws on wire data; be safe anyway
        }
      }
    }
    if (an.length > 0 && (c.parser.resyncing || an.some((a) => a.reason.includes("IKETCP")))) {
      this.stats.framingErrors++;
      this.log(`tcp: framing error from ${c.addr}:${c.port}: ${an[0].reason}; closing the connection`);
      this.dropConn(c);
      c.sock.terminate();
      this.scheduleReconnect();
    }
  }

  onMessage(cb: Cb): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, _addr: string, _port: number): void {
    this.sendBatch([buf], _addr, _port);
  }

  /** Frame and write several payloads in one write (the engine's batch). */
  sendBatch(bufs: Uint8Array[], _addr: string, _port: number): void {
    const c = this.conn;
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
    // what may still be queued: the bound applies to whole frames
    let room = c.queue.length > 0 ? this.maxQueue - c.queued : Infinity;
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

  /** Write now if nothing is queued, else queue (callers enforce the bound on whole frames). */
  private writeRaw(c: Conn, b: Uint8Array): void {
    if (c.queue.length === 0) {
      const w = c.sock.write(b);
      const k = w > 0 ? w : 0;
      if (k === b.length) return;
      b = b.subarray(k);
    }
    c.queue.push(b);
    c.queued += b.length;
    this.stats.queuedBytes += b.length;
    if (this.stats.queuedBytes > this.stats.maxQueuedBytes) this.stats.maxQueuedBytes = this.stats.queuedBytes;
  }

  private drain(c: Conn): void {
    while (!c.closed && c.queue.length > 0) {
      let chunk: Uint8Array;
      if (c.queue.length === 1 || c.queue[0].length >= DRAIN_CHUNK) {
        chunk = c.queue[0];
        c.queue.shift();
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

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const c = this.conn;
    if (c) {
      this.dropConn(c);
      c.sock.end();
    }
    this.listener?.stop(true);
    this.listener = null;
  }
}
