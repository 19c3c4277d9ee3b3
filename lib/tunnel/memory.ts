/**
 * In-memory adapters for the tunnel engine: a packet device whose "kernel side" is
 * a JS array, and a pair of datagram sockets joined by a queue. Deliveries are
 * asynchronous (microtask), like real I/O, and can be intercepted for tests
 * (capture, drop, mutate, replay).
 * @module
 */
import type { DatagramSocket, PacketDevice } from "./engine.ts";

/** A device: `inject()` plays the kernel sending a packet into the tunnel; `written` collects what the engine wrote. */
export class MemoryDevice implements PacketDevice {
  readonly written: Uint8Array[] = [];
  private cb: ((pkt: Uint8Array) => void) | null = null;
  private end: (() => void) | null = null;

  onPacket(cb: (pkt: Uint8Array) => void, onBatchEnd?: () => void): void {
    this.cb = cb;
    this.end = onBatchEnd ?? null;
  }

  /** Deliver packets to the engine as one burst (synchronously). Copies each packet first. */
  inject(...pkts: Uint8Array[]): void {
    if (!this.cb) throw new Error("MemoryDevice: engine not started");
    for (const p of pkts) this.cb(p.slice());
    this.end?.();
  }

  write(pkt: Uint8Array): boolean {
    this.written.push(pkt.slice());
    return true;
  }
}

export interface Datagram {
  buf: Uint8Array;
  fromAddr: string;
  fromPort: number;
  toAddr: string;
  toPort: number;
}

/**
 * A network of in-memory sockets keyed by "addr|port". Every datagram passes through
 * `tap` (return null to drop, or a replacement buffer) and is recorded in `log`.
 */
export class MemoryNetwork {
  readonly log: Datagram[] = [];
  tap: ((d: Datagram) => Uint8Array | null) | null = null;
  private readonly sockets = new Map<string, MemorySocket>();
  private queue: Datagram[] = [];
  private scheduled = false;

  socket(addr: string, port: number): MemorySocket {
    const s = new MemorySocket(this, addr, port);
    this.sockets.set(`${addr}|${port}`, s);
    return s;
  }

  /** @internal */
  enqueue(d: Datagram): void {
    this.queue.push(d);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(() => this.deliver());
    }
  }

  /** Deliver a datagram now, bypassing the tap (re-injection by tests). */
  inject(d: Datagram): void {
    this.sockets.get(`${d.toAddr}|${d.toPort}`)?.receive(d.buf.slice(), d.fromAddr, d.fromPort);
  }

  private deliver(): void {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const d of q) {
      this.log.push({ ...d, buf: d.buf.slice() });
      const b = this.tap ? this.tap(d) : d.buf;
      if (b === null) continue;
      this.sockets.get(`${d.toAddr}|${d.toPort}`)?.receive(b, d.fromAddr, d.fromPort);
    }
  }

  /** Resolve once every queued datagram was delivered (and their consequences, transitively). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100 && (this.scheduled || this.queue.length > 0); i++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
  }
}

export class MemorySocket implements DatagramSocket {
  sent = 0;
  batches = 0;
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;

  constructor(private readonly net: MemoryNetwork, readonly addr: string, readonly port: number) {}

  send(buf: Uint8Array, addr: string, port: number): void {
    this.sent++;
    this.net.enqueue({ buf: buf.slice(), fromAddr: this.addr, fromPort: this.port, toAddr: addr, toPort: port });
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    this.batches++;
    for (const b of bufs) this.send(b, addr, port);
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  /** @internal */
  receive(buf: Uint8Array, addr: string, port: number): void {
    this.cb?.(buf, addr, port);
  }
}
