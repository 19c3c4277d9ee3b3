/**
 * Outer UDP socket on raw syscalls through bun:ffi (Linux, 64-bit): socket(), bind(),
 * recvmmsg() into a fixed slab of slots, sendto() and UDP GSO (`GsoSender`) on the
 * same fd. Unlike Bun.udpSocket, it is not tied to an event loop: the data-plane worker
 * (dataplane-worker.ts) waits for it in its own epoll_wait() together with the TUN fd,
 * so a datagram is handled by the thread that wakes for it, with no hop.
 *
 * The fd is a plain process-wide fd: the main thread opens and binds it (so bind errors
 * surface at start-up), the worker receives and sends on it, the main thread closes it
 * after the worker has stopped.
 * @module
 */
import { FFIType, ptr } from "bun:ffi";
import type { DatagramSocket } from "../../tunnel/engine.ts";
import { parseIp } from "../../net/cidr.ts";
import { ipv4Text, ipv6Text } from "../../core/bytes.ts";
import { EAGAIN, EINTR, errno, libcSymbols, sockaddr, stableBytes, strerror } from "./libc.ts";
import { GsoSender } from "./udp.ts";

const SYMBOLS = {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
  recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
} as const;

let lib: ReturnType<typeof libcSymbols<typeof SYMBOLS>> | null = null;
const sys = () => (lib ??= libcSymbols(SYMBOLS));

const AF_INET = 2, AF_INET6 = 10, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_IPV6 = 41, IPV6_V6ONLY = 26;
const MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20;

/** Datagrams per recvmmsg() call. */
const RECV_BATCH = 64;
/** Bytes per receive slot: larger datagrams are truncated and counted (`truncated`). */
const SLOT = 16384;
/** sizeof(struct mmsghdr) on LP64 Linux: msghdr (56) + msg_len (4) + padding. */
const MMSG = 64;
/** Peer sockaddrs kept by {@link FfiUdpSocket} (one per address and port sent to). */
const DEST_CACHE = 8192;

export interface FfiUdpStats {
  sendErrors: number;
  /** Datagrams larger than a receive slot (dropped). */
  truncated: number;
  recvCalls: number;
}

/** A non-blocking UDP socket bound to one local address and port. */
export class FfiUdpSocket implements DatagramSocket {
  readonly stats: FfiUdpStats = { sendErrors: 0, truncated: 0, recvCalls: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  // the kernel writes through pointers kept in these (mmsghdr → iovec → slab): storage that never moves
  private readonly slab = stableBytes(RECV_BATCH * SLOT);
  private readonly names = stableBytes(RECV_BATCH * 32);
  private readonly iovs = stableBytes(RECV_BATCH * 16);
  private readonly vec = stableBytes(RECV_BATCH * MMSG);
  private readonly vecDv = new DataView(this.vec.buffer);
  private readonly vecPtr;
  private destAddr = "";
  private destPort = -1;
  private dest: Uint8Array = new Uint8Array(28);
  private readonly destCache = new Map<string, Map<number, Uint8Array>>();
  private destCount = 0;
  private gso: GsoSender | null = null;
  private closed = false;
  /** Slot of the datagram being handed to the consumer (for {@link sender}); -1: none. */
  private cur = -1;

  private constructor(readonly fd: number) {
    const slabPtr = ptr(this.slab), namesPtr = ptr(this.names), iovPtr = ptr(this.iovs);
    const iv = new DataView(this.iovs.buffer);
    for (let i = 0; i < RECV_BATCH; i++) {
      iv.setBigUint64(i * 16, BigInt(slabPtr + i * SLOT), true);
      iv.setBigUint64(i * 16 + 8, BigInt(SLOT), true);
      const m = i * MMSG;
      this.vecDv.setBigUint64(m, BigInt(namesPtr + i * 32), true);
      this.vecDv.setUint32(m + 8, 28, true);
      this.vecDv.setBigUint64(m + 16, BigInt(iovPtr + i * 16), true);
      this.vecDv.setBigUint64(m + 24, 1n, true);
    }
    this.vecPtr = ptr(this.vec);
  }

  /** Create and bind `address:port` (a numeric IPv4 or IPv6 address; "0.0.0.0" / "::" for any). */
  static bind(address: string, port: number): FfiUdpSocket {
    const ip = parseIp(address);
    if (!ip) throw new Error(`cannot bind UDP ${address}:${port}: not an IP address`);
    const L = sys();
    const fd = L.socket(ip.family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(): ${strerror(errno())}`);
    if (ip.family === 6) {
      const one = new Int32Array([1]);
      L.setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, ptr(one), 4);
    }
    const sa = sockaddr(ip.family, ip.addr, port);
    if (L.bind(fd, ptr(sa), sa.length) < 0) {
      const e = errno();
      L.close(fd);
      throw new Error(`cannot bind UDP ${ip.family === 6 ? `[${address}]` : address}:${port}: ${strerror(e)}`);
    }
    return new FfiUdpSocket(fd);
  }

  /** Wrap an fd bound elsewhere (the worker side). */
  static fromFd(fd: number): FfiUdpSocket {
    return new FfiUdpSocket(fd);
  }

  /** The bound local port (getsockname), or -1. */
  localPort(): number {
    const sa = new Uint8Array(28);
    const len = new Uint32Array([28]);
    if (sys().getsockname(this.fd, ptr(sa), ptr(len)) < 0) return -1;
    return (sa[2] << 8) | sa[3];
  }

  /** Use UDP GSO for batches (one sendmsg per run of equal-size datagrams). */
  enableGso(): boolean {
    this.gso = GsoSender.create(this.fd);
    return this.gso !== null;
  }

  get gsoSends(): number {
    return this.gso?.sends ?? 0;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  /**
   * Receive what is queued, up to `maxCalls` recvmmsg() calls of {@link RECV_BATCH}
   * datagrams, and hand each to the consumer (a view into the slab, valid during the
   * call). Returns true when the socket may still hold data (budget used up).
   *
   * The sender's address is only turned into text for datagrams that carry the
   * non-ESP marker (IKE); ESP never needs it and gets the address of the previous
   * IKE datagram or "".
   */
  receive(maxCalls = 4): boolean {
    const cb = this.cb;
    if (cb === null || this.closed) return false;
    const L = sys();
    const dv = this.vecDv;
    const slab = this.slab;
    const names = this.names;
    for (let call = 0; call < maxCalls; call++) {
      const n = L.recvmmsg(this.fd, this.vecPtr, RECV_BATCH, MSG_DONTWAIT, null);
      this.stats.recvCalls++;
      if (n <= 0) {
        if (n < 0) {
          const e = errno();
          if (e === EINTR) continue;
          if (e !== EAGAIN) this.stats.sendErrors++; // a queued ICMP error (ECONNREFUSED, ...)
        }
        return false;
      }
      for (let i = 0; i < n; i++) {
        const m = i * MMSG;
        const len = dv.getUint32(m + 56, true);
        const flags = dv.getInt32(m + 48, true);
        dv.setUint32(m + 8, 28, true); // msg_namelen is in/out
        if (flags & MSG_TRUNC) {
          this.stats.truncated++;
          continue;
        }
        const off = i * SLOT;
        const buf = slab.subarray(off, off + len);
        let addr = "", port = 0;
        if (len >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
          const no = i * 32;
          const fam = names[no] | (names[no + 1] << 8);
          port = (names[no + 2] << 8) | names[no + 3];
          addr = fam === AF_INET6 ? ipv6Text(names, no + 8) : ipv4Text(names, no + 4);
        }
        this.cur = i;
        try {
          cb(buf, addr, port);
        } catch {
          // the engine never throws on wire data; be safe anyway
        }
        this.cur = -1;
      }
      if (n < RECV_BATCH) return false;
    }
    return true;
  }

  /** The sender's address (text) of the datagram being handed to the consumer right now, or "" (ESP is handed over without it). */
  sender(): string {
    const i = this.cur;
    if (i < 0) return "";
    const no = i * 32, names = this.names;
    const fam = names[no] | (names[no + 1] << 8);
    return fam === AF_INET6 ? ipv6Text(names, no + 8) : ipv4Text(names, no + 4);
  }

  /**
   * Point `dest` at the sockaddr of `addr:port`. A server sends to many peers in turn, so the
   * sockaddrs built are kept (address → port → bytes, at most {@link DEST_CACHE} of them).
   */
  private setDest(addr: string, port: number): boolean {
    if (addr === this.destAddr && port === this.destPort) return true;
    let byPort = this.destCache.get(addr);
    let d = byPort?.get(port);
    if (d === undefined) {
      const ip = parseIp(addr);
      if (!ip) return false;
      d = sockaddr(ip.family, ip.addr, port);
      if (this.destCount >= DEST_CACHE) {
        this.destCache.clear();
        this.destCount = 0;
        byPort = undefined;
      }
      if (byPort === undefined) this.destCache.set(addr, (byPort = new Map()));
      byPort.set(port, d);
      this.destCount++;
    }
    this.dest = d;
    this.destAddr = addr;
    this.destPort = port;
    return true;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    if (this.closed || !this.setDest(addr, port)) {
      this.stats.sendErrors++;
      return;
    }
    const d = this.dest;
    if (Number(sys().sendto(this.fd, buf, buf.length, 0, d, d.length)) < 0) this.stats.sendErrors++;
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    let from = 0;
    const g = this.gso;
    if (g !== null) {
      const r = g.send(bufs, 0, bufs.length, addr, port);
      if (r === bufs.length) return;
      if (r >= 0 && !g.broken) {
        // EAGAIN/ENOBUFS: the rest is dropped, as a full socket buffer drops
        this.stats.sendErrors += bufs.length - r;
        return;
      }
      this.gso = null; // no GSO on this path (e.g. EIO): one sendto per datagram from now on
      from = r < 0 ? 0 : r;
    }
    for (let i = from; i < bufs.length; i++) this.send(bufs[i], addr, port);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys().close(this.fd);
  }
}
