/**
 * `vpnkit up` in IKEv2 mode on Bun. The packet path is the same as for manual keys: by
 * default the data-plane worker (dataplane-worker.ts: one thread, epoll on TUN + UDP, TUN
 * offloads, UDP GSO, libcrypto AEAD, warm-up and keep-warm), here started with an empty
 * child. The {@link IkeDriver} runs on the main thread and reaches the worker through
 * messages (lib/tunnel/child-sink.ts): Child SA install and remove, and IKE datagrams to
 * send. The worker hands back datagrams with the non-ESP marker (IKE on UDP/4500, RFC 3948)
 * and SA lifetime events. Messages are handled in order, so an IKE message queued after an
 * install leaves only once the new SAs are in place.
 *
 * VPNKIT_DATAPLANE=main runs the engine on the main thread instead (before/after
 * benchmarks): the same driver, with a {@link LocalChildSink} over its SA database.
 * @module
 */
import type { ChildInstall, ChildSaSink } from "../../tunnel/child-sink.ts";
import { LocalChildSink } from "../../tunnel/child-sink.ts";
import type { IkeTunnelConfig } from "../../tunnel/config.ts";
import type { TunnelStatus } from "../../tunnel/control.ts";
import type { EngineCounters } from "../../tunnel/engine.ts";
import { IkeDriver, type LogLevel } from "../../tunnel/ike-driver.ts";
import type { EspCipherName, SaEvent } from "../../esp/types.ts";
import { buildPath, Teardown } from "./manual-path.ts";
import { configureLink } from "./tun.ts";
import { BunUdpSocket } from "./udp.ts";
import { aeadChoice, type DataPlane, launchDataPlane, openTun, openWorkerIo, serveControl } from "./runtime.ts";
import { startMemoryGuard } from "./memory-guard.ts";
import { startYoungGc } from "./young-gc.ts";
import { localAddressFor, openIkeSockets } from "./ike-sockets.ts";
import { vpnkitEnv } from "../../core/env.ts";
import type { Subsystem } from "../../core/log.ts";

export interface RunningIkeTunnel {
  driver: IkeDriver;
  /** Where the packet path runs: the data-plane worker (default) or the main thread. */
  dataPlane: "worker" | "main";
  status(): TunnelStatus & { ike: ReturnType<IkeDriver["status"]> };
  /** Resolves with the reason when the IKE SA failed for good (initiator without retry), or the packet path died. */
  fatal: Promise<string>;
  /** Delete the IKE SA (waits up to 1 s for the answer), then tear everything down; idempotent. */
  stop(): Promise<void>;
}

function spiText(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

/** The driver's sink on the main thread: every operation becomes a message to the worker. */
class WorkerChildSink implements ChildSaSink {
  constructor(private readonly dp: DataPlane) {}
  install(c: ChildInstall): void {
    // postMessage copies the keys; the driver zeroes its own right after
    this.dp.command({ type: "install", child: c });
  }
  remove(spiIn: number, spiOut: number, nextOutSpi: number | null): void {
    this.dp.command({ type: "remove", spiIn, spiOut, nextOutSpi });
  }
  updateRemote(spiOut: number, peer: { address: string; port: number }): void {
    this.dp.command({ type: "peer", spiOut, peer: { address: peer.address, port: peer.port } });
  }
}

/** The cipher of the first ESP proposal (what the worker's warm-up path uses until a Child SA exists). */
function firstEspCipher(cfg: IkeTunnelConfig): EspCipherName {
  const p = cfg.ike.espProposals[0] ?? "aes256gcm16";
  return (p.match(/^(aes128gcm16|aes256gcm16|chacha20poly1305)/)?.[1] ?? "aes256gcm16") as EspCipherName;
}

interface PathParts {
  sink: ChildSaSink;
  send: (buf: Uint8Array, addr: string, port: number) => void;
  counters: () => { counters: EngineCounters; io: Record<string, number> };
}

export async function startIkeTunnel(cfg: IkeTunnelConfig, log: (level: LogLevel, msg: string, subsystem?: Subsystem) => void): Promise<RunningIkeTunnel> {
  const td = new Teardown();
  const onWorker = vpnkitEnv("VPNKIT_DATAPLANE") !== "main";
  let onFatal: (r: string) => void = () => {};
  const fatal = new Promise<string>((r) => (onFatal = r));
  try {
    // the driver exists only once the path does; datagrams and events route to it through this
    let driver: IkeDriver | null = null;
    let ikeDatagrams = 0;
    const onIke = (buf: Uint8Array, addr: string, port: number) => {
      ikeDatagrams++;
      driver?.onDatagram(buf, addr, port, "natt");
    };
    // ESP goes to the peer's NAT-T port (IKE_SA_INIT may go to its plain IKE port)
    const espPort = cfg.ike.ikePort && cfg.remotePort === cfg.ike.ikePort ? 4500 : cfg.remotePort;
    const onSaEvent = (e: SaEvent) => {
      log("info", `SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})`, "esp");
      driver?.onSaEvent(e);
    };
    // the default child: the initiator's Child SAs go there (one peer); a responder installs one
    // child per client Child SA (keyed, with its selectors and endpoint), so its default child
    // carries no selectors (an idle one would win equal-length routes and drop them as noSa)
    const baseChild = cfg.ike.responder
      ? { name: "ike", local: [], remote: [], mtu: cfg.tunnelMtu }
      : { name: "ike", local: cfg.localSubnets, remote: cfg.routes, mtu: cfg.tunnelMtu };
    let tunName: string;
    let parts: PathParts;
    if (onWorker) {
      const { tun, offload, udp } = openWorkerIo(cfg, td, (m) => log("warn", m, "net"));
      tunName = tun.name;
      const dp = await launchDataPlane(tun, offload, udp, {
        remoteAddress: cfg.remote, remotePort: espPort, keepaliveMs: Math.round(cfg.keepaliveSec * 1000),
        keepWarmMs: cfg.keepWarmMs,
        child: baseChild,
        outbound: null, inbound: null, warmCipher: firstEspCipher(cfg), ike: true,
      }, td, (m) => log("info", m, "dp"), (why) => {
        log("error", why, "dp");
        onFatal(why);
      }, (e) => {
        if (e.type === "ike") onIke(e.buf, e.addr, e.port);
        else onSaEvent(e.event);
      });
      parts = {
        sink: new WorkerChildSink(dp),
        send: (buf, addr, port) => dp.command({ type: "send", buf, addr, port }),
        counters: () => dp.counters(),
      };
    } else {
      const { tun } = openTun(cfg, td, vpnkitEnv("VPNKIT_TUN_READER") === "poll" ? "poll" : "epoll");
      tunName = tun.name;
      const udp = await BunUdpSocket.bind(cfg.local, cfg.localPort);
      td.push(() => udp.close());
      const { db, child, engine } = buildPath({
        device: tun, socket: udp, remoteAddress: cfg.remote, remotePort: espPort,
        child: baseChild,
        aead: aeadChoice(), keepaliveMs: Math.round(cfg.keepaliveSec * 1000), onIke,
      });
      td.push(() => db.destroy());
      const ticker = setInterval(() => db.tick(), 1000);
      td.push(() => clearInterval(ticker));
      db.onEvent = onSaEvent;
      engine.start();
      td.push(() => engine.stop());
      parts = {
        sink: new LocalChildSink(db, child, () => engine.reindex(), engine),
        send: (buf, addr, port) => udp.send(buf, addr, port),
        counters: () => ({
          counters: engine.counters,
          io: { tunRxPackets: tun.stats.rxPackets, tunTxPackets: tun.stats.txPackets, tunTxErrors: tun.stats.txErrors, tunWakeups: tun.stats.wakeups, udpSendErrors: udp.stats.sendErrors },
        }),
      };
    }
    const name = tunName;
    // plain IKE (UDP 500, IPv4 and IPv6) on this thread; the packet path owns the NAT-T socket
    const ike = cfg.ike.ikePort
      ? await openIkeSockets(cfg.local, cfg.ike.ikePort, (buf, addr, port) => {
        ikeDatagrams++;
        driver?.onDatagram(buf, addr, port, "ike");
      }, (m) => log("warn", m))
      : null;
    if (ike) td.push(() => ike.close());
    const drv = new IkeDriver({
      cfg,
      send: parts.send,
      sendIke: ike ? (buf, addr, port) => ike.send(buf, addr, port) : undefined,
      localAddressFor,
      schedule: (fn) => setImmediate(fn),
      sink: parts.sink,
      log,
      onFatal: (r) => onFatal(r),
      onVirtualIp: (addr) => {
        try {
          configureLink(name, { mtu: cfg.tunMtu, addresses: [`${addr}/32`], routes: cfg.routes.map((r) => r.text) });
        } catch (e) {
          log("error", `cannot put the virtual IP on ${name}: ${(e as Error).message}`);
        }
      },
    });
    driver = drv;
    td.push(startMemoryGuard());
    const youngMs = Number(vpnkitEnv("VPNKIT_YOUNG_GC_MS") ?? 50);
    if (youngMs > 0) td.push(startYoungGc(() => ikeDatagrams, youngMs));

    const started = Date.now();
    const status = () => {
      const cur = drv.current();
      const { counters, io } = parts.counters();
      return {
        version: 1 as const,
        pid: process.pid,
        startedAt: new Date(started).toISOString(),
        uptimeSec: Math.round((Date.now() - started) / 1000),
        tun: name,
        local: `${cfg.local}:${cfg.localPort}`,
        remote: cfg.ike.remoteAny ? "%any" : `${cfg.remote}:${cfg.remotePort}`,
        cipher: cur?.cipher ?? "none",
        spiOut: cur ? spiText(cur.spiOut) : "none",
        spiIn: cur ? spiText(cur.spiIn) : "none",
        tunnelMtu: cfg.tunnelMtu,
        counters,
        io: { ...io },
        ike: drv.status(),
      };
    };
    await serveControl(cfg, status, td);
    log(
      "info",
      `vpnkit up: ${name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), IKEv2 ${cfg.ike.responder ? "responder" : "initiator"} ` +
        `${ike ? `IKE ${ike.bound.join(" ")}, ` : ""}${cfg.local}:${cfg.localPort} <-> ${cfg.ike.remoteAny ? "%any" : `${cfg.remote}:${cfg.remotePort}`}, ${cfg.ike.localTs.join(",")} === ${cfg.ike.remoteTs.join(",")}, control ${cfg.control}`,
    );
    drv.start();
    let stopped: Promise<void> | null = null;
    return {
      driver: drv, dataPlane: onWorker ? "worker" : "main", status, fatal,
      stop() {
        stopped ??= drv.stop().finally(() => td.undo());
        return stopped;
      },
    };
  } catch (e) {
    cfg.ike.psk.fill(0);
    td.undo();
    throw e;
  }
}
