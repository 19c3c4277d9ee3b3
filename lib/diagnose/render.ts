/**
 * Renderers for a {@link Diagnosis}: text for a person at a terminal, JSON
 * for scripts (`--json`: the Diagnosis object itself).
 * @module
 */
import { jsonReplacer } from "../core/layer.ts";
import { clock, dur } from "./finding.ts";
import type { Diagnosis, Finding, IkeSaDiagnosis, TimelineEntry } from "./types.ts";

/** Text renderer options. */
export interface DiagnosisTextOptions {
  /** Wrap prose at this width (default 100; 0 = no wrapping). */
  width?: number;
  /** Show the per-IKE-SA timelines (default true). */
  timeline?: boolean;
  /** Show info-level findings (default true). */
  info?: boolean;
}

function wrap(text: string, indent: string, width: number, first = indent): string[] {
  if (!width) return [first + text];
  const out: string[] = [];
  let line = first;
  for (const w of text.split(" ")) {
    if (line.length + w.length + 1 > width && line.trim()) {
      out.push(line.trimEnd());
      line = indent;
    }
    line += (line === indent || line === first ? "" : " ") + w;
  }
  if (line.trim()) out.push(line.trimEnd());
  return out;
}

const LABEL = { error: "ERROR", warning: "WARNING", info: "INFO" } as const;

function findingLines(f: Finding, width: number): string[] {
  const out: string[] = [];
  out.push(...wrap(`${f.code}: ${f.summary}`, "    ", width, `[${LABEL[f.severity]}] `));
  const where: string[] = [];
  if (f.ikeSa) where.push(`IKE SA ${f.ikeSa}`);
  if (f.espSpis?.length) where.push(`ESP SPI ${f.espSpis.join(", ")}`);
  if (where.length) out.push(`    (${where.join("; ")})`);
  if (f.explanation.length) {
    out.push("  What happened:");
    for (const e of f.explanation) out.push(...wrap(e, "      ", width, "    - "));
  }
  if (f.evidence.length) {
    out.push("  Evidence:");
    for (const e of f.evidence) {
      const head = e.packet !== undefined ? `#${e.packet}`.padEnd(7) + (e.time !== undefined ? `${clock(e.time)}  ` : "") : "       ";
      out.push(...wrap(e.text, "      " + " ".repeat(head.length), width, `    ${head}`));
    }
  }
  out.push(...proposalTable(f));
  if (f.suggestions.length) {
    out.push("  What to do:");
    for (const s of f.suggestions) out.push(...wrap(s, "      ", width, "    - "));
  }
  return out;
}

interface PropData { protocol: string; num: number; transforms: Record<string, string[]> }

/** Offered vs accepted proposals side by side (NO_PROPOSAL_CHOSEN findings). */
function proposalTable(f: Finding): string[] {
  const offered = f.data?.offered as PropData[] | null | undefined;
  if (!offered?.length) return [];
  const accepted = (f.data?.accepted as PropData[] | null | undefined) ?? [];
  const head = accepted.length ? `accepted by the responder (packet ${f.data?.acceptedNo})` : "accepted by the responder: unknown (it only said NO_PROPOSAL_CHOSEN)";
  const rows: [string, string, string][] = [];
  const acc = accepted[0];
  offered.forEach((p, i) => {
    const types = [...new Set([...Object.keys(p.transforms), ...(i === 0 && acc ? Object.keys(acc.transforms) : [])])];
    types.forEach((t, j) => rows.push([j === 0 ? `${p.protocol} #${p.num}` : "", `${t} ${(p.transforms[t] ?? ["-"]).join(", ")}`, i === 0 && acc ? `${t} ${(acc.transforms[t] ?? ["-"]).join(", ")}` : ""]));
  });
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max("offered by the initiator".length, ...rows.map((r) => r[1].length));
  return [
    "  Proposals:",
    `    ${"".padEnd(w0)}  ${"offered by the initiator".padEnd(w1)} | ${head}`,
    ...rows.map((r) => `    ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)} | ${r[2]}`.trimEnd()),
  ];
}

function timelineLine(t: TimelineEntry): string {
  const pk = t.packets.length > 1 ? `#${t.packets[0]}..#${t.packets[t.packets.length - 1]}` : `#${t.no}`;
  const port = t.dstPort !== undefined ? `:${t.dstPort}` : "";
  const flags: string[] = [];
  if (t.retransmission) flags.push(`retransmission ${t.retransmission} of #${t.retransmitOf}`);
  if (t.protection === "encrypted") flags.push("encrypted");
  if (t.protection === "decrypted") flags.push("decrypted");
  if (t.protection === "integrity-bad") flags.push("INTEGRITY CHECK FAILED");
  if (t.errors.length) flags.push(`ERROR ${t.errors.join(", ")}`);
  if (t.fragmentOnly) flags.push("only the first IP fragment seen");
  else if (t.note) flags.push(t.note);
  return `    ${clock(t.time)}  ${pk.padEnd(9)} ${t.dir}${port.padEnd(6)} ${t.exchange} ${t.response ? "response" : "request"} mid ${t.messageId} [ ${t.payloads} ] ${t.length} B${flags.length ? `  (${flags.join("; ")})` : ""}`;
}

function ikeLines(d: IkeSaDiagnosis, i: number, timeline: boolean): string[] {
  const out: string[] = [];
  out.push(`IKE SA ${i + 1}: IKEv${d.version} ${d.ispi}/${d.rspi}  initiator ${d.initiator}, responder ${d.responder}`);
  out.push(`  packets ${d.firstNo}..${d.lastNo}, ${clock(d.firstTime)} .. ${clock(d.lastTime)} (${dur(d.lastTime - d.firstTime)})`);
  out.push(`  outcome: ${d.state.toUpperCase()}: ${d.outcome}`);
  if (d.rekeyOf) out.push(`  rekey of IKE SA ${d.rekeyOf}`);
  if (d.nat && (d.nat.initiatorBehindNat || d.nat.responderBehindNat)) {
    const who = [d.nat.initiatorBehindNat ? "initiator" : "", d.nat.responderBehindNat ? "responder" : ""].filter(Boolean).join(" and ");
    out.push(`  NAT: the NAT_DETECTION hashes (packets ${d.nat.evidence.join(", ")}) put the ${who} behind a NAT, or UDP encapsulation was forced (strongSwan encap = yes fakes them)`);
  }
  if (timeline) {
    out.push("  timeline:");
    for (const t of d.timeline) out.push(timelineLine(t));
    if (d.timelineOmitted) out.push(`    (+${d.timelineOmitted} more messages not kept)`);
  }
  return out;
}

/** What the keys did: decrypted something, decrypted nothing, or none were given. */
export function keysText(d: Diagnosis): string {
  if (d.keysUsed) {
    const good = d.espSas.some((e) => (e.icv?.good ?? 0) > 0) || d.ikeSas.some((s) => s.timeline.some((t) => t.protection === "decrypted"));
    const bad = d.espSas.some((e) => (e.icv?.bad ?? 0) > 0) || d.ikeSas.some((s) => s.timeline.some((t) => t.protection === "integrity-bad"));
    if (bad && !good) return "keys given, but nothing decrypted with them passed its integrity check: wrong keys (see the findings)";
    return bad ? "decrypted with the keys given (some failed their integrity check: see the findings)" : "decrypted with the keys given";
  }
  if (d.keysGiven > 0) return `keys given (${d.keysGiven} SA${d.keysGiven === 1 ? "" : "s"}), but nothing in this capture was decrypted with them: no encrypted message arrived whole, or the keys belong to other SAs`;
  return "no keys given (encrypted content not visible)";
}

/** The diagnosis as text lines. */
export function renderDiagnosisText(d: Diagnosis, opts: DiagnosisTextOptions = {}): string[] {
  const width = opts.width ?? 100;
  const out: string[] = [];
  const span = d.packets ? `${clock(d.firstTime)} .. ${clock(d.lastTime)} UTC (${dur(d.lastTime - d.firstTime)})` : "";
  out.push(`Capture: ${d.packets} packets ${span}; ${keysText(d)}`);
  out.push(...wrap(d.verdict, "         ", width, "Verdict: "));
  if (d.internalErrors.count) out.push(`Note: ${d.internalErrors.count} packet(s) could not be analysed (internal error; packets ${d.internalErrors.packets.join(", ")}): please report this.`);
  const shown = d.findings.filter((f) => opts.info !== false || f.severity !== "info");
  out.push("");
  out.push(`== Findings (${shown.length}) ==`);
  if (!shown.length) out.push("  none");
  for (const f of shown) {
    out.push(...findingLines(f, width));
    out.push("");
  }
  out.push(`== IKE SAs (${d.ikeSas.length}${d.ikeSasUntracked ? `, +${d.ikeSasUntracked} messages beyond the tracking cap` : ""}) ==`);
  d.ikeSas.forEach((s, i) => {
    out.push(...ikeLines(s, i, opts.timeline !== false));
    out.push("");
  });
  out.push(`== ESP SAs (${d.espSas.length}) ==`);
  if (d.espSas.length) {
    out.push("  SPI       src -> dst                          packets  first..last      reverse    missing  dup  ICV good/bad");
    for (const e of d.espSas) {
      const ends = `${e.src}${e.sport !== undefined ? ":" + e.sport : ""} -> ${e.dst}${e.dport !== undefined ? ":" + e.dport : ""}`;
      const icv = e.icv ? `${e.icv.good}/${e.icv.bad}` : "-";
      out.push(`  ${e.spi}  ${ends.padEnd(35)} ${String(e.packets).padStart(7)}  ${`#${e.firstNo}..#${e.lastNo}`.padEnd(15)}  ${(e.reverse ?? "NONE").padEnd(9)} ${String(e.missing).padStart(8)} ${String(e.duplicates).padStart(4)}  ${icv}${e.findings.length ? `  ${e.findings.join(", ")}` : ""}`);
    }
  }
  if (d.rekeys.length) {
    out.push("");
    out.push(`== Rekeys (${d.rekeys.length}) ==`);
    for (const r of d.rekeys) {
      const how = r.method === "decrypted" ? "from the decrypted CREATE_CHILD_SA" : "by timing: new SAs appear after this CREATE_CHILD_SA, the old ones stop";
      const ex = r.createNo !== undefined ? `CREATE_CHILD_SA #${r.createNo}${r.createResponseNo !== undefined ? `/#${r.createResponseNo}` : ""}` : "";
      const del = r.deleteNo !== undefined ? `, ${r.method === "decrypted" ? "DELETE" : "INFORMATIONAL (likely the DELETE)"} #${r.deleteNo}` : "";
      out.push(`  ${r.kind === "ike" ? "IKE SA  " : "CHILD SA"} ${r.oldSa} -> ${r.newSa}  ${ex}${del} (${how})`);
    }
  }
  return out;
}

/** The diagnosis as one JSON document (byte fields as hex). */
export function renderDiagnosisJson(d: Diagnosis, pretty = false): string {
  return JSON.stringify(d, jsonReplacer, pretty ? 2 : undefined);
}
