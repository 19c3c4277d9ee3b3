/**
 * `vpnkit up` runtime on Bun: wires a validated {@link TunnelConfig} to a TUN device,
 * a UDP socket, the SA database, the engine, the key log and the control socket,
 * and tears everything down on stop (SIGINT/SIGTERM handled by the caller via
 * {@link RunningTunnel.stop}).
 * @module
 */
import { selectAeadProvider } from "../../esp/aead.ts";
import { buildIcmpTooBig } from "../../esp/icmp.ts";
import { SaDatabase } from "../../esp/sadb.ts";
import type { TunnelConfig } from "../../tunnel/config.ts";
import { ControlServer, type TunnelStatus } from "../../tunnel/control.ts";
import { TunnelEngine, type TunnelChild } from "../../tunnel/engine.ts";
import { KeyLog } from "../../tunnel/keylog.ts";
import { libcryptoAead } from "./aead-ffi.ts";
import { configureLink, removeLink, TunDevice } from "./tun.ts";
import { BunUdpSocket, growSocketBuffers, NodeDgramSocket, UDP_BUFFER_BYTES } from "./udp.ts";
import { TcpTransport } from "./tcp-transport.ts";
import { FLAG_READY, FLAG_STOP, FLAG_STOPPED, type DataPlaneEvent, type DataPlaneInit, readCounters, SHARED_BYTES, sharedViews } from "./dataplane-shared.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import { dlopen, FFIType } from "bun:ffi";
import { getLibc } from "./libc.ts";

export interface RunningTunnel {
  /** Where the packet path runs: its own worker thread (default for UDP) or the main thread. */
  dataPlane: "worker" | "main";
  status(): TunnelStatus;
  /** Idempotent teardown: engine, control socket, TUN (and its addresses/routes), UDP, keys zeroed. */
  stop(): void;
}

function spiText(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

export interface StartOptions {
  /** Datagrams with the non-ESP marker on the UDP port (IKE, RFC 3948): unused until IKE lands. */
  onIke?: (buf: Uint8Array, addr: string, port: number) => void;
  /**
   * The packet path died after start-up (the data-plane worker threw, or the TUN device was
   * deleted under it). The tunnel carries nothing any more: the caller should tear down and
   * exit non-zero (so a supervisor restarts it) rather than keep a dead tunnel up.
   */
  onFatal?: (reason: string) => void;
}

export async function startTunnel(cfg: TunnelConfig, log: (msg: string) => void = () => {}, opts: StartOptions = {}): Promise<RunningTunnel> {
  // The data-plane worker (one thread: epoll on TUN + UDP, seal/open on the spot) is the
  // default for ESP in UDP; VPNKIT_DATAPLANE=main keeps the main-thread engine (used for
  // the TCP transport, and for before/after benchmarks).
  if (cfg.transport !== "tcp" && process.env.VPNKIT_DATAPLANE !== "main" && !opts.onIke) return startWorkerTunnel(cfg, log, opts.onFatal);
  const cleanup: (() => void)[] = [];
  const undo = () => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch {
        // keep tearing down
      }
    }
  };
  try {
    // Bench knobs (bench/tunnel/README.md): TUN reader wake-up and UDP implementation.
    const reader = process.env.VPNKIT_TUN_READER === "poll" ? "poll" : "epoll";
    // TSO super-packet reads + GRO-like coalesced writes (VPNKIT_TUN_OFFLOAD=0: plain TUN).
    const offload = process.env.VPNKIT_TUN_OFFLOAD !== "0";
    const tun = TunDevice.open({ name: cfg.tunName, reader, offload });
    cleanup.push(() => removeLink(tun.name));
    cleanup.push(() => tun.close());
    configureLink(tun.name, { mtu: cfg.tunMtu, addresses: cfg.tunAddr, routes: cfg.routes.map((r) => r.text) });

    const udp = cfg.transport === "tcp"
      ? await TcpTransport.start({ role: cfg.tcpRole ?? "client", local: cfg.local, localPort: cfg.localPort, remote: cfg.remote, remotePort: cfg.remotePort, log })
      : process.env.VPNKIT_UDP_IMPL === "dgram"
      ? await NodeDgramSocket.bind(cfg.local, cfg.localPort)
      : await BunUdpSocket.bind(cfg.local, cfg.localPort);
    cleanup.push(() => udp.close());
    // Bigger socket buffers: the default (~208 KiB) overflows in bursts (UDP RcvbufErrors,
    // then TCP retransmits inside the tunnel). VPNKIT_UDP_BUF=0 keeps the default.
    const bufBytes = Number(process.env.VPNKIT_UDP_BUF ?? UDP_BUFFER_BYTES);
    if (udp instanceof BunUdpSocket && bufBytes > 0 && !growSocketBuffers(udp.fd(), bufBytes)) log("vpnkit up: could not enlarge the UDP socket buffers");
    // UDP GSO for batched sends (VPNKIT_UDP_GSO=0: sendMany).
    if (udp instanceof BunUdpSocket && process.env.VPNKIT_UDP_GSO !== "0") udp.enableGso();

    // AEAD through libcrypto (bun:ffi, one EVP context per key) unless VPNKIT_AEAD=default or
    // libcrypto is missing; lib/esp's default (node:crypto GCM / noble ChaCha) otherwise.
    const useFfi = process.env.VPNKIT_AEAD !== "default";
    const db = new SaDatabase({ crypto: (c) => (useFfi ? libcryptoAead(c) : null) ?? selectAeadProvider(c) });
    cleanup.push(() => db.destroy());
    const sa = cfg.sa;
    const outSa = db.installOutbound({ spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn });
    const inSa = db.installInbound({ spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn, replayWindow: sa.replayWindow });
    if (cfg.keylog) {
      const kl = new KeyLog(cfg.keylog);
      kl.add({ src: cfg.local, dst: cfg.remote, spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn });
      kl.add({ src: cfg.remote, dst: cfg.local, spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn });
    }
    // the SAs hold their own copies
    sa.keyOut.fill(0);
    sa.keyIn.fill(0);

    const child: TunnelChild = {
      name: "manual",
      local: cfg.localSubnets,
      remote: cfg.routes,
      outbound: outSa,
      inbound: [inSa],
      mtu: cfg.tunnelMtu,
    };
    const engine = new TunnelEngine({
      device: tun,
      socket: udp,
      remoteAddress: cfg.remote,
      remotePort: cfg.remotePort,
      children: [child],
      // No localAddress: the error is written INTO the TUN, and Linux drops packets arriving
      // with one of its own addresses as source (martian). Sourced from the inner destination,
      // it passes the reverse-path check since that address is routed into the tunnel.
      icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu),
      keepaliveMs: Math.round(cfg.keepaliveSec * 1000),
      onIke: opts.onIke,
    });
    const ticker = setInterval(() => db.tick(), 1000);
    cleanup.push(() => clearInterval(ticker));
    db.onEvent = (e) => log(`SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})`);

    const started = Date.now();
    const status = (): TunnelStatus => ({
      version: 1,
      pid: process.pid,
      startedAt: new Date(started).toISOString(),
      uptimeSec: Math.round((Date.now() - started) / 1000),
      tun: tun.name,
      local: `${cfg.local}:${cfg.localPort}`,
      remote: `${cfg.remote}:${cfg.remotePort}`,
      cipher: sa.cipher,
      spiOut: spiText(sa.spiOut),
      spiIn: spiText(sa.spiIn),
      tunnelMtu: cfg.tunnelMtu,
      counters: engine.counters,
      io: {
        tunRxPackets: tun.stats.rxPackets,
        tunTxPackets: tun.stats.txPackets,
        tunTxErrors: tun.stats.txErrors,
        tunWakeups: tun.stats.wakeups,
        tunRxSuper: tun.stats.rxSuper,
        tunRxBad: tun.stats.rxBad,
        tunTxMerged: tun.stats.txMerged,
        udpSendErrors: udp.stats.sendErrors,
        udpGsoSends: udp instanceof BunUdpSocket ? udp.gsoSends : 0,
      },
    });
    const control = new ControlServer(cfg.control, status);
    await control.listen();
    cleanup.push(() => control.close());

    engine.start();
    cleanup.push(() => engine.stop());
    log(
      `vpnkit up: ${tun.name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), ESP-in-${cfg.transport === "tcp" ? `TCP (${cfg.tcpRole})` : "UDP"} ` +
        `${cfg.local}:${cfg.localPort} -> ${cfg.remote}:${cfg.remotePort}, ${sa.cipher} spi out ${spiText(sa.spiOut)} in ${spiText(sa.spiIn)}, control ${cfg.control}`,
    );
    let stopped = false;
    return {
      dataPlane: "main", status,
      stop() {
        if (stopped) return;
        stopped = true;
        undo();
      },
    };
  } catch (e) {
    cfg.sa.keyOut.fill(0);
    cfg.sa.keyIn.fill(0);
    undo();
    throw e;
  }
}

function workerUrl(): string {
  // Compiled (bun build --compile, scripts/build.ts lists the worker as an entry point):
  // entry points are named by their path in the project. From source: next to this file.
  return import.meta.url.includes("/$bunfs/") ? "./lib/platform/bun/dataplane-worker.ts" : new URL("./dataplane-worker.ts", import.meta.url).href;
}

let eventfdFn: ((init: number, flags: number) => number) | null = null;
function makeEventFd(): number {
  if (eventfdFn === null) {
    for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
      try {
        const l = dlopen(n, { eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
        eventfdFn = (a, b) => l.symbols.eventfd(a, b);
        break;
      } catch {
        // next name
      }
    }
  }
  const fd = eventfdFn ? eventfdFn(0, 0o2000000 | 0o4000) : -1; // EFD_CLOEXEC | EFD_NONBLOCK
  if (fd < 0) throw new Error("eventfd() failed");
  return fd;
}

/**
 * `vpnkit up` with the packet path in a worker thread (dataplane-worker.ts). This thread
 * opens the TUN device and binds the UDP socket (so errors surface here), writes the key
 * log, hands the fds and the SAs to the worker (its copies of the keys are zeroed at
 * once) and serves `vpnkit status` from the counters the worker publishes in shared memory.
 */
async function startWorkerTunnel(cfg: TunnelConfig, log: (msg: string) => void, onFatal?: (reason: string) => void): Promise<RunningTunnel> {
  const cleanup: (() => void)[] = [];
  const undo = () => {
    while (cleanup.length) {
      try {
        cleanup.pop()!();
      } catch {
        // keep tearing down
      }
    }
  };
  const sa = cfg.sa;
  try {
    const offload = process.env.VPNKIT_TUN_OFFLOAD !== "0";
    const tun = TunDevice.open({ name: cfg.tunName, reader: "external", offload });
    cleanup.push(() => removeLink(tun.name));
    cleanup.push(() => tun.close());
    configureLink(tun.name, { mtu: cfg.tunMtu, addresses: cfg.tunAddr, routes: cfg.routes.map((r) => r.text) });

    const udp = FfiUdpSocket.bind(cfg.local, cfg.localPort);
    cleanup.push(() => udp.close());
    const bufBytes = Number(process.env.VPNKIT_UDP_BUF ?? UDP_BUFFER_BYTES);
    if (bufBytes > 0 && !growSocketBuffers(udp.fd, bufBytes)) log("vpnkit up: could not enlarge the UDP socket buffers");
    const wakeFd = makeEventFd();
    const libc = getLibc();
    cleanup.push(() => libc.close(wakeFd));

    if (cfg.keylog) {
      const kl = new KeyLog(cfg.keylog);
      kl.add({ src: cfg.local, dst: cfg.remote, spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn });
      kl.add({ src: cfg.remote, dst: cfg.local, spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn });
    }

    const sab = new SharedArrayBuffer(SHARED_BYTES);
    const { flags, nums } = sharedViews(sab);
    const init: DataPlaneInit = {
      type: "init", sab, wakeFd, tunFd: tun.fd, tunName: tun.name, offload, udpFd: udp.fd,
      gso: process.env.VPNKIT_UDP_GSO !== "0",
      aead: process.env.VPNKIT_AEAD === "default" ? "default" : "ffi",
      remoteAddress: cfg.remote, remotePort: cfg.remotePort, keepaliveMs: Math.round(cfg.keepaliveSec * 1000),
      keepWarmMs: Number(process.env.VPNKIT_KEEP_WARM_MS ?? cfg.keepWarmMs),
      child: { name: "manual", local: cfg.localSubnets, remote: cfg.routes, mtu: cfg.tunnelMtu },
      outbound: { spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn },
      inbound: { spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn, replayWindow: sa.replayWindow },
    };
    const worker = new Worker(workerUrl());
    const wake = new Uint8Array(8);
    wake[0] = 1;
    let stoppedWorker = false;
    const stopWorker = () => {
      if (stoppedWorker) return;
      stoppedWorker = true;
      Atomics.store(flags, FLAG_STOP, 1);
      libc.write(wakeFd, wake, 8);
      // The worker leaves its loop within one wake-up, destroys its SAs (zeroing the keys)
      // and sets FLAG_STOPPED; only then are the fds closed under it.
      Atomics.wait(flags, FLAG_STOPPED, 0, 1000);
      worker.terminate();
    };
    cleanup.push(stopWorker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        const m = e.data as DataPlaneEvent;
        if (m.type === "ready") resolve();
        else if (m.type === "error") {
          if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(`data plane: ${m.message}`));
          else if (!stoppedWorker) onFatal?.(`data plane stopped: ${m.message}`);
        } else if (m.type === "log") log(m.message);
      };
      worker.onerror = (e) => {
        const msg = `data plane worker: ${(e as ErrorEvent).message}`;
        if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(msg));
        else if (!stoppedWorker) onFatal?.(msg);
      };
    });
    worker.postMessage(init);
    // postMessage copied the keys; ours are not needed any more
    sa.keyOut.fill(0);
    sa.keyIn.fill(0);
    await ready;
    // the UDP socket belongs to the worker now; the control socket keeps the process alive
    (worker as unknown as { unref?: () => void }).unref?.();

    const started = Date.now();
    const status = (): TunnelStatus => {
      const { counters, io } = readCounters(nums);
      return {
        version: 1,
        pid: process.pid,
        startedAt: new Date(started).toISOString(),
        uptimeSec: Math.round((Date.now() - started) / 1000),
        tun: tun.name,
        local: `${cfg.local}:${cfg.localPort}`,
        remote: `${cfg.remote}:${cfg.remotePort}`,
        cipher: sa.cipher,
        spiOut: spiText(sa.spiOut),
        spiIn: spiText(sa.spiIn),
        tunnelMtu: cfg.tunnelMtu,
        counters,
        io: { ...io },
      };
    };
    const control = new ControlServer(cfg.control, status);
    await control.listen();
    cleanup.push(() => control.close());
    log(
      `vpnkit up: ${tun.name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), ESP-in-UDP ` +
        `${cfg.local}:${cfg.localPort} -> ${cfg.remote}:${cfg.remotePort}, ${sa.cipher} spi out ${spiText(sa.spiOut)} in ${spiText(sa.spiIn)}, control ${cfg.control}`,
    );
    let stopped = false;
    return {
      dataPlane: "worker", status,
      stop() {
        if (stopped) return;
        stopped = true;
        undo();
      },
    };
  } catch (e) {
    sa.keyOut.fill(0);
    sa.keyIn.fill(0);
    undo();
    throw e;
  }
}
