/**
 * The IKE driver's receive side (split out of lib/tunnel/ike-driver.ts): checks a datagram
 * for its socket (non-ESP marker on the NAT-T socket, none on the plain IKE port), the
 * peer's address (unless any address may initiate), and queues it for the IKE SA manager.
 * Two bounded queues: a first IKE_SA_INIT without a COOKIE (what a spoofed flood sends) waits
 * behind everything else. Drained a bounded batch per turn when a `schedule` is given. Every
 * datagram dropped here is counted by reason ({@link IkeRxQueue.drops}) and logged at debug
 * level (at most 20 lines a second).
 * @module
 */
import type { IkeSaManager, Via } from "../ike/v2/sa/manager.ts";
import type { Endpoint } from "../ike/v2/sa/types.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { LogLevel } from "./ike-driver-types.ts";

export interface IkeRxQueueOptions {
  cfg: IkeTunnelConfig;
  /** Over TCP (RFC 9329): the local endpoint of the connection a peer's data came in on. */
  localEndpoint?: (from: Endpoint) => Endpoint | null;
  manager: () => IkeSaManager;
  schedule?: (fn: () => void) => void;
  log: (level: LogLevel, msg: string) => void;
  now: () => number;
  /** True once the driver stopped: datagrams are dropped ("stopped"). */
  halted: () => boolean;
}

export class IkeRxQueue {
  private readonly queue: { d: Uint8Array; from: Endpoint; via: Via }[] = [];
  /** Everything but a first IKE_SA_INIT (no COOKIE): SAs' own messages and INITs that return a cookie go first under a flood. */
  private readonly urgent: { d: Uint8Array; from: Endpoint; via: Via }[] = [];
  private draining = false;
  /** Datagrams dropped before the manager, by reason (the manager counts its own). */
  readonly drops: Record<string, number> = {};
  private dropLogSec = 0;
  private dropLogLines = 0;
  private dropLogSkipped = 0;

  constructor(private readonly o: IkeRxQueueOptions) {}

  private get cfg(): IkeTunnelConfig {
    return this.o.cfg;
  }

  private get manager(): IkeSaManager {
    return this.o.manager();
  }

  private get halted(): boolean {
    return this.o.halted();
  }

  private now(): number {
    return this.o.now();
  }

  dropped(reason: string, from: Endpoint, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    // every drop is counted; at most 20 debug lines a second (a flood drops ~100,000/s, and a
    // string per drop is garbage the responder's memory carries)
    const sec = Math.floor(this.now() / 1000);
    if (sec !== this.dropLogSec) {
      if (this.dropLogSkipped) this.o.log("debug", `${this.dropLogSkipped} more dropped IKE datagrams not logged`);
      this.dropLogSec = sec;
      this.dropLogLines = this.dropLogSkipped = 0;
    }
    if (this.dropLogLines >= 20) {
      this.dropLogSkipped++;
      return;
    }
    this.dropLogLines++;
    this.o.log("debug", `IKE datagram from ${from.address}:${from.port} dropped: ${reason}${detail ? ` (${detail})` : ""}`);
  }

  /**
   * One datagram for IKE. `via` "natt": from the NAT-T socket, non-ESP marker included (as
   * the packet path hands it over); "ike": from the plain IKE socket, no marker.
   */
  onDatagram(buf: Uint8Array, addr: string, port: number, via: Via = "natt"): void {
    const from = { address: addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr, port };
    if (this.halted) return this.dropped("stopped", from);
    let d = buf;
    if (via === "natt") {
      if (!(buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0)) return this.dropped("no-marker", from);
      d = buf.subarray(4);
    } else if (buf.length < 28 || (buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0)) {
      // a keep-alive, ESP or a marked IKE message on the plain IKE port (RFC 3948 keeps them on 4500)
      return this.dropped("wrong-port", from, `${buf.length} bytes on the IKE port`);
    }
    if (!this.cfg.ike.remoteAny && addr !== this.cfg.remote && from.address !== this.cfg.remote) return this.dropped("unexpected-address", from, `only ${this.cfg.remote} is configured`);
    // a new IKE_SA_INIT without a COOKIE (first payload not a notify) is what a spoofed flood sends
    const fresh = d[18] === 34 && (d[19] & 0x20) === 0 && d[16] !== 41;
    const q = fresh ? this.queue : this.urgent;
    if (q.length >= this.manager.limits.queue) return this.dropped("queue-full", from);
    q.push({ d, from, via });
    if (this.draining) return;
    this.draining = true;
    if (this.o.schedule) this.o.schedule(() => this.drain());
    else this.drain();
  }

  private drain(): void {
    // a bounded batch per turn, so the sockets' callbacks get their turn (and the queue its bound)
    const batch = this.o.schedule ? 64 : Infinity;
    for (let n = 0; n < batch && (this.urgent.length || this.queue.length); n++) {
      const q = (this.urgent.length ? this.urgent : this.queue).shift()!;
      if (this.halted) break;
      // the socket it came in on (a wildcard address: the SA keeps its own)
      const to = this.o.localEndpoint?.(q.from) ?? { address: this.cfg.local, port: q.via === "natt" || !this.cfg.ike.ikePort ? this.cfg.localPort : this.cfg.ike.ikePort };
      this.manager.receive(q.d, q.from, q.via, this.now(), to);
    }
    if ((this.urgent.length || this.queue.length) && !this.halted && this.o.schedule) this.o.schedule(() => this.drain());
    else this.draining = false;
  }

  /** Forget everything queued (the driver stopped). */
  clear(): void {
    this.queue.length = this.urgent.length = 0;
  }
}
