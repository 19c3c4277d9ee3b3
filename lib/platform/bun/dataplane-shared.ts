/**
 * What the main thread and the data-plane worker (dataplane-worker.ts) share: the init
 * message and the layout of one SharedArrayBuffer that carries control flags (Int32,
 * Atomics) and the counters (Float64, written by the worker after every wake-up, read by
 * `vpnkit status` on the main thread without waking the worker).
 * @module
 */
import type { Cidr } from "../../net/cidr.ts";
import { type EngineCounters, newCounters } from "../../tunnel/engine.ts";
import type { EspCipherName, SaEvent } from "../../esp/types.ts";
import type { ChildInstall } from "../../tunnel/child-sink.ts";

/** Int32 slots at the start of the buffer. */
export const FLAG_STOP = 0; // main → worker: 1 = tear down
export const FLAG_STOPPED = 1; // worker → main: 1 = SAs destroyed (keys zeroed), loop left
export const FLAG_READY = 2; // worker → main: 1 = SAs installed, loop running; -1 = failed
const FLAG_SLOTS = 4;

/** Order of the Float64 counter slots after the flags. */
const ENGINE_KEYS = ["packetsOut", "bytesOut", "packetsIn", "bytesIn", "keepalivesSent", "keepalivesIn", "ikeIn", "icmpSent"] as const;
const DROP_KEYS = ["icv", "replay", "noSa", "tooBig", "malformed", "dummy", "policy", "expired", "sealFailed", "deviceWrite", "notConnected"] as const;
export const IO_KEYS = [
  "tunRxPackets", "tunTxPackets", "tunTxErrors", "tunWakeups", "tunRxSuper", "tunRxBad", "tunTxMerged", "udpSendErrors", "udpGsoSends", "udpTruncated",
  "loopWakeups", "warmTicks",
] as const;
export type IoCounters = Record<(typeof IO_KEYS)[number], number>;

const N = ENGINE_KEYS.length + DROP_KEYS.length + IO_KEYS.length;
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

/** Main side: a snapshot of the counters. */
export function readCounters(nums: Float64Array): { counters: EngineCounters; io: IoCounters } {
  const c = newCounters();
  let i = 0;
  for (const k of ENGINE_KEYS) c[k] = nums[i++];
  for (const k of DROP_KEYS) c.drops[k] = nums[i++];
  const io = {} as IoCounters;
  for (const k of IO_KEYS) io[k] = nums[i++];
  return { counters: c, io };
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
}

/**
 * Messages to the worker after "init" (IKEv2; the main thread writes the eventfd after each,
 * so the worker takes them within one wake-up). They are handled in order, so an IKE message
 * sent after an install leaves only once the SAs are in place.
 */
export type DataPlaneCommand =
  | { type: "install"; child: ChildInstall }
  | { type: "remove"; spiIn: number; spiOut: number; nextOutSpi: number | null }
  | { type: "send"; buf: Uint8Array; addr: string; port: number };

/** Messages from the worker. */
export type DataPlaneEvent =
  | { type: "ready" }
  | { type: "error"; message: string }
  | { type: "log"; message: string }
  /** A datagram with the non-ESP marker (IKE), marker included. */
  | { type: "ike"; buf: Uint8Array; addr: string; port: number }
  | { type: "sa-event"; event: SaEvent };
