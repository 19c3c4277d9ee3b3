/**
 * Test-only simulated path for the MTU search core: one-way loss, RTT with jitter, a router
 * with a smaller MTU that either answers with ICMP (and the "kernel" then caches the PMTU and
 * refuses larger sends with EMSGSIZE, as IP_PMTUDISC_DO does) or silently drops (black hole).
 * Deterministic: seeded PRNG, virtual clock.
 */
import { MtuSearch, type SearchOptions, type SearchResult } from "../../lib/probe/mtu.ts";

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface PathSpec {
  /** True path MTU (smallest link). */
  mtu: number;
  /** Router sends ICMP too-big (else black hole). */
  icmp: boolean;
  /** Loss probability per direction. */
  loss?: number;
  /** RTT in ms (default 20) and jitter in ms (default 2). */
  rtt?: number;
  jitter?: number;
  seed?: number;
  /** Lose every ICMP message with this probability (default: same as loss). */
  icmpLoss?: number;
}

type Ev = { at: number; kind: "ack"; id: number } | { at: number; kind: "icmp"; id: number; mtu: number };

export function simulate(path: PathSpec, opts: SearchOptions): SearchResult & { sent: number[] } {
  const rnd = mulberry32(path.seed ?? 1);
  const loss = path.loss ?? 0;
  const icmpLoss = path.icmpLoss ?? loss;
  const rtt = path.rtt ?? 20;
  const jitter = path.jitter ?? 2;
  const s = new MtuSearch(opts);
  const events: Ev[] = [];
  const sent: number[] = [];
  let kernelPmtu = opts.max;
  let now = 1_000_000;
  for (let iter = 0; iter < 100_000; iter++) {
    const st = s.step(now);
    if (st.done) break;
    for (const p of st.send) {
      sent.push(p.size);
      if (p.size > kernelPmtu) {
        s.tooBig(p.id, kernelPmtu);
        continue;
      }
      if (rnd() < loss) continue; // lost on the way out
      if (p.size > path.mtu) {
        if (path.icmp && rnd() >= icmpLoss) events.push({ at: now + rtt / 2 + rnd() * jitter, kind: "icmp", id: p.id, mtu: path.mtu });
        continue;
      }
      if (rnd() < loss) continue; // ack lost
      events.push({ at: now + rtt + rnd() * jitter, kind: "ack", id: p.id });
    }
    if (st.send.length > 0) continue; // step again at the same instant (EMSGSIZE may have decided)
    events.sort((a, b) => a.at - b.at);
    const next = Math.min(st.wakeAt ?? Infinity, events.length ? events[0].at : Infinity);
    if (next === Infinity) throw new Error("simulation stalled");
    now = Math.max(now, next);
    while (events.length && events[0].at <= now) {
      const e = events.shift()!;
      if (e.kind === "ack") s.ack(e.id, e.at);
      else {
        kernelPmtu = Math.min(kernelPmtu, e.mtu);
        s.icmp(e.id, e.mtu);
      }
    }
  }
  return { ...s.result(now), sent };
}
