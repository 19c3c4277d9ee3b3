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
import type { ReloadPlan } from "../../tunnel/config-reload.ts";
import { ikeReloader } from "./ike-reload.ts";
import type { ReloadResult } from "../../tunnel/control.ts";
import { type IkeSockets, localAddressFor, openIkeSockets } from "./ike-sockets.ts";
import { nodeEapTlsEngine } from "./eap-tls-engine.ts";
import { bindIkeGate, type IkeGate, openIkeGate } from "./ike-gate.ts";
import { DEFAULT_IKE_LIMITS } from "../../ike/v2/sa/limits.ts";
import { vpnkitEnv } from "../../core/env.ts";
import { closeFd, openRawEsp } from "./raw-esp.ts";
import type { ChildTraffic } from "../../tunnel/ike-status.ts";
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
  /**
   * Apply a re-read configuration (SIGHUP, `vpnkit reload`): see lib/tunnel/config-reload.ts.
   * Throws ConfigError when the change needs a restart as a whole (nothing changed then).
   */
  reload(next: IkeTunnelConfig): ReloadPlan;
}

export interface IkeTunnelOptions {
  /** `vpnkit reload` on the control socket: re-read and apply the configuration. */
  onReloadRequest?: () => Promise<ReloadResult>;
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
  counters: () => { counters: EngineCounters; io: Record<string, number>; children: ChildTraffic[] };
}

/**
 * Raw ESP sockets (IP protocol 50) for Child SAs without UDP encapsulation: the families the
 * NAT-T side serves (`local` IPv4: IPv4; IPv6: IPv6; the IPv4 wildcard: both, like the IKE
 * sockets). None with `ike.encap` or IKE on the NAT-T port only (everything is encapsulated
 * then). A socket that cannot be opened (no CAP_NET_RAW) is a warning: that family's Child
 * SAs are then UDP-encapsulated.
 */
function openRawEspFds(cfg: IkeTunnelConfig, warn: (m: string) => void): { v4: number; v6: number } {
  const fds = { v4: -1, v6: -1 };
  if (cfg.ike.encap || !cfg.ike.ikePort) return fds;
  const v6 = cfg.local.includes(":");
  for (const fam of (v6 ? [6] : cfg.local === "0.0.0.0" ? [4, 6] : [4]) as (4 | 6)[]) {
    try {
      fds[fam === 4 ? "v4" : "v6"] = openRawEsp(fam, cfg.local);
    } catch (e) {
      warn(`${(e as Error).message}: IPv${fam} Child SAs will be UDP-encapsulated (4500)`);
    }
  }
  return fds;
}

export async function startIkeTunnel(cfg: IkeTunnelConfig, log: (level: LogLevel, msg: string, subsystem?: Subsystem) => void, opts: IkeTunnelOptions = {}): Promise<RunningIkeTunnel> {
  // IKE and ESP over TCP (RFC 9329): its own path, ike-tcp-up.ts
  if (cfg.transport === "tcp") return (await import("./ike-tcp-up.ts")).startIkeTcpTunnel(cfg, log);
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
    // plain IKE (UDP 500, IPv4 and IPv6); the packet path owns the NAT-T socket. A responder's is
    // read behind the IKE gate (ike-gate.ts: COOKIE answers to a flood off this thread, the rest
    // handed over, bounded): by the data-plane worker, or a gate thread when the packet path runs
    // here; VPNKIT_IKE_GATE=0 or an initiator: on this thread
    const onIkeDatagram = (buf: Uint8Array, addr: string, port: number) => {
      ikeDatagrams++;
      driver?.onDatagram(buf, addr, port, "ike");
    };
    // young-generation GC while IKE datagrams arrive: handshake survivors otherwise fragment the heap (bench/ike/RESULTS.md)
    const youngMs = Number(vpnkitEnv("VPNKIT_YOUNG_GC_MS") ?? 50);
    if (youngMs > 0) td.push(startYoungGc(() => ikeDatagrams, youngMs));
    const limits = { ...DEFAULT_IKE_LIMITS, ...(cfg.ike.limits ?? {}) };
    const gateOptions = { cookieThreshold: limits.cookieThreshold, cookieRotateMs: limits.cookieRotateMs, queueMax: limits.queue };
    const wantGate = !!cfg.ike.ikePort && cfg.ike.responder && vpnkitEnv("VPNKIT_IKE_GATE") !== "0";
    let gate: IkeGate | null = null;
    let ike: IkeSockets | null = null;
    let tunName: string;
    let parts: PathParts;
    let raw = { v4: -1, v6: -1 };
    /** The worker's IKE datagrams in flight to this thread and those it dropped (bounded, runtime.ts DataPlaneInit.ikeQueue). */
    let ikeQueue: Int32Array | null = null;
    /** "[::]:4500" when the packet path listens on IPv6 too. */
    let natt6 = "";
    if (onWorker) {
      const { tun, offload, udp, udp6 } = openWorkerIo(cfg, td, (m) => log("warn", m, "net"), true);
      if (udp6) natt6 = ` [::]:${cfg.localPort}`;
      ikeQueue = new Int32Array(new SharedArrayBuffer(8));
      tunName = tun.name;
      // closed after the worker stopped (the teardown runs backwards)
      raw = openRawEspFds(cfg, (m) => log("warn", m, "net"));
      td.push(() => {
        for (const fd of [raw.v4, raw.v6]) if (fd >= 0) closeFd(fd);
      });
      // bound before the worker starts, closed after it stopped (teardown runs backwards)
      const binding = wantGate ? bindIkeGate(cfg.local, cfg.ike.ikePort!, onIkeDatagram, (m) => log("warn", m), gateOptions) : null;
      if (binding) {
        td.push(() => binding.close());
        ike = gate = binding;
      }
      const dp = await launchDataPlane(tun, offload, udp, {
        remoteAddress: cfg.remote, remotePort: espPort, keepaliveMs: 0 /* the IKE SA sends them, only from behind a NAT */,
        keepWarmMs: cfg.keepWarmMs,
        child: baseChild,
        outbound: null, inbound: null, warmCipher: firstEspCipher(cfg), ike: true,
        rawEsp4Fd: raw.v4, rawEsp6Fd: raw.v6,
        ...(udp6 ? { udpFd6: udp6.fd } : {}),
        ikeQueue: ikeQueue.buffer as SharedArrayBuffer, ikeQueueMax: limits.queue,
        ...(binding ? { gate: binding.init } : {}),
      }, td, (m) => log("info", m, "dp"), (why) => {
        log("error", why, "dp");
        onFatal(why);
      }, (e) => {
        if (e.type === "ike") {
          if (ikeQueue) Atomics.sub(ikeQueue, 0, 1);
          onIke(e.buf, e.addr, e.port);
        } else if (e.type === "ike-gate") binding?.deliver(e.buf, e.addr, e.port);
        else if (e.type === "unknown-spi") driver?.onUnknownSpi(e.spi, e.addr, e.port);
        else onSaEvent(e.event);
      });
      parts = {
        sink: new WorkerChildSink(dp),
        // IKE datagrams: straight onto the shared NAT-T socket while the worker has nothing of
        // ours pending (runtime.ts idle(): order kept), else queued behind the install they follow
        send: (buf, addr, port) => {
          if (dp.idle()) (udp6 !== null && addr.includes(":") ? udp6 : udp).send(buf, addr, port);
          else dp.command({ type: "send", buf, addr, port });
        },
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
        aead: aeadChoice(), keepaliveMs: 0 /* the IKE SA sends them, only from behind a NAT */, onIke,
        onUnknownSpi: (spi, addr, port) => driver?.onUnknownSpi(spi, addr, port),
      });
      td.push(() => db.destroy());
      const ticker = setInterval(() => db.tick(), 1000);
      td.push(() => clearInterval(ticker));
      db.onEvent = onSaEvent;
      engine.start();
      td.push(() => engine.stop());
      const sink = new LocalChildSink(db, child, () => engine.reindex(), engine);
      parts = {
        sink,
        send: (buf, addr, port) => udp.send(buf, addr, port),
        counters: () => ({
          counters: engine.counters,
          children: sink.children(),
          io: { tunRxPackets: tun.stats.rxPackets, tunTxPackets: tun.stats.txPackets, tunTxErrors: tun.stats.txErrors, tunWakeups: tun.stats.wakeups, udpSendErrors: udp.stats.sendErrors },
        }),
      };
    }
    const name = tunName;
    if (!ike && wantGate) {
      const g = await openIkeGate(cfg.local, cfg.ike.ikePort!, onIkeDatagram, (m) => log("warn", m), gateOptions);
      td.push(() => g.close());
      ike = gate = g;
    } else if (!ike && cfg.ike.ikePort) {
      const s = await openIkeSockets(cfg.local, cfg.ike.ikePort, onIkeDatagram, (m) => log("warn", m));
      td.push(() => s.close());
      ike = s;
    }
    const ikeSock = ike;
    const drv = new IkeDriver({
      cfg,
      send: parts.send,
      sendIke: ikeSock ? (buf, addr, port) => ikeSock.send(buf, addr, port) : undefined,
      rawEsp: (peer) => (peer.includes(":") ? raw.v6 : raw.v4) >= 0,
      eapTlsEngine: nodeEapTlsEngine,
      localAddressFor,
      cookies: gate?.cookies,
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
    if (gate) {
      // the gate demands COOKIEs from the manager's half-open count on
      const g = gate;
      const t = setInterval(() => g.halfOpen(drv.manager.halfOpen), 20);
      (t as { unref?: () => void }).unref?.();
      td.push(() => clearInterval(t));
    }
    td.push(startMemoryGuard());

    const started = Date.now();
    const status = () => {
      const cur = drv.current();
      const { counters: c, io, children } = parts.counters();
      const counters = { ...c, keepalivesSent: c.keepalivesSent + drv.natKeepalivesSent };
      const ikeStatus = drv.status(children);
      if (gate) {
        // the COOKIEs and drops of the gate's thread count with the manager's
        const g = gate.counters();
        ikeStatus.manager.counters.cookiesSent += g.cookiesSent;
        Object.assign(ikeStatus.drops, g.drops);
        Object.assign(io, { ikeGateReceived: g.received, ikeGateForwarded: g.forwarded, ikeGateCookiesValid: g.cookiesValid });
        // kernel steering (ike-gate-steer.ts): what the priority sockets got, what the kernel dropped per class
        if (g.steer) {
          const t = g.steer;
          Object.assign(io, { ikeGatePrioReceived: t.prioReceived, ikeGatePrioInits: t.prioInits, ikeGateMisrouted: t.misrouted, ikeGateBulkKernelDrops: t.bulkKernelDrops, ikeGatePrioKernelDrops: t.prioKernelDrops });
        }
      }
      const nattDropped = ikeQueue ? Atomics.load(ikeQueue, 1) : 0;
      if (nattDropped) ikeStatus.drops["natt-queue-full"] = nattDropped;
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
        ike: ikeStatus,
      };
    };
    await serveControl(cfg, status, td, opts.onReloadRequest);
    log(
      "info",
      `vpnkit up: ${name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), IKEv2 ${cfg.ike.responder ? "responder" : "initiator"} ` +
        `${ike ? `IKE ${ike.bound.join(" ")}, ` : ""}${raw.v4 >= 0 || raw.v6 >= 0 ? `plain ESP (IP protocol 50) ${[raw.v4 >= 0 ? "IPv4" : "", raw.v6 >= 0 ? "IPv6" : ""].filter(Boolean).join("+")} unless NAT or encap, ` : ""}${cfg.local}:${cfg.localPort}${natt6} <-> ${cfg.ike.remoteAny ? "%any" : `${cfg.remote}:${cfg.remotePort}`}, ${cfg.ike.localTs.join(",")} === ${cfg.ike.remoteTs.join(",")}, control ${cfg.control}`,
    );
    drv.start();
    let stopped: Promise<void> | null = null;
    return {
      driver: drv, dataPlane: onWorker ? "worker" : "main", status, fatal,
      reload: ikeReloader(cfg, drv, name, log),
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
