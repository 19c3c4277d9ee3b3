/**
 * Live capture on Linux: an AF_PACKET socket through bun:ffi, presented as a
 * {@link LiveCapture} (lib/capture/live.ts): a capture reader whose batches wait for
 * the network.
 *
 * - One interface: SOCK_RAW, frames as the device has them: LINKTYPE_ETHERNET for
 *   ARPHRD_ETHER / ARPHRD_LOOPBACK, LINKTYPE_RAW for ARPHRD_NONE (TUN, WireGuard).
 *   Other device types, and `any`: SOCK_DGRAM (the network-layer packet) with a Linux
 *   cooked SLL2 header built from sockaddr_ll (protocol, ifindex, ARPHRD, packet type,
 *   address), like `tcpdump -i any`: the summary line shows interface and direction.
 * - A kernel filter (SO_ATTACH_FILTER) is attached before the socket is bound, so no
 *   unfiltered packet is queued: by default lib/capture/bpf-ipsec.ts's IPsec-only program.
 * - Outgoing packets on loopback devices are skipped (each would be seen twice), as
 *   libpcap does.
 * - Time stamps come from the kernel (SO_TIMESTAMPNS control message of recvmsg()).
 * - Waiting: a small Worker blocks in edge-triggered epoll_wait() on the socket and posts
 *   a message on each idle→busy edge (the pattern of tun.ts); the main thread drains the
 *   socket with non-blocking recvmsg() and yields what it read as one batch.
 *
 * Every buffer whose address the kernel keeps between calls (msghdr → iovec → slab,
 * sockaddr, control buffer, sock_fprog → program) is allocated with stableBytes()
 * (libc.ts: JavaScriptCore moves small typed arrays' storage; a pointer taken before
 * dangles).
 * @module
 */
import { FFIType, ptr } from "bun:ffi";
import { readFileSync } from "node:fs";
import { encodeBpf, ipsecFilter, type BpfInsn } from "../../capture/bpf-ipsec.ts";
import { LiveCapturePermissionError, type LiveCapture, type LiveCaptureOptions, type LiveStats } from "../../capture/live.ts";
import type { CaptureRecord } from "../../capture/types.ts";
import { EACCES, EAGAIN, EINTR, EPERM, errno, libcSymbols, stableBytes, strerror } from "./libc.ts";
import { startEpollWaker } from "./epoll-waker.ts";

const SYMBOLS = {
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  recvmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64_fast },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  if_nametoindex: { args: [FFIType.cstring], returns: FFIType.u32 },
  if_indextoname: { args: [FFIType.u32, FFIType.ptr], returns: FFIType.ptr },
} as const;

let lib: ReturnType<typeof libcSymbols<typeof SYMBOLS>> | null = null;
const sys = () => (lib ??= libcSymbols(SYMBOLS));

const AF_PACKET = 17, SOCK_RAW = 3, SOCK_DGRAM = 2, SOCK_NONBLOCK = 0o4000, SOCK_CLOEXEC = 0o2000000;
const ETH_P_ALL_BE = 0x0300; // htons(ETH_P_ALL = 3)
const SOL_SOCKET = 1, SO_RCVBUF = 8, SO_ATTACH_FILTER = 26, SO_TIMESTAMPNS = 35, SO_RCVBUFFORCE = 33;
const SOL_PACKET = 263, PACKET_STATISTICS = 6;
const MSG_TRUNC = 0x20, MSG_DONTWAIT = 0x40;
const ARPHRD_ETHER = 1, ARPHRD_LOOPBACK = 772, ARPHRD_NONE = 0xfffe;
const PACKET_OUTGOING = 4;
export const LINKTYPE_ETHERNET = 1, LINKTYPE_RAW = 101, LINKTYPE_LINUX_SLL2 = 276;
const RCVBUF = 4 << 20;
const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;


/** ARPHRD_* of an interface (/sys/class/net/NAME/type), or -1. */
function arphrd(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/type`, "latin1").trim());
  } catch {
    return -1;
  }
}

/** Open a live capture (see the module doc). Throws LiveCapturePermissionError without CAP_NET_RAW. */
export function openAfPacket(o: LiveCaptureOptions): LiveCapture {
  const L = sys();
  const any = o.iface === "any";
  let ifindex = 0;
  let hw = -1;
  if (!any) {
    ifindex = L.if_nametoindex(Buffer.from(o.iface + "\0"));
    if (ifindex === 0) throw new Error(`no such interface: ${o.iface}`);
    hw = arphrd(o.iface);
  }
  const raw = !any && (hw === ARPHRD_ETHER || hw === ARPHRD_LOOPBACK || hw === ARPHRD_NONE);
  const linkType = !raw ? LINKTYPE_LINUX_SLL2 : hw === ARPHRD_NONE ? LINKTYPE_RAW : LINKTYPE_ETHERNET;
  const linkHeader: 0 | 14 = linkType === LINKTYPE_ETHERNET ? 14 : 0;
  const snaplen = o.snaplen ?? 262144;

  // protocol 0: nothing is queued before the filter is attached and the socket bound
  const fd = L.socket(AF_PACKET, (raw ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const e = errno();
    if (e === EPERM || e === EACCES) throw new LiveCapturePermissionError(`live capture needs root or CAP_NET_RAW (socket(AF_PACKET): ${strerror(e)})`);
    throw new Error(`socket(AF_PACKET): ${strerror(e)}`);
  }
  const fail = (what: string): never => {
    const e = errno();
    L.close(fd);
    throw new Error(`${what}: ${strerror(e)}`);
  };
  const prog: BpfInsn[] | null =
    o.filter === null ? null
    : typeof o.filter === "function" ? o.filter({ linkType, linkHeader })
    : o.filter ?? ipsecFilter({ linkHeader, protocolFrom: linkHeader === 14 ? "ethernet" : "skb", udpPorts: o.udpPorts, tcpPorts: o.tcpPorts, snaplen });
  if (prog !== null) {
    const code = stableBytes(prog.length * 8);
    code.set(encodeBpf(prog, LE));
    const fprog = stableBytes(16); // struct sock_fprog { u16 len; pad; struct sock_filter *filter; }
    const dv = new DataView(fprog.buffer);
    dv.setUint16(0, prog.length, LE);
    dv.setBigUint64(8, BigInt(ptr(code)), LE);
    if (L.setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, fprog, 16) < 0) fail("SO_ATTACH_FILTER");
  }
  const int = stableBytes(4);
  new DataView(int.buffer).setInt32(0, RCVBUF, LE);
  if (L.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int, 4) < 0) L.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int, 4);
  new DataView(int.buffer).setInt32(0, 1, LE);
  L.setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, int, 4);
  const sll = stableBytes(20); // struct sockaddr_ll
  const sdv = new DataView(sll.buffer);
  sdv.setUint16(0, AF_PACKET, LE);
  sdv.setUint16(2, ETH_P_ALL_BE, LE);
  sdv.setInt32(4, ifindex, LE);
  if (L.bind(fd, sll, 20) < 0) fail(`bind(AF_PACKET, ${o.iface})`);
  return new AfPacketCapture(fd, linkType, raw, snaplen, o);
}

class AfPacketCapture implements LiveCapture {
  readonly live = true as const;
  readonly info = { format: "pcapng" as const, gzip: false, byteOrder: (LE ? "le" : "be") as "le" | "be" };
  private readonly L = sys();
  // recvmsg() state: the kernel writes through the pointers in msghdr
  private readonly slab: Uint8Array;
  private readonly name = stableBytes(32);
  private readonly nameDv = new DataView(this.name.buffer);
  private readonly control = stableBytes(128);
  private readonly ctlDv = new DataView(this.control.buffer);
  private readonly iov = stableBytes(16);
  private readonly msg = stableBytes(56);
  private readonly msgDv = new DataView(this.msg.buffer);
  private readonly ifname = stableBytes(32);
  private readonly names = new Map<number, string>();
  private no = 0;
  private bytes = 0;
  private closed = false;
  private worker: Worker | null = null;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(8));
  private wake: (() => void) | null = null;
  private started = false;
  /** recvmsg() errors other than EAGAIN/EINTR. */
  readErrors = 0;

  constructor(
    private readonly fd: number,
    readonly linkType: number,
    private readonly raw: boolean,
    snaplen: number,
    private readonly o: LiveCaptureOptions,
  ) {
    this.slab = stableBytes(Math.max(2048, Math.min(snaplen, 262144)));
    const iv = new DataView(this.iov.buffer);
    iv.setBigUint64(0, BigInt(ptr(this.slab)), LE);
    iv.setBigUint64(8, BigInt(this.slab.length), LE);
    this.msgDv.setBigUint64(0, BigInt(ptr(this.name)), LE);
    this.msgDv.setBigUint64(16, BigInt(ptr(this.iov)), LE);
    this.msgDv.setBigUint64(24, 1n, LE);
    this.msgDv.setBigUint64(32, BigInt(ptr(this.control)), LE);
  }

  bytesRead(): number {
    return this.bytes;
  }

  stats(): LiveStats {
    this.readDrops();
    return this.drops === undefined ? { captured: this.no } : { captured: this.no, kernelDrops: this.drops };
  }

  /** Packets the kernel dropped (PACKET_STATISTICS; reading resets its counters, so they add up here). */
  private drops: number | undefined;
  private readDrops(): void {
    if (this.closed) return;
    const st = stableBytes(8), len = stableBytes(4);
    new DataView(len.buffer).setUint32(0, 8, LE);
    // struct tpacket_stats { tp_packets, tp_drops }
    if (this.L.getsockopt(this.fd, SOL_PACKET, PACKET_STATISTICS, st, len) === 0) this.drops = (this.drops ?? 0) + new DataView(st.buffer).getUint32(4, LE);
  }

  private ifName(index: number): string | undefined {
    let n = this.names.get(index);
    if (n === undefined) {
      const r = this.L.if_indextoname(index, this.ifname);
      if (r === null) return undefined;
      const z = this.ifname.indexOf(0);
      n = Buffer.from(this.ifname.subarray(0, z < 0 ? 16 : z)).toString("latin1");
      if (this.names.size < 4096) this.names.set(index, n);
    }
    return n;
  }

  /** One packet, or null (nothing queued / closed). */
  private recv(): CaptureRecord | null | "skip" {
    for (;;) {
      this.msgDv.setUint32(8, 20, LE); // msg_namelen
      this.msgDv.setBigUint64(40, BigInt(this.control.length), LE); // msg_controllen
      this.msgDv.setInt32(48, 0, LE);
      const r = Number(this.L.recvmsg(this.fd, this.msg, MSG_TRUNC | MSG_DONTWAIT));
      if (r < 0) {
        const e = errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) this.readErrors++;
        return null;
      }
      const nd = this.nameDv;
      const proto = nd.getUint16(2, false);
      const ifindex = nd.getInt32(4, LE);
      const hatype = nd.getUint16(8, LE);
      const pkttype = this.name[10];
      const halen = this.name[11];
      if (hatype === ARPHRD_LOOPBACK && pkttype === PACKET_OUTGOING) return "skip";
      // time stamp: SCM_TIMESTAMPNS control message, else now
      let tsSec = 0, tsNsec = 0, got = false;
      const clen = Number(this.msgDv.getBigUint64(40, LE));
      for (let off = 0; off + 16 <= clen;) {
        const len = Number(this.ctlDv.getBigUint64(off, LE));
        if (len < 16) break;
        if (this.ctlDv.getInt32(off + 8, LE) === SOL_SOCKET && this.ctlDv.getInt32(off + 12, LE) === SO_TIMESTAMPNS && len >= 32) {
          tsSec = Number(this.ctlDv.getBigInt64(off + 16, LE));
          tsNsec = Number(this.ctlDv.getBigInt64(off + 24, LE));
          got = true;
        }
        off += (len + 7) & ~7;
      }
      if (!got) {
        const now = Date.now();
        tsSec = Math.floor(now / 1000);
        tsNsec = (now % 1000) * 1e6;
      }
      const cap = Math.min(r, this.slab.length);
      this.bytes += cap;
      let data: Uint8Array;
      let ifName: string | undefined;
      let len = r;
      if (this.raw) data = this.slab.slice(0, cap);
      else {
        // Linux cooked v2 header (LINKTYPE_LINUX_SLL2), all fields big-endian
        data = new Uint8Array(20 + cap);
        const dv = new DataView(data.buffer);
        dv.setUint16(0, proto, false);
        dv.setUint32(4, ifindex, false);
        dv.setUint16(8, hatype, false);
        data[10] = pkttype;
        data[11] = halen > 8 ? 8 : halen;
        data.set(this.name.subarray(12, 12 + Math.min(halen, 8)), 12);
        data.set(this.slab.subarray(0, cap), 20);
        len += 20;
        ifName = this.ifName(ifindex);
      }
      const rec: CaptureRecord = { no: 0, iface: 0, linkType: this.linkType, tsSec, tsNsec, caplen: data.length, len, data, pktType: pkttype };
      if (ifName !== undefined) rec.ifName = ifName;
      return rec;
    }
  }

  private start(): void {
    this.worker = startEpollWaker(this.fd, this.ctl, () => {
      const f = this.wake;
      this.wake = null;
      f?.();
    });
  }

  async *batches(): AsyncGenerator<CaptureRecord[]> {
    if (this.started) throw new Error("CaptureReader.batches() can only be iterated once");
    this.started = true;
    this.start();
    const max = Math.max(1, this.o.batchSize ?? 256);
    const pred = this.o.predicate;
    try {
      while (!this.closed) {
        // clear the busy flag BEFORE draining: a packet after the last read raises a new edge
        Atomics.store(this.ctl, 0, 0);
        const out: CaptureRecord[] = [];
        let empty = false;
        while (out.length < max) {
          const r = this.recv();
          if (r === null) {
            empty = true;
            break;
          }
          if (r === "skip" || (pred !== undefined && !pred(r))) continue;
          r.no = ++this.no;
          out.push(r);
        }
        if (out.length > 0) yield out;
        if (!empty || this.closed) continue;
        // wait for the worker's edge (or close); a short timer covers an edge missed at start-up
        // (the flag is already set when an edge came while we drained: go round again)
        if (Atomics.load(this.ctl, 0) === 1) continue;
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.wake = null;
            resolve();
          }, 1000);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.readDrops();
    this.closed = true;
    Atomics.store(this.ctl, 1, 1);
    const w = this.worker;
    if (w) {
      (w as unknown as { unref?: () => void }).unref?.();
      w.terminate();
    }
    const f = this.wake;
    this.wake = null;
    f?.();
    this.L.close(this.fd);
  }
}
