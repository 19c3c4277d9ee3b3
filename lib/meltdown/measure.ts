/**
 * Meltdown measurement core (runtime-neutral: no I/O here). Parses what the tools print
 * (iperf3 -J, `ss -tin`, ping) and turns one bounded transfer into a {@link MeltdownRun}:
 * inner goodput, inner retransmissions (the inner TCP sender's count), outer retransmissions
 * (the outer TCP connection's count, TCP transport only), RTT inflation (mean inner RTT
 * under load / idle RTT through the tunnel) and stalls (intervals with zero goodput).
 * @module
 */

export interface Interval {
  /** End of the interval, seconds since the start. */
  t: number;
  /** Goodput in the interval, bit/s (receiver side when available). */
  bps: number;
  /** Inner TCP retransmissions in the interval (sender). */
  retr: number;
  /** Smoothed inner RTT at the end of the interval, ms (sender's TCP_INFO), or null. */
  rttMs: number | null;
}

export interface TransferResult {
  bps: number;
  retr: number | null;
  meanRttMs: number | null;
  intervals: Interval[];
  error?: string;
}

/** Parse `iperf3 -c ... -J [--get-server-output]` output. Never throws. */
export function parseIperfJson(text: string): TransferResult {
  let j: Record<string, any>;
  try {
    j = JSON.parse(text);
  } catch {
    return { bps: 0, retr: null, meanRttMs: null, intervals: [], error: `iperf3 output is not JSON: ${text.slice(0, 200)}` };
  }
  if (j.error && !j.end?.sum_received) return { bps: 0, retr: null, meanRttMs: null, intervals: [], error: `iperf3: ${j.error}` };
  const cl: any[] = Array.isArray(j.intervals) ? j.intervals : [];
  const srv: any[] = Array.isArray(j.server_output_json?.intervals) ? j.server_output_json.intervals : [];
  const intervals: Interval[] = cl.map((iv, i) => {
    const s = iv.sum ?? {};
    const st = iv.streams?.[0] ?? {};
    const rs = srv[i]?.sum;
    return {
      t: Number(s.end ?? 0),
      bps: Number(rs?.bits_per_second ?? s.bits_per_second ?? 0),
      retr: Number(s.retransmits ?? 0),
      rttMs: typeof st.rtt === "number" ? st.rtt / 1000 : null,
    };
  });
  const end = j.end ?? {};
  const sender = end.streams?.[0]?.sender ?? {};
  return {
    bps: Number(end.sum_received?.bits_per_second ?? 0),
    retr: typeof end.sum_sent?.retransmits === "number" ? end.sum_sent.retransmits : null,
    meanRttMs: typeof sender.mean_rtt === "number" ? sender.mean_rtt / 1000 : null,
    intervals,
  };
}

/**
 * Total retransmissions of the TCP connections in `ss -tin` output (the `retrans:cur/total`
 * field; one connection per two lines). Null when no connection was listed.
 */
export function parseSsRetrans(text: string): number | null {
  let n = 0, seen = false;
  for (const line of text.split("\n")) {
    // with a state filter ss omits the State column: "Recv-Q Send-Q Local:Port Peer:Port"
    if (/^(ESTAB|SYN-SENT|FIN-WAIT|CLOSE-WAIT|LAST-ACK|\d+\s+\d+\s)/.test(line.trim()) && /\S+:\d+\s+\S+:\d+/.test(line)) seen = true;
    const m = /\bretrans:\d+\/(\d+)/.exec(line);
    if (m) n += Number(m[1]);
  }
  return seen ? n : null;
}

/** Congestion control of the first connection in `ss -tin` output ("cubic", "bbr", ...), or null. */
export function parseSsCc(text: string): string | null {
  const m = /^\s+(?:ts\s+)?(?:sack\s+)?(?:ecn\s+)?(?:ecnseen\s+)?(?:fastopen\s+)?([a-z][a-z0-9_]*)\s+wscale:/m.exec(text);
  return m ? m[1] : null;
}

/** Average RTT (ms) from `ping -q` output, or null. */
export function parsePingAvg(text: string): number | null {
  const m = /= [\d.]+\/([\d.]+)\/[\d.]+/.exec(text);
  return m ? Number(m[1]) : null;
}

export type Transport = "udp" | "tcp";

export interface MeltdownRun {
  /** What carried the inner TCP: "vpnkit-udp", "vpnkit-tcp", "openvpn-udp", ... */
  tunnel: string;
  transport: Transport;
  /** Outer loss probability added (each direction, 0..1), null when none was added (the path's own). */
  loss: number | null;
  goodputMbps: number;
  innerRetr: number | null;
  /** Outer TCP retransmissions during the transfer (sender side); null for UDP or unknown. */
  outerRetr: number | null;
  /** Congestion control of the outer TCP connection (from ss), TCP transport only. */
  outerCc?: string | null;
  idleRttMs: number | null;
  loadedRttMs: number | null;
  /** loadedRttMs / idleRttMs. */
  rttInflation: number | null;
  /** Intervals with zero goodput, and their share of the run. */
  stalls: number;
  stallSec: number;
  intervals: Interval[];
  error?: string;
}

/** Combine one transfer and its context into a run. */
export function toRun(o: { tunnel: string; transport: Transport; loss: number | null; idleRttMs: number | null; outerBefore: number | null; outerAfter: number | null; r: TransferResult }): MeltdownRun {
  const { r } = o;
  const ivs = r.intervals;
  const stalled = ivs.filter((iv) => iv.bps === 0);
  let stallSec = 0;
  for (let i = 0; i < ivs.length; i++) if (ivs[i].bps === 0) stallSec += ivs[i].t - (i > 0 ? ivs[i - 1].t : 0);
  // a smaller count afterwards means a new connection (reconnect): its count is a lower bound
  const outer = o.transport === "tcp" && o.outerBefore !== null && o.outerAfter !== null
    ? (o.outerAfter >= o.outerBefore ? o.outerAfter - o.outerBefore : o.outerAfter)
    : null;
  return {
    tunnel: o.tunnel,
    transport: o.transport,
    loss: o.loss,
    goodputMbps: r.bps / 1e6,
    innerRetr: r.retr,
    outerRetr: outer,
    idleRttMs: o.idleRttMs,
    loadedRttMs: r.meanRttMs,
    rttInflation: r.meanRttMs !== null && o.idleRttMs ? r.meanRttMs / o.idleRttMs : null,
    stalls: stalled.length,
    stallSec: Math.round(stallSec * 10) / 10,
    intervals: ivs,
    error: r.error,
  };
}
