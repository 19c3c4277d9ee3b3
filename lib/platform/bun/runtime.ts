/**
 * The runtime both `vpnkit up` modes share on Bun (manual keys: up.ts; IKEv2: ike-up.ts):
 * the TUN device with its addresses and routes, the UDP socket of the packet path and its
 * buffers, the data-plane worker (start, commands, counters, stop), the AEAD choice and
 * the control socket.
 * @module
 */
import { vpnkitEnv } from "../../core/env.ts";
import type { TunnelConfig } from "../../tunnel/config.ts";
import { ControlServer, type ReloadResult, type TunnelStatus } from "../../tunnel/control.ts";
import { configureLink, removeLink, TunDevice, type TunOpenOptions } from "./tun.ts";
import { growSocketBuffers, UDP_BUFFER_BYTES } from "./udp.ts";
import { type DataPlaneCommand, type DataPlaneEvent, type DataPlaneInit, FLAG_APPLIED, FLAG_READY, FLAG_STOP, FLAG_STOPPED, FLAG_WAKE, readCounters, SHARED_BYTES, sharedViews } from "./dataplane-shared.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";
import { FFIType } from "bun:ffi";
import { getLibc, libcSymbols } from "./libc.ts";
import type { Teardown } from "./manual-path.ts";

/** The fields of a tunnel configuration (manual keys or IKEv2) that the TUN and the UDP socket need. */
export type LinkConfig = Pick<TunnelConfig, "tunName" | "tunMtu" | "tunAddr" | "routes" | "local" | "localPort">;

/** Open the TUN device (offload unless VPNKIT_TUN_OFFLOAD=0) and give it its addresses and routes. */
export function openTun(cfg: LinkConfig, td: Teardown, reader: TunOpenOptions["reader"]): { tun: TunDevice; offload: boolean } {
  // TSO super-packet reads + GRO-like coalesced writes (VPNKIT_TUN_OFFLOAD=0: plain TUN).
  const offload = vpnkitEnv("VPNKIT_TUN_OFFLOAD") !== "0";
  const tun = TunDevice.open({ name: cfg.tunName, reader, offload });
  td.push(() => removeLink(tun.name));
  td.push(() => tun.close());
  configureLink(tun.name, { mtu: cfg.tunMtu, addresses: cfg.tunAddr, routes: cfg.routes.map((r) => r.text) });
  return { tun, offload };
}

/**
 * Bigger socket buffers: the default (~208 KiB) overflows in bursts (UDP RcvbufErrors, then
 * TCP retransmits inside the tunnel). VPNKIT_UDP_BUF=0 keeps the default.
 */
export function growBuffers(fd: number, log: (msg: string) => void): void {
  const bytes = Number(vpnkitEnv("VPNKIT_UDP_BUF") ?? UDP_BUFFER_BYTES);
  if (bytes > 0 && !growSocketBuffers(fd, bytes)) log("vpnkit up: could not enlarge the UDP socket buffers");
}

/** AEAD through libcrypto (bun:ffi) unless VPNKIT_AEAD=default; lib/esp's default when libcrypto is missing. */
export function aeadChoice(): "ffi" | "default" {
  return vpnkitEnv("VPNKIT_AEAD") === "default" ? "default" : "ffi";
}

export async function serveControl(cfg: Pick<TunnelConfig, "control">, status: () => TunnelStatus, td: Teardown, reload?: () => Promise<ReloadResult>): Promise<void> {
  const control = new ControlServer(cfg.control, status, reload);
  await control.listen();
  td.push(() => control.close());
}

function workerUrl(): string {
  // Compiled (bun build --compile, scripts/build.ts lists the worker as an entry point):
  // entry points are named by their path in the project. From source: next to this file.
  return import.meta.url.includes("/$bunfs/") ? "./lib/platform/bun/dataplane-worker.ts" : new URL("./dataplane-worker.ts", import.meta.url).href;
}

let eventfdLib: { eventfd: (init: number, flags: number) => number } | null = null;
function makeEventFd(): number {
  eventfdLib ??= libcSymbols({ eventfd: { args: [FFIType.u32, FFIType.i32], returns: FFIType.i32 } });
  const fd = eventfdLib.eventfd(0, 0o2000000 | 0o4000); // EFD_CLOEXEC | EFD_NONBLOCK
  if (fd < 0) throw new Error("eventfd() failed");
  return fd;
}

/** What {@link launchDataPlane} needs besides the TUN and the UDP socket. */
export type DataPlaneSpec = Omit<DataPlaneInit, "type" | "sab" | "wakeFd" | "tunFd" | "tunName" | "offload" | "udpFd" | "gso" | "aead" | "keepWarmMs"> & {
  keepWarmMs: number;
};

/** A running data-plane worker, as the main thread sees it. */
export interface DataPlane {
  /** Hand the worker a command (IKEv2 installs, removes, sends) and wake it. */
  command(m: DataPlaneCommand): void;
  /**
   * True when the worker has applied every command posted so far: a datagram the main thread
   * then sends itself on the shared socket cannot overtake an install (or an earlier send)
   * still queued for the worker. Saves the message, the wake-up (an eventfd write: ~20 % of
   * the main thread's samples under bench/ike/held.sh) and the worker's turn per IKE datagram.
   */
  idle(): boolean;
  /** The counters it published last. */
  counters(): ReturnType<typeof readCounters>;
}

/**
 * Start the data-plane worker (dataplane-worker.ts) on an open TUN device and a bound UDP
 * socket, and wait until it runs. The keys in `spec` are copied by postMessage and zeroed
 * here at once. Pushes its own stop onto `td`: set the stop flag, wake the worker, wait
 * until it has destroyed its SAs (keys zeroed), then terminate it; only then are the fds
 * (pushed earlier) closed under it. `onEvent` gets the worker's "ike", "ike-gate" and "sa-event" messages.
 */
export async function launchDataPlane(
  tun: TunDevice,
  offload: boolean,
  udp: FfiUdpSocket,
  spec: DataPlaneSpec,
  td: Teardown,
  log: (msg: string) => void,
  onFatal?: (reason: string) => void,
  onEvent?: (e: Extract<DataPlaneEvent, { type: "ike" | "ike-gate" | "sa-event" | "unknown-spi" }>) => void,
): Promise<DataPlane> {
  try {
    const wakeFd = makeEventFd();
    const libc = getLibc();
    td.push(() => libc.close(wakeFd));
    const sab = new SharedArrayBuffer(SHARED_BYTES);
    const { flags, nums } = sharedViews(sab);
    const init: DataPlaneInit = {
      ...spec, type: "init", sab, wakeFd, tunFd: tun.fd, tunName: tun.name, offload, udpFd: udp.fd,
      gso: vpnkitEnv("VPNKIT_UDP_GSO") !== "0",
      aead: aeadChoice(),
      keepWarmMs: Number(vpnkitEnv("VPNKIT_KEEP_WARM_MS") ?? spec.keepWarmMs),
    };
    const worker = new Worker(workerUrl());
    const wake = new Uint8Array(8);
    wake[0] = 1;
    let stoppedWorker = false;
    /** Commands posted (Int32 arithmetic, as the worker's FLAG_APPLIED count). */
    let posted = 0;
    const stopWorker = () => {
      if (stoppedWorker) return;
      stoppedWorker = true;
      Atomics.store(flags, FLAG_STOP, 1);
      libc.write(wakeFd, wake, 8);
      // The worker leaves its loop within one wake-up, destroys its SAs (zeroing the keys)
      // and sets FLAG_STOPPED; only then are the fds closed under it.
      Atomics.wait(flags, FLAG_STOPPED, 0, 1000);
      worker.terminate();
    };
    td.push(stopWorker);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        const m = e.data as DataPlaneEvent;
        if (m.type === "ready") resolve();
        else if (m.type === "error") {
          if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(`data plane: ${m.message}`));
          else if (!stoppedWorker) onFatal?.(`data plane stopped: ${m.message}`);
        } else if (m.type === "log") log(m.message);
        else onEvent?.(m);
      };
      worker.onerror = (e) => {
        const msg = `data plane worker: ${(e as ErrorEvent).message}`;
        if (Atomics.load(flags, FLAG_READY) !== 1) reject(new Error(msg));
        else if (!stoppedWorker) onFatal?.(msg);
      };
    });
    worker.postMessage(init);
    // postMessage copied the keys; ours are not needed any more
    spec.outbound?.keyMaterial.fill(0);
    spec.inbound?.keyMaterial.fill(0);
    await ready;
    // the UDP socket belongs to the worker now; the control socket keeps the process alive
    (worker as unknown as { unref?: () => void }).unref?.();
    return {
      command(m) {
        if (stoppedWorker) return;
        worker.postMessage(m);
        posted = (posted + 1) | 0;
        // one wake-up until the worker has read it (an install and the IKE_AUTH response behind it: one)
        if (Atomics.exchange(flags, FLAG_WAKE, 1) === 0) libc.write(wakeFd, wake, 8);
      },
      idle: () => !stoppedWorker && Atomics.load(flags, FLAG_APPLIED) === posted,
      counters: () => readCounters(nums),
    };
  } finally {
    // also when the worker could not be started
    spec.outbound?.keyMaterial.fill(0);
    spec.inbound?.keyMaterial.fill(0);
  }
}

/**
 * Open the TUN device and bind the UDP socket for a data-plane worker (errors surface here).
 * `dual` (IKEv2): with the IPv4 wildcard address also [::]:port, IPv6 only (`udp6`; skipped
 * with a warning when IPv6 is not there).
 */
export function openWorkerIo(cfg: LinkConfig, td: Teardown, log: (msg: string) => void, dual = false): { tun: TunDevice; offload: boolean; udp: FfiUdpSocket; udp6: FfiUdpSocket | null } {
  const { tun, offload } = openTun(cfg, td, "external");
  const udp = FfiUdpSocket.bind(cfg.local, cfg.localPort);
  td.push(() => udp.close());
  growBuffers(udp.fd, log);
  let udp6: FfiUdpSocket | null = null;
  if (dual && cfg.local === "0.0.0.0") {
    try {
      const s = FfiUdpSocket.bind("::", cfg.localPort);
      td.push(() => s.close());
      growBuffers(s.fd, log);
      udp6 = s;
    } catch (e) {
      log(`no IPv6 socket on port ${cfg.localPort}: ${(e as Error).message}`);
    }
  }
  return { tun, offload, udp, udp6 };
}
