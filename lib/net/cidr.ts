/**
 * Address prefixes (CIDR) and allocation-free matching against raw IP headers.
 * Traffic selectors of the manual-key tunnel are plain prefix lists (lib/tunnel), the IKE core
 * narrows to them (lib/ike/v2/sa).
 * @module
 */

/** An IPv4 or IPv6 prefix. `addr` holds 4 or 16 bytes, host bits cleared. */
export interface Cidr {
  family: 4 | 6;
  addr: Uint8Array;
  prefix: number;
  /** Canonical text, e.g. "10.9.0.0/30". */
  text: string;
}

function parseV4(s: string): Uint8Array | null {
  const p = s.split(".");
  if (p.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^\d{1,3}$/.test(p[i])) return null;
    const v = Number(p[i]);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseV6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let tail4: Uint8Array | null = null;
  let t = s;
  const lastColon = t.lastIndexOf(":");
  if (t.includes(".")) {
    tail4 = parseV4(t.slice(lastColon + 1));
    if (!tail4) return null;
    t = t.slice(0, lastColon + 1) + "0:0";
  }
  const dbl = t.indexOf("::");
  if (dbl !== t.lastIndexOf("::")) return null;
  let head: string[] = [];
  let tail: string[] = [];
  if (dbl >= 0) {
    head = t.slice(0, dbl) ? t.slice(0, dbl).split(":") : [];
    tail = t.slice(dbl + 2) ? t.slice(dbl + 2).split(":") : [];
    if (head.length + tail.length > 7) return null;
  } else {
    head = t.split(":");
    if (head.length !== 8) return null;
  }
  for (const w of [...head, ...tail]) if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
  const words: number[] = [];
  for (const w of head) words.push(parseInt(w, 16));
  for (let i = head.length + tail.length; i < 8; i++) words.push(0);
  for (const w of tail) words.push(parseInt(w, 16));
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

/** Parse an IPv4/IPv6 address literal (no prefix). Null when invalid. */
export function parseIp(s: string): { family: 4 | 6; addr: Uint8Array } | null {
  const t = s.trim();
  if (t.includes(":")) {
    const a = parseV6(t);
    return a ? { family: 6, addr: a } : null;
  }
  const a = parseV4(t);
  return a ? { family: 4, addr: a } : null;
}

/**
 * Parse "addr/len" (or a bare address = host prefix). With `keepHost` the host bits are
 * kept (for interface addresses such as 10.9.0.1/30); otherwise they are cleared.
 */
export function parseCidr(s: string, keepHost = false): Cidr | null {
  const t = s.trim();
  const slash = t.indexOf("/");
  const ip = parseIp(slash >= 0 ? t.slice(0, slash) : t);
  if (!ip) return null;
  const max = ip.family === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const ps = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(ps)) return null;
    prefix = Number(ps);
    if (prefix > max) return null;
  }
  const addr = ip.addr;
  if (!keepHost) {
    for (let bit = prefix; bit < max; bit++) addr[bit >> 3] &= ~(0x80 >> (bit & 7));
  }
  return { family: ip.family, addr, prefix, text: `${ipText(ip.family, addr)}/${prefix}` };
}

function ipText(family: 4 | 6, a: Uint8Array): string {
  if (family === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const w: string[] = [];
  for (let i = 0; i < 8; i++) w.push(((a[2 * i] << 8) | a[2 * i + 1]).toString(16));
  return w.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::");
}

/** True when the `len` address bytes at `b[off]` fall inside `c`. */
export function cidrContains(c: Cidr, b: Uint8Array, off: number): boolean {
  const full = c.prefix >> 3;
  const a = c.addr;
  for (let i = 0; i < full; i++) if (b[off + i] !== a[i]) return false;
  const rem = c.prefix & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return (b[off + full] & mask) === a[full];
}

/** True when any prefix of the list (of the same family) contains the address at `b[off]`. */
export function listContains(list: readonly Cidr[], family: 4 | 6, b: Uint8Array, off: number): boolean {
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (c.family === family && cidrContains(c, b, off)) return true;
  }
  return false;
}
