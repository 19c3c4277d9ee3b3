/**
 * The diagnostics engine behind `vpnkit diagnose` and `vpnkit decode --explain`.
 *
 * Feed it every {@link DecodedPacket} of a capture (in order) with
 * {@link Diagnoser.observe}; {@link Diagnoser.report} then says, per IKE SA
 * and per ESP SA, what happened and why, with the packets that show it.
 * Streaming and bounded: it keeps small facts per IKE message (never the
 * packets) and caps every table. Runtime-neutral.
 *
 * ```ts
 * const dec = new Decoder();
 * const dia = new Diagnoser();
 * for await (const batch of reader.batches()) for (const r of batch) dia.observe(dec.decode(r));
 * console.log(renderDiagnosisText(dia.report()).join("\n"));
 * ```
 * @module
 */
import type { DecodedPacket } from "../core/layer.ts";
import { analyzeEsp } from "./analyze-esp.ts";
import { analyzeIkeSa, MIDWAY } from "./analyze-ike.ts";
import type { EspTracker } from "../ipsec/esp-tracker.ts";
import { DiagnoseState } from "./state.ts";
import type { Diagnosis, Finding, IkeSaDiagnosis } from "./types.ts";

const RANK = { error: 0, warning: 1, info: 2 } as const;

/** Diagnoser options. */
export interface DiagnoserOptions {
  /**
   * The Decoder's ESP tracker (`decoder.esp`), which the pipeline already feeds with every
   * ESP packet: shared instead of keeping a second one. Give it only when every packet the
   * Decoder decodes is also observed here.
   */
  esp?: EspTracker;
  /** How many SAs the keys given hold (`KeyStore.size`): with keys that decrypted nothing the report says so, rather than "no keys given". */
  keysGiven?: number;
}

/** Streaming diagnostics over decoded packets. */
export class Diagnoser {
  private readonly s: DiagnoseState;
  private readonly keysGiven: number;

  constructor(opts: DiagnoserOptions = {}) {
    this.s = new DiagnoseState(opts.esp);
    this.keysGiven = opts.keysGiven ?? 0;
  }
  private failed: number[] = [];
  private failedCount = 0;

  /** Take one decoded packet (packets must come in capture order). */
  observe(p: DecodedPacket): void {
    try {
      this.s.observe(p);
    } catch {
      // Bookkeeping must never stop a decode: the packet is skipped, and the report says so.
      this.failedCount++;
      if (this.failed.length < 16) this.failed.push(p.no);
    }
  }

  /** The diagnosis of everything observed so far. */
  report(): Diagnosis {
    const s = this.s;
    const ikeSas: IkeSaDiagnosis[] = [];
    const findings: Finding[] = [];
    const espReports = s.esp.report();
    const orphans = s.orphanList();
    const failed = [...this.failed];
    let failedCount = this.failedCount;
    /** An analysis bug must not take the report down: the SA is left out and the report says so. */
    const guard = <T>(firstNo: number, f: () => T): T | undefined => {
      try {
        return f();
      } catch {
        failedCount++;
        if (failed.length < 16) failed.push(firstNo);
        return undefined;
      }
    };
    for (const st of s.ikeOrder) {
      const r = guard(st.firstNo, () => analyzeIkeSa(st, {
        icmp: s.icmp,
        orphans,
        end: s.lastTime,
        all: s.ikeOrder,
        espAfter: (a, b, t) => {
          let best: { no: number; time: number } | undefined;
          for (const e of espReports) {
            const tt = e.last.tsSec + e.last.tsNsec / 1e9;
            if (tt < t || !((e.src === a && e.dst === b) || (e.src === b && e.dst === a))) continue;
            if (!best || e.first.no < best.no) best = { no: e.first.no, time: e.first.tsSec + e.first.tsNsec / 1e9 };
          }
          return best;
        },
      }));
      if (!r) continue;
      ikeSas.push(r.diag);
      findings.push(...r.findings);
    }
    const esp = guard(espReports[0]?.first.no ?? 0, () => analyzeEsp(s, ikeSas)) ?? { esp: [], rekeys: [], findings: [] };
    findings.push(...esp.findings);
    for (const d of ikeSas) {
      if (d.rekeyOf) d.outcome = d.outcome.replace(MIDWAY, `created by rekeying IKE SA ${d.rekeyOf}`);
      if (d.rekeyedBy) d.outcome += `; replaced by IKE SA ${d.rekeyedBy}`;
      for (const f of esp.findings) if (f.ikeSa === `${d.ispi}/${d.rspi}` && !d.findings.includes(f.code)) d.findings.push(f.code);
    }
    // A wrong key given (every ESP packet of an SA fails its ICV) comes first: it is the user's
    // input, and what the other findings read from that SA cannot be trusted until it is fixed.
    const wrongKey = (f: Finding) => (f.code === "ESP_ICV_FAIL" && f.data?.good === 0 ? 0 : 1);
    findings.sort((a, b) => RANK[a.severity] - RANK[b.severity] || wrongKey(a) - wrongKey(b) || (a.packets[0] ?? 0) - (b.packets[0] ?? 0));
    return {
      packets: s.packets,
      firstTime: s.firstTime,
      lastTime: s.lastTime,
      keysUsed: s.keysUsed,
      keysGiven: this.keysGiven,
      verdict: verdict(findings, ikeSas, esp.esp.length),
      ikeSas,
      ikeSasUntracked: s.ikeUntracked,
      espSas: esp.esp,
      rekeys: esp.rekeys,
      findings,
      internalErrors: { count: failedCount, packets: failed },
    };
  }
}

function verdict(findings: Finding[], ike: IkeSaDiagnosis[], esp: number): string {
  const top = findings.find((f) => f.severity === "error");
  const more = findings.filter((f) => f.severity !== "info").length - 1;
  if (top) return `${top.code}: ${top.summary}${more > 0 ? ` (+${more} more finding${more > 1 ? "s" : ""})` : ""}`;
  const warn = findings.find((f) => f.severity === "warning");
  const up = ike.filter((d) => d.state === "established").length;
  const base = ike.length || esp
    ? `no failure found: ${up} of ${ike.length} IKE SA${ike.length === 1 ? "" : "s"} established, ${esp} ESP SA${esp === 1 ? "" : "s"}`
    : "no IKE or ESP traffic in this capture";
  return warn ? `${base}; warning ${warn.code}: ${warn.summary}` : base;
}
