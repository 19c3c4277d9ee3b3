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
import type { EspCipherName, SaConfig } from "../../esp/types.ts";
import { LocalChildSink } from "../../tunnel/child-sink.ts";
import type { TunnelConfig } from "../../tunnel/config.ts";
import type { TunnelStatus } from "../../tunnel/control.ts";
import { type DatagramSocket, type PacketDevice, TunnelEngine, type TunnelChild } from "../../tunnel/engine.ts";
import { type Cidr, parseCidr } from "../../net/cidr.ts";
import { libcryptoAead } from "./aead-ffi.ts";
import { libcryptoCbcHmac } from "./cbc-ffi.ts";
import { espKeyMaterialLength, isCbcCipher, selectEspCrypto } from "../../esp/cbc.ts";

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
  /** ESP for an SPI no SA has (TunnelEngine's onUnknownSpi). */
  onUnknownSpi?: (spi: number, addr: string, port: number) => void;
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
  const db = new SaDatabase({
    crypto: (c) => isCbcCipher(c) ? (o.aead === "ffi" ? libcryptoCbcHmac() : null) ?? selectEspCrypto(c) : (o.aead === "ffi" ? libcryptoAead(c) : null) ?? selectAeadProvider(c),
  });
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
    onUnknownSpi: o.onUnknownSpi,
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

/**
 * Benchmark knob (VPNKIT_BENCH_EXTRA_CHILDREN, bench/tunnel/README.md "many Child SAs"): add
 * `n` idle children next to the path's own, each a keyed pair as an IKE server would install
 * for one road-warrior client: random keys, SPIs 0xbe000000+i in / 0xbf000000+i out, remote
 * selector 198.18.x.y/32 (RFC 2544 benchmark range, never routed here), the path child's local
 * selectors, and its own endpoint 198.51.100.z:port (distinct ports, as clients behind one
 * NAT). They go through the same SPI table and routing index as the real child.
 */
export function installBenchChildren(p: Path, n: number, cipher: EspCipherName = "aes256gcm16"): number {
  const sink = new LocalChildSink(p.db, p.child, () => p.engine.reindex(), p.engine);
  const klen = espKeyMaterialLength(cipher);
  const kIn = new Uint8Array(klen), kOut = new Uint8Array(klen);
  let done = 0;
  for (let i = 0; i < n; i++) {
    crypto.getRandomValues(kIn);
    crypto.getRandomValues(kOut);
    const remote = parseCidr(`198.18.${(i >> 8) & 0xff}.${i & 0xff}/32`);
    if (remote === null || i >= 1 << 16) break;
    sink.install({
      spiIn: 0xbe000000 + i, spiOut: 0xbf000000 + i, cipher, keyIn: kIn, keyOut: kOut, esn: false,
      local: p.child.local, remote: [remote], child: `bench-${i}`,
      peer: { address: `198.51.100.${1 + Math.floor(i / 60000)}`, port: 1024 + (i % 60000) },
    });
    done++;
  }
  kIn.fill(0);
  kOut.fill(0);
  return done;
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
    ...(cfg.transport === "tcp" ? { transport: "tcp" as const } : {}),
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
