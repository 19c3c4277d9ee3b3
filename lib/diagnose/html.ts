/**
 * `vpnkit diagnose --html`: the diagnosis as one self-contained HTML page (inline CSS and
 * SVG, no script, no external resource): the verdict, then per IKE SA a ladder diagram
 * ({@link renderLadder}) with that SA's findings beside it, then the remaining findings
 * and the ESP SAs. Light and dark (prefers-color-scheme) and print styles.
 *
 * Capture content is attacker-controlled: every text goes through {@link esc}. No I/O.
 * @module
 */
import { clock, dur } from "./finding.ts";
import { esc, indexFindings, renderLadder } from "./ladder.ts";
import { keysText } from "./render.ts";
import type { Diagnosis, Finding, IkeSaDiagnosis } from "./types.ts";

export { esc } from "./ladder.ts";

/** Options for {@link renderDiagnosisHtml}. */
export interface DiagnosisHtmlOptions {
  /** Shown in the title and header (e.g. the capture's file name). */
  title?: string;
  /** Generation time (ISO text); the page shows it when given. */
  generated?: string;
}

const CSS = `
:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#8c959f;--box:#f6f8fa;--err:#c62828;--warn:#b26a00;--info:#0b62a4;--ok:#1a7f37;--tick:#57606a;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9da7b3;--line:#6e7681;--box:#161b22;--err:#ff7b72;--warn:#e3b341;--info:#79c0ff;--ok:#56d364;--tick:#9da7b3}}
body{background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1400px;margin:1em auto;padding:0 1em}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.15em;margin:1.4em 0 .4em;border-bottom:1px solid var(--line)}h3{font-size:1em;margin:.6em 0 .3em}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.meta{color:var(--muted)}.verdict{padding:.5em .8em;border-left:4px solid var(--ok);background:var(--box)}.verdict.error{border-color:var(--err)}.verdict.warning{border-color:var(--warn)}
.sa{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start;break-inside:avoid-page}
.sa .diagram{flex:0 1 auto;overflow-x:auto;max-width:100%}.sa .side{flex:1 1 320px;min-width:280px}
.finding{border:1px solid var(--line);border-left:4px solid var(--info);border-radius:4px;padding:.4em .7em;margin:.5em 0;background:var(--box);break-inside:avoid}
.finding.error{border-left-color:var(--err)}.finding.warning{border-left-color:var(--warn)}
.finding .head{font-weight:600}.finding ul{margin:.2em 0 .2em 1.2em;padding:0}.finding .lbl{color:var(--muted);font-size:.9em}
.num{display:inline-block;min-width:1.5em;text-align:center;border-radius:1em;color:var(--bg);background:var(--info);font-weight:700;margin-right:.3em}
.finding.error .num{background:var(--err)}.finding.warning .num{background:var(--warn)}
table{border-collapse:collapse}td,th{border:1px solid var(--line);padding:2px 6px;text-align:left}th{background:var(--box)}
.legend{color:var(--muted);font-size:.9em}
svg.ladder{background:var(--bg);font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg.ladder text{fill:var(--fg)}svg.ladder .peer rect{fill:var(--box);stroke:var(--line)}svg.ladder .peer-ip{font-weight:600}svg.ladder .peer-role,svg.ladder .time,svg.ladder .no,svg.ladder .payloads,svg.ladder .omitted{fill:var(--muted)}
svg.ladder .payloads{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px}
svg.ladder .lifeline{stroke:var(--line);stroke-dasharray:2 3}
svg.ladder .arrow{stroke:var(--fg);stroke-width:1.6}svg.ladder .head path{fill:var(--fg)}svg.ladder .head-fail path{fill:var(--err)}svg.ladder .head-warn path{fill:var(--warn)}
svg.ladder .retransmit .arrow{stroke:var(--warn);stroke-dasharray:6 4}svg.ladder .retransmit .label{fill:var(--warn)}
svg.ladder .tick{stroke:var(--tick);stroke-width:1.4}
svg.ladder .lost .arrow{stroke:var(--err);stroke-dasharray:3 3}svg.ladder .cross{stroke:var(--err);stroke-width:2.4}
svg.ladder .notify-error .label,svg.ladder .failing .label,svg.ladder .integrity-bad .label{fill:var(--err);font-weight:600}
svg.ladder .failing .arrow,svg.ladder .notify-error .arrow{stroke:var(--err);stroke-width:2.6}svg.ladder .warned .arrow{stroke:var(--warn)}
svg.ladder .badge circle{fill:var(--info)}svg.ladder .badge-error circle{fill:var(--err)}svg.ladder .badge-warning circle{fill:var(--warn)}svg.ladder .badge text{fill:var(--bg);font-weight:700;font-size:11px}
@media print{:root{--bg:#fff;--fg:#000;--muted:#333;--line:#777;--box:#fff;--err:#b00020;--warn:#8a5300;--info:#0b4f8a;--ok:#1a7f37;--tick:#333}
body{max-width:none;margin:0;font-size:11pt}.sa .diagram{overflow:visible}svg.ladder{max-width:100%;height:auto}h2{break-after:avoid}.finding,.sa{break-inside:avoid}}
`;

/** Class names only from this table, never from the data. */
const SEV: Record<string, string> = { error: "error", warning: "warning", info: "info" };

function findingHtml(f: Finding, n: number): string {
  const where: string[] = [];
  if (f.ikeSa) where.push(`IKE SA ${f.ikeSa}`);
  if (f.espSpis?.length) where.push(`ESP SPI ${f.espSpis.join(", ")}`);
  const list = (items: string[]) => `<ul>${items.map((x) => `<li>${esc(x)}</li>`).join("")}</ul>`;
  const ev = f.evidence.map((e) => `<li><span class="mono">${e.packet !== undefined ? esc(`#${e.packet}`) : ""}${e.time !== undefined ? " " + esc(clock(e.time)) : ""}</span> ${esc(e.text)}</li>`).join("");
  return `<div class="finding ${SEV[f.severity] ?? "info"}" id="finding-${n}"><div class="head"><span class="num">${n}</span>${esc(f.severity.toUpperCase())} <code>${esc(f.code)}</code>: ${esc(f.summary)}</div>` +
    (where.length ? `<div class="lbl">${esc(where.join("; "))}</div>` : "") +
    (f.explanation.length ? `<div class="lbl">What happened</div>${list(f.explanation)}` : "") +
    (ev ? `<div class="lbl">Evidence</div><ul>${ev}</ul>` : "") +
    (f.suggestions.length ? `<div class="lbl">What to do</div>${list(f.suggestions)}` : "") +
    "</div>";
}

function saHeader(sa: IkeSaDiagnosis, i: number): string {
  const bits = [
    `packets ${sa.firstNo}..${sa.lastNo}`,
    `${clock(sa.firstTime)} .. ${clock(sa.lastTime)} UTC (${dur(sa.lastTime - sa.firstTime)})`,
  ];
  const nat = sa.nat && (sa.nat.initiatorBehindNat || sa.nat.responderBehindNat)
    ? `NAT per NAT_DETECTION: ${[sa.nat.initiatorBehindNat ? "initiator" : "", sa.nat.responderBehindNat ? "responder" : ""].filter(Boolean).join(" and ")} (or forced UDP encapsulation)`
    : "";
  return `<h2 id="ike-${i + 1}">IKE SA ${i + 1}: IKEv${sa.version} <code>${esc(sa.ispi)}/${esc(sa.rspi)}</code></h2>` +
    `<p><b>${esc(sa.state.toUpperCase())}</b>: ${esc(sa.outcome)}<br><span class="meta">${esc(bits.join(", "))}${sa.rekeyOf ? esc(`; rekey of IKE SA ${sa.rekeyOf}`) : ""}${nat ? "<br>" + esc(nat) : ""}</span></p>`;
}

/** The whole diagnosis as one HTML document. */
export function renderDiagnosisHtml(d: Diagnosis, opts: DiagnosisHtmlOptions = {}): string {
  const title = opts.title ? `vpnkit diagnose: ${opts.title}` : "vpnkit diagnose";
  const idx = indexFindings(d.findings);
  const number = new Map(d.findings.map((f, i) => [f, i + 1]));
  const shown = new Set<Finding>();
  const top = d.findings.find((f) => f.severity === "error") ? "error" : d.findings.find((f) => f.severity === "warning") ? "warning" : "";
  const span = d.packets ? `${clock(d.firstTime)} .. ${clock(d.lastTime)} UTC (${dur(d.lastTime - d.firstTime)})` : "";
  const body: string[] = [];
  body.push(`<h1>${esc(title)}</h1>`);
  body.push(`<p class="meta">${esc(`${d.packets} packets ${span}; ${keysText(d)}`)}${opts.generated ? `<br>${esc(`generated ${opts.generated}`)}` : ""}</p>`);
  body.push(`<p class="verdict ${top}"><b>Verdict:</b> ${esc(d.verdict)}</p>`);
  if (d.internalErrors.count) body.push(`<p class="verdict error">${esc(`${d.internalErrors.count} packet(s) could not be analysed (internal error; packets ${d.internalErrors.packets.join(", ")}): please report this.`)}</p>`);
  if (d.ikeSas.length) {
    body.push(`<p class="legend">Ladder: one arrow per IKE message (packet number and time since the SA's first message on the left). ` +
      `Dashed orange: retransmission. Ticks on an arrow: the packets (fragments) that carried it. Stopping at a cross: never arrived whole. ` +
      `Red: error notify or a message an error finding points at; numbered circles: the findings (listed beside the diagram). Hover an arrow for all its payloads.</p>`);
  }
  d.ikeSas.forEach((sa, i) => {
    const mine = d.findings.filter((f) => f.ikeSa === `${sa.ispi}/${sa.rspi}`);
    for (const f of mine) shown.add(f);
    body.push(`<section class="ike">${saHeader(sa, i)}<div class="sa"><div class="diagram">${renderLadder(sa, idx, { id: `ladder-${i + 1}` })}</div>` +
      `<div class="side"><h3>Findings for this IKE SA (${mine.length})</h3>${mine.length ? mine.map((f) => findingHtml(f, number.get(f)!)).join("") : "<p class=\"meta\">none</p>"}</div></div></section>`);
  });
  if (d.ikeSasUntracked) body.push(`<p class="meta">${esc(`+${d.ikeSasUntracked} IKE messages beyond the tracking cap (not drawn).`)}</p>`);
  const rest = d.findings.filter((f) => !shown.has(f));
  body.push(`<h2>${d.ikeSas.length ? "Other findings" : "Findings"} (${rest.length})</h2>`);
  body.push(rest.length ? rest.map((f) => findingHtml(f, number.get(f)!)).join("") : `<p class="meta">none</p>`);
  body.push(`<h2>ESP SAs (${d.espSas.length})</h2>`);
  if (d.espSas.length) {
    body.push(`<table><tr><th>SPI</th><th>from → to</th><th>packets</th><th>numbers</th><th>missing</th><th>dup</th><th>reverse</th><th>ICV good/bad</th><th>IKE SA</th><th>findings</th></tr>` +
      d.espSas.map((e) => `<tr><td class="mono">${esc(e.spi)}</td><td>${esc(`${e.src}${e.sport !== undefined ? ":" + e.sport : ""} → ${e.dst}${e.dport !== undefined ? ":" + e.dport : ""}`)}</td><td>${e.packets}</td><td>${esc(`#${e.firstNo}..#${e.lastNo}`)}</td><td>${e.missing}</td><td>${e.duplicates}</td><td class="mono">${esc(e.reverse ?? "-")}</td><td>${e.icv ? `${e.icv.good}/${e.icv.bad}` : "-"}</td><td class="mono">${esc(e.ikeSa ?? "-")}</td><td>${esc(e.findings.join(", ") || "-")}</td></tr>`).join("") +
      `</table>`);
  }
  if (d.rekeys.length) {
    body.push(`<h2>Rekeys (${d.rekeys.length})</h2><table><tr><th>kind</th><th>old</th><th>new</th><th>packets</th><th>seen by</th></tr>` +
      d.rekeys.map((r) => `<tr><td>${esc(r.kind === "ike" ? "IKE SA" : "CHILD SA")}</td><td class="mono">${esc(r.oldSa)}</td><td class="mono">${esc(r.newSa)}</td><td>${esc([r.createNo, r.createResponseNo, r.deleteNo].filter((x) => x !== undefined).map((x) => `#${x}`).join(", ") || "-")}</td><td>${esc(r.method)}</td></tr>`).join("") + `</table>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="color-scheme" content="light dark">
<title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
${body.join("\n")}
</body></html>
`;
}
