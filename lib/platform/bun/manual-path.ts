/**
 * The pieces every packet path is built from, shared by the main-thread path (up.ts), the
 * data-plane worker (dataplane-worker.ts) and its loopback copy (dataplane-warmup.ts): an
 * SaDatabase with the chosen AEAD provider and a TunnelEngine over the given device and
 * socket, with one child that holds a manually keyed SA pair, or starts empty for IKE. Plus the teardown stack and the status
 * fields both `vpnkit up` paths report.
 * @module
 */
import { selectAeadProvider } from "../../esp/aead.ts";
import { buildIcmpTooBig } from "../../esp/icmp.ts";
import { SaDatabase } from "../../esp/sadb.ts";
import type { InboundSa, OutboundSa } from "../../esp/sa.ts";
import type { SaConfig } from "../../esp/types.ts";
import type { TunnelConfig } from "../../tunnel/config.ts";
import type { TunnelStatus } from "../../tunnel/control.ts";
import { type DatagramSocket, type PacketDevice, TunnelEngine, type TunnelChild } from "../../tunnel/engine.ts";
import type { Cidr } from "../../net/cidr.ts";
import { libcryptoAead } from "./aead-ffi.ts";

export interface PathOptions {
  device: PacketDevice;
  socket: DatagramSocket;
  remoteAddress: string;
  remotePort: number;
  child: { name: string; local: Cidr[]; remote: Cidr[]; mtu: number };
  /** "ffi": the system libcrypto through bun:ffi when it loads; "default": lib/esp's providers. */
  aead: "ffi" | "default";
  keepaliveMs: number;
  onIke?: (buf: Uint8Array, addr: string, port: number) => void;
}

export interface ManualPathOptions extends PathOptions {
  outbound: SaConfig;
  inbound: SaConfig;
}

export interface Path {
  db: SaDatabase;
  /** The engine's one child (its SAs are set by the caller, or by an IKE driver's sink). */
  child: TunnelChild;
  engine: TunnelEngine;
}

export interface ManualPath extends Path {
  outSa: OutboundSa;
  inSa: InboundSa;
}

/** An SA database with the chosen AEAD provider and an engine over one child with no SAs yet. */
export function buildPath(o: PathOptions): Path {
  const db = new SaDatabase({ crypto: (c) => (o.aead === "ffi" ? libcryptoAead(c) : null) ?? selectAeadProvider(c) });
  const child: TunnelChild = { ...o.child, outbound: null, inbound: [] };
  const engine = new TunnelEngine({
    device: o.device,
    socket: o.socket,
    remoteAddress: o.remoteAddress,
    remotePort: o.remotePort,
    children: [child],
    // No localAddress: the error is written INTO the TUN, and Linux drops packets arriving
    // with one of its own addresses as source (martian). Sourced from the inner destination,
    // it passes the reverse-path check since that address is routed into the tunnel.
    icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu),
    keepaliveMs: o.keepaliveMs,
    onIke: o.onIke,
  });
  return { db, child, engine };
}

/** {@link buildPath} with one manually keyed SA pair installed (the SAs copy the keys; the caller zeroes its own). */
export function buildManualPath(o: ManualPathOptions): ManualPath {
  const p = buildPath(o);
  const outSa = p.db.installOutbound(o.outbound);
  const inSa = p.db.installInbound(o.inbound);
  p.child.outbound = outSa;
  p.child.inbound.push(inSa);
  p.engine.reindex();
  return { ...p, outSa, inSa };
}

/** LIFO teardown: `undo()` runs every pushed step once, newest first, whatever throws. */
export class Teardown {
  private readonly steps: (() => void)[] = [];
  push(step: () => void): void {
    this.steps.push(step);
  }
  undo(): void {
    while (this.steps.length) {
      try {
        this.steps.pop()!();
      } catch {
        // keep tearing down
      }
    }
  }
}

function spiText(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

/** The `vpnkit status` fields of a manual-key tunnel, given its counters. */
export function manualStatus(cfg: TunnelConfig, tunName: string, started: number, counters: TunnelStatus["counters"], io: Record<string, number>, ends?: { local: string; remote: string } | null): TunnelStatus {
  const sa = cfg.sa;
  return {
    version: 1,
    pid: process.pid,
    startedAt: new Date(started).toISOString(),
    uptimeSec: Math.round((Date.now() - started) / 1000),
    tun: tunName,
    // TCP: the connection's real ports (a client's local port is ephemeral); without a connection, what was configured
    local: ends?.local ?? (cfg.transport === "tcp" && cfg.tcpRole === "client" ? `${cfg.local}:(not connected)` : `${cfg.local}:${cfg.localPort}`),
    remote: ends?.remote ?? (cfg.transport === "tcp" && cfg.tcpRole === "server" ? `${cfg.remote}:(not connected)` : `${cfg.remote}:${cfg.remotePort}`),
    cipher: sa.cipher,
    spiOut: spiText(sa.spiOut),
    spiIn: spiText(sa.spiIn),
    tunnelMtu: cfg.tunnelMtu,
    counters,
    io,
  };
}

/** The one start-up line of a manual-key tunnel. */
export function manualStartLine(cfg: TunnelConfig, tunName: string): string {
  const sa = cfg.sa;
  // a TCP client's local port and a TCP server's peer port are ephemeral: the tcp: log lines name them
  const local = cfg.transport === "tcp" && cfg.tcpRole === "client" ? cfg.local : `${cfg.local}:${cfg.localPort}`;
  const remote = cfg.transport === "tcp" && cfg.tcpRole === "server" ? cfg.remote : `${cfg.remote}:${cfg.remotePort}`;
  return `vpnkit up: ${tunName} ${cfg.tunAddr.join(",")} mtu ${cfg.tunMtu} (tunnel ${cfg.tunnelMtu}), ESP-in-${cfg.transport === "tcp" ? `TCP (${cfg.tcpRole})` : "UDP"} ` +
    `${local} -> ${remote}, ${sa.cipher} spi out ${spiText(sa.spiOut)} in ${spiText(sa.spiIn)}, control ${cfg.control}`;
}
