/**
 * Helpers of the IKE driver: negotiated traffic selectors as prefixes for the packet path,
 * and the responder's virtual IPv4 pool (`ike.pool`).
 * @module
 */
import type { TrafficSelector } from "../ike/v2/sa/ts.ts";
import type { VirtualIpPool } from "../ike/v2/sa/types.ts";
import { type Cidr, parseCidr } from "../net/cidr.ts";

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

function ipv6Text(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i] << 8) | b[i + 1]).toString(16));
  return parts.join(":");
}

/**
 * Virtual IPv4 pool for a responder (`ike.pool`): every host address of the prefix except
 * the network and broadcast addresses (for prefixes shorter than /31) and `exclude` (e.g. a
 * DNS server inside it). A peer identity that comes back gets its previous address when it
 * is still free; an address returns to the pool when its IKE SA dies.
 */
export class PrefixPool implements VirtualIpPool {
  private readonly free: string[] = [];
  private readonly used = new Set<string>();
  private readonly last = new Map<string, string>();
  readonly size: number;

  constructor(cidr: string, exclude: string[] = []) {
    const c = parseCidr(cidr);
    if (!c || c.family !== 4) throw new Error(`pool: not an IPv4 prefix: ${cidr}`);
    const base = ((c.addr[0] << 24) | (c.addr[1] << 16) | (c.addr[2] << 8) | c.addr[3]) >>> 0;
    const n = 2 ** (32 - c.prefix);
    const skipEnds = c.prefix < 31;
    for (let i = skipEnds ? 1 : 0; i < (skipEnds ? n - 1 : n) && this.free.length < 65536; i++) {
      const v = (base + i) >>> 0;
      const t = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
      if (!exclude.includes(t)) this.free.push(t);
    }
    this.size = this.free.length;
  }

  allocate(peer: string): string | null {
    const prev = this.last.get(peer);
    let a: string | undefined;
    if (prev && !this.used.has(prev)) a = prev;
    else a = this.free.find((x) => !this.used.has(x));
    if (!a) return null;
    this.used.add(a);
    this.last.set(peer, a);
    return a;
  }

  release(address: string): void {
    this.used.delete(address);
  }

  /** Addresses handed out right now. */
  inUse(): string[] {
    return [...this.used];
  }
}
