/**
 * `vpnkit up` runtime on Bun: wires a validated {@link TunnelConfig} to a TUN device,
 * a UDP socket, the SA database, the engine, the key log and the control socket,
 * and tears everything down on stop (SIGINT/SIGTERM handled by the caller via
 * {@link RunningTunnel.stop}).
 * @module
 */
import type { TunnelConfig } from "../../tunnel/config.ts";
import { ControlServer, type TunnelStatus } from "../../tunnel/control.ts";
import { KeyLog } from "../../tunnel/keylog.ts";
import { configureLink, removeLink, TunDevice, type TunOpenOptions } from "./tun.ts";
import { BunUdpSocket, growSocketBuffers, NodeDgramSocket, UDP_BUFFER_BYTES } from "./udp.ts";
import { TcpTransport } from "./tcp-transport.ts";
import { type DataPlaneCommand, type DataPlaneEvent, type DataPlaneInit, FLAG_READY, FLAG_STOP, FLAG_STOPPED, readCounters, SHARED_BYTES, sharedViews } from "./dataplane-shared.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import { FFIType } from "bun:ffi";
import { getLibc, libcSymbols } from "./libc.ts";
import { buildManualPath, manualStartLine, manualStatus, Teardown } from "./manual-path.ts";
import { vpnkitEnv } from "../../core/env.ts";

export interface RunningTunnel {
  /** Where the packet path runs: its own worker thread (default for UDP) or the main thread. */
  dataPlane: "worker" | "main";
  status(): TunnelStatus;
  /** Idempotent teardown: engine, control socket, TUN (and its addresses/routes), UDP, keys zeroed. */
  stop(): void;
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
  if (cfg.transport !== "tcp" && vpnkitEnv("VPNKIT_DATAPLANE") !== "main" && !opts.onIke) return startWorkerTunnel(cfg, log, opts.onFatal);
  const td = new Teardown();
  try {
    // Bench knobs (bench/tunnel/README.md): TUN reader wake-up and UDP implementation.
    const reader = vpnkitEnv("VPNKIT_TUN_READER") === "poll" ? "poll" : "epoll";
    const { tun } = openTun(cfg, td, reader);

    const udp = cfg.transport === "tcp"
      ? await TcpTransport.start({ role: cfg.tcpRole ?? "client", local: cfg.local, localPort: cfg.localPort, remote: cfg.remote, remotePort: cfg.remotePort, log })
      : vpnkitEnv("VPNKIT_UDP_IMPL") === "dgram"
      ? await NodeDgramSocket.bind(cfg.local, cfg.localPort)
      : await BunUdpSocket.bind(cfg.local, cfg.localPort);
    td.push(() => udp.close());
    if (udp instanceof BunUdpSocket) growBuffers(udp.fd(), log);
    // UDP GSO for batched sends (VPNKIT_UDP_GSO=0: sendMany).
    if (udp instanceof BunUdpSocket && vpnkitEnv("VPNKIT_UDP_GSO") !== "0") udp.enableGso();

    writeKeylog(cfg);
    const sa = cfg.sa;
    const { db, engine } = buildManualPath({
      device: tun, socket: udp, remoteAddress: cfg.remote, remotePort: cfg.remotePort,
      child: { name: "manual", local: cfg.localSubnets, remote: cfg.routes, mtu: cfg.tunnelMtu },
      outbound: { spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn },
      inbound: { spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn, replayWindow: sa.replayWindow },
      aead: aeadChoice(), keepaliveMs: Math.round(cfg.keepaliveSec * 1000), onIke: opts.onIke,
    });
    td.push(() => db.destroy());
    // the SAs hold their own copies
    sa.keyOut.fill(0);
    sa.keyIn.fill(0);
    const ticker = setInterval(() => db.tick(), 1000);
    td.push(() => clearInterval(ticker));
    db.onEvent = (e) => log(`SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})`);

    const started = Date.now();
    const status = (): TunnelStatus =>
      manualStatus(cfg, tun.name, started, engine.counters, {
        tunRxPackets: tun.stats.rxPackets,
        tunTxPackets: tun.stats.txPackets,
        tunTxErrors: tun.stats.txErrors,
        tunWakeups: tun.stats.wakeups,
        tunRxSuper: tun.stats.rxSuper,
        tunRxBad: tun.stats.rxBad,
        tunTxMerged: tun.stats.txMerged,
        udpSendErrors: udp.stats.sendErrors,
        udpGsoSends: udp instanceof BunUdpSocket ? udp.gsoSends : 0,
        ...(udp instanceof TcpTransport ? tcpIo(udp) : {}),
      }, udp instanceof TcpTransport ? udp.endpoints() : null);
    await serveControl(cfg, status, td);
    engine.start();
    td.push(() => engine.stop());
    log(manualStartLine(cfg, tun.name));
    return running("main", status, td);
  } catch (e) {
    cfg.sa.keyOut.fill(0);
    cfg.sa.keyIn.fill(0);
    td.undo();
    throw e;
  }
}

/** The TCP transport's counters for `vpnkit status`. */
function tcpIo(t: TcpTransport): Record<string, number> {
  const s = t.stats;
  return {
    tcpConnects: s.connects, tcpDisconnects: s.disconnects, tcpConnectErrors: s.connectErrors, tcpFramesOut: s.framesOut, tcpFramesIn: s.framesIn,
    tcpQueueDrops: s.queueDrops, tcpNotConnectedDrops: s.notConnectedDrops, tcpKeepalivesIn: s.keepalivesIn, tcpRejected: s.rejected, tcpFramingErrors: s.framingErrors,
  };
}

/** Open the TUN device (offload unless VPNKIT_TUN_OFFLOAD=0) and give it its addresses and routes. */
/** The fields of a tunnel configuration (manual keys or IKEv2) that the TUN and the UDP socket need. */
export type LinkConfig = Pick<TunnelConfig, "tunName" | "tunMtu" | "tunAddr" | "routes" | "local" | "localPort">;

export function openTun(cfg: LinkConfig, td: Teardown, reader: TunOpenOptions["reader"]): { tun: TunDevice; offload: boolean } {
  // TSO super-packet reads + GRO-like coalesced writes (VPNKIT_TUN_OFFLOAD=0: plain TUN).
  const offload = vpnkitEnv("VPNKIT_TUN_OFFLOAD") !== "0";
  const tun = TunDevice.open({ name: cfg.tunName, reader, offload });
  td.push(() => removeLink(tun.name));
  td.push(() => tun.close());
  configureLink(tun.name, { mtu: cfg.tunMtu, addresses: cfg.tunAddr, routes: cfg.routes.map((r) => r.text) });
  return { tun, offload };
}

/**
 * Bigger socket buffers: the default (~208 KiB) overflows in bursts (UDP RcvbufErrors, then
 * TCP retransmits inside the tunnel). VPNKIT_UDP_BUF=0 keeps the default.
 */
function growBuffers(fd: number, log: (msg: string) => void): void {
  const bytes = Number(vpnkitEnv("VPNKIT_UDP_BUF") ?? UDP_BUFFER_BYTES);
  if (bytes > 0 && !growSocketBuffers(fd, bytes)) log("vpnkit up: could not enlarge the UDP socket buffers");
}

/** AEAD through libcrypto (bun:ffi) unless VPNKIT_AEAD=default; lib/esp's default when libcrypto is missing. */
export function aeadChoice(): "ffi" | "default" {
  return vpnkitEnv("VPNKIT_AEAD") === "default" ? "default" : "ffi";
}

function writeKeylog(cfg: TunnelConfig): void {
  if (!cfg.keylog) return;
  const sa = cfg.sa;
  const kl = new KeyLog(cfg.keylog);
  kl.add({ src: cfg.local, dst: cfg.remote, spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn });
  kl.add({ src: cfg.remote, dst: cfg.local, spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn });
}

export async function serveControl(cfg: Pick<TunnelConfig, "control">, status: () => TunnelStatus, td: Teardown): Promise<void> {
  const control = new ControlServer(cfg.control, status);
  await control.listen();
  td.push(() => control.close());
}

function running(dataPlane: RunningTunnel["dataPlane"], status: () => TunnelStatus, td: Teardown): RunningTunnel {
  let stopped = false;
  return {
    dataPlane, status,
    stop() {
      if (stopped) return;
      stopped = true;
      td.undo();
    },
  };
}

function workerUrl(): string {
  // Compiled (bun build --compile, scripts/build.ts lists the worker as an entry point):
  // entry points are named by their path in the project. From source: next to this file.
  return import.meta.url.includes("/$bunfs/") ? "./lib/platform/bun/dataplane-worker.ts" : new URL("./dataplane-worker.ts", import.meta.url).href;
}

let eventfdLib: { eventfd: (init: number, flags: number) => number } | null = null;
function makeEventFd(): number {
  eventfdLib ??= libcSymbols({ eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
  const fd = eventfdLib.eventfd(0, 0o2000000 | 0o4000); // EFD_CLOEXEC | EFD_NONBLOCK
  if (fd < 0) throw new Error("eventfd() failed");
  return fd;
}

/** What {@link launchDataPlane} needs besides the TUN and the UDP socket. */
export type DataPlaneSpec = Omit<DataPlaneInit, "type" | "sab" | "wakeFd" | "tunFd" | "tunName" | "offload" | "udpFd" | "gso" | "aead" | "keepWarmMs"> & {
  keepWarmMs: number;
};

/** A running data-plane worker, as the main thread sees it. */
export interface DataPlane {
  /** Hand the worker a command (IKEv2 installs, removes, sends) and wake it. */
  command(m: DataPlaneCommand): void;
  /** The counters it published last. */
  counters(): ReturnType<typeof readCounters>;
}

/**
 * Start the data-plane worker (dataplane-worker.ts) on an open TUN device and a bound UDP
 * socket, and wait until it runs. The keys in `spec` are copied by postMessage and zeroed
 * here at once. Pushes its own stop onto `td`: set the stop flag, wake the worker, wait
 * until it has destroyed its SAs (keys zeroed), then terminate it; only then are the fds
 * (pushed earlier) closed under it. `onEvent` gets the worker's "ike" and "sa-event" messages.
 */
export async function launchDataPlane(
  tun: TunDevice,
  offload: boolean,
  udp: FfiUdpSocket,
  spec: DataPlaneSpec,
  td: Teardown,
  log: (msg: string) => void,
  onFatal?: (reason: string) => void,
  onEvent?: (e: Extract<DataPlaneEvent, { type: "ike" | "sa-event" }>) => void,
): Promise<DataPlane> {
  try {
    const wakeFd = makeEventFd();
    const libc = getLibc();
    td.push(() => libc.close(wakeFd));
    const sab = new SharedArrayBuffer(SHARED_BYTES);
    const { flags, nums } = sharedViews(sab);
    const init: DataPlaneInit = {
      ...spec, type: "init", sab, wakeFd, tunFd: tun.fd, tunName: tun.name, offload, udpFd: udp.fd,
      gso: vpnkitEnv("VPNKIT_UDP_GSO") !== "0",
      aead: aeadChoice(),
      keepWarmMs: Number(vpnkitEnv("VPNKIT_KEEP_WARM_MS") ?? spec.keepWarmMs),
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
    td.push(stopWorker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        const m = e.data as DataPlaneEvent;
        if (m.type === "ready") resolve();
        else if (m.type === "error") {
          if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(`data plane: ${m.message}`));
          else if (!stoppedWorker) onFatal?.(`data plane stopped: ${m.message}`);
        } else if (m.type === "log") log(m.message);
        else onEvent?.(m);
      };
      worker.onerror = (e) => {
        const msg = `data plane worker: ${(e as ErrorEvent).message}`;
        if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(msg));
        else if (!stoppedWorker) onFatal?.(msg);
      };
    });
    worker.postMessage(init);
    // postMessage copied the keys; ours are not needed any more
    spec.outbound?.keyMaterial.fill(0);
    spec.inbound?.keyMaterial.fill(0);
    await ready;
    // the UDP socket belongs to the worker now; the control socket keeps the process alive
    (worker as unknown as { unref?: () => void }).unref?.();
    return {
      command(m) {
        if (stoppedWorker) return;
        worker.postMessage(m);
        libc.write(wakeFd, wake, 8);
      },
      counters: () => readCounters(nums),
    };
  } finally {
    // also when the worker could not be started
    spec.outbound?.keyMaterial.fill(0);
    spec.inbound?.keyMaterial.fill(0);
  }
}

/** Open the TUN device and bind the UDP socket for a data-plane worker (errors surface here). */
export function openWorkerIo(cfg: LinkConfig, td: Teardown, log: (msg: string) => void): { tun: TunDevice; offload: boolean; udp: FfiUdpSocket } {
  const { tun, offload } = openTun(cfg, td, "external");
  const udp = FfiUdpSocket.bind(cfg.local, cfg.localPort);
  td.push(() => udp.close());
  growBuffers(udp.fd, log);
  return { tun, offload, udp };
}

/**
 * `vpnkit up` with the packet path in a worker thread (dataplane-worker.ts). This thread
 * opens the TUN device and binds the UDP socket (so errors surface here), writes the key
 * log, hands the fds and the SAs to the worker (its copies of the keys are zeroed at
 * once) and serves `vpnkit status` from the counters the worker publishes in shared memory.
 */
async function startWorkerTunnel(cfg: TunnelConfig, log: (msg: string) => void, onFatal?: (reason: string) => void): Promise<RunningTunnel> {
  const td = new Teardown();
  const sa = cfg.sa;
  try {
    const { tun, offload, udp } = openWorkerIo(cfg, td, log);
    writeKeylog(cfg);
    const dp = await launchDataPlane(tun, offload, udp, {
      remoteAddress: cfg.remote, remotePort: cfg.remotePort, keepaliveMs: Math.round(cfg.keepaliveSec * 1000),
      keepWarmMs: cfg.keepWarmMs,
      child: { name: "manual", local: cfg.localSubnets, remote: cfg.routes, mtu: cfg.tunnelMtu },
      outbound: { spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn },
      inbound: { spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn, replayWindow: sa.replayWindow },
      warmCipher: sa.cipher, ike: false,
    }, td, log, onFatal);
    const started = Date.now();
    const status = (): TunnelStatus => {
      const { counters, io } = dp.counters();
      return manualStatus(cfg, tun.name, started, counters, { ...io });
    };
    await serveControl(cfg, status, td);
    log(manualStartLine(cfg, tun.name));
    return running("worker", status, td);
  } catch (e) {
    sa.keyOut.fill(0);
    sa.keyIn.fill(0);
    td.undo();
    throw e;
  }
}
