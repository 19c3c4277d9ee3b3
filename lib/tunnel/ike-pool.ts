/**
 * Helpers of the IKE driver: negotiated traffic selectors as prefixes for the packet path,
 * and the responder's virtual IP pools (`ike.pool`: one IPv4 and/or one IPv6 prefix).
 * @module
 */
import { ipv6Text } from "../core/bytes.ts";
import type { TrafficSelector } from "../ike/v2/sa/ts.ts";
import type { VirtualIpPool } from "../ike/v2/sa/types.ts";
import { type Cidr, parseCidr, parseIp } from "../net/cidr.ts";

/** Traffic selector (address range) → the smallest list of prefixes covering exactly it. */
export function tsToCidrs(ts: TrafficSelector): Cidr[] {
  const n = ts.start.length;
  const toBig = (b: Uint8Array) => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const bits = BigInt(n * 8);
  let lo = toBig(ts.start);
  const hi = toBig(ts.end);
  const out: Cidr[] = [];
  for (let guard = 0; lo <= hi && guard < 512; guard++) {
    let size = 0n; // prefix covers 2^size addresses
    while (size < bits && (lo & ((1n << (size + 1n)) - 1n)) === 0n && lo + (1n << (size + 1n)) - 1n <= hi) size++;
    const bytes = new Uint8Array(n);
    let v = lo;
    for (let i = n - 1; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
    const text = n === 4 ? Array.from(bytes).join(".") : ipv6Text(bytes);
    const c = parseCidr(`${text}/${Number(bits - size)}`);
    if (c) out.push(c);
    lo += 1n << size;
  }
  return out;
}

/** At most this many addresses per pool (an IPv6 /64 has 2^64: handed out from the start). */
export const POOL_MAX = 65_536;

function bytesToBig(b: Uint8Array): bigint {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

function bigToV6(v: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 15; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return ipv6Text(b);
}

/**
 * Virtual IP pool of one prefix for a responder (`ike.pool`). IPv4: every host address of the
 * prefix except the network and broadcast addresses (for prefixes shorter than /31). IPv6:
 * prefix::1 onwards, handed out in order (the lowest address given back first), at most
 * {@link POOL_MAX}. `exclude` is left out (e.g. a DNS server inside it). A peer identity that
 * comes back gets its previous address when it is still free; an address returns to the pool
 * when its IKE SA dies.
 */
export class PrefixPool implements VirtualIpPool {
  readonly family: 4 | 6;
  readonly size: number;
  /** IPv4: every address, in order. */
  private readonly free: string[] = [];
  private readonly used = new Set<string>();
  private readonly last = new Map<string, string>();
  private readonly exclude: Set<string>;
  /** IPv6: first host (prefix::1), offsets handed out so far, offsets given back. */
  private readonly base6: bigint = 0n;
  private next6 = 0;
  private readonly back6: number[] = [];

  constructor(cidr: string, exclude: string[] = []) {
    const c = parseCidr(cidr);
    if (!c) throw new Error(`pool: not a prefix: ${cidr}`);
    this.family = c.family;
    this.exclude = new Set(exclude);
    if (c.family === 6) {
      this.base6 = bytesToBig(c.addr) + 1n;
      const hosts = (1n << BigInt(128 - c.prefix)) - 1n; // all but prefix:: (the subnet-router anycast address)
      this.size = Number(hosts < BigInt(POOL_MAX) ? hosts : BigInt(POOL_MAX));
      return;
    }
    const base = ((c.addr[0] << 24) | (c.addr[1] << 16) | (c.addr[2] << 8) | c.addr[3]) >>> 0;
    const n = 2 ** (32 - c.prefix);
    const skipEnds = c.prefix < 31;
    for (let i = skipEnds ? 1 : 0; i < (skipEnds ? n - 1 : n) && this.free.length < POOL_MAX; i++) {
      const v = (base + i) >>> 0;
      const t = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
      if (!this.exclude.has(t)) this.free.push(t);
    }
    this.size = this.free.length;
  }

  allocate(peer: string, family: 4 | 6 = this.family): string | null {
    if (family !== this.family) return null;
    const prev = this.last.get(peer);
    let a: string | null | undefined;
    if (prev && !this.used.has(prev)) a = prev;
    else a = this.family === 4 ? this.free.find((x) => !this.used.has(x)) : this.next6Free();
    if (!a) return null;
    this.used.add(a);
    this.last.set(peer, a);
    return a;
  }

  /** IPv6: the lowest address given back and still free, else the next one never handed out. */
  private next6Free(): string | null {
    while (this.back6.length) {
      const t = bigToV6(this.base6 + BigInt(this.back6.shift()!));
      if (!this.used.has(t)) return t;
    }
    while (this.next6 < this.size) {
      const t = bigToV6(this.base6 + BigInt(this.next6++));
      if (!this.used.has(t) && !this.exclude.has(t)) return t;
    }
    return null;
  }

  release(address: string): void {
    if (!this.used.delete(address) || this.family !== 6) return;
    const ip = parseIp(address);
    if (!ip || ip.family !== 6) return;
    const off = Number(bytesToBig(ip.addr) - this.base6);
    // keep the given-back offsets sorted (lowest first), each once
    let i = 0;
    while (i < this.back6.length && this.back6[i] < off) i++;
    if (this.back6[i] !== off) this.back6.splice(i, 0, off);
  }

  /** Addresses handed out right now. */
  inUse(): string[] {
    return [...this.used];
  }
}

/** A responder's pools: one per family (`ike.pool`), each address released to its own. */
export class VipPools implements VirtualIpPool {
  private readonly pools: PrefixPool[];

  constructor(cidrs: string[], exclude: string[] = []) {
    this.pools = cidrs.map((c) => new PrefixPool(c, exclude));
  }

  /** Addresses all pools hold. */
  get size(): number {
    return this.pools.reduce((a, p) => a + p.size, 0);
  }

  allocate(peer: string, family: 4 | 6 = 4): string | null {
    return this.pools.find((p) => p.family === family)?.allocate(peer, family) ?? null;
  }

  release(address: string): void {
    this.pools.find((p) => p.family === (address.includes(":") ? 6 : 4))?.release(address);
  }

  inUse(): string[] {
    return this.pools.flatMap((p) => p.inUse());
  }
}
