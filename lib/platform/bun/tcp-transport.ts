/**
 * Outer transport over TCP (RFC 9329): a {@link DatagramSocket} that carries what would be
 * UDP/4500 payloads (ESP packets, and IKE messages behind the 4-byte non-ESP marker) as
 * frames on TCP connections:
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
 * (100 ms .. 5 s, ±20% jitter); the server listens on `local:localPort`. With manual keys it
 * accepts one peer, from `remote` only (a newer connection from the peer replaces the old
 * one; others are closed and counted). As an IKEv2 responder (`multi`) it accepts many peers,
 * one connection each, up to the limits of lib/tunnel/tcp-peers.ts, which holds the
 * connection table (framing, demultiplexing, send queues, bounds, timeouts) without I/O;
 * this file is the Bun adapter. TCP_NODELAY and TCP keepalive are set on both ends.
 *
 * Back-pressure: frames are written whole; what the kernel does not take is queued, up to
 * `maxQueueBytes` (default 256 KiB) per connection, and written on `drain`. A frame that
 * does not fit is dropped and counted (`queueDrops`), as a full UDP socket buffer would drop
 * a datagram; so the queue (and the delay it adds) stays bounded.
 *
 * Receive: each connection's byte stream goes through the RFC 9329 parser used by
 * `vpnkit decode` (lib/ipsec/tcpencap.ts). A fatal framing error (Length 0/1 or above the
 * maximum) or a client stream without the "IKETCP" prefix closes the connection.
 * @module
 */
import type { DatagramSocket } from "../../tunnel/engine.ts";
import { hostPort, type PeerConn, stripMapped, TcpPeers, type TcpPeersOptions, type TcpPeersStats, type TcpRole } from "../../tunnel/tcp-peers.ts";

export type { TcpRole } from "../../tunnel/tcp-peers.ts";

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
  /** Server: many peers (IKEv2 responder), with these limits; see lib/tunnel/tcp-peers.ts. */
  multi?: Pick<TcpPeersOptions, "acceptAny" | "maxConnections" | "maxPerAddress" | "maxUnproven" | "firstFrameMs" | "idleMs" | "maxTotalQueueBytes">;
  log?: (msg: string) => void;
}

export type TcpTransportStats = TcpPeersStats;

/** The errno name of a socket error (ECONNREFUSED, ETIMEDOUT, ...), or "". */
export function errnoName(e: unknown): string {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && /^E[A-Z0-9]+$/.test(code) ? code : "";
}

type Cb = (buf: Uint8Array, addr: string, port: number) => void;
interface ConnData {
  conn: PeerConn | null;
}
type Sock = Bun.Socket<ConnData>;

export class TcpTransport implements DatagramSocket {
  /** The engine sends no 1-byte NAT-keepalives over TCP (and counts none). */
  readonly carriesKeepalives = false;
  private cb: Cb | null = null;
  private readonly peers: TcpPeers;
  private listener: Bun.TCPSocketListener<ConnData> | null = null;
  private stopped = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private readonly log: (m: string) => void;
  private connectCb: ((first: boolean) => void) | null = null;
  private connectedOnce = false;

  private constructor(readonly opts: TcpTransportOptions) {
    this.log = opts.log ?? (() => {});
    this.peers = new TcpPeers({
      role: opts.role, remote: opts.remote, remotePort: opts.remotePort, maxQueueBytes: opts.maxQueueBytes,
      ...(opts.multi ? { multi: true, ...opts.multi } : {}),
      deliver: (buf, addr, port) => this.cb?.(buf, addr, port),
      log: this.log,
    });
  }

  /** Server: listening when this resolves (bind errors reject). Client: connecting in the background. */
  static async start(opts: TcpTransportOptions): Promise<TcpTransport> {
    const t = new TcpTransport(opts);
    if (opts.role === "server") {
      t.listen();
      t.tickTimer = setInterval(() => t.peers.tick(Date.now()), 1000);
      (t.tickTimer as { unref?: () => void }).unref?.();
    } else t.connect();
    return t;
  }

  get stats(): TcpTransportStats {
    return this.peers.stats;
  }

  /** True while a connection to the peer is up (a multi-peer server: while any is). */
  get connected(): boolean {
    return this.peers.connected;
  }

  /** Called on every new connection (client: `first` is false after a reconnect). */
  onConnect(cb: (first: boolean) => void): void {
    this.connectCb = cb;
  }

  /** The current connection's real endpoints (`addr:port`), or null while none is up. */
  endpoints(): { local: string; remote: string } | null {
    const c = this.peers.list().pop();
    if (!c) return null;
    return { local: hostPort(c.local.address, c.local.port), remote: hostPort(c.addr, c.port) };
  }

  /** Our real endpoint (address and port) on the connection to `addr:port`, or null. */
  localEndpointFor(addr: string, port: number): { address: string; port: number } | null {
    const c = this.peers.connFor(addr, port);
    return c ? { ...c.local } : null;
  }

  /** Connections up now: their peer and local endpoints. */
  connections(): { local: string; remote: string }[] {
    return this.peers.list().map((c) => ({ local: hostPort(c.local.address, c.local.port), remote: hostPort(c.addr, c.port) }));
  }

  /** Local port of the listener (server) or of the current connection (client), 0 if none. */
  get port(): number {
    if (this.listener) return this.listener.port;
    return this.peers.list().pop()?.local.port ?? 0;
  }

  private handlers() {
    return {
      binaryType: "uint8array" as const,
      open: (s: Sock) => this.onOpen(s),
      data: (s: Sock, d: Uint8Array) => {
        const c = s.data?.conn;
        // a framing error closed the client's connection: connect again
        if (c && !this.peers.data(c, d, Date.now()) && this.opts.role === "client" && !this.peers.connected) this.scheduleReconnect();
      },
      drain: (s: Sock) => {
        const c = s.data?.conn;
        if (c) this.peers.drain(c);
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
        this.peers.stats.connectErrors++;
        this.log(`tcp: connect to ${this.peerText()} failed: ${code ? `${code} (${e.message})` : e.message}`);
        this.scheduleReconnect();
      },
    };
  }

  private peerText(): string {
    return hostPort(this.opts.remote, this.opts.remotePort);
  }

  private listen(): void {
    const { local, localPort } = this.opts;
    try {
      this.listener = Bun.listen<ConnData>({ hostname: local, port: localPort, data: { conn: null }, socket: this.handlers() });
    } catch (e) {
      throw new Error(`cannot listen on TCP ${hostPort(local, localPort)}: ${(e as Error).message}`);
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
    s.data = { conn: null };
    if (this.stopped) {
      s.terminate();
      return;
    }
    const sock = {
      write: (b: Uint8Array) => s.write(b),
      close: () => s.terminate(),
    };
    const c = this.peers.open(sock, s.remoteAddress, s.remotePort, { address: stripMapped(s.localAddress), port: s.localPort }, Date.now());
    if (c === null) {
      s.terminate();
      return;
    }
    s.setNoDelay(true);
    s.setKeepAlive(true, 15);
    s.data = { conn: c };
    this.attempt = 0;
    const first = !this.connectedOnce;
    this.connectedOnce = true;
    try {
      this.connectCb?.(first);
    } catch (e) {
      this.log(`tcp: ${(e as Error).message}`);
    }
  }

  private onClose(s: Sock): void {
    const c = s.data?.conn;
    if (!c) return;
    if (this.peers.closed(c) && this.opts.role === "client") this.scheduleReconnect();
  }

  /** Client: drop the current connection (presumed dead: `why` is logged) and connect again. */
  reconnect(why: string): void {
    if (this.stopped || this.opts.role !== "client") return;
    const c = this.peers.list().pop();
    if (!c) return;
    this.log(`tcp: ${why}: closing the connection and connecting again`);
    c.sock.close();
  }

  onMessage(cb: Cb): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    this.peers.send([buf], addr, port, Date.now());
  }

  /** Frame and write several payloads in one write (the engine's batch). */
  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    this.peers.send(bufs, addr, port, Date.now());
  }

  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.retryTimer = this.tickTimer = null;
    this.peers.closeAll();
    this.listener?.stop(true);
    this.listener = null;
  }
}
