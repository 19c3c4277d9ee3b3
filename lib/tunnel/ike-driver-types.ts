/**
 * The IKEv2 driver's options and small shared helpers (lib/tunnel/ike-driver.ts and the
 * units it is split into: ike-rx-queue.ts, ike-children.ts, ike-sa-config.ts).
 * @module
 */
import type { IkeSaManagerOptions } from "../ike/v2/sa/manager.ts";
import type { IkeSaConfig } from "../ike/v2/sa/types.ts";
import type { IkeStreamTransport } from "./ike-stream.ts";
import type { SaDatabase } from "../esp/sadb.ts";
import type { ChildSaSink } from "./child-sink.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { TunnelChild } from "./engine.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface IkeDriverOptions {
  cfg: IkeTunnelConfig;
  /** Sends one datagram on the NAT-T socket (port 4500); IKE messages arrive with the non-ESP marker already prepended. */
  send: (buf: Uint8Array, addr: string, port: number) => void;
  /** Sends one datagram on the plain IKE socket (port 500). Without it every IKE message goes through `send`. */
  sendIke?: (buf: Uint8Array, addr: string, port: number) => void;
  /**
   * The packet path can send and receive plain ESP (IP protocol 50) to `peer` (a raw socket of
   * its family is open). Without it, or when it says no, every Child SA is UDP-encapsulated
   * (vpnkit then announces a NAT with a random NAT-D hash so the peer encapsulates too).
   */
  rawEsp?: (peer: string) => boolean;
  /** The TLS engine for connections with auth = "eap-tls" (`vpnkit up`: node:tls, lib/platform/bun/eap-tls-engine.ts). */
  eapTlsEngine?: IkeSaConfig["eapTlsEngine"];
  /** The local address the kernel uses to reach `peer` (route lookup): our IKE SA's address when `local` is the wildcard. */
  localAddressFor?: (peer: string) => string | null;
  /** Runs the receive queue's drain later, 64 datagrams a turn (`vpnkit up` passes setImmediate, so the queue fills and drops under a flood); without it datagrams are handled at once. */
  schedule?: (fn: () => void) => void;
  /**
   * Where Child SAs go: install / remove (lib/tunnel/child-sink.ts). `vpnkit up` passes the
   * data-plane worker's; without it, `db` + `child` + `reindex` make a {@link LocalChildSink}.
   */
  sink?: ChildSaSink;
  db?: SaDatabase;
  child?: TunnelChild;
  reindex?: () => void;
  log: (level: LogLevel, msg: string) => void;
  /** The IKE SA failed for good (initiator without `retry`): one line already logged. */
  onFatal?: (reason: string) => void;
  /** The peer assigned us a virtual IPv4 address (road warrior): put it on the TUN. */
  onVirtualIp?: (address: string) => void;
  /** A Child SA was installed (first one and every rekey). */
  onChild?: (info: { spiIn: number; spiOut: number; cipher: string; rekey: boolean }) => void;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
  rng?: (n: number) => Uint8Array;
  /** COOKIE secrets shared with the IKE gate's thread (lib/ike/v2/sa/cookie-gate.ts); default: the manager's own. */
  cookies?: IkeSaManagerOptions["cookies"];
  /** IKE and ESP over TCP (RFC 9329): lib/tunnel/ike-stream.ts. `send` then writes on the peer's connection. */
  stream?: IkeStreamTransport;
}

export const TICK_MS = 500;
/** The tick while an IKE_SA_INIT of ours awaits its answer (its early retransmissions are due at 1 s and 2 s). */
export const FAST_TICK_MS = 100;
export const RETRY_MIN_MS = 5000;
export const RETRY_MAX_MS = 30_000;

export function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

export function isWildcard(a: string): boolean {
  return a === "0.0.0.0" || a === "::";
}
