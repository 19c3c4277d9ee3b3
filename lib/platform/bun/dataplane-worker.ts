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
import { FFIType } from "bun:ffi";
import { type DataPlaneCommand, type DataPlaneEvent, type DataPlaneInit, FLAG_APPLIED, FLAG_READY, FLAG_STOP, FLAG_WAKE, FLAG_STOPPED, type IoCounters, sharedViews, writeChildCounters, writeCounters } from "./dataplane-shared.ts";
import { TunDevice } from "./tun.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import { EspRawSocket, EspSockets } from "./raw-esp.ts";
import { InvalidSpiLimiter } from "../../ike/v2/sa/invalid-spi.ts";
import { DualUdpSocket } from "./udp-dual.ts";
import { GateLoop } from "./ike-gate-loop.ts";
import { LoopbackPath } from "./dataplane-warmup.ts";
import { libcSymbols, stableBytes } from "./libc.ts";
import { buildManualPath, buildPath, installBenchChildren } from "./manual-path.ts";
import { LocalChildSink } from "../../tunnel/child-sink.ts";
import type { InboundSa, OutboundSa } from "../../esp/sa.ts";
import { vpnkitEnv } from "../../core/env.ts";
import { startYoungGc } from "./young-gc.ts";

declare const self: Worker;

/** Longest time without yielding to this thread's event loop (timers, messages). */
const YIELD_MS = 20;
/** epoll_wait timeout when idle: bounds how late a timer can run. */
const IDLE_WAIT_MS = Number(vpnkitEnv("VPNKIT_IDLE_WAIT_MS") ?? 50);

const EPOLLIN = 0x1, EPOLLERR = 0x8, EPOLLHUP = 0x10;

function post(e: DataPlaneEvent): void {
  self.postMessage(e);
}

const loadEpoll = () =>
  libcSymbols({
    epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
    epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });

const WARM_SAS = vpnkitEnv("VPNKIT_WARM_SAS") !== "0";
const WARMUP_ROUNDS = Number(vpnkitEnv("VPNKIT_WARMUP") ?? 4000);
/** Warm-up rounds per idle turn of the loop (~5-10 ms). */
const WARM_CHUNK = 200;
/** How long after the last real packet the keep-warm ticks go on. */
const KEEP_WARM_FOR_MS = Number(vpnkitEnv("VPNKIT_KEEP_WARM_FOR_MS") ?? 5000);
const yieldNow = () => new Promise<void>((r) => setImmediate(r));

async function run(init: DataPlaneInit): Promise<void> {
  const { flags, nums } = sharedViews(init.sab);
  const c = loadEpoll();
  /** Keep-warm tick while recently active (0 = off; `keep_warm`, see bench/tunnel/README.md for its cost). */
  const KEEP_WARM_TICK_MS = init.keepWarmMs;
  const t0 = performance.now();
  const loopOptions = (cipher: DataPlaneInit["warmCipher"]) => ({ cipher, esn: init.outbound?.esn ?? false, offload: init.offload, mtu: init.child.mtu, aead: init.aead });
  let loopCipher = init.outbound?.cipher ?? init.warmCipher;
  let loop = WARMUP_ROUNDS > 0 || KEEP_WARM_TICK_MS > 0 ? LoopbackPath.open(loopOptions(loopCipher)) : null;
  // The warm-up (JIT-compiling the packet path with packets through a loopback copy of it) runs
  // in the loop's idle time, WARM_CHUNK rounds at a time, not before the path is ready: the main
  // thread starts IKE meanwhile (an initiator's IKE_SA_INIT no longer waits 150 ms on an idle VM,
  // 460 ms under a flood's load), and a real packet waits for one chunk at most.
  const warmup = { left: loop !== null ? WARMUP_ROUNDS : 0, round: 0, sent: 0, back: 0, logged: loop === null || WARMUP_ROUNDS <= 0 };
  const warmStep = () => {
    const l = loop!;
    const k = Math.min(WARM_CHUNK, warmup.left);
    for (let i = 0; i < k; i++) {
      // a command came (a Child SA install): the loop takes it now, the warm-up goes on later
      if (Atomics.load(flags, FLAG_WAKE) !== 0) break;
      warmup.left--;
      warmup.sent++;
      if (!l.round(warmup.round++)) {
        warmup.left = 0;
        break;
      }
      warmup.back++;
    }
    if (warmup.left === 0) {
      // the rounds' garbage would otherwise stay in this thread's heap until traffic brings a
      // collection (a flood's baseline RSS was 6 MB higher with it): one full collection, idle
      Bun.gc(true);
    }
    if (warmup.left === 0 && !warmup.logged) {
      warmup.logged = true;
      post({ type: "log", message: `vpnkit up: data path warmed up (${warmup.back} of ${warmup.sent} packets through a loopback self-test) in ${(performance.now() - t0).toFixed(0)} ms, in the loop's idle time` });
    }
  };
  let warmTicks = 0;
  const tun = TunDevice.attach(init.tunFd, init.tunName, init.offload);
  const udp4 = FfiUdpSocket.fromFd(init.udpFd);
  const udp6 = init.udpFd6 !== undefined ? FfiUdpSocket.fromFd(init.udpFd6) : null;
  // with an IPv6 socket next to the IPv4 one: both as one (sends by the destination's family)
  const udp = udp6 !== null ? new DualUdpSocket(udp4, udp6) : udp4;
  if (init.gso) udp.enableGso();
  // IKEv2 Child SAs without UDP encapsulation: plain ESP on raw sockets (endpoint port 0)
  const raw4 = (init.rawEsp4Fd ?? -1) >= 0 ? new EspRawSocket(init.rawEsp4Fd!, 4) : null;
  const raw6 = (init.rawEsp6Fd ?? -1) >= 0 ? new EspRawSocket(init.rawEsp6Fd!, 6) : null;
  const socket = raw4 || raw6 ? new EspSockets(udp, raw4, raw6) : udp;
  // ESP for unknown SPIs (RFC 7296 §2.21): at most one report per SPI per 10 s and 10 a second
  // reach the main thread, whatever a sender throws at us
  const spiLimiter = init.ike ? new InvalidSpiLimiter() : null;
  let receiving: { sender(): string } | null = null;
  const onUnknownSpi = spiLimiter ? (spi: number, addr: string, port: number) => {
    if (!spiLimiter.allow(spi, Date.now())) return;
    const from = addr || receiving?.sender() || "";
    if (from) post({ type: "unknown-spi", spi, addr: from, port });
  } : undefined;
  // IKE datagrams in flight to the main thread: bounded (a flood on 4500 is dropped here and counted)
  const ikeQ = init.ikeQueue ? new Int32Array(init.ikeQueue) : null;
  const ikeMax = init.ikeQueueMax ?? 1024;
  const common = {
    device: tun, socket, remoteAddress: init.remoteAddress, remotePort: init.remotePort,
    child: init.child, aead: init.aead, keepaliveMs: init.keepaliveMs,
    // IKEv2 on the same socket (non-ESP marker): to the driver on the main thread, copied out of the receive slab
    onIke: init.ike
      ? (buf: Uint8Array, addr: string, port: number) => {
        if (ikeQ !== null) {
          if (Atomics.load(ikeQ, 0) >= ikeMax) {
            Atomics.add(ikeQ, 1, 1);
            return;
          }
          Atomics.add(ikeQ, 0, 1);
        }
        post({ type: "ike", buf: buf.slice(), addr, port });
      }
      : undefined,
    onUnknownSpi,
  };
  const manual = init.outbound !== null && init.inbound !== null
    ? buildManualPath({ ...common, outbound: init.outbound, inbound: init.inbound })
    : null;
  const { db, child, engine } = manual ?? buildPath(common);
  // the SAs hold their own copies
  init.outbound?.keyMaterial.fill(0);
  init.inbound?.keyMaterial.fill(0);
  // IKEv2: the driver on the main thread installs and removes Child SAs through messages
  // (keyed installs add children: one per road-warrior client)
  const sink = manual === null ? new LocalChildSink(db, child, () => engine.reindex(), engine) : null;
  // benchmark knob (bench/tunnel/many-sa): idle children next to the real one
  const benchChildren = Number(vpnkitEnv("VPNKIT_BENCH_EXTRA_CHILDREN") ?? 0);
  if (benchChildren > 0) {
    const t = performance.now();
    const n = installBenchChildren({ db, child, engine }, Math.min(benchChildren, 65_536), init.outbound?.cipher ?? init.warmCipher);
    const ms = performance.now() - t;
    post({ type: "log", message: `vpnkit up: ${n} extra idle Child SA pairs installed (VPNKIT_BENCH_EXTRA_CHILDREN) in ${ms.toFixed(0)} ms, ${engine.children.length} children` });
  }
  /** The SA pair whose cipher contexts keep-warm ticks touch (the newest Child SA for IKEv2). */
  const current = (): { inSa: InboundSa; outSa: OutboundSa } | null => manual ?? sink!.newest();
  // IKEv2: the main thread logs the event and hands it to the driver (a soft expiry rekeys)
  db.onEvent = (e) => post(init.ike ? { type: "sa-event", event: e } : { type: "log", message: `SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})` });
  onCommand = (m) => {
    try {
      if (m.type === "send") udp.send(m.buf, m.addr, m.port);
      else if (m.type === "remove") {
        saOps++;
        sink?.remove(m.spiIn, m.spiOut, m.nextOutSpi);
        writeChildCounters(nums, engine.children);
      } else if (m.type === "peer") sink?.updateRemote(m.spiOut, m.peer);
      else if (m.type === "install") {
        saOps++;
        try {
          sink?.install(m.child);
        } finally {
          m.child.keyIn.fill(0);
          m.child.keyOut.fill(0);
        }
        writeChildCounters(nums, engine.children);
        // a negotiated cipher other than the warm-up path's: warm that one from now on
        if (loop !== null && m.child.cipher !== loopCipher) {
          const next = LoopbackPath.open(loopOptions(m.child.cipher));
          if (next !== null) {
            loop.close();
            loop = next;
            loopCipher = m.child.cipher;
            // in the idle time, as the first warm-up
            warmup.left = Math.max(warmup.left, Math.min(WARMUP_ROUNDS, 1000));
          }
        }
      }
    } catch (err) {
      post({ type: "log", message: `data plane: ${m.type}: ${(err as Error).message}` });
    } finally {
      // the main thread sends IKE datagrams itself while nothing it posted is pending here (runtime.ts idle())
      Atomics.add(flags, FLAG_APPLIED, 1);
    }
  };

  // young-generation GC while Child SAs come and go (as the main thread does while IKE datagrams
  // arrive, lib/platform/bun/young-gc.ts): each install leaves its deserialized message behind,
  // and collected early the SAs it installs stay packed (VPNKIT_YOUNG_GC_MS=0: off)
  let saOps = 0;
  const youngMs = Number(vpnkitEnv("VPNKIT_YOUNG_GC_MS") ?? 50);
  const stopYoungGc = init.ike && youngMs > 0 ? startYoungGc(() => saOps, youngMs) : null;
  const ticker = setInterval(() => {
    db.tick();
    writeChildCounters(nums, engine.children);
  }, 1000);

  const io: IoCounters = {
    tunRxPackets: 0, tunTxPackets: 0, tunTxErrors: 0, tunWakeups: 0, tunRxSuper: 0, tunRxBad: 0, tunTxMerged: 0,
    udpSendErrors: 0, udpGsoSends: 0, udpTruncated: 0, loopWakeups: 0, warmTicks: 0,
    rawEspIn: 0, rawEspOut: 0, rawEspSendErrors: 0, rawEspMalformed: 0, unknownSpiReported: 0,
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
    io.rawEspIn = (raw4?.stats.recvPackets ?? 0) + (raw6?.stats.recvPackets ?? 0);
    io.rawEspOut = (raw4?.stats.sentPackets ?? 0) + (raw6?.stats.sentPackets ?? 0);
    io.rawEspSendErrors = (raw4?.stats.sendErrors ?? 0) + (raw6?.stats.sendErrors ?? 0);
    io.rawEspMalformed = (raw4?.stats.malformed ?? 0) + (raw6?.stats.malformed ?? 0) + (raw4?.stats.truncated ?? 0) + (raw6?.stats.truncated ?? 0);
    io.unknownSpiReported = spiLimiter?.counters.allowed ?? 0;
    writeCounters(nums, engine.counters, io);
  };

  // IKEv2 responder: the IKE gate's sockets (UDP 500) are read here too; COOKIE answers to a flood
  // leave from this thread, the rest goes to the main thread (bounded)
  const gate = init.gate ? new GateLoop(init.gate, (e) => post({ type: "ike-gate", buf: e.buf, addr: e.addr, port: e.port })) : null;
  const gateFds = gate?.fds ?? [];
  let gateTick = 0, gateSeen = 0;

  const ep = c.epoll_create1(0x80000);
  if (ep < 0) throw new Error("epoll_create1 failed");
  const ev = new Uint8Array(12);
  const evDv = new DataView(ev.buffer);
  for (const fd of [init.tunFd, init.udpFd, init.wakeFd, ...(init.udpFd6 !== undefined ? [init.udpFd6] : []), ...gateFds, ...(raw4 ? [raw4.fd] : []), ...(raw6 ? [raw6.fd] : [])]) {
    evDv.setUint32(0, EPOLLIN, true);
    evDv.setUint32(4, fd, true); // epoll_data.fd
    evDv.setUint32(8, 0, true);
    if (c.epoll_ctl(ep, 1 /* EPOLL_CTL_ADD */, fd, ev) < 0) throw new Error(`epoll_ctl(${fd}) failed`);
  }
  // passed as arrays, not as pointers taken once: a pointer does not keep its array alive, and
  // a small plain array's storage may move (libc.ts stableBytes)
  const out = stableBytes(12 * 8);
  const outDv = new DataView(out.buffer);
  const scratch = stableBytes(8);

  engine.start();
  for (const m of early.splice(0)) onCommand!(m);
  publish();
  writeChildCounters(nums, engine.children);
  Atomics.store(flags, FLAG_READY, 1);
  post({ type: "ready" });

  const tunFd = init.tunFd, udpFd = init.udpFd, wakeFd = init.wakeFd;
  let lastYield = Date.now();
  let lastTraffic = 0, lastPackets = 0;
  let wantYield = false;
  try {
    // After a wake-up that did work, look again without sleeping: whatever that work
    // caused (the echo reply the kernel queues on the TUN while our write returns, the
    // next datagrams) is handled at once. Only when nothing is pending does the loop
    // yield to the event loop (timers) and then sleep.
    let pollAgain = false;
    while (Atomics.load(flags, FLAG_STOP) === 0) {
      // Keep-warm: while the tunnel carried traffic in the last KEEP_WARM_FOR_MS, an idle
      // loop wakes every KEEP_WARM_TICK_MS and sends one throwaway packet around the
      // loopback copy of the path, so the next real packet finds code and caches warm.
      const warm = loop !== null && KEEP_WARM_TICK_MS > 0 && Date.now() - lastTraffic < KEEP_WARM_FOR_MS;
      const warmingUp = loop !== null && warmup.left > 0;
      const n = c.epoll_wait(ep, out, 8, pollAgain || warmingUp ? 0 : warm ? KEEP_WARM_TICK_MS : IDLE_WAIT_MS);
      if (n === 0 && warmingUp) warmStep();
      else if (n === 0 && warm && !pollAgain) {
        loop!.round(warmTicks++);
        // and the tunnel's own cipher contexts (lib/esp OutboundSa/InboundSa.warm: no packet,
        // no nonce a packet could use, no window or lifetime change)
        if (WARM_SAS) {
          const cur = current();
          cur?.outSa.warm();
          cur?.inSa.warm();
        }
        io.warmTicks = warmTicks;
      }
      if (gate !== null && Date.now() - gateTick >= 100) {
        gateTick = Date.now();
        gate.tick(gateTick);
        // a flood read here leaves garbage in this thread's heap, which the main thread's memory
        // guard cannot collect: a young collection every 100 ms while datagrams come in
        // (30 s flood at ~149k/s: RSS +12.2 MiB over the baseline without, +6.6 with)
        const r = gate.receivedCount;
        if (r !== gateSeen) {
          gateSeen = r;
          Bun.gc(false);
        }
      }
      if (n <= 0) {
        // nothing pending: publish the counters now, off the packet's path
        if (pollAgain) publish();
        pollAgain = false;
        const now = Date.now();
        if (now - lastYield >= YIELD_MS || wantYield) {
          wantYield = false;
          await yieldNow();
          lastYield = Date.now();
        }
        continue;
      }
      io.loopWakeups++;
      // Commands posted before these packets arrived apply first: the main thread reports a
      // Child SA installed once it has posted it, and a packet read in the same wake-up (the
      // first ping after that line) must find it. The messages are delivered by a yield.
      if (Atomics.load(flags, FLAG_WAKE) !== 0) {
        for (let i = 0; i < n; i++) {
          if (outDv.getInt32(i * 12 + 4, true) !== wakeFd) continue;
          c.read(wakeFd, scratch, 8);
          Atomics.store(flags, FLAG_WAKE, 0);
          outDv.setInt32(i * 12 + 4, -1, true); // handled: the loop below skips it
          await yieldNow();
          lastYield = Date.now();
          break;
        }
      }
      const wokeAt = Date.now();
      engine.setClock(wokeAt);
      let more = false;
      for (let i = 0; i < n; i++) {
        const events = outDv.getUint32(i * 12, true);
        const fd = outDv.getInt32(i * 12 + 4, true);
        if (fd === wakeFd) {
          c.read(wakeFd, scratch, 8);
          // read, then clear: a command posted from here on writes a new wake-up; one posted
          // before is in the queue the yield below drains
          Atomics.store(flags, FLAG_WAKE, 0);
          wantYield = true;
        } else if (events & (EPOLLERR | EPOLLHUP) && fd === tunFd) {
          // TUN gone (interface deleted under us): nothing more to do here
          post({ type: "error", message: `${init.tunName} went away (interface deleted?)` });
          Atomics.store(flags, FLAG_STOP, 1);
        } else if (fd === tunFd) {
          if (tun.drainNow()) more = true;
        } else if (gate !== null && gateFds.includes(fd)) {
          if (gate.drain(fd)) more = true;
        } else if (fd === udpFd || fd === init.udpFd6) {
          receiving = fd === udpFd ? udp4 : udp6!;
          if (udp instanceof DualUdpSocket ? udp.receive(fd) : udp.receive()) more = true;
          tun.flushNow();
        } else if (fd === raw4?.fd || fd === raw6?.fd) {
          const r = fd === raw4?.fd ? raw4! : raw6!;
          receiving = r;
          if (r.receive()) more = true;
          tun.flushNow();
        }
      }
      // keep-warm follows the tunnel's packets, not any wake-up: an IKE server's handshakes (and
      // the commands they bring) kept it ticking, ~3.5 % of a core, with no ESP at all
      const packets = engine.counters.packetsIn + engine.counters.packetsOut;
      if (packets !== lastPackets) {
        lastPackets = packets;
        lastTraffic = wokeAt;
      }
      pollAgain = true;
      // under sustained load, still let timers run every YIELD_MS
      if (more || wantYield) {
        publish();
        const now = Date.now();
        if (now - lastYield >= YIELD_MS || wantYield) {
          wantYield = false;
          await yieldNow();
          lastYield = Date.now();
        }
      } else if (Date.now() - lastYield >= 4 * YIELD_MS) {
        publish();
        await yieldNow();
        lastYield = Date.now();
      }
    }
  } finally {
    clearInterval(ticker);
    stopYoungGc?.();
    engine.stop();
    tun.flushNow();
    publish();
    writeChildCounters(nums, engine.children);
    db.destroy(); // zeroes every key
    gate?.close();
    loop?.close();
    c.close(ep);
    Atomics.store(flags, FLAG_STOPPED, 1);
    Atomics.notify(flags, FLAG_STOPPED);
  }
}

/** Handler of the messages after "init" (set by {@link run} once the path exists). */
let onCommand: ((m: DataPlaneCommand) => void) | null = null;
/** Commands that arrive before the path exists (none normally: the main thread waits for "ready"). */
const early: DataPlaneCommand[] = [];

self.onmessage = (e: MessageEvent) => {
  const m = e.data as DataPlaneInit | DataPlaneCommand;
  if (m?.type !== "init") {
    if (onCommand !== null) onCommand(m);
    else early.push(m);
    return;
  }
  run(m).catch((err) => {
    const { flags } = sharedViews(m.sab);
    m.outbound?.keyMaterial.fill(0);
    m.inbound?.keyMaterial.fill(0);
    if (Atomics.load(flags, FLAG_READY) === 0) Atomics.store(flags, FLAG_READY, -1);
    Atomics.store(flags, FLAG_STOPPED, 1);
    Atomics.notify(flags, FLAG_STOPPED);
    post({ type: "error", message: (err as Error)?.message ?? String(err) });
  });
};
