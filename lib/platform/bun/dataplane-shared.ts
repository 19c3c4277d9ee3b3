/**
 * What the main thread and the data-plane worker (dataplane-worker.ts) share: the init
 * message and the layout of one SharedArrayBuffer that carries control flags (Int32,
 * Atomics) and the counters (Float64, written by the worker after every wake-up, read by
 * `vpnkit status` on the main thread without waking the worker), followed by a table of
 * per-child counters (one row per engine child, up to {@link CHILD_ROWS}; written by the
 * worker every second and after each install/remove, never on the packet path).
 * @module
 */
import type { Cidr } from "../../net/cidr.ts";
import { type ChildStats, type EngineCounters, newChildStats, newCounters, type TunnelChild } from "../../tunnel/engine.ts";
import type { EspCipherName, SaEvent } from "../../esp/types.ts";
import type { ChildInstall } from "../../tunnel/child-sink.ts";
import type { GateInit } from "./ike-gate-shared.ts";

/** Int32 slots at the start of the buffer. */
export const FLAG_STOP = 0; // main → worker: 1 = tear down
export const FLAG_STOPPED = 1; // worker → main: 1 = SAs destroyed (keys zeroed), loop left
export const FLAG_READY = 2; // worker → main: 1 = SAs installed, loop running; -1 = failed
export const FLAG_APPLIED = 3; // worker → main: commands applied so far (Int32, wraps): all posted ones when it equals the main thread's count
export const FLAG_WAKE = 4; // main ↔ worker: 1 = a wake-up is written and not yet read (further commands need none)
const FLAG_SLOTS = 6; // (a multiple of 2: the Float64 counters follow)

/** Order of the Float64 counter slots after the flags. */
const ENGINE_KEYS = ["packetsOut", "bytesOut", "packetsIn", "bytesIn", "keepalivesSent", "keepalivesIn", "ikeIn", "icmpSent"] as const;
const DROP_KEYS = ["icv", "replay", "noSa", "tooBig", "malformed", "dummy", "policy", "expired", "sealFailed", "deviceWrite", "notConnected"] as const;
export const IO_KEYS = [
  "tunRxPackets", "tunTxPackets", "tunTxErrors", "tunWakeups", "tunRxSuper", "tunRxBad", "tunTxMerged", "udpSendErrors", "udpGsoSends", "udpTruncated",
  "loopWakeups", "warmTicks", "rawEspIn", "rawEspOut", "rawEspSendErrors", "rawEspMalformed", "unknownSpiReported",
] as const;
export type IoCounters = Record<(typeof IO_KEYS)[number], number>;

const BASE = ENGINE_KEYS.length + DROP_KEYS.length + IO_KEYS.length;
/** Rows of the per-child table (children beyond it are counted in `childrenTotal` but not listed). */
export const CHILD_ROWS = 4096;
const CHILD_STAT_KEYS = ["packetsOut", "bytesOut", "packetsIn", "bytesIn", "lastIn", "policyDrops"] as const;
/** A row: spiIn, spiOut (-1: none), peer port (-1: default remote), then {@link CHILD_STAT_KEYS}. */
const ROW = 3 + CHILD_STAT_KEYS.length;
/** Table: [rows written, children in total, rows...]. */
const N = BASE + 2 + CHILD_ROWS * ROW;
/** Bytes of the shared buffer. */
export const SHARED_BYTES = FLAG_SLOTS * 4 + N * 8;

export function sharedViews(sab: SharedArrayBuffer): { flags: Int32Array; nums: Float64Array } {
  return { flags: new Int32Array(sab, 0, FLAG_SLOTS), nums: new Float64Array(sab, FLAG_SLOTS * 4, N) };
}

/** Worker side: publish the counters. */
export function writeCounters(nums: Float64Array, c: EngineCounters, io: IoCounters): void {
  let i = 0;
  for (const k of ENGINE_KEYS) nums[i++] = c[k];
  for (const k of DROP_KEYS) nums[i++] = c.drops[k];
  for (const k of IO_KEYS) nums[i++] = io[k];
}

/** One row of the per-child table, as the main thread reads it. */
export interface ChildCounters {
  /** Newest inbound SPI and current outbound SPI (null: none). */
  spiIn: number | null;
  spiOut: number | null;
  /** The child's peer port (the main thread knows the address it installed); null: default remote. */
  peerPort: number | null;
  stats: ChildStats;
}

/** Worker side: publish the per-child counters (off the packet path: every second, after installs). */
export function writeChildCounters(nums: Float64Array, children: readonly TunnelChild[]): void {
  const n = Math.min(children.length, CHILD_ROWS);
  let i = BASE + 2;
  for (let r = 0; r < n; r++) {
    const c = children[r];
    const inb = c.inbound;
    nums[i++] = inb.length ? inb[inb.length - 1].spi >>> 0 : -1;
    nums[i++] = c.outbound ? c.outbound.spi >>> 0 : -1;
    nums[i++] = c.endpoint ? c.endpoint.port : -1;
    const st = c.stats ?? newChildStats();
    for (const k of CHILD_STAT_KEYS) nums[i++] = st[k];
  }
  nums[BASE + 1] = children.length;
  nums[BASE] = n;
}

/** Main side: the per-child table. */
export function readChildCounters(nums: Float64Array): { children: ChildCounters[]; childrenTotal: number } {
  const n = Math.min(nums[BASE], CHILD_ROWS);
  const out: ChildCounters[] = [];
  let i = BASE + 2;
  const opt = (v: number) => (v < 0 ? null : v);
  for (let r = 0; r < n; r++) {
    const spiIn = opt(nums[i++]), spiOut = opt(nums[i++]), peerPort = opt(nums[i++]);
    const stats = newChildStats();
    for (const k of CHILD_STAT_KEYS) stats[k] = nums[i++];
    out.push({ spiIn, spiOut, peerPort, stats });
  }
  return { children: out, childrenTotal: nums[BASE + 1] };
}

/** Main side: a snapshot of the counters (`children`: the per-child table, see {@link readChildCounters}). */
export function readCounters(nums: Float64Array): { counters: EngineCounters; io: IoCounters; children: ChildCounters[]; childrenTotal: number } {
  const c = newCounters();
  let i = 0;
  for (const k of ENGINE_KEYS) c[k] = nums[i++];
  for (const k of DROP_KEYS) c.drops[k] = nums[i++];
  const io = {} as IoCounters;
  for (const k of IO_KEYS) io[k] = nums[i++];
  return { counters: c, io, ...readChildCounters(nums) };
}

/** One SA as handed to the worker (the key is copied by postMessage; the sender zeroes its own). */
export interface WorkerSa {
  spi: number;
  cipher: EspCipherName;
  keyMaterial: Uint8Array;
  esn: boolean;
  replayWindow?: number;
}

export interface DataPlaneInit {
  type: "init";
  sab: SharedArrayBuffer;
  /** eventfd the main thread writes to after setting a flag. */
  wakeFd: number;
  tunFd: number;
  tunName: string;
  offload: boolean;
  udpFd: number;
  /** A second NAT-T socket, [::]:port (IPv6 only) next to 0.0.0.0:port: both carry the path (udp-dual.ts). */
  udpFd6?: number;
  gso: boolean;
  /** "ffi": libcrypto through bun:ffi when it loads; "default": lib/esp's providers. */
  aead: "ffi" | "default";
  remoteAddress: string;
  remotePort: number;
  keepaliveMs: number;
  /** Keep-warm tick in ms (0 = off). */
  keepWarmMs: number;
  child: { name: string; local: Cidr[]; remote: Cidr[]; mtu: number };
  /** The manual-key SA pair; null for IKEv2, whose driver installs Child SAs later ({@link DataPlaneCommand}). */
  outbound: WorkerSa | null;
  inbound: WorkerSa | null;
  /** Cipher of the loopback warm-up path when there is no SA yet (IKEv2: the first ESP proposal's). */
  warmCipher: EspCipherName;
  /** IKEv2: datagrams with the non-ESP marker go to the main thread as {@link DataPlaneEvent} "ike". */
  ike: boolean;
  /** IKEv2: raw ESP sockets (IP protocol 50, raw-esp.ts) for Child SAs without UDP encapsulation; -1: none. */
  rawEsp4Fd?: number;
  rawEsp6Fd?: number;
  /**
   * IKEv2: the bound of those: Int32 [in flight (worker adds, main subtracts), dropped]; at
   * `ikeQueueMax` in flight more are dropped and counted. Without it: unbounded.
   */
  ikeQueue?: SharedArrayBuffer;
  ikeQueueMax?: number;
  /** IKEv2 responder: the IKE gate's sockets (UDP 500) join this thread's epoll set (ike-gate-loop.ts). */
  gate?: GateInit;
}

/**
 * Messages to the worker after "init" (IKEv2; the main thread writes the eventfd after each,
 * so the worker takes them within one wake-up). They are handled in order, so an IKE message
 * sent after an install leaves only once the SAs are in place.
 */
export type DataPlaneCommand =
  | { type: "install"; child: ChildInstall }
  | { type: "remove"; spiIn: number; spiOut: number; nextOutSpi: number | null }
  /** ChildSaSink.updateRemote: the child with this outbound SPI has a new peer endpoint. */
  | { type: "peer"; spiOut: number; peer: { address: string; port: number } }
  | { type: "send"; buf: Uint8Array; addr: string; port: number };

/** Messages from the worker. */
export type DataPlaneEvent =
  | { type: "ready" }
  | { type: "error"; message: string }
  | { type: "log"; message: string }
  /** A datagram with the non-ESP marker (IKE), marker included. */
  | { type: "ike"; buf: Uint8Array; addr: string; port: number }
  | { type: "sa-event"; event: SaEvent }
  /** ESP for an SPI no SA has (rate-limited in the worker: at most one per SPI per interval, and a global cap). */
  | { type: "unknown-spi"; spi: number; addr: string; port: number }
  /** A datagram the IKE gate forwards from the plain IKE port (no marker). */
  | { type: "ike-gate"; buf: Uint8Array; addr: string; port: number };
