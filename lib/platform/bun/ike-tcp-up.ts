/**
 * `vpnkit up` in IKEv2 mode over TCP (RFC 9329; `transport = "tcp"` with `[ike]`): IKE and
 * ESP share one TCP connection per peer (lib/platform/bun/tcp-transport.ts). The initiator is
 * the TCP client: it connects to `remote:remote_port` (default 4500), sends the "IKETCP"
 * prefix, and starts IKE_SA_INIT once the connection is up. The responder is the TCP server
 * on `local:local_port`: it accepts one connection per peer (bounded, see
 * lib/tunnel/tcp-peers.ts), hands IKE (behind the non-ESP marker) to the IKE SA manager and
 * ESP to the packet path, and answers on the connection a request came in on.
 *
 * When the connection breaks the initiator connects again (RFC 9329 §6; the IKE and Child SAs
 * stay up): the transport writes an unanswered IKE request again on the new connection, and
 * here every established IKE SA sends a liveness check over it, so the responder learns the
 * new connection from an authenticated message (its IKE SA's endpoint, and the Child SAs'
 * ESP, follow: `peer-address-changed`). IKE has no retransmission timers over TCP and no
 * NAT-keepalives are sent (lib/tunnel/ike-stream.ts).
 *
 * The packet path is the main-thread engine (as for manual keys over TCP), with the IKE
 * driver's Child SAs installed into its SA database.
 * @module
 */
import { ikeReloader } from "./ike-reload.ts";
import type { IkeTunnelConfig } from "../../tunnel/config.ts";
import { LocalChildSink } from "../../tunnel/child-sink.ts";
import { IkeDriver, type LogLevel } from "../../tunnel/ike-driver.ts";
import type { SaEvent } from "../../esp/types.ts";
import { vpnkitEnv } from "../../core/env.ts";
import type { Subsystem } from "../../core/log.ts";
import { buildPath, Teardown } from "./manual-path.ts";
import { configureLink } from "./tun.ts";
import { aeadChoice, openTun, serveControl } from "./runtime.ts";
import { startMemoryGuard } from "./memory-guard.ts";
import { localAddressFor } from "./ike-sockets.ts";
import { nodeEapTlsEngine } from "./eap-tls-engine.ts";
import { TcpTransport } from "./tcp-transport.ts";
import type { RunningIkeTunnel } from "./ike-up.ts";

function spiText(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

/** Connection limits of a responder: what any number of peers can make it hold. */
const RESPONDER_LIMITS = { maxConnections: 256, maxPerAddress: 64, maxUnproven: 32, firstFrameMs: 10_000, idleMs: 600_000, maxTotalQueueBytes: 16 * 1024 * 1024 };

export async function startIkeTcpTunnel(cfg: IkeTunnelConfig, log: (level: LogLevel, msg: string, subsystem?: Subsystem) => void): Promise<RunningIkeTunnel> {
  const td = new Teardown();
  let onFatal: (r: string) => void = () => {};
  const fatal = new Promise<string>((r) => (onFatal = r));
  const responder = cfg.ike.responder;
  try {
    let driver: IkeDriver | null = null;
    const { tun } = openTun(cfg, td, vpnkitEnv("VPNKIT_TUN_READER") === "poll" ? "poll" : "epoll");
    const name = tun.name;
    const tcp = await TcpTransport.start({
      role: responder ? "server" : "client", local: cfg.local, localPort: cfg.localPort, remote: cfg.remote, remotePort: cfg.remotePort,
      ...(responder ? { multi: { acceptAny: cfg.ike.remoteAny, ...RESPONDER_LIMITS } } : {}),
      log: (m) => log("info", m, "net"),
    });
    td.push(() => tcp.close());
    const baseChild = responder
      ? { name: "ike", local: [], remote: [], mtu: cfg.tunnelMtu }
      : { name: "ike", local: cfg.localSubnets, remote: cfg.routes, mtu: cfg.tunnelMtu };
    const { db, child, engine } = buildPath({
      device: tun, socket: tcp, remoteAddress: cfg.remote, remotePort: cfg.remotePort, child: baseChild,
      aead: aeadChoice(), keepaliveMs: 0,
      onIke: (buf, addr, port) => driver?.onDatagram(buf, addr, port, "natt"),
    });
    td.push(() => db.destroy());
    const ticker = setInterval(() => db.tick(), 1000);
    td.push(() => clearInterval(ticker));
    db.onEvent = (e: SaEvent) => {
      log("info", `SA 0x${e.spi.toString(16)} ${e.direction}: ${e.type} (${e.reason})`, "esp");
      driver?.onSaEvent(e);
    };
    engine.start();
    td.push(() => engine.stop());

    const drv = new IkeDriver({
      cfg,
      send: (buf, addr, port) => tcp.send(buf, addr, port),
      stream: { localEndpoint: (peer) => tcp.localEndpointFor(peer.address, peer.port) },
      eapTlsEngine: nodeEapTlsEngine,
      localAddressFor,
      // no `schedule`: each IKE message is handled as its frame comes off the stream, before
      // the frames after it (a CREATE_CHILD_SA answer installs the new SAs before the ESP the
      // peer sends with them right behind it is opened); TCP's own flow control holds a flood
      // back while we are busy, and the connection limits bound how many can send
      sink: new LocalChildSink(db, child, () => engine.reindex(), engine),
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

    const started = Date.now();
    const status = () => {
      const cur = drv.current();
      const ends = tcp.endpoints();
      const s = tcp.stats;
      return {
        version: 1 as const,
        pid: process.pid,
        startedAt: new Date(started).toISOString(),
        uptimeSec: Math.round((Date.now() - started) / 1000),
        tun: name,
        transport: "tcp" as const,
        // the real ports: a client's local port is ephemeral, a server's peers' ports too
        local: responder ? `${cfg.local}:${tcp.port}` : ends?.local ?? `${cfg.local}:(not connected)`,
        remote: responder
          ? (tcp.connections().map((c) => c.remote).join(",") || `${cfg.ike.remoteAny ? "%any" : cfg.remote}:(not connected)`)
          : ends?.remote ?? `${cfg.remote}:${cfg.remotePort}`,
        cipher: cur?.cipher ?? "none",
        spiOut: cur ? spiText(cur.spiOut) : "none",
        spiIn: cur ? spiText(cur.spiIn) : "none",
        tunnelMtu: cfg.tunnelMtu,
        counters: engine.counters,
        io: {
          tunRxPackets: tun.stats.rxPackets, tunTxPackets: tun.stats.txPackets, tunTxErrors: tun.stats.txErrors,
          tcpConnections: s.connections, tcpConnects: s.connects, tcpDisconnects: s.disconnects, tcpConnectErrors: s.connectErrors,
          tcpFramesOut: s.framesOut, tcpFramesIn: s.framesIn, tcpQueueDrops: s.queueDrops, tcpNotConnectedDrops: s.notConnectedDrops,
          tcpKeepalivesIn: s.keepalivesIn, tcpRejected: s.rejected, tcpFramingErrors: s.framingErrors, tcpTimeouts: s.timeouts, tcpIkeResent: s.ikeResent,
        },
        ike: drv.status(),
      };
    };
    await serveControl(cfg, status, td);
    log(
      "info",
      `vpnkit up: ${name} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), IKEv2 ${responder ? "responder" : "initiator"} over TCP (RFC 9329) ` +
        `${responder ? `listening on ${cfg.local}:${tcp.port} for ${cfg.ike.remoteAny ? "%any" : cfg.remote}` : `to ${cfg.remote}:${cfg.remotePort}`}, ` +
        `${cfg.ike.localTs.join(",")} === ${cfg.ike.remoteTs.join(",")}, control ${cfg.control}`,
    );
    if (responder) drv.start();
    else {
      // IKE_SA_INIT once connected; after a reconnect, a liveness check on every IKE SA tells the responder the new connection
      tcp.onConnect((first) => {
        if (first) return drv.start();
        const now = Date.now();
        for (const e of drv.manager.list()) if (e.sa.state === "established") drv.manager.call(e, (sa) => sa.dpd(now), now);
      });
      if (tcp.connected) drv.start();
      // a connection can die without a FIN or RST (the peer's host gone, a middlebox's state
      // lost): with no IKE retransmissions to notice, an IKE SA silent for its liveness-check
      // interval plus the first retransmission timeout (at most 10 s) makes a new connection,
      // on which the unanswered check goes out again (before the driver's own remedy for a
      // silent peer, a new IKE SA, one second later)
      const silentMs = cfg.ike.dpdSec * 1000 + Math.min(10_000, cfg.ike.retransmitSec * 1000);
      let forcedAt = 0;
      const watch = setInterval(() => {
        const now = Date.now();
        if (cfg.ike.dpdSec <= 0 || !tcp.connected || now - forcedAt < silentMs) return;
        if (!drv.manager.list().some((e) => e.sa.state === "established" && e.lastReceived !== null && now - e.lastReceived > silentMs)) return;
        forcedAt = now;
        tcp.reconnect(`no IKE message from the peer for ${Math.round(silentMs / 1000)} s`);
      }, 500);
      td.push(() => clearInterval(watch));
    }
    let stopped: Promise<void> | null = null;
    return {
      driver: drv, dataPlane: "main", status, fatal,
      // SIGHUP / `vpnkit reload`: the same as over UDP, new pools routed into the TUN
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
