/**
 * A ladder (sequence) diagram of one IKE SA as inline SVG: the two peers as columns,
 * each IKE message as an arrow labelled with its exchange, message ID and payloads;
 * retransmissions (dashed), RFC 7383 / IP fragments (ticks, one per packet), messages
 * that never arrived whole (arrow stops at a cross), error notifies and the messages
 * findings point at (marked, with the finding's number). Colours come from CSS classes
 * (the page's stylesheet, see html.ts), so one SVG reads in light, dark and print.
 *
 * Everything shown comes from the capture (attacker-controlled): every text is escaped
 * with {@link esc}. No I/O, runtime-neutral.
 * @module
 */
import type { Finding, IkeSaDiagnosis, TimelineEntry } from "./types.ts";

/** Escape text for HTML/SVG content and attribute values; drops characters XML forbids. */
export function esc(s: string): string {
  return s
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, "\ufffd")
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** Shorten to `n` characters (whole text stays available in a tooltip). */
function clip(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

/** Finding numbers (1-based, as listed on the page) per packet number. */
export type FindingIndex = Map<number, { n: number; f: Finding }[]>;

/** Index the findings of the whole diagnosis by packet, numbered in list order. */
export function indexFindings(findings: Finding[]): FindingIndex {
  const idx: FindingIndex = new Map();
  findings.forEach((f, i) => {
    const nos = new Set([...f.packets, ...f.evidence.flatMap((e) => (e.packet === undefined ? [] : [e.packet]))]);
    for (const no of nos) {
      const l = idx.get(no) ?? [];
      l.push({ n: i + 1, f });
      idx.set(no, l);
    }
  });
  return idx;
}

/** Class names only from this table, never from the data. */
const SEVERITY_CLASS: Record<string, string> = { error: "error", warning: "warning", info: "info" };

const W = 860;
const XL = 190;
const XR = 690;
const TOP = 64;
const ROW = 50;
const MAX_TICKS = 32;

/** One message's marks, derived from its timeline entry and the findings that cite it. */
function classesOf(t: TimelineEntry, cited: { n: number; f: Finding }[]): string[] {
  const c = ["msg", t.dir === "I->R" ? "i2r" : "r2i"];
  if (t.retransmission !== undefined) c.push("retransmit");
  if (t.packets.length > 1) c.push("fragmented");
  if (t.fragmentOnly) c.push("lost");
  if (t.errors.length) c.push("notify-error");
  if (t.protection === "integrity-bad") c.push("integrity-bad");
  if (cited.some((x) => x.f.severity === "error")) c.push("failing");
  else if (cited.some((x) => x.f.severity === "warning")) c.push("warned");
  return c;
}

function fragText(t: TimelineEntry): string {
  if (t.packets.length < 2) return "";
  const what = /IKE fragments/.test(t.note ?? "") ? `${t.packets.length} IKE fragments (RFC 7383)` : `${t.packets.length} IP fragments`;
  return `${what}: #${t.packets[0]}–#${t.packets[t.packets.length - 1]}`;
}

/** The SVG ladder of one IKE SA. `findings` indexes the page's findings by packet. */
export function renderLadder(sa: IkeSaDiagnosis, findings: FindingIndex, opts: { id?: string } = {}): string {
  const n = sa.timeline.length;
  const H = TOP + n * ROW + (sa.timelineOmitted ? 30 : 10);
  const id = opts.id ?? "sa";
  const t0 = sa.timeline[0]?.time ?? sa.firstTime;
  const ipI = sa.initiator;
  const ipR = sa.responder;
  /** The UDP (or TCP) ports the peer sent from, in order of use: "500, 4500". */
  const portsOf = (ip: string) => [...new Set(sa.timeline.filter((m) => m.src === ip && m.srcPort !== undefined).map((m) => m.srcPort))].slice(0, 4).join(", ");
  const peer = (x: number, ip: string, role: string) => {
    const p = portsOf(ip);
    return `<g class="peer"><rect x="${x - 140}" y="6" width="280" height="40" rx="4"/>` +
      `<text x="${x}" y="23" text-anchor="middle" class="peer-ip">${esc(clip(ip, 40))}${p ? esc(` port ${p}`) : ""}</text>` +
      `<text x="${x}" y="39" text-anchor="middle" class="peer-role">${esc(role)}</text></g>`;
  };
  const title = `IKEv${sa.version} SA ${sa.ispi}/${sa.rspi}: ${ipI} (initiator) and ${ipR} (responder), ${n} message${n === 1 ? "" : "s"}`;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="ladder" id="${esc(id)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}">`);
  out.push(`<title>${esc(title)}</title>`);
  out.push(`<defs>${["plain", "fail", "warn"].map((k) => `<marker id="${esc(id)}-head-${k}" class="head head-${k}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`).join("")}</defs>`);
  out.push(peer(XL, ipI, "initiator"), peer(XR, ipR, "responder"));
  out.push(`<line class="lifeline" x1="${XL}" y1="46" x2="${XL}" y2="${H - 4}"/><line class="lifeline" x1="${XR}" y1="46" x2="${XR}" y2="${H - 4}"/>`);
  sa.timeline.forEach((t, i) => {
    const cited = t.packets.flatMap((no) => findings.get(no) ?? []).filter((x, k, a) => a.findIndex((y) => y.n === x.n) === k);
    const cls = classesOf(t, cited);
    const y = TOP + i * ROW + 30;
    const fromLeft = t.src === ipI ? true : t.src === ipR ? false : t.dir === "I->R";
    const x1 = fromLeft ? XL : XR;
    const x2full = fromLeft ? XR : XL;
    const x2 = t.fragmentOnly ? x1 + (x2full - x1) * 0.6 : x2full;
    const head = cls.includes("failing") ? "fail" : cls.includes("warned") || cls.includes("retransmit") ? "warn" : "plain";
    const kind = `${t.exchange} ${t.response ? "response" : "request"} mid ${t.messageId}`;
    const marks: string[] = [];
    if (t.retransmission !== undefined) marks.push(`retransmission ${t.retransmission}${t.retransmitOf !== undefined ? ` of #${t.retransmitOf}` : ""}`);
    if (t.errors.length) marks.push(t.errors.join(", "));
    if (t.protection === "encrypted") marks.push("encrypted");
    if (t.protection === "integrity-bad") marks.push("integrity check failed");
    if (t.fragmentOnly) marks.push("only the first IP fragment arrived");
    const fr = fragText(t);
    if (fr) marks.push(fr);
    const label = `${kind}${marks.length ? " · " + marks.join(" · ") : ""}`;
    const full = `#${t.no} ${kind} [ ${t.payloads} ] ${t.length} bytes${marks.length ? " — " + marks.join("; ") : ""}${t.note ? ` (${t.note})` : ""}`;
    const g: string[] = [`<g class="${cls.join(" ")}" data-no="${t.no}" data-packets="${esc(t.packets.join(" "))}">`, `<title>${esc(full)}</title>`];
    g.push(`<text class="no" x="8" y="${y + 4}">#${t.no}</text><text class="time" x="${XL - 10}" y="${y + 4}" text-anchor="end">+${(t.time - t0).toFixed(3)} s</text>`);
    g.push(`<text class="label" x="${(XL + XR) / 2}" y="${y - 22}" text-anchor="middle">${esc(clip(label, 90))}</text>`);
    g.push(`<text class="payloads" x="${(XL + XR) / 2}" y="${y - 8}" text-anchor="middle">${esc(clip(`[ ${t.payloads} ] ${t.length} B`, 96))}</text>`);
    g.push(`<line class="arrow" x1="${x1}" y1="${y}" x2="${x2}" y2="${y}"${t.fragmentOnly ? "" : ` marker-end="url(#${esc(id)}-head-${head})"`}/>`);
    if (t.packets.length > 1) {
      // one tick per packet that carried the message (fragments)
      const k = Math.min(t.packets.length, MAX_TICKS);
      for (let j = 0; j < k; j++) {
        const x = x1 + ((x2 - x1) * (j + 1)) / (k + 1);
        g.push(`<line class="tick" x1="${x.toFixed(1)}" y1="${y - 4}" x2="${x.toFixed(1)}" y2="${y + 4}"/>`);
      }
    }
    if (t.fragmentOnly) g.push(`<path class="cross" d="M${x2 - 6},${y - 6} L${x2 + 6},${y + 6} M${x2 - 6},${y + 6} L${x2 + 6},${y - 6}"/>`);
    cited.slice(0, 3).forEach((c, j) => {
      const bx = XR + 24 + j * 22;
      g.push(`<g class="badge badge-${SEVERITY_CLASS[c.f.severity] ?? "info"}"><circle cx="${bx}" cy="${y}" r="9"/><text x="${bx}" y="${y + 4}" text-anchor="middle">${c.n}</text></g>`);
    });
    g.push("</g>");
    out.push(g.join(""));
  });
  if (sa.timelineOmitted) out.push(`<text class="omitted" x="${W / 2}" y="${H - 10}" text-anchor="middle">(+${sa.timelineOmitted} more messages not kept)</text>`);
  out.push("</svg>");
  return out.join("\n");
}
