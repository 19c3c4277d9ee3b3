/**
 * Plain ESP (IP protocol 50, RFC 4303, no UDP encapsulation) on raw sockets through bun:ffi
 * (Linux, 64-bit): socket(AF_INET/AF_INET6, SOCK_RAW, IPPROTO_ESP), recvmmsg() into a fixed
 * slab, sendto() and sendmmsg() batches. The data-plane worker waits for these fds in its
 * epoll_wait() next to the TUN and the UDP socket, like {@link FfiUdpSocket}.
 *
 * Used for the Child SAs of IKE SAs that found no NAT (RFC 7296 §2.23) and are not forced to
 * encapsulate: their engine child's endpoint has port {@link RAW_ESP_PORT} (0), and
 * {@link EspSockets} sends those datagrams here instead of on the UDP socket. Inbound, an IPv4
 * raw socket hands over the whole IP datagram (header stripped here, by its IHL), an IPv6 one
 * the payload only; the ESP packet goes to the engine like an ESP-in-UDP payload (the SPI
 * finds the SA, route-index.ts / the engine's SPI map), with port 0. Packets shorter than an
 * ESP header, or with SPI 0 (reserved, RFC 4303 §2.1; on UDP it would be the non-ESP marker),
 * are counted (`malformed`) and dropped here.
 *
 * A raw ESP socket gets a copy of every ESP packet the host receives; while it is open the
 * kernel sends no "protocol unreachable" for ESP (its own xfrm code, if loaded, finds no
 * state and drops its copy). Needs CAP_NET_RAW: {@link openRawEsp} throws otherwise, and
 * the caller falls back to UDP encapsulation.
 * @module
 */
import { FFIType, type Pointer, ptr } from "bun:ffi";
import type { DatagramSocket } from "../../tunnel/engine.ts";
import { RAW_ESP_PORT } from "../../tunnel/engine-types.ts";
import { parseIp } from "../../net/cidr.ts";
import { ipv4Text, ipv6Text } from "../../core/bytes.ts";
import { EINTR, errno, libcSymbols, sockaddr, stableBytes, strerror } from "./libc.ts";

const SYMBOLS = {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
  sendmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
} as const;

let lib: ReturnType<typeof libcSymbols<typeof SYMBOLS>> | null = null;
const sys = () => (lib ??= libcSymbols(SYMBOLS));

const AF_INET = 2, AF_INET6 = 10, SOCK_RAW = 3, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_ESP = 50;
const SOL_SOCKET = 1, SO_RCVBUF = 8, SO_SNDBUF = 7, SO_RCVBUFFORCE = 33, SO_SNDBUFFORCE = 32;
const MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20;
const RECV_BATCH = 64;
/** Bytes per receive slot (an IPv4 header + the largest ESP packet of a 9000-byte link fits). */
const SLOT = 9216;
const MMSG = 64;
/** Send slots of {@link EspRawSocket.sendBatch} (larger packets go one sendto each). */
const SEND_BATCH = 64;
const SEND_SLOT = 2048;
const DEST_CACHE = 8192;

export interface RawEspStats {
  recvPackets: number;
  sentPackets: number;
  sendErrors: number;
  truncated: number;
  /** Shorter than an ESP header, SPI 0, or a bad IPv4 header. */
  malformed: number;
}

/**
 * Open a raw ESP socket of `family`, bound to `local` unless that is the wildcard (or absent).
 * Throws with the reason (no CAP_NET_RAW: "Operation not permitted").
 */
export function openRawEsp(family: 4 | 6, local?: string, bufBytes = 4 << 20): number {
  const L = sys();
  const fd = L.socket(family === 6 ? AF_INET6 : AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ESP);
  if (fd < 0) throw new Error(`raw ESP socket (IPv${family}): ${strerror(errno())}`);
  const ip = local !== undefined ? parseIp(local) : null;
  if (ip && ip.family === family && ip.addr.some((b) => b !== 0)) {
    const sa = sockaddr(ip.family, ip.addr, 0);
    if (L.bind(fd, ptr(sa), sa.length) < 0) {
      const e = errno();
      L.close(fd);
      throw new Error(`raw ESP socket: cannot bind ${local}: ${strerror(e)}`);
    }
  }
  if (bufBytes > 0) {
    const v = new Int32Array([bufBytes]);
    for (const [force, plain] of [[SO_RCVBUFFORCE, SO_RCVBUF], [SO_SNDBUFFORCE, SO_SNDBUF]]) {
      if (L.setsockopt(fd, SOL_SOCKET, force, ptr(v), 4) < 0) L.setsockopt(fd, SOL_SOCKET, plain, ptr(v), 4);
    }
  }
  return fd;
}

/**
 * Where the ESP packet starts in what a raw socket of `family` received at `b[off, off+len)`
 * (IPv4: after the IP header, by its IHL; IPv6: the payload is all there is), or -1 when it is
 * no usable ESP packet: a bad IPv4 header, shorter than SPI + sequence number (8 bytes), or
 * SPI 0 (reserved, RFC 4303 §2.1). Never reads outside `[off, off+len)`.
 */
export function espStart(b: Uint8Array, off: number, len: number, family: 4 | 6): number {
  if (off < 0 || len < 0 || off + len > b.length) return -1;
  let start = off;
  if (family === 4) {
    if (len < 20) return -1;
    const ihl = (b[off] & 0x0f) * 4;
    if (b[off] >> 4 !== 4 || ihl < 20 || ihl > len) return -1;
    start = off + ihl;
  }
  if (off + len - start < 8 || (b[start] | b[start + 1] | b[start + 2] | b[start + 3]) === 0) return -1;
  return start;
}

export function closeFd(fd: number): void {
  sys().close(fd);
}

/** A non-blocking raw ESP socket of one family (the fd is opened by {@link openRawEsp}). */
export class EspRawSocket {
  readonly stats: RawEspStats = { recvPackets: 0, sentPackets: 0, sendErrors: 0, truncated: 0, malformed: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  private readonly slab = stableBytes(RECV_BATCH * SLOT);
  private readonly names = stableBytes(RECV_BATCH * 32);
  private readonly iovs = stableBytes(RECV_BATCH * 16);
  private readonly vec = stableBytes(RECV_BATCH * MMSG);
  private readonly vecDv = new DataView(this.vec.buffer);
  private readonly vecPtr: Pointer;
  // sendmmsg: one name, SEND_BATCH iovecs into one slab
  private readonly sendSlab = stableBytes(SEND_BATCH * SEND_SLOT);
  private readonly sendName = stableBytes(28);
  private readonly sendIovs = stableBytes(SEND_BATCH * 16);
  private readonly sendVec = stableBytes(SEND_BATCH * MMSG);
  private readonly sendIovDv = new DataView(this.sendIovs.buffer);
  private readonly sendVecDv = new DataView(this.sendVec.buffer);
  private readonly destCache = new Map<string, Uint8Array>();
  /** Slot of the packet being handed to the consumer (for {@link sender}). */
  private cur = -1;
  private closed = false;

  constructor(readonly fd: number, readonly family: 4 | 6) {
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
    const sp = ptr(this.sendSlab), sip = ptr(this.sendIovs), np = ptr(this.sendName);
    for (let i = 0; i < SEND_BATCH; i++) {
      this.sendIovDv.setBigUint64(i * 16, BigInt(sp + i * SEND_SLOT), true);
      const m = i * MMSG;
      this.sendVecDv.setBigUint64(m, BigInt(np), true);
      this.sendVecDv.setBigUint64(m + 16, BigInt(sip + i * 16), true);
      this.sendVecDv.setBigUint64(m + 24, 1n, true);
    }
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  /**
   * The source address of the packet being handed to the consumer right now (text), or "".
   * The consumer gets "" as the address (ESP needs none; the text costs a string per packet).
   */
  sender(): string {
    const i = this.cur;
    if (i < 0) return "";
    const no = i * 32;
    const fam = this.names[no] | (this.names[no + 1] << 8);
    return fam === AF_INET6 ? ipv6Text(this.names, no + 8) : fam === AF_INET ? ipv4Text(this.names, no + 4) : "";
  }

  /** Receive what is queued (up to `maxCalls` recvmmsg() calls); true when more may be waiting. */
  receive(maxCalls = 4): boolean {
    const cb = this.cb;
    if (cb === null || this.closed) return false;
    const L = sys();
    const dv = this.vecDv;
    const slab = this.slab;
    for (let call = 0; call < maxCalls; call++) {
      const n = L.recvmmsg(this.fd, this.vecPtr, RECV_BATCH, MSG_DONTWAIT, null);
      if (n <= 0) {
        if (n < 0 && errno() === EINTR) continue;
        return false;
      }
      for (let i = 0; i < n; i++) {
        const m = i * MMSG;
        const len = dv.getUint32(m + 56, true);
        const flags = dv.getInt32(m + 48, true);
        dv.setUint32(m + 8, 28, true);
        if (flags & MSG_TRUNC) {
          this.stats.truncated++;
          continue;
        }
        const off = i * SLOT;
        const start = espStart(slab, off, len, this.family);
        const end = off + len;
        if (start < 0) {
          this.stats.malformed++;
          continue;
        }
        this.stats.recvPackets++;
        this.cur = i;
        try {
          cb(slab.subarray(start, end), "", RAW_ESP_PORT);
        } catch {
          // the engine never throws on wire data; be safe anyway
        }
        this.cur = -1;
      }
      if (n < RECV_BATCH) return false;
    }
    return true;
  }

  private dest(addr: string): Uint8Array | null {
    let d = this.destCache.get(addr);
    if (d === undefined) {
      const ip = parseIp(addr);
      if (!ip || ip.family !== this.family) return null;
      d = sockaddr(ip.family, ip.addr, 0);
      if (this.destCache.size >= DEST_CACHE) this.destCache.clear();
      this.destCache.set(addr, d);
    }
    return d;
  }

  send(buf: Uint8Array, addr: string): void {
    const d = this.closed ? null : this.dest(addr);
    if (d === null || Number(sys().sendto(this.fd, buf, buf.length, 0, d, d.length)) < 0) {
      this.stats.sendErrors++;
      return;
    }
    this.stats.sentPackets++;
  }

  /** Several ESP packets to one peer: one sendmmsg() per {@link SEND_BATCH} (copied into a fixed slab). */
  sendBatch(bufs: Uint8Array[], addr: string): void {
    const d = this.closed ? null : this.dest(addr);
    if (d === null) {
      this.stats.sendErrors += bufs.length;
      return;
    }
    this.sendName.set(d);
    const L = sys();
    let i = 0;
    while (i < bufs.length) {
      let k = 0;
      while (i + k < bufs.length && k < SEND_BATCH && bufs[i + k].length <= SEND_SLOT) {
        const b = bufs[i + k];
        this.sendSlab.set(b, k * SEND_SLOT);
        this.sendIovDv.setBigUint64(k * 16 + 8, BigInt(b.length), true);
        this.sendVecDv.setUint32(k * MMSG + 8, d.length, true);
        k++;
      }
      if (k === 0) {
        // too large for a slot: on its own
        this.send(bufs[i], addr);
        i++;
        continue;
      }
      let sent = 0;
      while (sent < k) {
        const r = L.sendmmsg(this.fd, ptr(this.sendVec, sent * MMSG), k - sent, 0);
        if (r < 0) {
          const e = errno();
          if (e === EINTR) continue;
          // EAGAIN/ENOBUFS (full buffer) or a routing error: the rest of this run is dropped
          this.stats.sendErrors += k - sent;
          break;
        }
        sent += r;
        this.stats.sentPackets += r;
      }
      i += k;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    sys().close(this.fd);
  }
}

/** The UDP-socket part {@link EspSockets} needs (FfiUdpSocket fits). */
export interface UdpPart extends DatagramSocket {
  receive?(maxCalls?: number): boolean;
}

/**
 * The engine's outer socket when Child SAs may use plain ESP: datagrams to port
 * {@link RAW_ESP_PORT} go on the raw socket of their address family, everything else on the
 * UDP socket (ESP-in-UDP, IKE, keepalives). Inbound, all of them feed the one consumer.
 */
export class EspSockets implements DatagramSocket {
  constructor(private readonly udp: DatagramSocket, readonly raw4: EspRawSocket | null, readonly raw6: EspRawSocket | null) {}

  private raw(addr: string): EspRawSocket | null {
    return addr.includes(":") ? this.raw6 : this.raw4;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    if (port !== RAW_ESP_PORT) return this.udp.send(buf, addr, port);
    const r = this.raw(addr);
    if (r !== null) r.send(buf, addr);
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    if (port !== RAW_ESP_PORT) {
      if (this.udp.sendBatch) this.udp.sendBatch(bufs, addr, port);
      else for (const b of bufs) this.udp.send(b, addr, port);
      return;
    }
    const r = this.raw(addr);
    if (r !== null) r.sendBatch(bufs, addr);
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.udp.onMessage(cb);
    this.raw4?.onMessage(cb);
    this.raw6?.onMessage(cb);
  }
}
