/**
 * Synthetic frames for the capture-filter tests: every link type the filter knows, with
 * the cases where libpcap's semantics are subtle (VLAN tags, IPv4 options and fragments,
 * IPv6 fragment and hop-by-hop headers, ARP/RARP, truncated frames, flipped bytes).
 * Deterministic (seeded), so a tcpdump disagreement reproduces.
 */

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SynthAddrs {
  v4: number[];
  v6: Uint8Array[];
}

const put16 = (b: Uint8Array, o: number, v: number) => { b[o] = v >>> 8; b[o + 1] = v & 0xff; };
const put32 = (b: Uint8Array, o: number, v: number) => { put16(b, o, v >>> 16); put16(b, o + 2, v & 0xffff); };

/** One network-layer packet: IPv4, IPv6 or ARP/RARP (then `et` says which). */
function netPacket(r: () => number, A: SynthAddrs): { et: number; b: Uint8Array } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const protos = [6, 17, 17, 50, 51, 1, 58, 132, 47];
  const ports = [500, 4500, 22, 53, 1000, 4499, 4501, 499, 65535, 0];
  const l4 = (proto: number): Uint8Array => {
    const n = proto === 6 ? 20 : proto === 17 ? 8 : proto === 132 ? 12 : 8;
    const b = new Uint8Array(n + Math.floor(r() * 16));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
    put16(b, 0, r() < 0.8 ? pick(ports) : Math.floor(r() * 65536));
    put16(b, 2, r() < 0.8 ? pick(ports) : Math.floor(r() * 65536));
    return b;
  };
  const kind = r();
  if (kind < 0.08) {
    const b = new Uint8Array(28);
    put16(b, 0, 1); put16(b, 2, 0x0800); b[4] = 6; b[5] = 4; put16(b, 6, r() < 0.5 ? 1 : 2);
    put32(b, 14, pick(A.v4)); put32(b, 24, pick(A.v4));
    return { et: r() < 0.7 ? 0x0806 : 0x8035, b };
  }
  if (kind < 0.55) {
    const proto = pick(protos);
    const ihl = r() < 0.8 ? 5 : 6 + Math.floor(r() * 10);
    const t = l4(proto);
    const b = new Uint8Array(ihl * 4 + t.length);
    b[0] = 0x40 | ihl; put16(b, 2, b.length); b[8] = 64; b[9] = proto;
    const f = r();
    put16(b, 6, f < 0.7 ? 0x4000 : f < 0.85 ? 0x2000 : Math.floor(r() * 0x2000) | (r() < 0.5 ? 0x2000 : 0));
    put32(b, 12, pick(A.v4)); put32(b, 16, r() < 0.9 ? pick(A.v4) : Math.floor(r() * 2 ** 32));
    b.set(t, ihl * 4);
    return { et: 0x0800, b };
  }
  const proto = pick(protos);
  const ext = r(); // 0: none, 1: fragment header, 2: hop-by-hop
  const hdrs: number[] = ext < 0.6 ? [] : ext < 0.85 ? [44] : r() < 0.5 ? [0] : [0, 44];
  const t = l4(proto);
  const b = new Uint8Array(40 + 8 * hdrs.length + t.length);
  b[0] = 0x60; put16(b, 4, b.length - 40); b[6] = hdrs.length ? hdrs[0] : proto; b[7] = 64;
  b.set(pick(A.v6), 8); b.set(pick(A.v6), 24);
  let o = 40;
  for (let i = 0; i < hdrs.length; i++) {
    b[o] = i + 1 < hdrs.length ? hdrs[i + 1] : proto;
    if (hdrs[i] === 44) put16(b, o + 2, r() < 0.5 ? 0 : 0x100 | 1);
    o += 8;
  }
  b.set(t, o);
  return { et: 0x86dd, b };
}

/** Wrap a network packet in the link layer of `linkType` (null: cannot carry it). */
function frame(r: () => number, linkType: number, et: number, net: Uint8Array): Uint8Array | null {
  const cat = (h: Uint8Array) => { const o = new Uint8Array(h.length + net.length); o.set(h); o.set(net, h.length); return o; };
  switch (linkType) {
    case 1: {
      const tags: number[] = [];
      const n = r() < 0.6 ? 0 : r() < 0.7 ? 1 : 2;
      for (let i = 0; i < n; i++) tags.push(r() < 0.6 ? 0x8100 : r() < 0.5 ? 0x88a8 : 0x9100);
      const h = new Uint8Array(14 + 4 * n);
      for (let i = 0; i < 12; i++) h[i] = Math.floor(r() * 256);
      for (let i = 0; i < n; i++) {
        put16(h, 12 + 4 * i, tags[i]);
        put16(h, 14 + 4 * i, (Math.floor(r() * 8) << 13) | [1, 100, 200, 4095][Math.floor(r() * 4)]);
      }
      put16(h, 12 + 4 * n, et);
      return cat(h);
    }
    case 113: {
      const h = new Uint8Array(16);
      put16(h, 0, Math.floor(r() * 5)); put16(h, 2, 1); put16(h, 4, 6); put16(h, 14, et);
      return cat(h);
    }
    case 276: {
      const h = new Uint8Array(20);
      put16(h, 0, et); put32(h, 4, 2); put16(h, 8, 1); h[10] = Math.floor(r() * 5); h[11] = 6;
      return cat(h);
    }
    case 0:
    case 108: {
      if (et !== 0x0800 && et !== 0x86dd) return null;
      const af = et === 0x0800 ? 2 : [24, 28, 30][Math.floor(r() * 3)];
      const h = new Uint8Array(4);
      if (linkType === 108) put32(h, 0, af);
      else h[0] = af; // NULL written little-endian, as the file header (libpcap compares in file order)
      return cat(h);
    }
    case 101:
    case 12:
    case 14:
      return et === 0x0800 || et === 0x86dd ? net : null;
    case 228:
      return et === 0x0800 ? net : null;
    case 229:
      return et === 0x86dd ? net : null;
  }
  return null;
}

/** `count` frames of `linkType`: about 10% truncated, 10% with flipped bytes. */
export function synthFrames(linkType: number, count: number, A: SynthAddrs, seed: number): Uint8Array[] {
  const r = rng(seed);
  const out: Uint8Array[] = [];
  if (frame(r, linkType, 0x0800, new Uint8Array(20)) === null && frame(r, linkType, 0x86dd, new Uint8Array(40)) === null) {
    throw new Error(`no synthetic frames for LINKTYPE ${linkType}`);
  }
  while (out.length < count) {
    const p = netPacket(r, A);
    let f = frame(r, linkType, p.et, p.b);
    if (f === null) continue;
    const m = r();
    if (m < 0.1) f = f.subarray(0, Math.floor(r() * f.length));
    else if (m < 0.2) for (let i = 0; i < 3; i++) f[Math.floor(r() * f.length)] ^= 1 << Math.floor(r() * 8);
    out.push(f);
  }
  return out;
}
