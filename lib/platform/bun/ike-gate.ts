/**
 * The plain IKE sockets of a `vpnkit up` responder (UDP 500, IPv4 and IPv6) behind the IKE gate:
 * a thread other than the main one reads them (the data-plane worker, which waits for them in its
 * epoll set; or, when the packet path runs on the main thread, a worker of the gate's own,
 * ike-gate-worker.ts), answers a spoofed IKE_SA_INIT flood with
 * COOKIEs itself (lib/ike/v2/sa/cookie-gate.ts) and hands the main thread only what can lead to an
 * IKE SA (other exchanges, IKE_SA_INITs while no COOKIE is demanded, ones with a valid COOKIE), at
 * most `queueMax` datagrams in flight; what exceeds it is dropped and counted. The COOKIE secrets
 * are shared with the main thread's IKE SA manager ({@link IkeGate.cookies}), so a COOKIE either
 * side sent is accepted by both. Measured (bench/ike/RESULTS.md (c), shared VM at load 15-21):
 * with UDP 500 read on the main thread through Bun.udpSocket, 28-39 % of a spoofed flood was read
 * and 15 % answered; the gate reads and answers 46-48 % (charon 18-22 %), and the idle responder
 * costs no more memory than without it.
 *
 * Each family's port is a steered pair where the kernel allows it (ike-gate-steer.ts: a bulk and a
 * priority socket, a cBPF program in the kernel puts cookie-less IKE_SA_INITs into the bulk one
 * and COOKIE retries and other exchanges into the priority one, read first); otherwise, or with
 * VPNKIT_IKE_STEER=0, one socket, as before.
 *
 * Sends (the manager's answers) go out on the same sockets from the main thread.
 * @module
 */
import { GATE_DROP_REASONS, SharedCookieJar } from "../../ike/v2/sa/cookie-gate.ts";
import { G, GATE_SAB_BYTES, type GateEvent, type GateInit, gateViews, N, NS } from "./ike-gate-shared.ts";
import type { IkeSockets } from "./ike-sockets.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import { BULK_RCVBUF, bindSteeredPair, type SteeredPair, SteeringUnavailable } from "./ike-gate-steer.ts";
import { vpnkitEnv } from "../../core/env.ts";

export interface IkeGateOptions {
  /** Half-open count from which COOKIEs are demanded (the manager's `cookieThreshold`). */
  cookieThreshold: number;
  cookieRotateMs: number;
  /** Datagrams in flight to the main thread at most (the manager's `queue`). */
  queueMax: number;
}

export interface IkeGate extends IkeSockets {
  /** The COOKIE secrets, for the IKE SA manager (same cookies as the gate's). */
  cookies: SharedCookieJar;
  /** Tell the gate the manager's half-open count. */
  halfOpen(n: number): void;
  /** The gate's counters: datagrams read, COOKIEs sent, forwarded, dropped by reason. */
  counters(): { received: number; cookiesSent: number; cookiesValid: number; forwarded: number; drops: Record<string, number>; steer: GateSteerCounters | null };
}

/** Kernel steering counters (ike-gate-shared.ts NS): null when the sockets are not steered. */
export interface GateSteerCounters {
  prioReceived: number;
  prioInits: number;
  misrouted: number;
  bulkKernelDrops: number;
  prioKernelDrops: number;
}

function gateUrl(): string {
  // compiled: scripts/build.ts lists the worker as an entry point, named by its path in the project
  return import.meta.url.includes("/$bunfs/") ? "./lib/platform/bun/ike-gate-worker.ts" : new URL("./ike-gate-worker.ts", import.meta.url).href;
}

type Recv = (buf: Uint8Array, addr: string, port: number) => void;

/** Sockets bound and shared state made, not yet read: {@link startIkeGate}, or the data-plane worker runs {@link init}. */
export interface IkeGateBinding extends IkeGate {
  /** What the thread that reads the sockets needs (ike-gate-loop.ts). */
  init: GateInit;
  /** Hand one forwarded datagram to the consumer (counts it out of the in-flight bound). */
  deliver(buf: Uint8Array, addr: string, port: number): void;
}

/**
 * Bind `local:port` (with the IPv4 wildcard also `[::]:port`, IPv6 only; an IPv6 socket that
 * cannot be bound is skipped with a warning) and make the gate's shared state. `close()` stops
 * nothing but closes the sockets and zeroes the secrets: the reading thread must be stopped first.
 */
export function bindIkeGate(local: string, port: number, onMessage: Recv, warn: (m: string) => void, o: IkeGateOptions): IkeGateBinding {
  const v6local = local.includes(":");
  const steerWanted = vpnkitEnv("VPNKIT_IKE_STEER") !== "0";
  const pairs: SteeredPair[] = [];
  // a steered pair when the kernel allows it, else one socket (the priority one of a pair sends)
  const bindOne = (addr: string): FfiUdpSocket => {
    if (steerWanted) {
      try {
        const p = bindSteeredPair(addr, port);
        pairs.push(p);
        // without CAP_NET_ADMIN the kernel caps the bulk queue at net.core.rmem_max
        if (p.bulkRcvbuf >= 0 && p.bulkRcvbuf < BULK_RCVBUF) {
          warn(`IKE gate: the receive queue for new IKE_SA_INITs on ${addr.includes(":") ? `[${addr}]` : addr}:${port} is ${Math.round(p.bulkRcvbuf / 2048)} KiB, not ${BULK_RCVBUF >> 20} MiB (net.core.rmem_max; CAP_NET_ADMIN lifts it): a flood's bursts will crowd out real clients' first requests sooner`);
        }
        return p.prio;
      } catch (e) {
        if (!(e instanceof SteeringUnavailable)) throw e;
        warn(`IKE gate: one socket on ${addr.includes(":") ? `[${addr}]` : addr}:${port}, no kernel steering (${e.message})`);
      }
    }
    return FfiUdpSocket.bind(addr, port);
  };
  const v4 = v6local ? null : bindOne(local);
  let v6: FfiUdpSocket | null = null;
  if (v6local || local === "0.0.0.0") {
    try {
      v6 = bindOne(v6local ? local : "::");
    } catch (e) {
      if (v6local) throw e;
      warn(`IKE: no IPv6 socket on port ${port}: ${(e as Error).message}`);
    }
  }
  const socks = [v4, v6].filter((s): s is FfiUdpSocket => s !== null);
  // the bulk sockets of steered pairs (v4 / v6 above are the priority ones)
  for (const p of pairs) socks.push(p.bulk);
  const sab = new SharedArrayBuffer(GATE_SAB_BYTES);
  const { ctl, nums } = gateViews(sab);
  Atomics.store(ctl, G.THRESHOLD, o.cookieThreshold);
  const cookieSab = SharedCookieJar.create(Date.now());
  const cookies = new SharedCookieJar(cookieSab, o.cookieRotateMs, false);
  const bound = [...(v4 ? [`${local}:${port}`] : []), ...(v6 ? [`[${v6local ? local : "::"}]:${port}`] : [])];
  let closed = false;
  return {
    bound,
    cookies,
    init: { type: "init", sab, cookieSab, rotateMs: o.cookieRotateMs, fds: socks.map((s) => s.fd), queueMax: o.queueMax, steer: pairs.map((p) => ({ bulk: p.bulk.fd, prio: p.prio.fd })) },
    deliver(buf, addr, p) {
      Atomics.sub(ctl, G.INFLIGHT, 1);
      if (!closed) onMessage(buf, addr, p);
    },
    send(buf, addr, p) {
      if (addr.includes(":")) v6?.send(buf, addr, p);
      else v4?.send(buf, addr, p);
    },
    halfOpen(n) {
      Atomics.store(ctl, G.HALF_OPEN, n);
    },
    counters() {
      const drops: Record<string, number> = {};
      GATE_DROP_REASONS.forEach((r, i) => {
        if (nums[N.drops + i]) drops[r] = nums[N.drops + i];
      });
      if (nums[N.queueFull]) drops["gate-queue-full"] = nums[N.queueFull];
      if (nums[N.truncated]) drops["gate-truncated"] = nums[N.truncated];
      if (nums[N.sendErrors]) drops["gate-send-errors"] = nums[N.sendErrors];
      const steer = nums[NS.steered]
        ? { prioReceived: nums[NS.prioReceived], prioInits: nums[NS.prioInits], misrouted: nums[NS.misrouted], bulkKernelDrops: nums[NS.bulkKernelDrops], prioKernelDrops: nums[NS.prioKernelDrops] }
        : null;
      return { received: nums[N.received], cookiesSent: nums[N.cookiesSent], cookiesValid: nums[N.cookiesValid], forwarded: nums[N.forwarded], drops, steer };
    },
    close() {
      if (closed) return;
      closed = true;
      for (const s of socks) s.close();
      // the secrets are not needed any more
      new SharedCookieJar(cookieSab, o.cookieRotateMs, true).destroy();
    },
  };
}

/** Bind (as {@link bindIkeGate}) and read the sockets in a thread of the gate's own (ike-gate-worker.ts). */
export async function openIkeGate(local: string, port: number, onMessage: Recv, warn: (m: string) => void, o: IkeGateOptions): Promise<IkeGate> {
  const b = bindIkeGate(local, port, onMessage, warn, o);
  const { ctl } = gateViews(b.init.sab);
  const worker = new Worker(gateUrl());
  try {
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        const m = e.data as GateEvent;
        if (m.type === "ike") b.deliver(m.buf, m.addr, m.port);
        else if (m.type === "ready") resolve();
        else if (m.type === "error") {
          if (Atomics.load(ctl, G.READY) !== 1) reject(new Error(`IKE gate: ${m.message}`));
          else warn(`IKE gate stopped: ${m.message}`);
        }
      };
      worker.onerror = (e) => reject(new Error(`IKE gate: ${(e as ErrorEvent).message}`));
      worker.postMessage(b.init);
    });
  } catch (e) {
    worker.terminate();
    b.close();
    throw e;
  }
  (worker as unknown as { unref?: () => void }).unref?.();
  let stopped = false;
  return {
    ...b,
    close() {
      if (stopped) return;
      stopped = true;
      Atomics.store(ctl, G.STOP, 1);
      Atomics.wait(ctl, G.STOPPED, 0, 1000);
      worker.terminate();
      b.close();
    },
  };
}
