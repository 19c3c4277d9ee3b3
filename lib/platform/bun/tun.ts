/**
 * Linux TUN device through bun:ffi.
 *
 * `TunDevice.open()` opens /dev/net/tun, issues TUNSETIFF with IFF_TUN|IFF_NO_PI
 * (optionally IFF_MULTI_QUEUE) and keeps the fd non-blocking. Packets are read
 * without blocking the event loop:
 *
 *  - A small Worker waits in edge-triggered `epoll_wait()` on the fd. On an edge it
 *    sets a shared busy flag (0 -> 1) and, only on that transition, posts one message.
 *  - The main thread clears the flag, then drains the fd with non-blocking `read()`
 *    calls (up to `batch` packets per turn, into one reused buffer), calls `onPacket`
 *    for each, then `onBatchEnd` (the engine flushes its batched UDP sends there).
 *    The main thread never has to wake the worker.
 *
 * Alternatives measured (bench/tunnel/README.md): a level-triggered `poll()` worker
 * re-armed with Atomics.notify after each drain (reader "poll"; the notify showed up
 * as ~17% of samples in a CPU profile), and Bun's own `Bun.file(fd).stream()` (works
 * through the event loop, but concatenates packets into one chunk under load, so the
 * reader must re-split by IP length, and allocates per chunk). Per-packet reader CPU was
 * the same within noise (~4 µs/packet on the loaded 2-vCPU VM); epoll is the default.
 *
 * Writes are direct non-blocking `write()` calls (TUN writes never wait for the
 * reader: the kernel queues or drops).
 *
 * Offload (`offload: true`, the default of `vpnkit up`): IFF_VNET_HDR and TUNSETOFFLOAD
 * (TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6). The kernel then hands over TCP super-packets of up
 * to 64 KiB (one read instead of ~45); they are cut into MSS-sized packets in place
 * (lib/tunnel/offload.ts) before the consumer sees them. Writes go through a GRO-like
 * coalescer: in-sequence TCP segments of a flow are merged and written as one GSO frame,
 * flushed on the next event-loop turn (setImmediate), so the kernel's TCP receive path
 * runs once per merged frame. Non-TCP packets are written at once.
 *
 * The packet passed to `onPacket` is a view into a reused buffer: it is only
 * valid during the callback.
 * @module
 */
import { dlopen, FFIType, ptr, type Pointer } from "bun:ffi";
import { execFileSync } from "node:child_process";
import type { PacketDevice } from "../../tunnel/engine.ts";
import { forEachSegment, TcpCoalescer, VNET_HDR_LEN } from "../../tunnel/offload.ts";
import { EACCES, EAGAIN, EINTR, EPERM, errno, getLibc, type LibcSymbols, O_CLOEXEC, O_NONBLOCK, O_RDWR, stableBytes, strerror } from "./libc.ts";
import { EPOLL_WAKER_SRC } from "./epoll-waker.ts";

const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_MULTI_QUEUE = 0x0100;
const IFF_VNET_HDR = 0x4000;
/** _IOW('T', 208, unsigned int): the argument is the flag value itself. */
const TUNSETOFFLOAD = 0x400454d0;
const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;
const TUN_F_TSO6 = 0x04;

/** ioctl(fd, req, value) with an integer argument (libc.ts binds the pointer form). */
let ioctlValue: ((fd: number, req: number, v: number) => number) | null = null;
function ioctlInt(fd: number, req: number, v: number): number {
  if (ioctlValue === null) {
    for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        const l = dlopen(n, { ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
        ioctlValue = (f, r, x) => l.symbols.ioctl(f, r, x);
        break;
      } catch {
        // next name
      }
    }
    if (ioctlValue === null) throw new Error("cannot load libc ioctl");
  }
  return ioctlValue(fd, req, v);
}
const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;

/** Raised when the process lacks the privilege to create a TUN device. */
export class TunPermissionError extends Error {
  constructor(detail: string) {
    super(`vpnkit up needs root or CAP_NET_ADMIN to create a TUN device (${detail})`);
    this.name = "TunPermissionError";
  }
}

export interface TunOpenOptions {
  /** Interface name (kernel picks tunN when omitted). At most 15 bytes. */
  name?: string;
  /** Set IFF_MULTI_QUEUE (the engine still uses one queue). */
  multiQueue?: boolean;
  /** Max packets drained per event-loop turn (default 256). */
  batch?: number;
  /**
   * Wake-up mechanism of the reader worker (default "epoll", see bench/tunnel/README.md):
   * "epoll": edge-triggered epoll; the main thread never wakes the worker.
   * "poll": level-triggered poll(); the main thread re-arms the worker (Atomics.notify) after each drain.
   * "external": no reader worker and no event-loop scheduling at all; the owner waits for the fd
   * itself (the data-plane worker's epoll) and calls {@link TunDevice.drainNow} and
   * {@link TunDevice.flushNow}.
   */
  reader?: "epoll" | "poll" | "external";
  /**
   * IFF_VNET_HDR + TSO/checksum offload: 64 KiB TCP super-packets are read and segmented
   * here, writes are coalesced (GRO-like). Default false.
   */
  offload?: boolean;
}

export interface TunStats {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
  txErrors: number;
  readErrors: number;
  wakeups: number;
  /** Offload: TSO super-packets read (each delivered as several packets). */
  rxSuper: number;
  /** Offload: reads that could not be segmented (dropped). */
  rxBad: number;
  /** Offload: packets merged into a previous one on write. */
  txMerged: number;
}


const WORKER_SRC = `
import { dlopen, FFIType } from "bun:ffi";
let lib;
for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
  try { lib = dlopen(n, { poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } }); break; } catch {}
}
const poll = lib.symbols.poll;
self.onmessage = (e) => {
  const fd = e.data.fd;
  const ctl = new Int32Array(e.data.sab);
  const pfd = new Uint8Array(8);
  const dv = new DataView(pfd.buffer);
  dv.setInt32(0, fd, true);
  dv.setInt16(4, 1, true);
  while (Atomics.load(ctl, 1) === 0) {
    dv.setInt16(6, 0, true);
    const r = poll(pfd, 1, 250);
    if (r > 0) {
      if (dv.getInt16(6, true) & ~1) break; // POLLERR/POLLHUP/POLLNVAL: fd gone
      Atomics.store(ctl, 0, 1);
      postMessage(0);
      while (Atomics.load(ctl, 0) === 1 && Atomics.load(ctl, 1) === 0) Atomics.wait(ctl, 0, 1, 250);
    }
  }
  postMessage(1);
};
`;

/** A Linux TUN interface (L3, no packet-info header). */
export class TunDevice implements PacketDevice {
  readonly name: string;
  readonly fd: number;
  readonly stats: TunStats = { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0, txErrors: 0, readErrors: 0, wakeups: 0, rxSuper: 0, rxBad: 0, txMerged: 0 };
  /** True when the device was opened with IFF_VNET_HDR (see `offload`). */
  readonly offload: boolean;
  private readonly rbuf = stableBytes(65536 + VNET_HDR_LEN + 64);
  private readonly rptr: Pointer;
  private readonly libc: LibcSymbols = getLibc();
  private readonly batch: number;
  private readonly mode: "epoll" | "poll" | "external";
  private worker: Worker | null = null;
  private ctl: Int32Array | null = null;
  private closed = false;
  private cb: ((pkt: Uint8Array) => void) | null = null;
  private endCb: (() => void) | null = null;
  private readonly gro: TcpCoalescer | null = null;
  private flushScheduled = false;
  private readonly segCb: (pkt: Uint8Array) => void;

  private constructor(fd: number, name: string, batch: number, mode: "epoll" | "poll" | "external", offload: boolean) {
    this.fd = fd;
    this.name = name;
    this.batch = batch;
    this.mode = mode;
    this.rptr = ptr(this.rbuf);
    this.offload = offload;
    if (offload) this.gro = new TcpCoalescer((frame) => this.rawWrite(frame, frame.length - VNET_HDR_LEN));
    this.segCb = (pkt) => {
      this.stats.rxPackets++;
      this.stats.rxBytes += pkt.length;
      try {
        this.cb!(pkt);
      } catch {
        // a throwing consumer must not stop the reader
      }
    };
  }

  /** Open /dev/net/tun and create (or attach to) the interface. */
  static open(opts: TunOpenOptions = {}): TunDevice {
    const libc = getLibc();
    const name = opts.name ?? "";
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length >= IFNAMSIZ) throw new Error(`TUN name "${name}" longer than ${IFNAMSIZ - 1} bytes`);
    const fd = libc.open(Buffer.from("/dev/net/tun\0"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const e = errno();
      if (e === EPERM || e === EACCES) throw new TunPermissionError(`open /dev/net/tun: ${strerror(e)}`);
      throw new Error(`open /dev/net/tun: ${strerror(e)}`);
    }
    const ifr = new Uint8Array(IFREQ_SIZE);
    ifr.set(nameBytes, 0);
    const flags = IFF_TUN | IFF_NO_PI | (opts.multiQueue ? IFF_MULTI_QUEUE : 0) | (opts.offload ? IFF_VNET_HDR : 0);
    new DataView(ifr.buffer).setUint16(IFNAMSIZ, flags, true);
    if (libc.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = errno();
      libc.close(fd);
      if (e === EPERM || e === EACCES) throw new TunPermissionError(`TUNSETIFF: ${strerror(e)}`);
      throw new Error(`TUNSETIFF ${name || "(auto)"}: ${strerror(e)}`);
    }
    const end = ifr.indexOf(0);
    const actual = new TextDecoder().decode(ifr.subarray(0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end));
    if (opts.offload && ioctlInt(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
      // no TSO: reads stay MTU-sized (still with a virtio_net_hdr), writes still coalesce
    }
    return new TunDevice(fd, actual, opts.batch ?? 256, opts.reader ?? "epoll", opts.offload === true);
  }

  /**
   * Wrap a TUN fd opened elsewhere in this process (by {@link TunDevice.open} on another
   * thread), in "external" reader mode. `offload` must match how it was opened.
   * {@link TunDevice.close} on the wrapper does not close the fd (its opener does).
   */
  static attach(fd: number, name: string, offload: boolean, batch = 256): TunDevice {
    const t = new TunDevice(fd, name, batch, "external", offload);
    t.borrowed = true;
    return t;
  }

  private borrowed = false;

  /**
   * External mode: read what is queued (up to `batch` reads), hand it to the consumer,
   * run `onBatchEnd`. Returns true when the budget ran out before EAGAIN (call again).
   */
  drainNow(): boolean {
    if (this.closed || this.cb === null) return false;
    this.stats.wakeups++;
    return !this.readBatch();
  }

  /** External mode: write out the TCP segments held for merging. */
  flushNow(): void {
    if (!this.closed) this.gro?.flush();
  }

  /** Start reading: `cb` per packet (view valid during the call), `onBatchEnd` after each drain. */
  onPacket(cb: (pkt: Uint8Array) => void, onBatchEnd?: () => void): void {
    this.cb = cb;
    this.endCb = onBatchEnd ?? null;
    if (this.worker || this.closed || this.mode === "external") return;
    const sab = new SharedArrayBuffer(8);
    this.ctl = new Int32Array(sab);
    const src = this.mode === "epoll" ? EPOLL_WAKER_SRC : WORKER_SRC;
    const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));
    const w = new Worker(url);
    this.worker = w;
    w.onmessage = (e: MessageEvent) => {
      if (e.data === 0) this.drain();
    };
    w.postMessage({ fd: this.fd, sab });
    // edge-triggered: packets queued before the worker registered raise no edge
    if (this.mode === "epoll") setTimeout(this.drain, 50);
    // The UDP socket / control server keep the process alive, not the reader.
    (w as unknown as { unref?: () => void }).unref?.();
  }

  private drain = (): void => {
    if (this.closed) return;
    this.stats.wakeups++;
    const epoll = this.mode === "epoll";
    // epoll mode: clear the busy flag BEFORE reading, so an edge after it posts again
    if (epoll) Atomics.store(this.ctl!, 0, 0);
    const again = this.readBatch();
    if (again) {
      if (epoll) return;
      const ctl = this.ctl!;
      Atomics.store(ctl, 0, 0);
      Atomics.notify(ctl, 0);
    } else {
      setImmediate(this.drain);
    }
  };

  /** Up to `batch` reads; true when the fd reported EAGAIN (or an error). */
  private readBatch(): boolean {
    const cb = this.cb!;
    const buf = this.rbuf;
    let n = 0;
    let again = false;
    for (; n < this.batch; n++) {
      const r = Number(this.libc.read(this.fd, this.rptr, buf.length));
      if (r < 0) {
        const e = errno();
        if (e === EINTR) continue;
        again = true; // EAGAIN (or an error: re-arm and let poll report it)
        if (e !== EAGAIN) this.stats.readErrors++;
        break;
      }
      if (this.offload) {
        const k = forEachSegment(buf, VNET_HDR_LEN, r, this.segCb);
        if (typeof k !== "number") this.stats.rxBad++;
        else if (k > 1) this.stats.rxSuper++;
        if (n === 0 && this.endCb) {
          try {
            this.endCb();
          } catch {
            /* ignore */
          }
        }
        continue;
      }
      this.stats.rxPackets++;
      this.stats.rxBytes += r;
      try {
        cb(buf.subarray(0, r));
      } catch {
        // a throwing consumer must not stop the reader
      }
      // The first read of a wake-up is handed on at once (onBatchEnd: the engine sends what
      // it sealed) instead of after the read that finds the queue empty: a lone packet
      // (an idle ping) does not wait for that extra syscall. Later reads still batch.
      if (n === 0 && this.endCb) {
        try {
          this.endCb();
        } catch {
          /* ignore */
        }
      }
    }
    if (n > 1 && this.endCb) {
      try {
        this.endCb();
      } catch {
        /* ignore */
      }
    }
    return again;
  }

  /**
   * Write one IP packet. Returns false when the kernel refused it (counted). With offload,
   * TCP segments may be held until the next event-loop turn to be merged; a refused merged
   * write is counted in `txErrors` only.
   */
  write(pkt: Uint8Array): boolean {
    if (this.closed || pkt.length === 0) return false;
    const gro = this.gro;
    if (gro === null) return this.rawWrite(pkt, pkt.length);
    const m = gro.merged;
    gro.push(pkt);
    this.stats.txMerged += gro.merged - m;
    if (gro.pending && !this.flushScheduled && this.mode !== "external") {
      this.flushScheduled = true;
      setImmediate(this.flushWrites);
    }
    return true;
  }

  private readonly flushWrites = (): void => {
    this.flushScheduled = false;
    if (!this.closed) this.gro?.flush();
  };

  private rawWrite(frame: Uint8Array, ipLen: number): boolean {
    const r = Number(this.libc.write(this.fd, frame, frame.length));
    if (r < 0) {
      this.stats.txErrors++;
      return false;
    }
    this.stats.txPackets++;
    this.stats.txBytes += ipLen;
    return true;
  }

  /** Stop the reader and close the fd (the kernel removes the interface, its addresses and routes). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ctl) {
      Atomics.store(this.ctl, 1, 1);
      Atomics.store(this.ctl, 0, 0);
      Atomics.notify(this.ctl, 0);
    }
    const w = this.worker;
    this.worker = null;
    // The worker sees the stop flag within 250 ms; terminate does not wait for poll().
    if (w) setTimeout(() => w.terminate(), 300).unref?.();
    if (!this.borrowed) this.libc.close(this.fd);
  }
}

export interface LinkConfig {
  mtu: number;
  /** CIDR addresses, IPv4 or IPv6, e.g. "10.9.0.1/30". */
  addresses: string[];
  /** CIDR destinations routed into the interface. */
  routes: string[];
}

function ip(args: string[]): void {
  try {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`ip ${args.join(" ")}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Set MTU, addresses, bring the link up and add routes (through the `ip` tool). */
export function configureLink(dev: string, cfg: LinkConfig): void {
  ip(["link", "set", "dev", dev, "mtu", String(cfg.mtu)]);
  // No IPv6 link-local address: the kernel would otherwise send router/MLD solicitations
  // into the tunnel (dropped by policy, but noise in the counters). Best effort.
  try {
    ip(["link", "set", "dev", dev, "addrgenmode", "none"]);
  } catch {
    // older iproute2 / IPv6 disabled
  }
  for (const a of cfg.addresses) {
    const v6 = a.includes(":");
    ip([v6 ? "-6" : "-4", "addr", "add", a, "dev", dev, ...(v6 ? ["nodad"] : [])]);
  }
  ip(["link", "set", "dev", dev, "up"]);
  for (const r of cfg.routes) ip([r.includes(":") ? "-6" : "-4", "route", "replace", r, "dev", dev]);
}

/** Delete the interface if it still exists (closing the fd normally does it). */
export function removeLink(dev: string): void {
  try {
    execFileSync("ip", ["link", "del", "dev", dev], { stdio: "ignore" });
  } catch {
    // already gone
  }
}
