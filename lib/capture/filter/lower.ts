/**
 * Capture filter lowering: parsed tree + link type → a tree of byte loads and compares
 * ({@link FilterIr}) with libpcap's offsets and order of tests. Both the user-space
 * evaluator (eval.ts) and the classic-BPF compiler (bpf.ts) run this same program, so
 * they agree by construction; tcpdump is the oracle for the lowering itself
 * (test/capture/filter-tcpdump.test.ts).
 *
 * libpcap semantics kept on purpose: `port` on IPv4 only matches first fragments and reads
 * the transport header after the IHL; on IPv6 `port` looks at the fixed header's next
 * header only (no extension header walk), while `udp`/`tcp`/`esp`/... also accept one
 * fragment header; `host`/`net` without `ip` also match ARP/RARP addresses; `vlan` shifts
 * the offsets of everything after it; a load past the captured bytes rejects the packet.
 * @module
 */
import type { FilterDir, FilterNode } from "./ast.ts";

/** Compare operators of {@link FilterIr} `cmp` nodes (classic BPF jeq/jgt/jge/jset). */
export const OP_EQ = 0, OP_GT = 1, OP_GE = 2, OP_SET = 3;
/** Node tags of {@link FilterIr}. */
export const IR_FALSE = 0, IR_TRUE = 1, IR_AND = 2, IR_OR = 3, IR_NOT = 4, IR_CMP = 5;

/**
 * The lowered program. `cmp`: load `size` bytes big-endian at `off` (plus, when `x >= 0`,
 * 4 × the low nibble of the byte at `x`: the IPv4 header length, BPF `ldxb 4*([x]&0xf)`),
 * AND with `mask` (0xffffffff = none), compare with `k` using `op`.
 */
export type FilterIr =
  | { t: 0 | 1 }
  | { t: 2 | 3; a: FilterIr; b: FilterIr }
  | { t: 4; a: FilterIr }
  | { t: 5; off: number; size: 1 | 2 | 4; mask: number; op: number; k: number; x: number };

const F: FilterIr = { t: IR_FALSE }, T: FilterIr = { t: IR_TRUE };

function and(a: FilterIr, b: FilterIr): FilterIr {
  if (a.t === IR_FALSE || b.t === IR_FALSE) return F;
  if (a.t === IR_TRUE) return b;
  if (b.t === IR_TRUE) return a;
  return { t: IR_AND, a, b };
}
function or(a: FilterIr, b: FilterIr): FilterIr {
  if (a.t === IR_TRUE || b.t === IR_TRUE) return T;
  if (a.t === IR_FALSE) return b;
  if (b.t === IR_FALSE) return a;
  return { t: IR_OR, a, b };
}
function not(a: FilterIr): FilterIr {
  return a.t === IR_TRUE ? F : a.t === IR_FALSE ? T : a.t === IR_NOT ? a.a : { t: IR_NOT, a };
}
function cmp(off: number, size: 1 | 2 | 4, k: number, op = OP_EQ, mask = 0xffffffff, x = -1): FilterIr {
  // A zero mask (net 0/0, ip6 net /64's low words) still loads: on a frame cut short
  // the load rejects, as in libpcap's unoptimized code
  return { t: IR_CMP, off, size, mask: mask >>> 0, op, k: k >>> 0, x };
}

const ET_IP = 0x0800, ET_IP6 = 0x86dd, ET_ARP = 0x0806, ET_RARP = 0x8035;

/** LINKTYPE values the filter understands (the same as the decoder's). */
export const FILTER_LINKTYPES: readonly number[] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/** How one link type finds its network layer. */
interface Link {
  /** Offset of the network layer for a primitive after `v` vlan primitives. */
  pl(v: number): number;
  /** Does the link layer say EtherType `et`? */
  is(et: number, v: number): FilterIr;
  /** 802.1Q tags are possible (Ethernet). */
  vlan: boolean;
}

function etherLink(ltOff: number, plOff: number, vlanShift: boolean): Link {
  const s = vlanShift ? 4 : 0;
  return { pl: (v) => plOff + s * v, is: (et, v) => cmp(ltOff + s * v, 2, et), vlan: vlanShift };
}

function afLink(be: boolean, le: boolean): Link {
  const af = (v: number) => {
    let r = F;
    if (be) r = or(r, cmp(0, 4, v));
    if (le) r = or(r, cmp(0, 4, ((v & 0xff) << 24) | ((v & 0xff00) << 8)));
    return r;
  };
  return {
    pl: () => 4,
    // AF_INET 2; AF_INET6 is 24 (BSDs), 28 (FreeBSD), 30 (Darwin): libpcap checks all three
    is: (et) => (et === ET_IP ? af(2) : et === ET_IP6 ? or(af(30), or(af(24), af(28))) : F),
    vlan: false,
  };
}

function rawLink(only: 0 | 4 | 6): Link {
  return {
    pl: () => 0,
    is: (et) => {
      const want = et === ET_IP ? 4 : et === ET_IP6 ? 6 : 0;
      if (want === 0 || (only !== 0 && want !== only)) return F;
      return only !== 0 ? T : cmp(0, 1, want << 4, OP_EQ, 0xf0);
    },
    vlan: false,
  };
}

function linkOf(linkType: number): Link | null {
  switch (linkType) {
    case 1: return etherLink(12, 14, true);
    case 113: return etherLink(14, 16, false);
    case 276: return etherLink(0, 20, false);
    // NULL: the AF is in the capturing host's byte order; libpcap assumes the file's,
    // vpnkit accepts either (the two can never be confused for these values)
    case 0: return afLink(true, true);
    case 108: return afLink(true, false);
    case 101: case 12: case 14: return rawLink(0);
    case 228: return rawLink(4);
    case 229: return rawLink(6);
    default: return null;
  }
}

function dirs(dir: FilterDir, src: () => FilterIr, dst: () => FilterIr): FilterIr {
  if (dir === "src") return src();
  if (dir === "dst") return dst();
  return dir === "and" ? and(src(), dst()) : or(src(), dst());
}

function portAtom(off: number, lo: number, hi: number, x: number): FilterIr {
  if (lo === hi) return cmp(off, 2, lo, OP_EQ, 0xffffffff, x);
  return and(cmp(off, 2, lo, OP_GE, 0xffffffff, x), not(cmp(off, 2, hi, OP_GT, 0xffffffff, x)));
}

function protoIs(off: number, proto: number): FilterIr {
  return proto !== 0 ? cmp(off, 1, proto) : or(cmp(off, 1, 6), or(cmp(off, 1, 17), cmp(off, 1, 132)));
}

function lowerNode(n: FilterNode, L: Link): FilterIr {
  switch (n.k) {
    case "and": return and(lowerNode(n.a, L), lowerNode(n.b, L));
    case "or": return or(lowerNode(n.a, L), lowerNode(n.b, L));
    case "not": return not(lowerNode(n.a, L));
    case "link": return L.is(n.net === 4 ? ET_IP : ET_IP6, n.vlan);
    case "proto": {
      const pl = L.pl(n.vlan);
      const v4 = n.fam === 6 ? F : and(L.is(ET_IP, n.vlan), cmp(pl + 9, 1, n.proto));
      const v6 = n.fam === 4 ? F : and(L.is(ET_IP6, n.vlan), or(cmp(pl + 6, 1, n.proto), and(cmp(pl + 6, 1, 44), cmp(pl + 40, 1, n.proto))));
      return or(v4, v6);
    }
    case "host4": {
      const pl = L.pl(n.vlan);
      const op = (src: number, dst: number) => dirs(n.dir, () => cmp(pl + src, 4, n.addr, OP_EQ, n.mask), () => cmp(pl + dst, 4, n.addr, OP_EQ, n.mask));
      let r = and(L.is(ET_IP, n.vlan), op(12, 16));
      if (n.arp) r = or(or(r, and(L.is(ET_ARP, n.vlan), op(14, 24))), and(L.is(ET_RARP, n.vlan), op(14, 24)));
      return r;
    }
    case "host6": {
      const pl = L.pl(n.vlan);
      const op = (base: number) => {
        let r = T;
        for (let i = 3; i >= 0; i--) r = and(cmp(pl + base + 4 * i, 4, n.addr[i], OP_EQ, n.mask[i]), r);
        return r;
      };
      return and(L.is(ET_IP6, n.vlan), dirs(n.dir, () => op(8), () => op(24)));
    }
    case "port": {
      const pl = L.pl(n.vlan);
      const frag0 = not(cmp(pl + 6, 2, 0x1fff, OP_SET));
      const p4 = dirs(n.dir, () => portAtom(pl, n.lo, n.hi, pl), () => portAtom(pl + 2, n.lo, n.hi, pl));
      const v4 = and(L.is(ET_IP, n.vlan), and(and(protoIs(pl + 9, n.proto), frag0), p4));
      const p6 = dirs(n.dir, () => portAtom(pl + 40, n.lo, n.hi, -1), () => portAtom(pl + 42, n.lo, n.hi, -1));
      const v6 = and(L.is(ET_IP6, n.vlan), and(protoIs(pl + 6, n.proto), p6));
      return or(v4, v6);
    }
    case "vlan": {
      if (!L.vlan) return F;
      const at = L.pl(n.vlan) - 2;
      const tag = or(cmp(at, 2, 0x8100), or(cmp(at, 2, 0x88a8), cmp(at, 2, 0x9100)));
      return n.id < 0 ? tag : and(tag, cmp(at + 2, 2, n.id, OP_EQ, 0x0fff));
    }
  }
}

/**
 * Lower a parsed filter for frames of `linkType`. `null` (empty expression) → always true.
 * Returns null for a link type the filter does not know.
 */
export function lowerCaptureFilter(n: FilterNode | null, linkType: number): FilterIr | null {
  const L = linkOf(linkType);
  if (L === null) return null;
  return n === null ? T : lowerNode(n, L);
}
