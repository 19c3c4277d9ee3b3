/**
 * Small helpers to build findings and format times.
 * @module
 */
import type { CauseCode, Evidence, Finding, Severity } from "./types.ts";

/** Fields of a finding other than code, severity and summary. */
export interface FindingParts {
  explanation?: string[];
  evidence?: Evidence[];
  suggestions?: string[];
  ikeSa?: string;
  espSpis?: string[];
  data?: Record<string, unknown>;
  /** Extra packets not named in the evidence. */
  packets?: number[];
}

/** Build a finding; `packets` is the sorted union of the evidence packets and `parts.packets`. */
export function finding(code: CauseCode, severity: Severity, summary: string, parts: FindingParts = {}): Finding {
  const pk = new Set<number>(parts.packets ?? []);
  for (const e of parts.evidence ?? []) if (e.packet !== undefined) pk.add(e.packet);
  const f: Finding = {
    code, severity, summary,
    explanation: parts.explanation ?? [],
    evidence: parts.evidence ?? [],
    suggestions: parts.suggestions ?? [],
    packets: [...pk].sort((a, b) => a - b),
  };
  if (parts.ikeSa !== undefined) f.ikeSa = parts.ikeSa;
  if (parts.espSpis !== undefined) f.espSpis = parts.espSpis;
  if (parts.data !== undefined) f.data = parts.data;
  return f;
}

/** "14:42:38.726759" (UTC) for a time in seconds since the epoch. */
export function clock(t: number): string {
  const s = Math.floor(t);
  const us = Math.round((t - s) * 1e6);
  const carry = us >= 1e6 ? 1 : 0;
  return `${new Date((s + carry) * 1000).toISOString().slice(11, 19)}.${String(carry ? 0 : us).padStart(6, "0")}`;
}

/** "1.6 s" / "120 ms". */
export function dur(sec: number): string {
  if (sec < 1) return `${Math.round(sec * 1000)} ms`;
  return `${sec < 10 ? sec.toFixed(1) : Math.round(sec)} s`;
}

/** "packet 5" / "packets 5, 6, 10 and 13". */
export function pkts(nos: number[]): string {
  if (nos.length === 1) return `packet ${nos[0]}`;
  return `packets ${nos.slice(0, -1).join(", ")} and ${nos[nos.length - 1]}`;
}

/** "3 times" / "once". */
export function times(n: number): string {
  return n === 1 ? "once" : n === 2 ? "twice" : `${n} times`;
}
