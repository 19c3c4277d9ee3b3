/**
 * `vpnkit up` in IKEv2 mode on Bun: the same TUN / UDP / SA database / engine / control
 * socket wiring as the manual-key {@link startTunnel} (lib/platform/bun/up.ts), but the
 * child starts without SAs and an {@link IkeDriver} negotiates and installs them. IKE
 * rides on the engine's UDP socket behind the non-ESP marker (the engine's `onIke` hook).
 * @module
 */
import { buildIcmpTooBig } from "../../esp/icmp.ts";
import { SaDatabase } from "../../esp/sadb.ts";
import type { IkeTunnelConfig } from "../../tunnel/config.ts";
import { ControlServer, type TunnelStatus } from "../../tunnel/control.ts";
import { TunnelEngine, type TunnelChild } from "../../tunnel/engine.ts";
import { IkeDriver, type LogLevel } from "../../tunnel/ike-driver.ts";
import { configureLink, removeLink, TunDevice } from "./tun.ts";
import { BunUdpSocket, NodeDgramSocket } from "./udp.ts";

export interface RunningIkeTunnel {
  engine: TunnelEngine;
  driver: IkeDriver;
  status(): TunnelStatus & { ike: ReturnType<IkeDriver["status"]> };
  /** Resolves with the reason when the IKE SA failed for good (initiator without retry). */
  fatal: Promise<string>;
  /** Delete the IKE SA (waits up to 1 s for the answer), then tear everything down; idempotent. */
  stop(): Promise<void>;
}

function spiText(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

export async function startIkeTunnel(cfg: IkeTunnelConfig, log: (level: LogLevel, msg: string) => void): Promise<RunningIkeTunnel> {
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
    const reader = process.env.VPNKIT_TUN_READER === "poll" ? "poll" : "epoll";
    const tun = TunDevice.open({ name: cfg.tunName, reader });
    cleanup.push(() => removeLink(tun.name));
    cleanup.push(() => tun.close());
    configureLink(tun.name, { mtu: cfg.tunMtu, addresses: cfg.tunAddr, routes: cfg.routes.map((r) => r.text) });

    const udp = process.env.VPNKIT_UDP_IMPL === "dgram"
      ? await NodeDgramSocket.bind(cfg.local, cfg.localPort)
      : await BunUdpSocket.bind(cfg.local, cfg.localPort);
    cleanup.push(() => udp.close());

    const db = new SaDatabase();
    cleanup.push(() => db.destroy());
    const child: TunnelChild = { name: "ike", local: cfg.localSubnets, remote: cfg.routes, outbound: null, inbound: [], mtu: cfg.tunnelMtu };
    let driver: IkeDriver | null = null;
    const engine = new TunnelEngine({
      device: tun,
      socket: udp,
      remoteAddress: cfg.remote,
      remotePort: cfg.remotePort,
      children: [child],
      icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu),
      keepaliveMs: Math.round(cfg.keepaliveSec * 1000),
      onIke: (buf, addr, port) => driver?.onDatagram(buf, addr, port),
    });
    let onFatal: (r: string) => void = () => {};
    const fatal = new Promise<string>((r) => (onFatal = r));
    driver = new IkeDriver({
      cfg,
      send: (b, a, p) => udp.send(b, a, p),
      db,
      child,
      reindex: () => engine.reindex(),
      log,
      onFatal: (r) => onFatal(r),
      onVirtualIp: (addr) => {
        try {
          configureLink(tun.name, { mtu: cfg.tunMtu, addresses: [`${addr}/32`], routes: cfg.routes.map((r) => r.text) });
        } catch (e) {
          log("error", `cannot put the virtual IP on ${tun.name}: ${(e as Error).message}`);
        }
      },
    });
    const drv = driver;
    const ticker = setInterval(() => db.tick(), 1000);
    cleanup.push(() => clearInterval(ticker));
    db.onEvent = (e) => {
      log("info", `SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})`);
      drv.onSaEvent(e);
    };

    const started = Date.now();
    const status = () => {
      const cur = drv.current();
      return {
        version: 1 as const,
        pid: process.pid,
        startedAt: new Date(started).toISOString(),
        uptimeSec: Math.round((Date.now() - started) / 1000),
        tun: tun.name,
        local: `${cfg.local}:${cfg.localPort}`,
        remote: `${cfg.remote}:${cfg.remotePort}`,
        cipher: cur?.cipher ?? "none",
        spiOut: cur ? spiText(cur.spiOut) : "none",
        spiIn: cur ? spiText(cur.spiIn) : "none",
        tunnelMtu: cfg.tunnelMtu,
        counters: engine.counters,
        io: {
          tunRxPackets: tun.stats.rxPackets,
          tunTxPackets: tun.stats.txPackets,
          tunTxErrors: tun.stats.txErrors,
          tunWakeups: tun.stats.wakeups,
          udpSendErrors: udp.stats.sendErrors,
        },
        ike: drv.status(),
      };
    };
    const control = new ControlServer(cfg.control, status);
    await control.listen();
    cleanup.push(() => control.close());

    engine.start();
    cleanup.push(() => engine.stop());
    log(
      "info",
      `vpnkit up: ${tun.name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), IKEv2 ${cfg.ike.responder ? "responder" : "initiator"} ` +
        `${cfg.local}:${cfg.localPort} <-> ${cfg.remote}:${cfg.remotePort}, ${cfg.ike.localTs.join(",")} === ${cfg.ike.remoteTs.join(",")}, control ${cfg.control}`,
    );
    drv.start();
    let stopped: Promise<void> | null = null;
    return {
      engine, driver: drv, status, fatal,
      stop() {
        stopped ??= drv.stop().finally(undo);
        return stopped;
      },
    };
  } catch (e) {
    cfg.ike.psk.fill(0);
    undo();
    throw e;
  }
}
