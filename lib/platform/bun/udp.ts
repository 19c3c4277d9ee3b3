/**
 * Outer UDP socket (ESP-in-UDP, normally port 4500) on Bun.udpSocket.
 * `sendBatch` uses `sendMany` (one call for a burst of datagrams).
 * @module
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { DatagramSocket } from "../../tunnel/engine.ts";
import { EAGAIN, errno, stableBytes } from "./libc.ts";

const ENOBUFS = 105;

const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
/** Socket buffer size asked for (the kernel doubles it); the default ~208 KiB overflows under load. */
export const UDP_BUFFER_BYTES = 4 << 20;

let setsockoptFn: ((fd: number, level: number, name: number, val: Uint8Array, len: number) => number) | null = null;
function setsockoptInt(fd: number, level: number, name: number, v: number): boolean {
  if (setsockoptFn === null) {
    for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        const l = dlopen(n, { setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 } });
        setsockoptFn = (a, b, c, d, e) => l.symbols.setsockopt(a, b, c, d, e);
        break;
      } catch {
        // next name
      }
    }
    if (setsockoptFn === null) return false;
  }
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, v, true);
  return setsockoptFn(fd, level, name, b, 4) === 0;
}

/**
 * The fd of our own UDP socket bound to `port` (Bun.udpSocket does not expose it): the
 * socket inodes of that local port in /proc/self/net/udp{,6}, matched against /proc/self/fd.
 * -1 when not found (not Linux, /proc missing).
 */
export function findUdpSocketFd(port: number): number {
  try {
    const inodes = new Set<string>();
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    for (const f of ["/proc/self/net/udp", "/proc/self/net/udp6"]) {
      let text = "";
      try {
        text = readFileSync(f, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols.length > 9 && cols[1].endsWith(":" + hexPort)) inodes.add(cols[9]);
      }
    }
    if (inodes.size === 0) return -1;
    for (const name of readdirSync("/proc/self/fd")) {
      let l = "";
      try {
        l = readlinkSync(`/proc/self/fd/${name}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(l);
      if (m && inodes.has(m[1])) return Number(name);
    }
  } catch {
    // not Linux
  }
  return -1;
}

const SOL_UDP = 17;
const UDP_SEGMENT = 103;
/** Max datagrams per GSO send (the kernel's UDP_MAX_SEGMENTS is 64 or 128). */
const GSO_MAX_SEGS = 64;
/** Max bytes per GSO send (one UDP payload of at most 65507 bytes over IPv4). */
const GSO_MAX_BYTES = 65000;

type SendmsgFn = (fd: number, msg: Uint8Array, flags: number) => number;
let sendmsgFn: SendmsgFn | null = null;
function getSendmsg(): SendmsgFn | null {
  if (sendmsgFn === null) {
    for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        const l = dlopen(n, { sendmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast } });
        sendmsgFn = (a, b, c) => Number(l.symbols.sendmsg(a, b, c));
        break;
      } catch {
        // next name
      }
    }
  }
  return sendmsgFn;
}

/**
 * UDP GSO (UDP_SEGMENT) sender on an existing non-blocking UDP socket fd: a run of
 * datagrams of equal size (the last may be shorter) is copied into one buffer and sent
 * with one sendmsg(); the kernel cuts it into datagrams. x86_64/aarch64 Linux layouts.
 */
export class GsoSender {
  // msghdr → name, iovec → data, control: pointers kept across calls, so storage that never moves
  private readonly data = stableBytes(GSO_MAX_BYTES + 2048);
  private readonly iov = stableBytes(16);
  private readonly cmsg = stableBytes(24);
  private readonly name = stableBytes(28);
  private readonly msg = stableBytes(56);
  private readonly msgDv = new DataView(this.msg.buffer);
  private readonly cmsgDv = new DataView(this.cmsg.buffer);
  private readonly nameDv = new DataView(this.name.buffer);
  private readonly iovDv = new DataView(this.iov.buffer);
  private nameKey = "";
  /** Set when the kernel refused a GSO send with an error other than EAGAIN/ENOBUFS. */
  broken = false;
  sends = 0;

  private constructor(private readonly fd: number, private readonly sendmsg: SendmsgFn) {
    this.iovDv.setBigUint64(0, BigInt(ptr(this.data)), true);
    // cmsghdr: len = CMSG_LEN(2) = 18, level SOL_UDP, type UDP_SEGMENT, u16 segment size
    this.cmsgDv.setBigUint64(0, 18n, true);
    this.cmsgDv.setInt32(8, SOL_UDP, true);
    this.cmsgDv.setInt32(12, UDP_SEGMENT, true);
    const m = this.msgDv;
    m.setBigUint64(0, BigInt(ptr(this.name)), true);
    m.setBigUint64(16, BigInt(ptr(this.iov)), true);
    m.setBigUint64(24, 1n, true);
    m.setBigUint64(32, BigInt(ptr(this.cmsg)), true);
    m.setBigUint64(40, 24n, true);
  }

  /** A sender on `fd`, or null when sendmsg cannot be bound or the platform is not 64-bit Linux. */
  static create(fd: number): GsoSender | null {
    if (fd < 0 || process.platform !== "linux" || (process.arch !== "x64" && process.arch !== "arm64")) return null;
    const f = getSendmsg();
    return f === null ? null : new GsoSender(fd, f);
  }

  private setDest(addr: string, port: number): boolean {
    const key = addr + "|" + port;
    if (key === this.nameKey) return true;
    const n = this.name;
    n.fill(0);
    const dv = this.nameDv;
    const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(addr);
    if (v4) {
      dv.setUint16(0, 2, true);
      dv.setUint16(2, port, false);
      for (let i = 0; i < 4; i++) n[4 + i] = Number(v4[i + 1]);
      this.msgDv.setUint32(8, 16, true);
    } else {
      const b = parseIpv6(addr);
      if (b === null) return false;
      dv.setUint16(0, 10, true);
      dv.setUint16(2, port, false);
      n.set(b, 8);
      this.msgDv.setUint32(8, 28, true);
    }
    this.nameKey = key;
    return true;
  }

  /**
   * Send `bufs[from, to)` as GSO runs. Returns how many were handed to the kernel (the
   * rest, from the first failure on, are left to the caller); -1 when GSO cannot be used.
   */
  send(bufs: Uint8Array[], from: number, to: number, addr: string, port: number): number {
    if (this.broken || !this.setDest(addr, port)) return -1;
    const data = this.data;
    let i = from;
    while (i < to) {
      const seg = bufs[i].length;
      if (seg === 0) {
        i++; // empty datagrams are not sent (the engine never produces them)
        continue;
      }
      let used = 0, k = i;
      // a run: equal sizes, the last one may be shorter
      while (k < to && k - i < GSO_MAX_SEGS && used + bufs[k].length <= GSO_MAX_BYTES) {
        const l = bufs[k].length;
        if (l > seg) break;
        data.set(bufs[k], used);
        used += l;
        k++;
        if (l < seg) break;
      }
      this.iovDv.setBigUint64(8, BigInt(used), true);
      this.cmsgDv.setUint16(16, seg, true);
      // one datagram: no cmsg (GSO with a single segment is fine, but skip the work)
      this.msgDv.setBigUint64(40, k - i > 1 ? 24n : 0n, true);
      const r = this.sendmsg(this.fd, this.msg, 0);
      if (r < 0) {
        const e = errno();
        if (e !== EAGAIN && e !== ENOBUFS) this.broken = true;
        return i - from;
      }
      this.sends++;
      i = k;
    }
    return to - from;
  }
}

function parseIpv6(a: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const [head, tail, ...rest] = a.split("::");
  if (rest.length) return null;
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  if (tail === undefined && h.length !== 8) return null;
  const words = [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  if (words.length !== 8) return null;
  for (let i = 0; i < 8; i++) {
    const w = parseInt(words[i], 16);
    if (!(w >= 0 && w <= 0xffff) || !/^[0-9a-fA-F]{1,4}$/.test(words[i])) return null;
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  }
  return out;
}

/** Raise SO_RCVBUF/SO_SNDBUF (the FORCE variants with CAP_NET_ADMIN, else capped by rmem_max). */
export function growSocketBuffers(fd: number, bytes: number): boolean {
  if (fd < 0) return false;
  const r = setsockoptInt(fd, SOL_SOCKET, SO_RCVBUFFORCE, bytes) || setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes);
  const w = setsockoptInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, bytes) || setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, bytes);
  return r && w;
}

export interface UdpStats {
  sendErrors: number;
}

export class BunUdpSocket implements DatagramSocket {
  readonly stats: UdpStats = { sendErrors: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  private sock!: Bun.udp.Socket<"uint8array">;
  private readonly many: (Uint8Array | number | string)[] = [];

  private constructor() {}

  /** Bind `address:port` (address "0.0.0.0" / "::" for any). */
  static async bind(address: string, port: number): Promise<BunUdpSocket> {
    const s = new BunUdpSocket();
    try {
      s.sock = await Bun.udpSocket({
        hostname: address,
        port,
        binaryType: "uint8array",
        socket: {
          data: (_sock, buf, rport, raddr) => {
            const cb = s.cb;
            if (cb) {
              try {
                cb(buf, raddr, rport);
              } catch {
                // the engine never throws on wire data; be safe anyway
              }
            }
          },
          // ICMP errors for earlier sends (EHOSTUNREACH, ECONNREFUSED, ...) arrive here;
          // without a handler Bun throws them and the tunnel process dies. A tunnel must
          // survive an unreachable peer (DPD decides when it is gone), so count and go on.
          error: () => {
            s.stats.sendErrors++;
          },
        },
      });
    } catch (e) {
      throw new Error(`cannot bind UDP ${address.includes(":") ? `[${address}]` : address}:${port}: ${(e as Error).message}`);
    }
    return s;
  }

  /** The socket's fd (found through /proc), or -1. */
  fd(): number {
    return findUdpSocketFd(this.sock.port);
  }

  get port(): number {
    return this.sock.port;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    if (!this.sock.send(buf, port, addr)) this.stats.sendErrors++;
  }

  /**
   * Use UDP GSO (one sendmsg per run of equal-size datagrams) for batches, on the socket's
   * own fd. Returns false when it is not available (batches keep using sendMany).
   */
  enableGso(): boolean {
    this.gso = GsoSender.create(this.fd());
    return this.gso !== null;
  }

  private gso: GsoSender | null = null;

  /** sendmsg() calls made with UDP GSO so far (0 when GSO is off). */
  get gsoSends(): number {
    return this.gso?.sends ?? 0;
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    let from = 0;
    const g = this.gso;
    if (g !== null) {
      const r = g.send(bufs, 0, bufs.length, addr, port);
      if (r === bufs.length) return;
      if (r < 0) {
        if (g.broken) this.gso = null; // e.g. EIO: no GSO on this path; sendMany from now on
      } else if (!g.broken) {
        // EAGAIN/ENOBUFS: the rest is dropped, like a full socket buffer drops
        this.stats.sendErrors += bufs.length - r;
        return;
      } else {
        this.gso = null;
        from = r;
      }
    }
    const m = this.many;
    m.length = 0;
    for (let i = from; i < bufs.length; i++) m.push(bufs[i], port, addr);
    const sent = this.sock.sendMany(m as unknown as Parameters<typeof this.sock.sendMany>[0]);
    if (sent < bufs.length - from) this.stats.sendErrors += bufs.length - from - sent;
  }

  close(): void {
    this.sock.close();
  }
}

/**
 * The same adapter on node:dgram (no batched send). Kept for comparison
 * (VPNKIT_UDP_IMPL=dgram, see bench/tunnel/README.md).
 */
export class NodeDgramSocket implements DatagramSocket {
  readonly stats: UdpStats = { sendErrors: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;

  private constructor(private readonly sock: import("node:dgram").Socket) {}

  static async bind(address: string, port: number): Promise<NodeDgramSocket> {
    const dgram = await import("node:dgram");
    const sock = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    const s = new NodeDgramSocket(sock);
    sock.on("message", (buf, rinfo) => {
      const cb = s.cb;
      if (cb) {
        try {
          cb(buf, rinfo.address, rinfo.port);
        } catch {
          // ignore
        }
      }
    });
    sock.on("error", () => s.stats.sendErrors++);
    await new Promise<void>((res, rej) => {
      sock.once("error", rej);
      sock.bind(port, address, () => {
        sock.off("error", rej);
        res();
      });
    });
    return s;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    this.sock.send(buf, port, addr, (e) => {
      if (e) this.stats.sendErrors++;
    });
  }

  close(): void {
    this.sock.close();
  }
}
