/**
 * Endpoints and IKE headers as the TCP transport's connection table (tcp-peers.ts) sees
 * them: IPv4-mapped and IPv6 text forms compared and keyed as one address, `host:port`
 * text, and the IKE header fields behind a non-ESP marker that route an IKE message.
 * @module
 */

/** `a` without an IPv4-mapped IPv6 prefix. */
export function stripMapped(a: string): string {
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** Same address, whatever the IPv6 text form. */
export function sameAddr(a: string, b: string): boolean {
  const x = stripMapped(a).toLowerCase(), y = stripMapped(b).toLowerCase();
  if (x === y) return true;
  if (x.includes(":") && y.includes(":")) return expand6(x) === expand6(y);
  return false;
}

function expand6(a: string): string {
  const [h, t] = a.split("::");
  const hp = h ? h.split(":") : [];
  const tp = t !== undefined && t ? t.split(":") : [];
  const fill = t !== undefined ? Array(Math.max(0, 8 - hp.length - tp.length)).fill("0") : [];
  return [...hp, ...fill, ...tp].map((x) => parseInt(x || "0", 16).toString(16)).join(":");
}

/** A map key for an endpoint, the same for every text form of the address. */
export function endpointKey(addr: string, port: number): string {
  const a = stripMapped(addr).toLowerCase();
  return `${a.includes(":") ? expand6(a) : a}|${port}`;
}

/** The IKE header behind a non-ESP marker (`buf` as the engine sees it), or null. */
export function peekIke(buf: Uint8Array): { spi: string; mid: number; response: boolean } | null {
  if (buf.length < 4 + 28 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0 || buf[3] !== 0) return null;
  let spi = "";
  for (let i = 4; i < 12; i++) spi += buf[i].toString(16).padStart(2, "0");
  // after the marker: SPIi(8) SPIr(8) next payload, version, exchange, flags (R = 0x20), message ID(4), length(4)
  const mid = ((buf[24] << 24) | (buf[25] << 16) | (buf[26] << 8) | buf[27]) >>> 0;
  return { spi, mid, response: (buf[23] & 0x20) !== 0 };
}

/** `host:port`, IPv6 in brackets. */
export function hostPort(a: string, p: number): string {
  const h = stripMapped(a);
  return `${h.includes(":") ? `[${h}]` : h}:${p}`;
}
