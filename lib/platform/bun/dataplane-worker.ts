/**
 * The data-plane worker of `vpnkit up` (manual keys, ESP in UDP): one thread that owns
 * the packet path, the way a C tunnel's main loop does. It blocks in epoll_wait() on
 * the TUN fd, the UDP socket fd and an eventfd, and handles whatever woke it on the
 * spot: TUN read → seal → sendmsg, or recvmmsg → open → TUN write. No other thread
 * is woken on the way, so an idle ping costs one thread wake-up per side and direction
 * (the earlier design, a reader worker posting to the main thread's event loop, cost
 * two for the outbound direction; bench/tunnel/README.md).
 *
 * The runtime-neutral TunnelEngine, SaDatabase and offload code run here unchanged;
 * only the adapters differ (TunDevice in "external" mode, FfiUdpSocket).
 *
 * Control: the main thread sets a flag in the shared buffer and writes the eventfd
 * (stop); timers (NAT keepalive, SA lifetimes) run whenever the loop yields to the
 * worker's event loop, at least every {@link YIELD_MS}. Counters are published into the
 * shared buffer after every wake-up, so `vpnkit status` never waits for this thread.
 * @module
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { selectAeadProvider } from "../../esp/aead.ts";
import { buildIcmpTooBig } from "../../esp/icmp.ts";
import { SaDatabase } from "../../esp/sadb.ts";
import { TunnelEngine } from "../../tunnel/engine.ts";
import { VNET_HDR_LEN } from "../../tunnel/offload.ts";
import { parseCidr } from "../../tunnel/selectors.ts";
import { libcryptoAead } from "./aead-ffi.ts";
import { type DataPlaneEvent, type DataPlaneInit, FLAG_READY, FLAG_STOP, FLAG_STOPPED, type IoCounters, sharedViews, writeCounters } from "./dataplane-shared.ts";
import { TunDevice } from "./tun.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";

declare const self: Worker;

/** Longest time without yielding to this thread's event loop (timers, messages). */
const YIELD_MS = 20;
/** epoll_wait timeout when idle: bounds how late a timer can run. */
const IDLE_WAIT_MS = 50;

const EPOLLIN = 0x1, EPOLLERR = 0x8, EPOLLHUP = 0x10;

function post(e: DataPlaneEvent): void {
  self.postMessage(e);
}

function loadEpoll() {
  for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
    try {
      return dlopen(n, {
        epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
        epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        sched_yield: { args: [], returns: FFIType.i32 },
        socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
      }).symbols;
    } catch {
      // next name
    }
  }
  throw new Error("cannot load libc (epoll)");
}

const WARMUP_ROUNDS = Number(process.env.VPNKIT_WARMUP ?? 4000);
const SPIN_MS = Number(process.env.VPNKIT_BUSY_POLL_US ?? 0) / 1000;
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/**
 * JIT warm-up and self-test of the whole packet path, before the real SAs exist: the
 * same classes (TunDevice, TunnelEngine, SaDatabase with the chosen AEAD, FfiUdpSocket)
 * carry throwaway traffic between a SOCK_SEQPACKET pair standing in for the TUN and a
 * loopback UDP socket that sends to itself, with a random key that is destroyed after.
 * Without it the first packets of a tunnel run in JavaScriptCore's interpreter tier
 * (~0.2-0.6 ms per packet measured in the worker, against ~10 µs warm), which is what an
 * idle ping right after start sees. Returns the packets that made the round trip.
 */
function warmUp(init: DataPlaneInit, rounds: number): number {
  const L = loadEpoll();
  const sv = new Int32Array(2);
  if (L.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0o4000 | 0o2000000, 0, ptr(sv)) < 0) return 0;
  const [devFd, peerFd] = [sv[0], sv[1]];
  let udp: FfiUdpSocket | null = null;
  const db = new SaDatabase({ crypto: (ci) => (init.aead === "ffi" ? libcryptoAead(ci) : null) ?? selectAeadProvider(ci) });
  let back = 0;
  try {
    udp = FfiUdpSocket.bind("127.0.0.1", 0);
    const port = udp.localPort();
    if (port <= 0) return 0;
    const key = crypto.getRandomValues(new Uint8Array(init.outbound.keyMaterial.length));
    const spi = 0x7fff0001;
    const outSa = db.installOutbound({ spi, cipher: init.outbound.cipher, keyMaterial: key, esn: init.outbound.esn });
    const inSa = db.installInbound({ spi, cipher: init.outbound.cipher, keyMaterial: key, esn: init.outbound.esn });
    key.fill(0);
    const dev = TunDevice.attach(devFd, "warmup", init.offload);
    const any4 = parseCidr("0.0.0.0/0")!;
    const engine = new TunnelEngine({
      device: dev, socket: udp, remoteAddress: "127.0.0.1", remotePort: port,
      children: [{ name: "warmup", local: [], remote: [any4], outbound: outSa, inbound: [inSa], mtu: init.child.mtu }],
      icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu), keepaliveMs: 0,
    });
    engine.start();
    const hdr = init.offload ? VNET_HDR_LEN : 0;
    const pkts = [warmPacket(1, 84), warmPacket(6, Math.min(1400, init.child.mtu))].map((p) => {
      const f = new Uint8Array(hdr + p.length);
      f.set(p, hdr);
      return f;
    });
    const sink = new Uint8Array(70000);
    for (let i = 0; i < rounds; i++) {
      const f = pkts[i & 1];
      if (Number(L.write(peerFd, ptr(f), f.length)) < 0) break;
      dev.drainNow();
      udp.receive(1);
      dev.flushNow();
      while (Number(L.read(peerFd, ptr(sink), sink.length)) > 0) back++;
    }
    engine.stop();
  } catch {
    // a warm-up failure only costs latency; the real path reports its own errors
  } finally {
    db.destroy();
    udp?.close();
    L.close(devFd);
    L.close(peerFd);
  }
  return back;
}

/** An IPv4 packet 10.255.0.1 → 10.255.0.2 of `len` bytes (protocol 1 = ICMP echo, 6 = TCP ACK). */
function warmPacket(proto: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = proto;
  p.set([10, 255, 0, 1, 10, 255, 0, 2], 12);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff;
  p[10] = s >> 8;
  p[11] = s & 0xff;
  if (proto === 1) p[20] = 8;
  else {
    p[22] = 0x30; // ports 12345 → 12346
    p[23] = 0x39;
    p[24] = 0x30;
    p[25] = 0x3a;
    p[32] = 0x50; // data offset 5
    p[33] = 0x10; // ACK
    p[34] = 0xff;
  }
  return p;
}

async function run(init: DataPlaneInit): Promise<void> {
  const { flags, nums } = sharedViews(init.sab);
  const c = loadEpoll();
  const t0 = performance.now();
  const warmed = WARMUP_ROUNDS > 0 ? warmUp(init, WARMUP_ROUNDS) : 0;
  if (WARMUP_ROUNDS > 0) post({ type: "log", message: `vpnkit up: data path warmed up (${warmed} of ${WARMUP_ROUNDS} packets through a loopback self-test) in ${(performance.now() - t0).toFixed(0)} ms` });
  const tun = TunDevice.attach(init.tunFd, init.tunName, init.offload);
  const udp = FfiUdpSocket.fromFd(init.udpFd);
  if (init.gso) udp.enableGso();
  const db = new SaDatabase({ crypto: (ci) => (init.aead === "ffi" ? libcryptoAead(ci) : null) ?? selectAeadProvider(ci) });
  const outSa = db.installOutbound({ spi: init.outbound.spi, cipher: init.outbound.cipher, keyMaterial: init.outbound.keyMaterial, esn: init.outbound.esn });
  const inSa = db.installInbound({
    spi: init.inbound.spi, cipher: init.inbound.cipher, keyMaterial: init.inbound.keyMaterial, esn: init.inbound.esn,
    replayWindow: init.inbound.replayWindow,
  });
  // the SAs hold their own copies
  init.outbound.keyMaterial.fill(0);
  init.inbound.keyMaterial.fill(0);
  db.onEvent = (e) => post({ type: "log", message: `SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})` });

  const engine = new TunnelEngine({
    device: tun,
    socket: udp,
    remoteAddress: init.remoteAddress,
    remotePort: init.remotePort,
    children: [{ name: init.child.name, local: init.child.local, remote: init.child.remote, outbound: outSa, inbound: [inSa], mtu: init.child.mtu }],
    icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu),
    keepaliveMs: init.keepaliveMs,
  });
  const ticker = setInterval(() => db.tick(), 1000);

  const io: IoCounters = {
    tunRxPackets: 0, tunTxPackets: 0, tunTxErrors: 0, tunWakeups: 0, tunRxSuper: 0, tunRxBad: 0, tunTxMerged: 0,
    udpSendErrors: 0, udpGsoSends: 0, udpTruncated: 0, loopWakeups: 0,
  };
  const publish = () => {
    const t = tun.stats;
    io.tunRxPackets = t.rxPackets;
    io.tunTxPackets = t.txPackets;
    io.tunTxErrors = t.txErrors;
    io.tunWakeups = t.wakeups;
    io.tunRxSuper = t.rxSuper;
    io.tunRxBad = t.rxBad;
    io.tunTxMerged = t.txMerged;
    io.udpSendErrors = udp.stats.sendErrors;
    io.udpGsoSends = udp.gsoSends;
    io.udpTruncated = udp.stats.truncated;
    writeCounters(nums, engine.counters, io);
  };

  const ep = c.epoll_create1(0x80000);
  if (ep < 0) throw new Error("epoll_create1 failed");
  const ev = new Uint8Array(12);
  const evDv = new DataView(ev.buffer);
  for (const fd of [init.tunFd, init.udpFd, init.wakeFd]) {
    evDv.setUint32(0, EPOLLIN, true);
    evDv.setUint32(4, fd, true); // epoll_data.fd
    evDv.setUint32(8, 0, true);
    if (c.epoll_ctl(ep, 1 /* EPOLL_CTL_ADD */, fd, ev) < 0) throw new Error(`epoll_ctl(${fd}) failed`);
  }
  const out = new Uint8Array(12 * 8);
  const outDv = new DataView(out.buffer);
  const outPtr = ptr(out);
  const scratch = new Uint8Array(8);
  const scratchPtr = ptr(scratch);

  engine.start();
  publish();
  Atomics.store(flags, FLAG_READY, 1);
  post({ type: "ready" });

  const tunFd = init.tunFd, udpFd = init.udpFd, wakeFd = init.wakeFd;
  let lastYield = Date.now();
  let tunMore = false, udpMore = false;
  let spinUntil = 0;
  try {
    while (Atomics.load(flags, FLAG_STOP) === 0) {
      // Work left over from a budget-limited pass: poll without sleeping.
      const spinning = performance.now() < spinUntil;
      const n = c.epoll_wait(ep, outPtr, 8, tunMore || udpMore || spinning ? 0 : IDLE_WAIT_MS);
      if (n === 0 && spinning) {
        c.sched_yield();
        continue;
      }
      io.loopWakeups++;
      let wantYield = false;
      tunMore = false;
      udpMore = false;
      for (let i = 0; i < n; i++) {
        const events = outDv.getUint32(i * 12, true);
        const fd = outDv.getInt32(i * 12 + 4, true);
        if (fd === wakeFd) {
          c.read(wakeFd, scratchPtr, 8);
          wantYield = true;
        } else if (events & (EPOLLERR | EPOLLHUP) && fd === tunFd) {
          // TUN gone (interface deleted under us): nothing more to do here
          post({ type: "log", message: `vpnkit up: ${init.tunName} went away` });
          Atomics.store(flags, FLAG_STOP, 1);
        } else if (fd === tunFd) {
          tunMore = tun.drainNow();
        } else if (fd === udpFd) {
          udpMore = udp.receive();
          tun.flushNow();
        }
      }
      if (n > 0) spinUntil = performance.now() + SPIN_MS;
      publish();
      const now = Date.now();
      if (wantYield || n === 0 || now - lastYield >= YIELD_MS) {
        await yieldNow();
        lastYield = Date.now();
      }
    }
  } finally {
    clearInterval(ticker);
    engine.stop();
    tun.flushNow();
    publish();
    db.destroy(); // zeroes every key
    c.close(ep);
    Atomics.store(flags, FLAG_STOPPED, 1);
    Atomics.notify(flags, FLAG_STOPPED);
  }
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data as DataPlaneInit;
  if (m?.type !== "init") return;
  run(m).catch((err) => {
    const { flags } = sharedViews(m.sab);
    m.outbound.keyMaterial.fill(0);
    m.inbound.keyMaterial.fill(0);
    if (Atomics.load(flags, FLAG_READY) === 0) Atomics.store(flags, FLAG_READY, -1);
    Atomics.store(flags, FLAG_STOPPED, 1);
    Atomics.notify(flags, FLAG_STOPPED);
    post({ type: "error", message: (err as Error)?.message ?? String(err) });
  });
};
