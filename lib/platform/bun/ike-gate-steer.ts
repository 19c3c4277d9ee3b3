/**
 * The IKE gate's socket pair (ike-gate.ts): the plain IKE port bound twice with SO_REUSEPORT, a
 * bulk socket (index 0 of the reuseport group) and a priority socket (index 1), and the cBPF
 * program of lib/ike/v2/sa/gate-steer.ts attached to the group with SO_ATTACH_REUSEPORT_CBPF:
 * the kernel puts cookie-less IKE_SA_INIT requests (a spoofed flood) into the bulk socket's
 * queue and COOKIE retries and every other exchange into the priority socket's, which the gate
 * reads first. When the kernel refuses (no SO_REUSEPORT / reuseport cBPF, Linux < 4.5) the
 * caller falls back to one socket.
 *
 * SO_REUSEPORT would let a second process of the same user bind the port next to ours and
 * silently take a share of its datagrams, where a plain bind fails with EADDRINUSE: so the port
 * is first probed with a plain bind (a second vpnkit fails there, as before), and a plain bind
 * by anyone after us fails on our group too.
 * @module
 */
import { FFIType, ptr } from "bun:ffi";
import { encodeBpf } from "../../capture/bpf-ipsec.ts";
import { gateSteerProgram } from "../../ike/v2/sa/gate-steer.ts";
import { parseIp } from "../../net/cidr.ts";
import { errno, libcSymbols, sockaddr, stableBytes, strerror } from "./libc.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";

const AF_INET = 2, AF_INET6 = 10, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1, SO_REUSEPORT = 15, SO_ATTACH_REUSEPORT_CBPF = 51, SO_MEMINFO = 55, SO_RCVBUF = 8, SO_RCVBUFFORCE = 33;
/**
 * The bulk socket's receive buffer: ~30,000 flood-sized datagrams, up to ~0.2 s of a flood
 * (kernel memory, not the process's; the kernel accounts twice this). The gate thread pauses
 * now and then (its event-loop turn, a young GC, a tick, and above all the scheduler when the
 * cores are shared), and with the default 208 KiB the kernel dropped what arrived meanwhile, real
 * clients' first requests with the flood's. 20 s floods at the sender's top rate (156-169k/s,
 * bench/ike/flood.ts): read 75-79 % with the default, 93-94 % with 8 MiB, 97-98 % with 32 MiB;
 * at 60k/s, 0 drops with 8 MiB where the default dropped 4 %.
 */
export const BULK_RCVBUF = 32 << 20;
const SOL_IPV6 = 41, IPV6_V6ONLY = 26;
const IPPROTO_IP = 0, IP_MTU_DISCOVER = 10, IP_PMTUDISC_PROBE = 3;
/** SK_MEMINFO_DROPS: index of the drop counter in SO_MEMINFO's u32 array (linux/sock_diag.h). */
const SK_MEMINFO_DROPS = 8;

let lib: ReturnType<typeof load> | null = null;
const load = () =>
  libcSymbols({
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });
const sys = () => (lib ??= load());

export interface SteeredPair {
  bulk: FfiUdpSocket;
  prio: FfiUdpSocket;
  /** The bulk socket's receive buffer as the kernel granted it (SO_RCVBUF, bytes: twice what was set), -1 if unknown. */
  bulkRcvbuf: number;
}

/** The kernel refused SO_REUSEPORT or the steering program: bind one socket instead. */
export class SteeringUnavailable extends Error {}

function open(text: string, family: 4 | 6, addr: Uint8Array, port: number, reuse: boolean): number {
  const L = sys();
  const fd = L.socket(family === 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error(`socket(): ${strerror(errno())}`);
  const one = stableBytes(4);
  new DataView(one.buffer).setInt32(0, 1, true);
  if (family === 6 && L.setsockopt(fd, SOL_IPV6, IPV6_V6ONLY, one, 4) < 0) {
    const e = errno();
    L.close(fd);
    throw new Error(`IPV6_V6ONLY: ${strerror(e)}`);
  }
  if (reuse && L.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, 4) < 0) {
    const e = errno();
    L.close(fd);
    throw new Error(`SO_REUSEPORT: ${strerror(e)}`);
  }
  const sa = sockaddr(family, addr, port);
  if (L.bind(fd, sa, sa.length) < 0) {
    const e = errno();
    L.close(fd);
    throw new Error(`cannot bind UDP ${family === 6 ? `[${text}]` : text}:${port}: ${strerror(e)}`);
  }
  return fd;
}

/**
 * Bind the bulk and the priority socket on `address:port` and attach the steering program.
 * Throws when the port is taken (the plain probe bind fails: same error as without steering),
 * {@link SteeringUnavailable} when the kernel refuses SO_REUSEPORT or the program (the caller
 * then binds one socket).
 */
export function bindSteeredPair(address: string, port: number): SteeredPair {
  const ip = parseIp(address);
  if (!ip) throw new Error(`cannot bind UDP ${address}:${port}: not an IP address`);
  const L = sys();
  // a plain bind first: fails with EADDRINUSE where a single socket would have
  L.close(open(address, ip.family, ip.addr, port, false));
  let bulk = -1, prio = -1;
  try {
    bulk = open(address, ip.family, ip.addr, port, true);
    // The bulk socket sends nothing but the gate's COOKIE answers (72-byte datagrams; what the
    // manager sends goes out on the priority one). IP_PMTUDISC_PROBE sets DF without path MTU
    // state, which skips the kernel's IP ID selection (__ip_select_ident: 3 % of the gate thread
    // under a flood, perf) for each answer; 2.80-3.12 vs 3.42-3.46 µs of CPU per sendmmsg()'d
    // datagram in a C loop to random destinations. Best effort: nothing depends on it.
    const v = stableBytes(4);
    const vdv = new DataView(v.buffer);
    if (ip.family === 4) {
      vdv.setInt32(0, IP_PMTUDISC_PROBE, true);
      L.setsockopt(bulk, IPPROTO_IP, IP_MTU_DISCOVER, v, 4);
    }
    // best effort too: without CAP_NET_ADMIN the kernel caps it at net.core.rmem_max
    vdv.setInt32(0, BULK_RCVBUF, true);
    if (L.setsockopt(bulk, SOL_SOCKET, SO_RCVBUFFORCE, v, 4) < 0) L.setsockopt(bulk, SOL_SOCKET, SO_RCVBUF, v, 4);
    prio = open(address, ip.family, ip.addr, port, true);
    const prog = gateSteerProgram();
    const code = stableBytes(prog.length * 8);
    code.set(encodeBpf(prog, true));
    const fprog = stableBytes(16); // struct sock_fprog { u16 len; pad; struct sock_filter *filter; }
    const dv = new DataView(fprog.buffer);
    dv.setUint16(0, prog.length, true);
    dv.setBigUint64(8, BigInt(ptr(code)), true);
    if (L.setsockopt(bulk, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog, 16) < 0) throw new Error(`SO_ATTACH_REUSEPORT_CBPF: ${strerror(errno())}`);
  } catch (e) {
    if (prio >= 0) L.close(prio);
    if (bulk >= 0) L.close(bulk);
    // the port was free a moment ago: whatever failed here is the steering's
    throw new SteeringUnavailable((e as Error).message);
  }
  return { bulk: FfiUdpSocket.fromFd(bulk), prio: FfiUdpSocket.fromFd(prio), bulkRcvbuf: rcvbufOf(bulk) };
}

/** SO_RCVBUF of `fd` (bytes, as the kernel reports it), or -1. */
function rcvbufOf(fd: number): number {
  const v = stableBytes(4), n = stableBytes(4);
  new DataView(n.buffer).setUint32(0, 4, true);
  if (sys().getsockopt(fd, SOL_SOCKET, SO_RCVBUF, v, n) < 0) return -1;
  return new DataView(v.buffer).getInt32(0, true);
}

/** Datagrams the kernel dropped on `fd` (receive queue full: SO_MEMINFO's SK_MEMINFO_DROPS), or -1. */
export class SocketDrops {
  private readonly buf = stableBytes(4 * 16);
  private readonly len = stableBytes(4);
  private readonly dv = new DataView(this.buf.buffer);
  private readonly lenDv = new DataView(this.len.buffer);

  read(fd: number): number {
    this.lenDv.setUint32(0, this.buf.length, true);
    if (sys().getsockopt(fd, SOL_SOCKET, SO_MEMINFO, this.buf, this.len) < 0) return -1;
    if (this.lenDv.getUint32(0, true) < (SK_MEMINFO_DROPS + 1) * 4) return -1;
    return this.dv.getUint32(SK_MEMINFO_DROPS * 4, true);
  }
}
