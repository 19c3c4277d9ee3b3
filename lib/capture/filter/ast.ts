/**
 * Capture filter (pcap-filter subset): the parsed expression and its error type.
 *
 * The tree is link-type independent; {@link lowerCaptureFilter} turns it into the
 * load/compare program for one link type. Every primitive carries `vlan`: the number of
 * `vlan` primitives that came before it in the expression text. As in libpcap, each
 * `vlan` moves the link-layer offsets of everything after it by 4 bytes (also across
 * `or` and `not`: that is how tcpdump behaves).
 * @module
 */

/** Address direction qualifier: `src`, `dst`, `src or dst` (default), `src and dst`. */
export type FilterDir = "src" | "dst" | "or" | "and";

/** One node of a parsed capture filter. */
export type FilterNode =
  | { k: "and" | "or"; a: FilterNode; b: FilterNode }
  | { k: "not"; a: FilterNode }
  /** `ip` / `ip6`: the link layer says IPv4 / IPv6. */
  | { k: "link"; net: 4 | 6; vlan: number }
  /**
   * `udp`, `tcp`, `sctp`, `icmp`, `icmp6`, `esp`, `ah`, `[ip|ip6] proto N`: the IPv4 protocol
   * field and/or the IPv6 next header (directly, or after one fragment header). `fam` 0 = both.
   */
  | { k: "proto"; fam: 0 | 4 | 6; proto: number; vlan: number }
  /**
   * IPv4 `host`/`net`: address & mask against the source and/or destination. `arp`: also
   * ARP and RARP sender/target addresses (unqualified `host`/`net`, as libpcap does).
   */
  | { k: "host4"; dir: FilterDir; addr: number; mask: number; arp: boolean; vlan: number }
  /** IPv6 `host`/`net`: four 32-bit words of address and mask. */
  | { k: "host6"; dir: FilterDir; addr: readonly number[]; mask: readonly number[]; vlan: number }
  /** `port`/`portrange` lo..hi; `proto` 0 = TCP, UDP or SCTP. Not on IPv4 non-first fragments. */
  | { k: "port"; proto: 0 | 6 | 17 | 132; dir: FilterDir; lo: number; hi: number; vlan: number }
  /** `vlan [id]`: an 802.1Q/802.1ad/QinQ tag at the current offset (Ethernet only). */
  | { k: "vlan"; id: number; vlan: number };

/** Why a filter expression was refused. */
export type CaptureFilterErrorKind = "unsupported" | "syntax" | "invalid";

/** Words of the supported subset, for error messages and docs. */
export const FILTER_WORDS =
  "host net mask port portrange src dst ip ip6 tcp udp sctp icmp icmp6 esp ah vlan proto and or not && || ! ( )";

/**
 * A filter expression vpnkit cannot evaluate: a word outside the supported subset
 * (`kind` "unsupported"), a syntax error, or a value libpcap also refuses ("invalid":
 * non-network bits set, port > 65535, ...). `position` is the 1-based character column
 * of `word` in the expression.
 */
export class CaptureFilterError extends Error {
  constructor(
    readonly kind: CaptureFilterErrorKind,
    readonly word: string,
    readonly position: number,
    message: string,
  ) {
    super(message);
    this.name = "CaptureFilterError";
  }
}

/** Render a tree back to pcap-filter text (for debugging and tests; fully parenthesised). */
export function formatCaptureFilter(n: FilterNode | null): string {
  if (n === null) return "";
  const d = (dir: FilterDir) => (dir === "or" ? "" : dir === "and" ? "src and dst " : dir + " ");
  const v = (x: { vlan: number }) => (x.vlan ? `[+${x.vlan} vlan] ` : "");
  switch (n.k) {
    case "and":
    case "or":
      return `(${formatCaptureFilter(n.a)} ${n.k} ${formatCaptureFilter(n.b)})`;
    case "not":
      return `not ${formatCaptureFilter(n.a)}`;
    case "link":
      return `${v(n)}${n.net === 4 ? "ip" : "ip6"}`;
    case "proto":
      return `${v(n)}${n.fam === 0 ? "" : n.fam === 4 ? "ip " : "ip6 "}proto ${n.proto}`;
    case "host4": {
      const a = [n.addr >>> 24, (n.addr >>> 16) & 255, (n.addr >>> 8) & 255, n.addr & 255].join(".");
      return `${v(n)}${n.arp ? "" : "ip "}${d(n.dir)}net ${a}/${maskLen(n.mask)}`;
    }
    case "host6": {
      const w = n.addr.map((x) => x.toString(16).padStart(8, "0")).join("");
      const len = n.mask.reduce((s, m) => s + maskLen(m), 0);
      return `${v(n)}ip6 ${d(n.dir)}net ${w.replace(/(.{4})(?!$)/g, "$1:")}/${len}`;
    }
    case "port":
      return `${v(n)}${n.proto ? `ip proto ${n.proto} and ` : ""}${d(n.dir)}${n.lo === n.hi ? `port ${n.lo}` : `portrange ${n.lo}-${n.hi}`}`;
    case "vlan":
      return `${v(n)}vlan${n.id >= 0 ? " " + n.id : ""}`;
  }
}

function maskLen(m: number): number {
  let c = 0;
  for (let i = 31; i >= 0 && (m >>> i) & 1; i--) c++;
  return c;
}
