/**
 * Outbound routing of the tunnel engine: inner packet → the child (CHILD_SA) that carries it.
 * A server with a thousand road-warrior clients has a thousand children, each with its own
 * remote traffic selectors (usually one /32 or /128: the client's virtual IP), so a linear
 * scan of every child's selectors per packet does not do.
 *
 * The index is a longest-prefix-match table: for each family, one level per distinct prefix
 * length in use (longest first), each a Map from the masked destination address to the
 * children whose remote selector is that prefix. IPv4 keys are the masked address as an int32;
 * IPv6 keys a 32-bit hash of the masked address (entries confirm with {@link cidrContains}).
 * A lookup reads the destination as 32-bit words and probes one Map per level: no allocation,
 * cost independent of the number of children for host selectors.
 *
 * Rule (what {@link naiveRoute} spells out): among the children that have a remote selector
 * containing the destination and whose local selectors contain the source (an empty local list
 * matches any source), the one with the longest such selector wins; equal lengths go to the
 * earlier child (lower `order`). Children are added and removed one at a time (O(selectors), so
 * a server taking on its thousandth client does not redo the other 999), or all rebuilt.
 * @module
 */
import { type Cidr, cidrContains, listContains } from "../net/cidr.ts";

/** What the index needs of a child (TunnelChild fits). */
export interface RoutedChild {
  local: Cidr[];
  remote: Cidr[];
}

interface Entry<C> {
  child: C;
  cidr: Cidr;
  order: number;
}

interface Level<C> {
  len: number;
  /** Word masks of this prefix length (IPv4: only m0). */
  m0: number;
  m1: number;
  m2: number;
  m3: number;
  /** Key -> the one entry (most keys: a client's /32 or /128), or a list ordered by priority. */
  map: Map<number, Entry<C> | Entry<C>[]>;
}

function wordMask(len: number, word: number): number {
  const bits = len - word * 32;
  if (bits <= 0) return 0;
  if (bits >= 32) return -1;
  return -1 << (32 - bits);
}

function rd32(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

/** Hash of four masked 32-bit words (IPv6 keys). */
function mix(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0 ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ w2, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w3, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

function keyOf<C>(lv: Level<C>, family: 4 | 6, b: Uint8Array, o: number): number {
  if (family === 4) return rd32(b, o) & lv.m0;
  return mix(rd32(b, o) & lv.m0, rd32(b, o + 4) & lv.m1, rd32(b, o + 8) & lv.m2, rd32(b, o + 12) & lv.m3);
}

export class RouteIndex<C extends RoutedChild = RoutedChild> {
  private v4: Level<C>[] = [];
  private v6: Level<C>[] = [];
  /** What each child was indexed with (its selectors may change later; removal needs these). */
  private readonly indexed = new Map<C, { order: number; sels: Cidr[] }>();
  /** Selectors indexed (for status / tests). */
  size = 0;

  /** Rebuild from the children in priority order (earlier wins a tie; orders 0..n-1). */
  rebuild(children: readonly C[]): void {
    this.v4 = [];
    this.v6 = [];
    this.indexed.clear();
    this.size = 0;
    for (let i = 0; i < children.length; i++) this.add(children[i], i);
  }

  /** Index `child` with priority `order` (lower wins a tie). Re-adding a child replaces it. */
  add(child: C, order: number): void {
    if (this.indexed.has(child)) this.remove(child);
    // the child's own list, not a copy per child (~1,000s held): callers replace a child's
    // `remote` with a new array to change it, never edit it in place (remove() reads this one)
    const sels = child.remote;
    this.indexed.set(child, { order, sels });
    for (const cidr of sels) {
      const levels = cidr.family === 4 ? this.v4 : this.v6;
      let lv = levels.find((l) => l.len === cidr.prefix);
      if (lv === undefined) {
        const len = cidr.prefix;
        lv = { len, m0: wordMask(len, 0), m1: wordMask(len, 1), m2: wordMask(len, 2), m3: wordMask(len, 3), map: new Map() };
        levels.push(lv);
        levels.sort((a, b) => b.len - a.len);
      }
      const k = keyOf(lv, cidr.family, cidr.addr, 0);
      const cur = lv.map.get(k);
      const ent: Entry<C> = { child, cidr, order };
      // one entry is kept as itself, not in a list of one (~50 B per client held, issue 12)
      if (cur === undefined) {
        lv.map.set(k, ent);
        this.size++;
        continue;
      }
      const bucket = Array.isArray(cur) ? cur : [cur];
      // the same child twice in one bucket (duplicate selectors) adds nothing
      if (bucket.some((e) => e.child === child && cidrContains(e.cidr, cidr.addr, 0))) continue;
      let at = bucket.length;
      while (at > 0 && bucket[at - 1].order > order) at--;
      bucket.splice(at, 0, ent);
      if (bucket !== cur) lv.map.set(k, bucket);
      this.size++;
    }
  }

  /** Take `child` out (with the selectors it was added with). */
  remove(child: C): boolean {
    const ent = this.indexed.get(child);
    if (ent === undefined) return false;
    this.indexed.delete(child);
    for (const cidr of ent.sels) {
      const levels = cidr.family === 4 ? this.v4 : this.v6;
      const li = levels.findIndex((l) => l.len === cidr.prefix);
      if (li < 0) continue;
      const lv = levels[li];
      const k = keyOf(lv, cidr.family, cidr.addr, 0);
      const cur = lv.map.get(k);
      if (cur === undefined) continue;
      const bucket = Array.isArray(cur) ? cur : [cur];
      const j = bucket.findIndex((e) => e.child === child && cidrContains(e.cidr, cidr.addr, 0));
      if (j < 0) continue;
      bucket.splice(j, 1);
      this.size--;
      if (bucket.length === 1) lv.map.set(k, bucket[0]);
      else if (bucket.length === 0) {
        lv.map.delete(k);
        if (lv.map.size === 0) levels.splice(li, 1);
      }
    }
    return true;
  }

  /** The priority `child` was indexed with, or undefined. */
  orderOf(child: C): number | undefined {
    return this.indexed.get(child)?.order;
  }

  /**
   * The child for an IP packet `pkt` whose source address is at `srcOff` and destination at
   * `dstOff` (4 or 16 bytes, per `family`), or null.
   */
  lookup(family: 4 | 6, pkt: Uint8Array, srcOff: number, dstOff: number): C | null {
    const levels = family === 4 ? this.v4 : this.v6;
    for (let i = 0; i < levels.length; i++) {
      const lv = levels[i];
      const cur = lv.map.get(keyOf(lv, family, pkt, dstOff));
      if (cur === undefined) continue;
      if (!Array.isArray(cur)) {
        // IPv4 keys are exact; an IPv6 hash may collide
        if (family === 6 && !cidrContains(cur.cidr, pkt, dstOff)) continue;
        const loc = cur.child.local;
        if (loc.length === 0 || listContains(loc, family, pkt, srcOff)) return cur.child;
        continue;
      }
      const bucket = cur;
      for (let j = 0; j < bucket.length; j++) {
        const e = bucket[j];
        // IPv4 keys are exact; an IPv6 hash may collide
        if (family === 6 && !cidrContains(e.cidr, pkt, dstOff)) continue;
        const loc = e.child.local;
        if (loc.length === 0 || listContains(loc, family, pkt, srcOff)) return e.child;
      }
    }
    return null;
  }
}

/** The rule of {@link RouteIndex}, by a linear scan (reference for tests). */
export function naiveRoute<C extends RoutedChild>(children: readonly C[], family: 4 | 6, pkt: Uint8Array, srcOff: number, dstOff: number): C | null {
  let best: C | null = null;
  let bestLen = -1;
  for (const c of children) {
    if (c.local.length > 0 && !listContains(c.local, family, pkt, srcOff)) continue;
    for (const r of c.remote) {
      if (r.family === family && r.prefix > bestLen && cidrContains(r, pkt, dstOff)) {
        best = c;
        bestLen = r.prefix;
      }
    }
  }
  return best;
}
