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

export interface RunningTunnel {
  engine: TunnelEngine;
  tun: TunDevice;
  udp: BunUdpSocket | NodeDgramSocket | TcpTransport;
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
}

export async function startTunnel(cfg: TunnelConfig, log: (msg: string) => void = () => {}, opts: StartOptions = {}): Promise<RunningTunnel> {
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
      engine, tun, udp, status,
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
