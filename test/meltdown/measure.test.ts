import { describe, expect, test } from "bun:test";
import { parseIperfJson, parsePingAvg, parseSsCc, parseSsRetrans, toRun } from "../../lib/meltdown/measure.ts";
import { renderChart, renderHtml, renderMarkdown, renderTable, verdict } from "../../lib/meltdown/report.ts";

// shapes as printed by iperf3 3.12 -J --get-server-output (trimmed), ss 6.x, ping
const IPERF = JSON.stringify({
  intervals: [
    { streams: [{ rtt: 41000 }], sum: { end: 0.5, bits_per_second: 8e7, retransmits: 2 } },
    { streams: [{ rtt: 45000 }], sum: { end: 1.0, bits_per_second: 0, retransmits: 0 } },
  ],
  end: { sum_received: { bits_per_second: 4e7 }, sum_sent: { retransmits: 2 }, streams: [{ sender: { mean_rtt: 43000 } }] },
  server_output_json: { intervals: [{ sum: { bits_per_second: 7.9e7 } }, { sum: { bits_per_second: 0 } }] },
});
const SS_STATE = `Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
0      0         10.93.1.1:45920    10.93.2.1:4500
\t cubic wscale:7,7 rto:204 rtt:1.2/0.5 mss:1448 retrans:0/17 lost:0 bytes_retrans:24616
`;
const SS_ALL = `State Recv-Q Send-Q Local Address:Port Peer Address:Port
ESTAB 0      0      10.93.1.1:45920    10.93.2.1:4500
\t bbr rtt:1.2/0.5 retrans:1/3
ESTAB 0      0      10.93.1.1:45921    10.93.2.1:4500
\t bbr rtt:1.2/0.5 retrans:0/4
`;

describe("meltdown measure", () => {
  test("iperf3 JSON: receiver-side intervals, sender retransmits and RTT", () => {
    const r = parseIperfJson(IPERF);
    expect(r.bps).toBe(4e7);
    expect(r.retr).toBe(2);
    expect(r.meanRttMs).toBe(43);
    expect(r.intervals).toEqual([{ t: 0.5, bps: 7.9e7, retr: 2, rttMs: 41 }, { t: 1, bps: 0, retr: 0, rttMs: 45 }]);
  });
  test("iperf3 errors and garbage never throw", () => {
    expect(parseIperfJson("nope").error).toContain("not JSON");
    expect(parseIperfJson(JSON.stringify({ error: "unable to connect" })).error).toContain("unable to connect");
    expect(parseIperfJson("{}").bps).toBe(0);
  });
  test("ss retrans totals, with and without the State column; none listed = null", () => {
    expect(parseSsRetrans(SS_STATE)).toBe(17);
    expect(parseSsRetrans(SS_ALL)).toBe(7);
    expect(parseSsCc(SS_STATE)).toBe("cubic");
    expect(parseSsCc("\t ts sack bbr wscale:7,7 rto:201")).toBe("bbr");
    expect(parseSsRetrans("Recv-Q Send-Q Local Address:Port Peer Address:PortProcess\n")).toBeNull();
  });
  test("ping average", () => {
    expect(parsePingAvg("rtt min/avg/max/mdev = 40.101/40.350/40.700/0.2 ms")).toBe(40.35);
    expect(parsePingAvg("100% packet loss")).toBeNull();
  });
  test("run: stalls, outer retransmissions (TCP only), RTT inflation; reports render", () => {
    const r = parseIperfJson(IPERF);
    const tcp = toRun({ tunnel: "vpnkit-tcp", transport: "tcp", loss: 0.02, idleRttMs: 40, outerBefore: 10, outerAfter: 27, r });
    const udp = toRun({ tunnel: "vpnkit-udp", transport: "udp", loss: 0.02, idleRttMs: 40, outerBefore: null, outerAfter: null, r: { ...r, bps: 8e7 } });
    expect(tcp.stalls).toBe(1);
    expect(tcp.stallSec).toBe(0.5);
    expect(tcp.outerRetr).toBe(17);
    expect(udp.outerRetr).toBeNull();
    expect(tcp.rttInflation).toBeCloseTo(43 / 40);
    const meta = { path: "test path", cc: "cubic", durationSec: 1, command: "vpnkit meltdown --lab", date: "2026-11-25" };
    expect(renderTable([udp, tcp])).toContain("vpnkit-tcp");
    expect(renderMarkdown([udp, tcp])).toContain("| vpnkit-tcp | 2% | 40.0 | 2 | 17 |");
    expect(renderChart([udp, tcp])).toContain("·");
    const v = verdict([udp, tcp], meta);
    expect(v[0]).toContain("TCP/UDP 0.50 (UDP better)");
    expect(v.at(-1)).toContain("this path only");
    const html = renderHtml([udp, tcp], meta);
    expect(html).toContain("<svg");
    expect(html).toContain("<polyline");
  });
  test("verdict says when the better transport changes with loss", () => {
    const mk = (tunnel: string, transport: "udp" | "tcp", loss: number, bps: number) =>
      toRun({ tunnel, transport, loss, idleRttMs: 1, outerBefore: 0, outerAfter: 0, r: { bps, retr: 0, meanRttMs: 1, intervals: [] } });
    const v = verdict([mk("vpnkit-udp", "udp", 0, 90e6), mk("vpnkit-tcp", "tcp", 0, 60e6), mk("vpnkit-udp", "udp", 0.05, 6e6), mk("vpnkit-tcp", "tcp", 0.05, 39e6)], { path: "p", cc: "cubic", durationSec: 1, command: "", date: "" });
    expect(v.join("\n")).toContain("changes with the loss rate");
  });
});
