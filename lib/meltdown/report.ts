/**
 * Rendering of meltdown runs: a table, a terminal chart (goodput per interval), a verdict
 * computed from the runs (which transport did better at which loss, on this path), and an
 * HTML report with inline SVG plots. No I/O.
 * @module
 */
import type { MeltdownRun } from "./measure.ts";

export interface MeltdownMeta {
  /** Free text: how the path was made (lab parameters) or which peer. */
  path: string;
  cc: string;
  durationSec: number;
  command: string;
  date: string;
}

const f1 = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(d));
/** Outer retransmissions, with the outer connection's congestion control when known. */
const outerText = (r: MeltdownRun) => (r.transport === "udp" ? "n/a" : `${r.outerRetr ?? "?"}${r.outerCc ? ` (${r.outerCc})` : ""}`);
const lossText = (l: number | null) => (l === null ? "none added" : `${+(l * 100).toFixed(2)}%`);

export function renderTable(runs: MeltdownRun[]): string {
  const head = ["tunnel", "loss", "goodput Mbit/s", "inner retr", "outer retr", "idle RTT ms", "loaded RTT ms", "RTT x", "stalls (s)"];
  const rows = runs.map((r) => [
    r.tunnel, lossText(r.loss), r.error ? `ERR` : f1(r.goodputMbps), r.innerRetr === null ? "-" : String(r.innerRetr),
    outerText(r),
    f1(r.idleRttMs, 2), f1(r.loadedRttMs, 1), f1(r.rttInflation, 1), `${r.stalls} (${f1(r.stallSec)})`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i < 2 ? x.padEnd(w[i]) : x.padStart(w[i]))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

/** Markdown table (bench RESULTS.md). */
export function renderMarkdown(runs: MeltdownRun[]): string {
  const out = ["| tunnel | outer loss | goodput Mbit/s | inner retr | outer retr | idle RTT ms | loaded RTT ms | RTT inflation | stalls (s) |", "|---|---|---|---|---|---|---|---|---|"];
  for (const r of runs) {
    out.push(`| ${r.tunnel} | ${lossText(r.loss)} | ${r.error ? "ERR" : f1(r.goodputMbps)} | ${r.innerRetr ?? "-"} | ${outerText(r)} | ${f1(r.idleRttMs, 2)} | ${f1(r.loadedRttMs)} | ${f1(r.rttInflation)} | ${r.stalls} (${f1(r.stallSec)}) |`);
  }
  return out.join("\n");
}

const BARS = "▁▂▃▄▅▆▇█";

/** One line per run: goodput per interval, scaled to the highest interval of all runs; "·" = stall. */
export function renderChart(runs: MeltdownRun[]): string {
  const max = Math.max(1, ...runs.flatMap((r) => r.intervals.map((i) => i.bps)));
  const label = (r: MeltdownRun) => `${r.tunnel} ${lossText(r.loss)}`;
  const lw = Math.max(...runs.map((r) => label(r).length));
  const lines = runs.map((r) => {
    const s = r.intervals.map((i) => (i.bps === 0 ? "·" : BARS[Math.min(7, Math.floor((i.bps / max) * 8))])).join("");
    return `${label(r).padEnd(lw)} |${s}| ${f1(r.goodputMbps)} Mbit/s`;
  });
  lines.push(`${"".padEnd(lw)}  scale: █ = ${(max / 1e6).toFixed(0)} Mbit/s per interval, · = no goodput (stall)`);
  return lines.join("\n");
}

/**
 * What the runs say, per loss level: the TCP/UDP goodput ratio of each tunnel family, and
 * whether the winner changes with loss. Only what was measured, on this path.
 */
export function verdict(runs: MeltdownRun[], meta: MeltdownMeta): string[] {
  const out: string[] = [];
  const families = [...new Set(runs.map((r) => r.tunnel.replace(/-(udp|tcp)$/, "")))];
  for (const fam of families) {
    const losses = [...new Set(runs.filter((r) => r.tunnel.startsWith(fam + "-")).map((r) => r.loss))];
    const parts: string[] = [];
    const winners: string[] = [];
    for (const l of losses) {
      const u = runs.find((r) => r.tunnel === `${fam}-udp` && r.loss === l && !r.error);
      const t = runs.find((r) => r.tunnel === `${fam}-tcp` && r.loss === l && !r.error);
      if (!u || !t || u.goodputMbps <= 0) continue;
      const ratio = t.goodputMbps / u.goodputMbps;
      const w = ratio > 1.15 ? "tcp" : ratio < 0.87 ? "udp" : "tie";
      winners.push(w);
      parts.push(`loss ${lossText(l)}: TCP/UDP ${ratio.toFixed(2)} (${w === "tie" ? "within ±15%, treat as equal" : w.toUpperCase() + " better"})`);
    }
    if (parts.length === 0) continue;
    out.push(`${fam}: ${parts.join("; ")}.`);
    const distinct = new Set(winners.filter((w) => w !== "tie"));
    if (distinct.size > 1) out.push(`${fam}: the better transport changes with the loss rate on this path.`);
  }
  const rtt = runs.map((r) => r.idleRttMs).filter((x): x is number => x !== null);
  const rttText = rtt.length ? `${Math.min(...rtt).toFixed(1)}–${Math.max(...rtt).toFixed(1)} ms idle RTT` : "unknown RTT";
  out.push(
    `These numbers hold for this path only (${meta.path}; ${rttText}; congestion control ${meta.cc}; ${meta.durationSec} s per transfer). ` +
      "Whether TCP-over-TCP loses depends on RTT, loss pattern and congestion control: with a short RTT the outer TCP repairs losses " +
      "before the inner TCP notices and can win under heavy loss; with a long RTT its retransmissions and head-of-line blocking stall " +
      "the inner flow. Measure the path you will use.",
  );
  return out;
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const COLORS: Record<string, string> = { "vpnkit-udp": "#1f77b4", "vpnkit-tcp": "#d62728", "openvpn-udp": "#2ca02c", "openvpn-tcp": "#ff7f0e" };

/** One SVG: goodput over time for the runs at one loss level. */
function svgPlot(runs: MeltdownRun[], title: string, yMax: number): string {
  const W = 420, H = 220, L = 48, R = 10, T = 24, B = 32;
  const tMax = Math.max(1, ...runs.flatMap((r) => r.intervals.map((i) => i.t)));
  const x = (t: number) => L + (t / tMax) * (W - L - R);
  const y = (b: number) => H - B - (b / yMax) * (H - T - B);
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`];
  parts.push(`<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`);
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<text x="${L - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10">${(v / 1e6).toFixed(0)}</text><line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#eee"/>`);
  }
  parts.push(`<text x="${(L + W) / 2}" y="${H - 6}" text-anchor="middle" font-size="10">seconds (y: Mbit/s goodput per interval)</text>`);
  runs.forEach((r, i) => {
    const pts = r.intervals.map((iv) => `${x(iv.t).toFixed(1)},${y(iv.bps).toFixed(1)}`).join(" ");
    const c = COLORS[r.tunnel] ?? "#555";
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${pts}"/>`);
    parts.push(`<text x="${W - R - 4}" y="${T + 12 + i * 12}" text-anchor="end" font-size="10" fill="${c}">${esc(r.tunnel)} ${r.goodputMbps.toFixed(1)} Mbit/s</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

export function renderHtml(runs: MeltdownRun[], meta: MeltdownMeta): string {
  const losses = [...new Set(runs.map((r) => r.loss))];
  const yMax = Math.max(1e6, ...runs.flatMap((r) => r.intervals.map((i) => i.bps))) * 1.05;
  const plots = losses.map((l) => svgPlot(runs.filter((r) => r.loss === l), `outer loss ${lossText(l)}`, yMax)).join("\n");
  const rows = runs.map((r) =>
    `<tr><td>${esc(r.tunnel)}</td><td>${lossText(r.loss)}</td><td>${r.error ? "ERR: " + esc(r.error) : f1(r.goodputMbps)}</td><td>${r.innerRetr ?? "-"}</td><td>${outerText(r)}</td><td>${f1(r.idleRttMs, 2)}</td><td>${f1(r.loadedRttMs)}</td><td>${f1(r.rttInflation)}</td><td>${r.stalls} (${f1(r.stallSec)} s)</td></tr>`
  ).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>vpnkit meltdown</title>
<style>body{font-family:sans-serif;max-width:1000px;margin:1em auto}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}svg{margin:4px;border:1px solid #ddd}</style></head><body>
<h1>TCP over TCP: UDP vs TCP outer transport</h1>
<p>${esc(meta.path)}. Congestion control: ${esc(meta.cc)}. ${meta.durationSec} s per transfer. ${esc(meta.date)}.<br><code>${esc(meta.command)}</code></p>
<h2>What this path says</h2><ul>${verdict(runs, meta).map((v) => `<li>${esc(v)}</li>`).join("")}</ul>
<h2>Runs</h2><table><tr><th>tunnel</th><th>outer loss</th><th>goodput Mbit/s</th><th>inner retr</th><th>outer retr</th><th>idle RTT ms</th><th>loaded RTT ms</th><th>RTT inflation</th><th>stalls</th></tr>
${rows}</table>
<p>inner retr: retransmissions of the inner TCP sender. outer retr: of the outer TCP connection (TCP transport only; UDP has none to count). RTT inflation: mean inner RTT under load / idle RTT through the tunnel. Stalls: intervals with zero goodput.</p>
<h2>Goodput over time</h2>${plots}
</body></html>
`;
}
