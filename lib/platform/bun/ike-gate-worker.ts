/**
 * The IKE gate's thread (`vpnkit up` as a responder, ike-gate.ts): it owns the receive side of
 * the plain IKE sockets (UDP 500, IPv4 and IPv6) and answers a spoofed IKE_SA_INIT flood on its
 * own, so the main thread (the IKE SA manager) sees only what can lead to an IKE SA. It blocks in
 * poll(), reads with recvmmsg() into a fixed slab, decides each datagram with
 * {@link CookieGate} (lib/ike/v2/sa/cookie-gate.ts: COOKIE answer, drop, or forward), sends the
 * COOKIE answers of a batch with one sendmmsg(), and hands the rest to the main thread through
 * postMessage, at most `queueMax` in flight (the rest dropped and counted). The HMAC runs on
 * libcrypto's SHA-256 through FFI into fixed buffers: a flood request allocates nothing here.
 *
 * Whether COOKIEs are demanded: the main thread publishes the manager's half-open count; the
 * gate demands them once that count plus the requests in flight reach the cookie threshold.
 * Counters are published into the shared buffer after every batch. Stop: a flag, seen within
 * one poll() timeout.
 * @module
 */
import { FFIType, type Pointer, ptr } from "bun:ffi";
import { libcryptoHmacSha256 } from "./hmac-ffi.ts";
import { ipv4Text, ipv6Text } from "../../core/bytes.ts";
import { CookieGate, GATE_COOKIE, GATE_DROP_REASONS, GATE_FORWARD, SharedCookieJar } from "../../ike/v2/sa/cookie-gate.ts";
import { EAGAIN, EINTR, errno, libcSymbols, stableBytes } from "./libc.ts";
import { G, type GateEvent, type GateInit, gateViews, N } from "./ike-gate-shared.ts";

declare const self: Worker;

const BATCH = 64;
/** Bytes per receive slot: an IKE message on port 500 may be a whole unfragmented IKE_AUTH. */
const SLOT = 65536;
const MMSG = 64;
const MSG_DONTWAIT = 0x40, MSG_TRUNC = 0x20, AF_INET6 = 10, POLLIN = 1;
/** poll() timeout: how late a stop or a secret rotation can be. */
const WAIT_MS = 100;

const sys = () =>
  libcSymbols({
    poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
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
    this.outIovsDv.setBigUint64(k * 16 + 8, BigInt(reply.length), true);
    this.outVecDv.setUint32(k * MMSG + 8, nameLen, true);
  }
}

async function run(init: GateInit): Promise<void> {
  const { ctl, nums } = gateViews(init.sab);
  const L = sys();
  const mac = libcryptoHmacSha256();
  const jar = new SharedCookieJar(init.cookieSab, init.rotateMs, true, mac);
  const gate = new CookieGate(jar);
  const socks = init.fds.map((fd) => new GateSocket(fd));
  const pfds = stableBytes(8 * socks.length);
  const pdv = new DataView(pfds.buffer);
  socks.forEach((s, i) => {
    pdv.setInt32(i * 8, s.fd, true);
    pdv.setInt16(i * 8 + 4, POLLIN, true);
  });
  let received = 0, forwarded = 0, queueFull = 0, truncated = 0, sendErrors = 0, recvCalls = 0;
  const publish = () => {
    nums[N.received] = received;
    nums[N.cookiesSent] = gate.cookiesSent;
    nums[N.cookiesValid] = gate.cookiesValid;
    nums[N.forwarded] = forwarded;
    nums[N.queueFull] = queueFull;
    nums[N.truncated] = truncated;
    nums[N.sendErrors] = sendErrors;
    nums[N.recvCalls] = recvCalls;
    for (let i = 0; i < GATE_DROP_REASONS.length; i++) nums[N.drops + i] = gate.drops[i];
  };
  const yieldNow = () => new Promise<void>((r) => setImmediate(r));
  let lastYield = Date.now();

  /** Read and decide what `s` holds, up to `maxCalls` batches; true when more may be there. */
  const drain = (s: GateSocket, maxCalls: number): boolean => {
    for (let call = 0; call < maxCalls; call++) {
      const n = L.recvmmsg(s.fd, s.vecPtr as Pointer, BATCH, MSG_DONTWAIT, null);
      recvCalls++;
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
        received++;
        if (flags & MSG_TRUNC) {
          truncated++;
          continue;
        }
        const off = i * SLOT, no = i * 32;
        const v6 = (s.names[no] | (s.names[no + 1] << 8)) === AF_INET6;
        const demand = Atomics.load(ctl, G.HALF_OPEN) + Atomics.load(ctl, G.INFLIGHT) >= threshold;
        const verdict = gate.check(s.slab, off, len, s.names, no + (v6 ? 8 : 4), v6 ? 16 : 4, demand, now);
        if (verdict === GATE_COOKIE) {
          s.queueReply(k++, i, gate.reply, v6 ? 28 : 16);
        } else if (verdict === GATE_FORWARD) {
          if (Atomics.load(ctl, G.INFLIGHT) >= init.queueMax) {
            queueFull++;
            continue;
          }
          Atomics.add(ctl, G.INFLIGHT, 1);
          forwarded++;
          const port = (s.names[no + 2] << 8) | s.names[no + 3];
          const addr = v6 ? ipv6Text(s.names, no + 8) : ipv4Text(s.names, no + 4);
          self.postMessage({ type: "ike", buf: s.slab.slice(off, off + len), addr, port } satisfies GateEvent);
        }
      }
      for (let sent = 0; sent < k;) {
        const r = L.sendmmsg(s.fd, (s.outVecPtr + sent * MMSG) as Pointer, k - sent, 0);
        if (r <= 0) {
          const e = errno();
          if (r < 0 && e === EINTR) continue;
          sendErrors += k - sent; // EAGAIN (socket buffer full) or an error: these answers are lost
          if (e !== EAGAIN) break;
          break;
        }
        sent += r;
      }
      if (n < BATCH) return false;
    }
    return true;
  };

  Atomics.store(ctl, G.READY, 1);
  self.postMessage({ type: "ready" } satisfies GateEvent);
  try {
    while (Atomics.load(ctl, G.STOP) === 0) {
      const r = L.poll(pfds, socks.length, WAIT_MS);
      let more = false;
      if (r > 0) {
        for (let i = 0; i < socks.length; i++) {
          if (pdv.getInt16(i * 8 + 6, true) !== 0 && drain(socks[i], 16)) more = true;
        }
      }
      jar.rotate(Date.now());
      publish();
      // this thread's event loop (GC housekeeping) gets a turn now and then, also under a flood
      if (Date.now() - lastYield > (more ? 50 : 20)) {
        await yieldNow();
        lastYield = Date.now();
      }
    }
  } finally {
    publish();
    mac.wipe();
    Atomics.store(ctl, G.STOPPED, 1);
    Atomics.notify(ctl, G.STOPPED);
  }
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data as GateInit;
  if (m?.type !== "init") return;
  run(m).catch((err) => {
    const { ctl } = gateViews(m.sab);
    if (Atomics.load(ctl, G.READY) === 0) Atomics.store(ctl, G.READY, -1);
    Atomics.store(ctl, G.STOPPED, 1);
    Atomics.notify(ctl, G.STOPPED);
    self.postMessage({ type: "error", message: (err as Error)?.message ?? String(err) } satisfies GateEvent);
  });
};
