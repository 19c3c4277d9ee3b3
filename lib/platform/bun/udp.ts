/**
 * Outer UDP socket (ESP-in-UDP, normally port 4500) on Bun.udpSocket.
 * `sendBatch` uses `sendMany` (one call for a burst of datagrams).
 * @module
 */
import { dlopen, FFIType } from "bun:ffi";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import type { DatagramSocket } from "../../tunnel/engine.ts";

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

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    const m = this.many;
    m.length = 0;
    for (let i = 0; i < bufs.length; i++) m.push(bufs[i], port, addr);
    const sent = this.sock.sendMany(m as unknown as Parameters<typeof this.sock.sendMany>[0]);
    if (sent < bufs.length) this.stats.sendErrors += bufs.length - sent;
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
