/**
 * `vpnkit up` with manual keys on Bun: wires a validated {@link TunnelConfig} to a TUN device,
 * a UDP socket, the SA database, the engine, the key log and the control socket,
 * and tears everything down on stop (SIGINT/SIGTERM handled by the caller via
 * {@link RunningTunnel.stop}). The parts the IKEv2 mode (ike-up.ts) uses too live in runtime.ts.
 * @module
 */
import type { TunnelConfig } from "../../tunnel/config.ts";
import type { TunnelStatus } from "../../tunnel/control.ts";
import { KeyLog } from "../../tunnel/keylog.ts";
import { BunUdpSocket, NodeDgramSocket } from "./udp.ts";
import { TcpTransport } from "./tcp-transport.ts";
import { buildManualPath, manualStartLine, manualStatus, Teardown } from "./manual-path.ts";
import { aeadChoice, growBuffers, launchDataPlane, openTun, openWorkerIo, serveControl } from "./runtime.ts";

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
  if (cfg.transport !== "tcp" && process.env.VPNKIT_DATAPLANE !== "main" && !opts.onIke) return startWorkerTunnel(cfg, log, opts.onFatal);
  const td = new Teardown();
  try {
    // Bench knobs (bench/tunnel/README.md): TUN reader wake-up and UDP implementation.
    const reader = process.env.VPNKIT_TUN_READER === "poll" ? "poll" : "epoll";
    const { tun } = openTun(cfg, td, reader);

    const udp = cfg.transport === "tcp"
      ? await TcpTransport.start({ role: cfg.tcpRole ?? "client", local: cfg.local, localPort: cfg.localPort, remote: cfg.remote, remotePort: cfg.remotePort, log })
      : process.env.VPNKIT_UDP_IMPL === "dgram"
      ? await NodeDgramSocket.bind(cfg.local, cfg.localPort)
      : await BunUdpSocket.bind(cfg.local, cfg.localPort);
    td.push(() => udp.close());
    if (udp instanceof BunUdpSocket) growBuffers(udp.fd(), log);
    // UDP GSO for batched sends (VPNKIT_UDP_GSO=0: sendMany).
    if (udp instanceof BunUdpSocket && process.env.VPNKIT_UDP_GSO !== "0") udp.enableGso();

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
      });
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

function writeKeylog(cfg: TunnelConfig): void {
  if (!cfg.keylog) return;
  const sa = cfg.sa;
  const kl = new KeyLog(cfg.keylog);
  kl.add({ src: cfg.local, dst: cfg.remote, spi: sa.spiOut, cipher: sa.cipher, keyMaterial: sa.keyOut, esn: sa.esn });
  kl.add({ src: cfg.remote, dst: cfg.local, spi: sa.spiIn, cipher: sa.cipher, keyMaterial: sa.keyIn, esn: sa.esn });
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
