/**
 * What the main thread and the IKE gate's thread (ike-gate-worker.ts) share: the init message,
 * the events, and the layout of one SharedArrayBuffer: Int32 control slots (Atomics) and
 * Float64 counters written by the gate after every batch.
 * @module
 */

/** Int32 control slots. */
export const G = {
  /** main → gate: 1 = stop. */
  STOP: 0,
  /** gate → main: 1 = left its loop. */
  STOPPED: 1,
  /** gate → main: 1 = running; -1 = failed to start. */
  READY: 2,
  /** main → gate: the IKE SA manager's half-open count. */
  HALF_OPEN: 3,
  /** main → gate: half-open count from which COOKIEs are demanded. */
  THRESHOLD: 4,
  /** Datagrams posted to the main thread and not yet taken (gate adds, main subtracts). */
  INFLIGHT: 5,
} as const;
const CTL_SLOTS = 8;

/** Float64 counter slots (after the control slots). */
export const N = { received: 0, cookiesSent: 1, cookiesValid: 2, forwarded: 3, queueFull: 4, truncated: 5, sendErrors: 6, recvCalls: 7, drops: 8 } as const;
/**
 * Kernel steering (ike-gate-steer.ts), after the drop reasons: 1 when the sockets are steered; datagrams
 * read from the priority sockets, IKE_SA_INIT requests among them; datagrams read from a socket the
 * program would not have picked (0 when the kernel steers as lib/ike/v2/sa/gate-steer.ts says); the
 * kernel's drops (receive queue full) of the bulk and the priority sockets.
 */
export const NS = { steered: 16, prioReceived: 17, prioInits: 18, misrouted: 19, bulkKernelDrops: 20, prioKernelDrops: 21 } as const;
const NUM_SLOTS = 24;

export const GATE_SAB_BYTES = CTL_SLOTS * 4 + NUM_SLOTS * 8;

export function gateViews(sab: SharedArrayBuffer): { ctl: Int32Array; nums: Float64Array } {
  return { ctl: new Int32Array(sab, 0, CTL_SLOTS), nums: new Float64Array(sab, CTL_SLOTS * 4, NUM_SLOTS) };
}

export interface GateInit {
  type: "init";
  sab: SharedArrayBuffer;
  /** The COOKIE secrets (lib/ike/v2/sa/cookie-gate.ts SharedCookieJar); the gate rotates them. */
  cookieSab: SharedArrayBuffer;
  rotateMs: number;
  /** Bound UDP sockets (IPv4, IPv6) of the plain IKE port: all of them, bulk and priority. */
  fds: number[];
  /** Steered pairs (ike-gate-steer.ts): the priority socket is read before its bulk partner. */
  steer?: { bulk: number; prio: number }[];
  /** Datagrams in flight to the main thread at most. */
  queueMax: number;
}

export type GateEvent =
  | { type: "ready" }
  | { type: "error"; message: string }
  | { type: "ike"; buf: Uint8Array; addr: string; port: number };
