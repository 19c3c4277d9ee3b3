/**
 * The IKE gate's receive loop (ike-gate.ts), run by whichever thread waits for its sockets: the
 * data-plane worker (dataplane-worker.ts: the sockets join its epoll set, no thread of its own)
 * or, when the packet path runs on the main thread, a worker of its own (ike-gate-worker.ts).
 * It reads with recvmmsg() into a fixed slab, decides each datagram with {@link CookieGate}
 * (lib/ike/v2/sa/cookie-gate.ts: COOKIE answer, drop, or forward), sends the COOKIE answers of
 * a batch with one sendmmsg(), and posts the rest to the main thread, at most `queueMax` in
 * flight (the rest dropped and counted). The HMAC runs on libcrypto's SHA-256 through FFI into
 * fixed buffers: a flood request allocates nothing here.
 *
 * With kernel steering (ike-gate-steer.ts: a bulk and a priority socket per family), a wake-up for
 * the bulk socket reads the priority one first, each up to the same budget: a COOKIE retry or an
 * IKE_AUTH waits behind no flood, and a flood aimed at the priority socket still leaves the bulk
 * one half of the reads.
 *
 * COOKIEs are demanded once the manager's half-open count (published by the main thread) plus
 * the requests in flight reach the cookie threshold. Counters go into the shared buffer at
 * every {@link GateLoop.publish}.
 * @module
 */
import { FFIType, type Pointer, ptr } from "bun:ffi";
import { ipv4Text, ipv6Text } from "../../core/bytes.ts";
import { CookieGate, GATE_COOKIE, GATE_DROP_REASONS, GATE_FORWARD, SharedCookieJar } from "../../ike/v2/sa/cookie-gate.ts";
import { libcryptoHmacSha256 } from "./hmac-ffi.ts";
import { EAGAIN, EINTR, errno, libcSymbols, stableBytes } from "./libc.ts";
import { G, type GateEvent, type GateInit, gateViews, N, NS } from "./ike-gate-shared.ts";
import { STEER_PRIORITY, steerClass } from "../../ike/v2/sa/gate-steer.ts";
import { SocketDrops } from "./ike-gate-steer.ts";

const BATCH = 64;
/** Bytes per receive slot: an IKE message on port 500 may be a whole unfragmented IKE_AUTH. */
const SLOT = 65536;
const MMSG = 64;
const MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20, AF_INET6 = 10;

const sys = () =>
  libcSymbols({
    recvmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    sendmmsg: { args: [FFIType.i32, FFIType.ptr, FFIType.u32, FFIType.i32], returns: FFIType.i32 },
  });

/** One socket's receive slab and send batch (pointers into storage that never moves). */
class GateSocket {
  readonly slab = stableBytes(BATCH * SLOT);
  readonly names = stableBytes(BATCH * 32);
  private readonly iovs = stableBytes(BATCH * 16);
  private readonly vec = stableBytes(BATCH * MMSG);
  readonly vecDv = new DataView(this.vec.buffer);
  readonly vecPtr: number;
  // COOKIE answers of one batch
  readonly out = stableBytes(BATCH * 128);
  readonly outNames = stableBytes(BATCH * 32);
  private readonly outIovs = stableBytes(BATCH * 16);
  private readonly outIovsDv = new DataView(this.outIovs.buffer);
  private readonly outVec = stableBytes(BATCH * MMSG);
  private readonly outVecDv = new DataView(this.outVec.buffer);
  readonly outVecPtr: number;

  /** Steered: the class of datagrams this socket gets (STEER_BULK / STEER_PRIORITY), -1 when not steered; a bulk socket's priority partner. */
  cls = -1;
  partner: GateSocket | null = null;

  constructor(readonly fd: number) {
    const slabPtr = ptr(this.slab), namesPtr = ptr(this.names), iovPtr = ptr(this.iovs);
    const outPtr = ptr(this.out), outNamesPtr = ptr(this.outNames), outIovPtr = ptr(this.outIovs);
    const iv = new DataView(this.iovs.buffer), oiv = new DataView(this.outIovs.buffer);
    for (let i = 0; i < BATCH; i++) {
      iv.setBigUint64(i * 16, BigInt(slabPtr + i * SLOT), true);
      iv.setBigUint64(i * 16 + 8, BigInt(SLOT), true);
      const m = i * MMSG;
      this.vecDv.setBigUint64(m, BigInt(namesPtr + i * 32), true);
      this.vecDv.setUint32(m + 8, 28, true);
      this.vecDv.setBigUint64(m + 16, BigInt(iovPtr + i * 16), true);
      this.vecDv.setBigUint64(m + 24, 1n, true);
      oiv.setBigUint64(i * 16, BigInt(outPtr + i * 128), true);
      this.outVecDv.setBigUint64(m, BigInt(outNamesPtr + i * 32), true);
      this.outVecDv.setBigUint64(m + 16, BigInt(outIovPtr + i * 16), true);
      this.outVecDv.setBigUint64(m + 24, 1n, true);
    }
    this.vecPtr = ptr(this.vec);
    this.outVecPtr = ptr(this.outVec);
  }

  /** Queue answer `k` of this batch: `reply` to the sender of received slot `i`. */
  queueReply(k: number, i: number, reply: Uint8Array, nameLen: number): void {
    this.out.set(reply, k * 128);
    for (let j = 0; j < nameLen; j++) this.outNames[k * 32 + j] = this.names[i * 32 + j];
    // iov_len as two 32-bit halves: a BigInt per answer would be garbage per flood request
    this.outIovsDv.setUint32(k * 16 + 8, reply.length, true);
    this.outIovsDv.setUint32(k * 16 + 12, 0, true);
    this.outVecDv.setUint32(k * MMSG + 8, nameLen, true);
  }
}

export class GateLoop {
  private readonly ctl: Int32Array;
  private readonly nums: Float64Array;
  private readonly L = sys();
  private readonly mac = libcryptoHmacSha256();
  private readonly jar: SharedCookieJar;
  private readonly gate: CookieGate;
  private readonly socks: GateSocket[];
  private received = 0;
  /** Datagrams read so far (moves while a flood is read). */
  get receivedCount(): number {
    return this.received;
  }
  private forwarded = 0;
  private queueFull = 0;
  private truncated = 0;
  private sendErrors = 0;
  private recvCalls = 0;
  private prioReceived = 0;
  private prioInits = 0;
  private misrouted = 0;
  private readonly kernelDrops = new SocketDrops();

  constructor(private readonly init: GateInit, private readonly post: (e: Extract<GateEvent, { type: "ike" }>) => void) {
    ({ ctl: this.ctl, nums: this.nums } = gateViews(init.sab));
    this.jar = new SharedCookieJar(init.cookieSab, init.rotateMs, true, this.mac);
    this.gate = new CookieGate(this.jar);
    this.socks = init.fds.map((fd) => new GateSocket(fd));
    for (const p of init.steer ?? []) {
      const b = this.socks.find((x) => x.fd === p.bulk), q = this.socks.find((x) => x.fd === p.prio);
      if (b === undefined || q === undefined) continue;
      b.cls = 0;
      q.cls = STEER_PRIORITY;
      b.partner = q;
    }
  }

  /** The sockets' fds (to wait for). */
  get fds(): number[] {
    return this.init.fds;
  }

  /** Read and decide what socket `fd` holds, up to `maxCalls` batches; true when more may be there. */
  drain(fd: number, maxCalls = 16): boolean {
    const s = this.socks.find((x) => x.fd === fd);
    if (s === undefined) return false;
    // the priority socket first (a bulk socket's wake-up reads its partner too)
    const more = s.partner !== null ? this.drainSocket(s.partner, maxCalls) : false;
    return this.drainSocket(s, maxCalls) || more;
  }

  private drainSocket(s: GateSocket, maxCalls: number): boolean {
    const L = this.L, ctl = this.ctl, gate = this.gate;
    for (let call = 0; call < maxCalls; call++) {
      const n = L.recvmmsg(s.fd, s.vecPtr as Pointer, BATCH, MSG_DONTWAIT, null);
      this.recvCalls++;
      if (n <= 0) {
        if (n < 0 && errno() === EINTR) continue;
        return false;
      }
      const now = Date.now();
      const threshold = Atomics.load(ctl, G.THRESHOLD);
      let k = 0;
      for (let i = 0; i < n; i++) {
        const m = i * MMSG;
        const len = s.vecDv.getUint32(m + 56, true);
        const flags = s.vecDv.getInt32(m + 48, true);
        s.vecDv.setUint32(m + 8, 28, true);
        this.received++;
        if (flags & MSG_TRUNC) {
          this.truncated++;
          continue;
        }
        const off = i * SLOT, no = i * 32;
        if (s.cls >= 0) {
          if (steerClass(s.slab, off, len) !== s.cls) this.misrouted++;
          if (s.cls === STEER_PRIORITY) {
            this.prioReceived++;
            if (len >= 20 && s.slab[off + 18] === 34 && (s.slab[off + 19] & 0x20) === 0) this.prioInits++;
          }
        }
        const v6 = (s.names[no] | (s.names[no + 1] << 8)) === AF_INET6;
        const demand = Atomics.load(ctl, G.HALF_OPEN) + Atomics.load(ctl, G.INFLIGHT) >= threshold;
        const verdict = gate.check(s.slab, off, len, s.names, no + (v6 ? 8 : 4), v6 ? 16 : 4, demand, now);
        if (verdict === GATE_COOKIE) {
          s.queueReply(k++, i, gate.reply, v6 ? 28 : 16);
        } else if (verdict === GATE_FORWARD) {
          if (Atomics.load(ctl, G.INFLIGHT) >= this.init.queueMax) {
            this.queueFull++;
            continue;
          }
          Atomics.add(ctl, G.INFLIGHT, 1);
          this.forwarded++;
          const port = (s.names[no + 2] << 8) | s.names[no + 3];
          const addr = v6 ? ipv6Text(s.names, no + 8) : ipv4Text(s.names, no + 4);
          this.post({ type: "ike", buf: s.slab.slice(off, off + len), addr, port });
        }
      }
      for (let sent = 0; sent < k;) {
        const r = L.sendmmsg(s.fd, (s.outVecPtr + sent * MMSG) as Pointer, k - sent, 0);
        if (r < 0 && errno() === EINTR) continue;
        if (r <= 0) {
          // EAGAIN (socket buffer full) or an error: these answers are lost
          this.sendErrors += k - sent;
          break;
        }
        sent += r;
      }
      if (n < BATCH) return false;
    }
    return true;
  }

  /** Housekeeping (rotate the COOKIE secret when due) and publish the counters. */
  tick(now: number): void {
    this.jar.rotate(now);
    this.publish();
    this.publishKernelDrops();
  }

  publish(): void {
    const nums = this.nums;
    nums[N.received] = this.received;
    nums[N.cookiesSent] = this.gate.cookiesSent;
    nums[N.cookiesValid] = this.gate.cookiesValid;
    nums[N.forwarded] = this.forwarded;
    nums[N.queueFull] = this.queueFull;
    nums[N.truncated] = this.truncated;
    nums[N.sendErrors] = this.sendErrors;
    nums[N.recvCalls] = this.recvCalls;
    for (let i = 0; i < GATE_DROP_REASONS.length; i++) nums[N.drops + i] = this.gate.drops[i];
    nums[NS.steered] = this.socks.some((x) => x.cls >= 0) ? 1 : 0;
    nums[NS.prioReceived] = this.prioReceived;
    nums[NS.prioInits] = this.prioInits;
    nums[NS.misrouted] = this.misrouted;
  }

  /** The kernel's drops per socket class (SO_MEMINFO; a getsockopt per socket, so at tick time only). */
  private publishKernelDrops(): void {
    let bulk = 0, prio = 0;
    for (const x of this.socks) {
      const d = this.kernelDrops.read(x.fd);
      if (d < 0) continue;
      if (x.cls === STEER_PRIORITY) prio += d;
      else bulk += d;
    }
    this.nums[NS.bulkKernelDrops] = bulk;
    this.nums[NS.prioKernelDrops] = prio;
  }

  /** Publish a last time and zero the key-derived state. */
  close(): void {
    this.publish();
    this.publishKernelDrops();
    this.mac.wipe();
  }
}
