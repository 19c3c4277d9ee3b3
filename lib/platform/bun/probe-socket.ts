/**
 * DF-set UDP socket for `vpnkit mtu` through bun:ffi (Linux): socket(SOCK_NONBLOCK),
 * connect, IP_MTU_DISCOVER=IP_PMTUDISC_DO + IP_RECVERR (IPv6: IPV6_MTU_DISCOVER=
 * IPV6_PMTUDISC_DO, IPV6_DONTFRAG, IPV6_RECVERR), send/recv without blocking, ICMP errors
 * read from the error queue (recvmsg MSG_ERRQUEUE: sock_extended_err, ee_info = MTU), the
 * kernel's PMTU read with getsockopt IP_MTU / IPV6_MTU. Implements lib/probe ProbeTransport.
 * Also the responder's runtime entry (`startResponder`, on Bun.udpSocket via udp.ts).
 * @module
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { lookup } from "node:dns/promises";
import { parseIp } from "../../net/cidr.ts";
import { attachResponder, MtuResponder, type ResponderOptions } from "../../probe/responder.ts";
import { runMtuProbe, type MtuRun, type ProbeTransport, type RunOptions, type TransportEvent } from "../../probe/run.ts";
import { EAGAIN, EINTR, errno, libc, libcSymbols, POLLIN, sockaddr, stableBytes, strerror } from "./libc.ts";
import { BunUdpSocket } from "./udp.ts";

const SYMBOLS = {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64_fast },
  recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
} as const;

let sockLib: ReturnType<typeof libcSymbols<typeof SYMBOLS>> | null = null;
const net = () => (sockLib ??= libcSymbols(SYMBOLS));

const AF_INET = 2, AF_INET6 = 10, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_IP = 0, IP_MTU_DISCOVER = 10, IP_RECVERR = 11, IP_MTU = 14, IP_PMTUDISC_DO = 2;
const SOL_IPV6 = 41, IPV6_MTU_DISCOVER = 23, IPV6_MTU = 24, IPV6_RECVERR = 25, IPV6_DONTFRAG = 62, IPV6_PMTUDISC_DO = 2;
const MSG_DONTWAIT = 0x40, MSG_ERRQUEUE = 0x2000;
const POLLERR = 8;
const EMSGSIZE = 90;
const SO_EE_ORIGIN_LOCAL = 1, SO_EE_ORIGIN_ICMP = 2, SO_EE_ORIGIN_ICMP6 = 3;

const ERRNO_NAMES: Record<number, string> = {
  111: "ECONNREFUSED", 113: "EHOSTUNREACH", 101: "ENETUNREACH", 90: "EMSGSIZE", 110: "ETIMEDOUT", 13: "EACCES", 1: "EPERM", 71: "EPROTO",
};
const errName = (e: number) => ERRNO_NAMES[e] ?? `errno ${e}`;

/** Connected non-blocking UDP socket with DF set, through FFI. */
export class FfiProbeSocket implements ProbeTransport {
  private fd: number;
  // msghdr → iovec → rbuf, control: pointers kept across calls, so storage that never moves
  private readonly rbuf = stableBytes(65536);
  private readonly ctrl = stableBytes(512);
  private readonly iov = stableBytes(16);
  private readonly msg = stableBytes(56);
  private readonly pfd = stableBytes(8);
  private readonly intBuf = new Int32Array(new ArrayBuffer(4));
  private readonly lenBuf = new Uint32Array(new ArrayBuffer(4));
  private constructor(readonly family: 4 | 6, fd: number) {
    this.fd = fd;
  }

  /** Create, set the DF/PMTU options and connect to `addr`:`port` (a numeric address). */
  static open(addr: string, port: number): FfiProbeSocket {
    const ip = parseIp(addr);
    if (!ip) throw new Error(`not an IP address: ${addr}`);
    const L = net();
    const fd = L.socket(ip.family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new Error(`socket(): ${strerror(errno())}`);
    const s = new FfiProbeSocket(ip.family, fd);
    try {
      if (ip.family === 4) {
        s.setInt(SOL_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO, "IP_MTU_DISCOVER");
        s.setInt(SOL_IP, IP_RECVERR, 1, "IP_RECVERR");
      } else {
        s.setInt(SOL_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DO, "IPV6_MTU_DISCOVER");
        s.setInt(SOL_IPV6, IPV6_DONTFRAG, 1, "IPV6_DONTFRAG");
        s.setInt(SOL_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR");
      }
      const sa = sockaddr(ip.family, ip.addr, port);
      if (L.connect(fd, ptr(sa), sa.length) < 0) throw new Error(`connect ${addr} port ${port}: ${strerror(errno())}`);
    } catch (e) {
      s.close();
      throw e;
    }
    // msghdr for recvmsg(MSG_ERRQUEUE): no name, one iovec over rbuf, control buffer.
    const iv = new DataView(s.iov.buffer);
    iv.setBigUint64(0, BigInt(ptr(s.rbuf)), true);
    iv.setBigUint64(8, BigInt(s.rbuf.length), true);
    return s;
  }

  private setInt(level: number, name: number, value: number, what: string): void {
    this.intBuf[0] = value;
    if (net().setsockopt(this.fd, level, name, ptr(this.intBuf), 4) < 0) throw new Error(`setsockopt ${what}: ${strerror(errno())}`);
  }

  pathMtu(): number | null {
    if (this.fd < 0) return null;
    this.intBuf[0] = 0;
    this.lenBuf[0] = 4;
    const r = this.family === 4
      ? net().getsockopt(this.fd, SOL_IP, IP_MTU, ptr(this.intBuf), ptr(this.lenBuf))
      : net().getsockopt(this.fd, SOL_IPV6, IPV6_MTU, ptr(this.intBuf), ptr(this.lenBuf));
    return r === 0 && this.intBuf[0] > 0 ? this.intBuf[0] : null;
  }

  send(buf: Uint8Array): "sent" | "too-big" {
    for (;;) {
      const n = net().send(this.fd, ptr(buf), buf.length, 0);
      if (n >= 0) return "sent";
      const e = errno();
      if (e === EINTR) continue;
      if (e === EMSGSIZE) return "too-big";
      // a pending asynchronous error (IP_RECVERR) or a full buffer: the probe is lost, the
      // error (if any) comes out of the error queue in receive()
      if (e === EAGAIN || e === 111 || e === 113 || e === 101) return "sent";
      throw new Error(`send: ${strerror(e)}`);
    }
  }

  receive(): TransportEvent | null {
    if (this.fd < 0) return null;
    const L = net();
    const pv = new DataView(this.pfd.buffer);
    pv.setInt32(0, this.fd, true);
    pv.setInt16(4, POLLIN | POLLERR, true);
    pv.setInt16(6, 0, true);
    if (libc.poll(ptr(this.pfd), 1, 0) <= 0) return null;
    const rev = pv.getInt16(6, true);
    if (rev & POLLERR) {
      const ev = this.readErrQueue();
      if (ev) return ev;
    }
    const n = L.recv(this.fd, ptr(this.rbuf), this.rbuf.length, MSG_DONTWAIT);
    if (n >= 0) return { kind: "data", data: this.rbuf.slice(0, Number(n)) };
    const e = errno();
    if (e === EAGAIN || e === EINTR) return null;
    // pending socket error reported on recv: the details are in the error queue
    return this.readErrQueue() ?? { kind: "error", code: errName(e), message: strerror(e), origin: "local" };
  }

  private readErrQueue(): TransportEvent | null {
    const m = new DataView(this.msg.buffer);
    this.msg.fill(0);
    m.setBigUint64(16, BigInt(ptr(this.iov)), true);
    m.setBigUint64(24, 1n, true);
    m.setBigUint64(32, BigInt(ptr(this.ctrl)), true);
    m.setBigUint64(40, BigInt(this.ctrl.length), true);
    const n = net().recvmsg(this.fd, ptr(this.msg), MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return null;
    const quoted = this.rbuf.slice(0, Number(n));
    const clen = Number(m.getBigUint64(40, true));
    const c = new DataView(this.ctrl.buffer);
    for (let o = 0; o + 16 <= clen;) {
      const len = Number(c.getBigUint64(o, true));
      if (len < 16 || o + len > clen) break;
      const level = c.getInt32(o + 8, true), type = c.getInt32(o + 12, true);
      if (((level === SOL_IP && type === IP_RECVERR) || (level === SOL_IPV6 && type === IPV6_RECVERR)) && len >= 16 + 16) {
        const eno = c.getUint32(o + 16, true);
        const origin = c.getUint8(o + 20);
        const info = c.getUint32(o + 24, true);
        const fromIcmp = origin === SO_EE_ORIGIN_ICMP || origin === SO_EE_ORIGIN_ICMP6;
        if (eno === EMSGSIZE) return { kind: "too-big", mtu: info, origin: fromIcmp ? "icmp" : "local", quoted: fromIcmp ? quoted : null };
        return { kind: "error", code: errName(eno), message: strerror(eno), origin: fromIcmp || origin !== SO_EE_ORIGIN_LOCAL ? "icmp" : "local" };
      }
      o += (len + 7) & ~7;
    }
    return { kind: "error", code: "EUNKNOWN", message: "unrecognised error-queue entry", origin: "local" };
  }

  close(): void {
    if (this.fd >= 0) libc.close(this.fd);
    this.fd = -1;
  }
}

export interface MeasureOptions extends Omit<RunOptions, "clock" | "wallClock"> {
  /** Responder host name or address. */
  peer: string;
  /** Responder UDP port (default 4501). */
  port?: number;
  /** Address family when `peer` is a name (default: what the resolver returns first). */
  family?: 4 | 6;
}

/** Resolve the peer, open the DF socket, run the search, close. */
export async function measurePathMtu(o: MeasureOptions): Promise<MtuRun & { peer: string; address: string; port: number }> {
  let address = o.peer;
  if (!parseIp(o.peer)) {
    const r = await lookup(o.peer, { family: o.family ?? 0 });
    address = r.address;
  }
  const port = o.port ?? 4501;
  const sock = FfiProbeSocket.open(address, port);
  try {
    const run = await runMtuProbe(sock, o);
    return { ...run, peer: o.peer, address, port };
  } finally {
    sock.close();
  }
}

export interface RunningResponder {
  responder: MtuResponder;
  port: number;
  stop(): void;
}

/** Serve MTU probes on UDP `address`:`port` (Bun.udpSocket). "::" also takes IPv4 (dual-stack). */
export async function startResponder(o: ResponderOptions & { address?: string; port?: number }): Promise<RunningResponder> {
  const responder = new MtuResponder(o);
  const sock = await BunUdpSocket.bind(o.address ?? "::", o.port ?? 4501);
  const detach = attachResponder(sock, responder);
  return {
    responder,
    port: sock.port,
    stop() {
      detach();
      sock.close();
      responder.close();
    },
  };
}
