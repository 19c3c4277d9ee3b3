/**
 * Live capture from a network interface (`vpnkit decode -i IFACE`): the small
 * platform interface. A live source is a {@link CaptureReader} like a file's: records
 * with time stamp, link type and bytes (plus the interface name and packet direction
 * where the platform knows them), in batches of what was available when read, with
 * `live: true` so the decode loop hands each packet's output on at once.
 *
 * The Linux implementation (AF_PACKET through bun:ffi) is lib/platform/bun/af-packet.ts;
 * this module is runtime-neutral.
 * @module
 */
import type { BpfInsn } from "./bpf-ipsec.ts";
import type { CaptureReader, CaptureRecord } from "./types.ts";

export interface LiveCaptureOptions {
  /** Interface name, or "any" for every interface (Linux cooked SLL2 records). */
  iface: string;
  /**
   * Kernel filter: undefined keeps the default IPsec-only program (lib/capture/bpf-ipsec.ts,
   * built for the interface's link header), a program replaces it (a user filter compiled
   * to cBPF for this link type), null captures everything.
   */
  filter?: BpfInsn[] | ((link: { linkType: number; linkHeader: 0 | 14 }) => BpfInsn[]) | null;
  /** User-space predicate run on every record the kernel delivers; false drops it (not numbered). */
  predicate?: (rec: CaptureRecord) => boolean;
  /** Extra UDP ports of the default filter (--ike-port, --natt-port). */
  udpPorts?: number[];
  /** Extra TCP ports of the default filter (--tcp-port). */
  tcpPorts?: number[];
  /** Bytes kept per packet (default 262144). */
  snaplen?: number;
  /** Most records per batch (default 256). */
  batchSize?: number;
}

/** Counters of a live source (tcpdump's "packets captured / dropped by kernel"). */
export interface LiveStats {
  /** Records handed on. */
  captured: number;
  /** Packets the kernel dropped for lack of buffer space (PACKET_STATISTICS), when known. */
  kernelDrops?: number;
}

/** A live capture: a reader whose batches wait for the network. */
export interface LiveCapture extends CaptureReader {
  live: true;
  /** Link type of the records (LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_LINUX_SLL2). */
  linkType: number;
  stats(): LiveStats;
  /** Stop capturing and release the socket (safe while a batch is awaited: it ends). */
  close(): void;
}

/** Opens a live capture on this platform. */
export type LiveCaptureOpener = (opts: LiveCaptureOptions) => LiveCapture;

/** A capture the user cannot start for lack of privilege (EPERM/EACCES from socket()). */
export class LiveCapturePermissionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LiveCapturePermissionError";
  }
}

/**
 * Why live capture cannot run on `platform` (a `process.platform` value), or null when
 * it can: AF_PACKET is Linux-only.
 */
export function liveCaptureUnsupported(platform: string): string | null {
  return platform === "linux" ? null : `live capture needs Linux (this is ${platform}); pipe tcpdump into \`vpnkit decode -\`: tcpdump -U -w - -i IFACE 'udp port 500 or udp port 4500 or esp' | vpnkit decode -`;
}

/**
 * The next batch of `it`, or null as soon as `signal` aborts (SIGINT while a live source
 * waits). The abort listener is removed again when the batch comes: no reaction piles
 * up on a long-lived promise (each would keep its batch alive).
 */
export function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
