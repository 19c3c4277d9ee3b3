/**
 * Traffic selectors (RFC 7296 §2.9): construction from CIDR text, narrowing
 * (intersection of what the peer proposed with our configuration), and the
 * subset check the initiator applies to the responder's narrowed reply.
 * @module
 */
import { ipv4Text, ipv6Text, toHex } from "../../../core/bytes.ts";
import { parseCidr } from "../../../net/cidr.ts";
import type { TrafficSelectorSpec } from "../encode/payloads.ts";
import type { Ikev2TrafficSelector } from "../payloads/ts.ts";

export type TrafficSelector = TrafficSelectorSpec;

/** "10.0.0.0/24", "10.0.0.0/24[tcp/443]" style text → selector (throws on bad text: config time). */
export function tsFromText(text: string): TrafficSelector {
  const m = text.trim().match(/^([^[\s]+)(?:\[(\w*)(?:\/(\d+)(?:-(\d+))?)?\])?$/);
  const c = m ? parseCidr(m[1].includes("/") ? m[1] : m[1] + (m[1].includes(":") ? "/128" : "/32")) : null;
  if (!m || !c) throw new Error(`traffic selector "${text}" is not an address prefix`);
  const n = c.addr.length;
  const start = c.addr.slice();
  const end = c.addr.slice();
  for (let bit = c.prefix; bit < n * 8; bit++) end[bit >> 3] |= 0x80 >> (bit & 7);
  const protos: Record<string, number> = { "": 0, any: 0, icmp: 1, tcp: 6, udp: 17, icmp6: 58 };
  const proto = m[2] === undefined ? 0 : protos[m[2]] ?? Number(m[2]);
  if (!Number.isInteger(proto) || proto < 0 || proto > 255) throw new Error(`traffic selector "${text}": bad protocol`);
  const sp = m[3] === undefined ? 0 : Number(m[3]);
  const ep = m[3] === undefined ? 65535 : m[4] === undefined ? sp : Number(m[4]);
  return { tsType: n === 4 ? 7 : 8, ipProtocol: proto, startPort: sp, endPort: ep, start, end };
}

/** The whole address space of one family. */
export function tsAny(family: 4 | 6): TrafficSelector {
  const n = family === 4 ? 4 : 16;
  return { tsType: family === 4 ? 7 : 8, ipProtocol: 0, startPort: 0, endPort: 65535, start: new Uint8Array(n), end: new Uint8Array(n).fill(255) };
}

/** Single address selector (a virtual IP). */
export function tsHost(addr: Uint8Array): TrafficSelector {
  return { tsType: addr.length === 4 ? 7 : 8, ipProtocol: 0, startPort: 0, endPort: 65535, start: addr.slice(), end: addr.slice() };
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Selectors decoded from a TS payload (IPv4/IPv6 ranges only; others are dropped). */
export function tsFromDecoded(list: readonly Ikev2TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  for (const s of list) {
    if ((s.type !== 7 && s.type !== 8) || s.startPort === undefined || s.endPort === undefined) continue;
    const n = s.type === 7 ? 4 : 16;
    if (s.raw.length !== 4 + 2 * n) continue;
    out.push({ tsType: s.type, ipProtocol: s.ipProtocol ?? 0, startPort: s.startPort, endPort: s.endPort, start: s.raw.slice(4, 4 + n), end: s.raw.slice(4 + n, 4 + 2 * n) });
  }
  return out;
}

/** Intersection of two selectors, or null. */
export function tsIntersect(a: TrafficSelector, b: TrafficSelector): TrafficSelector | null {
  if (a.tsType !== b.tsType) return null;
  if (a.ipProtocol !== 0 && b.ipProtocol !== 0 && a.ipProtocol !== b.ipProtocol) return null;
  const sp = Math.max(a.startPort, b.startPort), ep = Math.min(a.endPort, b.endPort);
  if (sp > ep) return null;
  const start = cmp(a.start, b.start) >= 0 ? a.start : b.start;
  const end = cmp(a.end, b.end) <= 0 ? a.end : b.end;
  const c = cmp(start, end);
  if (c > 0) return null;
  // one address (a host selector, as most clients propose): one array for both ends (selectors
  // are never edited in place; ~50 B less per Child SA held, issue 12)
  const s = start.slice();
  return { tsType: a.tsType, ipProtocol: a.ipProtocol || b.ipProtocol, startPort: sp, endPort: ep, start: s, end: c === 0 ? s : end.slice() };
}

/** Narrow the peer's proposal against our configuration: all non-empty pairwise intersections (deduplicated). */
export function tsNarrow(proposed: readonly TrafficSelector[], config: readonly TrafficSelector[]): TrafficSelector[] {
  const out: TrafficSelector[] = [];
  const seen = new Set<string>();
  for (const c of config) {
    for (const p of proposed) {
      let x = tsIntersect(p, c);
      if (!x) continue;
      // the whole configured selector: keep that (shared, immutable) object, not a copy per SA
      if (sameTs(x, c)) x = c;
      const k = tsText(x);
      if (!seen.has(k)) {
        seen.add(k);
        out.push(x);
      }
    }
  }
  // exactly the configured list (our side, mostly): that (shared, frozen) array, not a copy per SA
  if (out.length === config.length && out.every((x, i) => x === config[i])) return config as TrafficSelector[];
  return out;
}

function sameTs(a: TrafficSelector, b: TrafficSelector): boolean {
  return a.tsType === b.tsType && a.ipProtocol === b.ipProtocol && a.startPort === b.startPort && a.endPort === b.endPort && cmp(a.start, b.start) === 0 && cmp(a.end, b.end) === 0;
}

/** True when `a` lies inside `b`. */
export function tsWithin(a: TrafficSelector, b: TrafficSelector): boolean {
  const x = tsIntersect(a, b);
  return x !== null && x.ipProtocol === a.ipProtocol && x.startPort === a.startPort && x.endPort === a.endPort && cmp(x.start, a.start) === 0 && cmp(x.end, a.end) === 0;
}

/** Every selector of `reply` lies within some selector of `offered`. */
export function tsSubset(reply: readonly TrafficSelector[], offered: readonly TrafficSelector[]): boolean {
  return reply.length > 0 && reply.every((r) => offered.some((o) => tsWithin(r, o)));
}

/** Text like strongSwan's: "10.0.0.0/24", "10.0.0.1..10.0.0.9", with "[tcp/80-90]" when restricted. */
export function tsText(t: TrafficSelector): string {
  const txt = (b: Uint8Array) => (b.length === 4 ? ipv4Text(b) : b.length === 16 ? ipv6Text(b) : toHex(b));
  let prefix = -1;
  const n = t.start.length * 8;
  for (let p = 0; p <= n && prefix < 0; p++) {
    let ok = true;
    for (let bit = 0; bit < n && ok; bit++) {
      const sb = (t.start[bit >> 3] >> (7 - (bit & 7))) & 1, eb = (t.end[bit >> 3] >> (7 - (bit & 7))) & 1;
      ok = bit < p ? sb === eb : sb === 0 && eb === 1;
    }
    if (ok) prefix = p;
  }
  let s = prefix >= 0 ? `${txt(t.start)}/${prefix}` : `${txt(t.start)}..${txt(t.end)}`;
  if (t.ipProtocol || t.startPort !== 0 || t.endPort !== 65535) {
    s += `[${t.ipProtocol}`;
    if (t.startPort !== 0 || t.endPort !== 65535) s += `/${t.startPort === t.endPort ? t.startPort : `${t.startPort}-${t.endPort}`}`;
    s += "]";
  }
  return s;
}
