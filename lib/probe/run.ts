/**
 * Drives the MTU search (mtu.ts) over a `ProbeTransport`: builds and authenticates probes,
 * verifies acks, feeds EMSGSIZE and ICMP errors back as hints, and waits without blocking
 * the event loop (a 1 ms timer between non-blocking receive polls). Runtime-neutral: the
 * transport (a DF-set UDP socket) is the only I/O, supplied by the platform adapter
 * (lib/platform/bun/probe-socket.ts on Bun).
 * @module
 */
import { MtuSearch, type SearchOptions, type SearchResult } from "./mtu.ts";
import { mtuReport, type MtuReport } from "./report.ts";
import { buildProbe, DEFAULT_MAX_PROBE_SIZE, deriveProbeKey, minProbeSize, parseHeader, PROBE_NONCE_LEN, TYPE_ACK, TYPE_PROBE, verifyMac } from "./wire.ts";
import { ctEqual } from "../core/bytes.ts";

/** One thing that came out of the socket. */
export type TransportEvent =
  | { kind: "data"; data: Uint8Array }
  /** EMSGSIZE from the error queue: an ICMP too-big (origin "icmp") or the local stack ("local"). */
  | { kind: "too-big"; mtu: number; origin: "icmp" | "local"; quoted: Uint8Array | null }
  /** Any other error: ICMP port unreachable (ECONNREFUSED: no responder listening), host unreachable, ... */
  | { kind: "error"; code: string; message: string; origin: "icmp" | "local" };

/** A connected, non-blocking UDP socket with DF set (IP_PMTUDISC_DO / IPV6_DONTFRAG). */
export interface ProbeTransport {
  readonly family: 4 | 6;
  /** The kernel's current path MTU towards the peer (IP_MTU / IPV6_MTU), null if unknown. */
  pathMtu(): number | null;
  /** Send one datagram. "too-big": the local stack refused it (EMSGSIZE). Other errors throw. */
  send(buf: Uint8Array): "sent" | "too-big";
  /** Next pending datagram or error, or null when there is none (never blocks). */
  receive(): TransportEvent | null;
  close(): void;
}

export interface RunOptions extends Partial<SearchOptions> {
  /** Shared secret of the responder (≥ 16 bytes). */
  secret: Uint8Array;
  /** Stop early (SIGINT). */
  signal?: AbortSignal;
  /** Monotonic clock in ms (default performance.now). */
  clock?: () => number;
  /** Wall clock in ms for the probe timestamps (default Date.now). */
  wallClock?: () => number;
  /** Poll interval in ms while waiting (default 1). */
  pollMs?: number;
}

export interface MtuRun extends SearchResult {
  family: 4 | 6;
  /** Search range actually used. */
  min: number;
  max: number;
  /** Kernel PMTU towards the peer before and after the run (IP_MTU), when known. */
  kernelPmtuBefore: number | null;
  kernelPmtuAfter: number | null;
  /** ICMP errors other than too-big (e.g. port unreachable: no responder listening). */
  errors: string[];
  /** Inner MTUs and TCP MSS per cipher and encapsulation (when a path MTU was found). */
  report: MtuReport | null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Run one MTU search over `t`. Resolves when done (or aborted); never leaves timers behind. */
export async function runMtuProbe(t: ProbeTransport, o: RunOptions): Promise<MtuRun> {
  const clock = o.clock ?? (() => performance.now());
  const wall = o.wallClock ?? Date.now;
  const key = deriveProbeKey(o.secret);
  const nonce = crypto.getRandomValues(new Uint8Array(PROBE_NONCE_LEN));
  const family = t.family;
  const kernelBefore = t.pathMtu();
  const floor = minProbeSize(family);
  const min = Math.max(floor, o.min ?? (family === 6 ? 1280 : 576));
  const max = Math.max(min, Math.min(65535, o.max ?? Math.min(kernelBefore ?? 1500, DEFAULT_MAX_PROBE_SIZE)));
  const search = new MtuSearch({ ...o, min, max });
  const errors: string[] = [];
  let fatal: string | null = null;

  const quotedId = (q: Uint8Array | null): number | null => {
    if (!q) return null;
    const h = parseHeader(q);
    if (!h || h.type !== TYPE_PROBE || !ctEqual(h.nonce, nonce) || !verifyMac(key, q)) return null;
    return search.sizeOf(h.id) === undefined ? null : h.id;
  };

  const drain = (): number => {
    let n = 0;
    for (let i = 0; i < 4096; i++) {
      const ev = t.receive();
      if (!ev) break;
      n++;
      const now = clock();
      if (ev.kind === "data") {
        const h = parseHeader(ev.data);
        if (!h || h.type !== TYPE_ACK || ev.data.length !== 44 || !ctEqual(h.nonce, nonce) || !verifyMac(key, ev.data)) continue;
        if (search.sizeOf(h.id) !== h.size) continue;
        search.ack(h.id, now);
      } else if (ev.kind === "too-big") {
        if (ev.origin === "icmp") search.icmp(quotedId(ev.quoted), ev.mtu);
        else search.hint(ev.mtu);
      } else {
        const msg = `${ev.origin === "icmp" ? "ICMP" : "local"} ${ev.code}: ${ev.message}`;
        if (errors.length < 16 && !errors.includes(msg)) errors.push(msg);
        if (ev.code === "ECONNREFUSED") fatal = "the peer answered ICMP port unreachable: no responder is listening on that port";
      }
    }
    return n;
  };

  try {
    for (;;) {
      if (o.signal?.aborted) {
        fatal = "interrupted";
        break;
      }
      if (fatal) break;
      const st = search.step(clock());
      if (st.done) break;
      if (st.send.length) {
        const ts = wall();
        for (const p of st.send) {
          const buf = buildProbe(key, { size: p.size, nonce, id: p.id, ts }, family);
          if (t.send(buf) === "too-big") {
            const k = t.pathMtu();
            search.tooBig(p.id, k !== null && k < p.size ? k : undefined);
          }
        }
        drain();
        continue;
      }
      const wakeAt = st.wakeAt ?? clock() + 10;
      while (clock() < wakeAt && !o.signal?.aborted) {
        if (drain() > 0 || fatal) break;
        await sleep(o.pollMs ?? 1);
      }
    }
    drain();
  } finally {
    key.fill(0);
  }
  const res = search.result(clock());
  const out: MtuRun = {
    ...res,
    family, min, max,
    kernelPmtuBefore: kernelBefore,
    kernelPmtuAfter: t.pathMtu(),
    errors,
    report: res.pathMtu !== null ? mtuReport(res.pathMtu, family) : null,
  };
  if (fatal) {
    out.ok = false;
    out.error = fatal;
  }
  return out;
}
