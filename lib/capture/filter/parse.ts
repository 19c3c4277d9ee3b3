/**
 * Capture filter parser: a hand-written recursive-descent parser for the pcap-filter subset
 * (see {@link FILTER_WORDS}), following libpcap's grammar where it is odd too:
 * `and` and `or` have the same precedence and associate left to right; a bare address or
 * number after `and`/`or`/`not` reuses the qualifiers of the primitive before it
 * (`port 500 or 4500`, `host a and not b`); `host 10.1.2` is a /24 net, `net 10` a /8.
 * @module
 */
import { CaptureFilterError, type FilterDir, type FilterNode, FILTER_WORDS } from "./ast.ts";

interface Tok {
  /** "(" ")" "and" "or" "not" "w" (word) "end" */
  t: string;
  s: string;
  /** 1-based column. */
  pos: number;
}

type ProtoQ = "" | "ip" | "ip6" | "tcp" | "udp" | "sctp";
type AddrQ = "" | "host" | "net" | "port" | "portrange" | "proto";
interface Qual {
  proto: ProtoQ;
  dir: FilterDir | "";
  addr: AddrQ;
}

const PNAMES: Record<string, number> = { tcp: 6, udp: 17, sctp: 132, icmp: 1, icmp6: 58, esp: 50, ah: 51 };
const PQUALS = new Set(["ip", "ip6", "tcp", "udp", "sctp"]);
const ADDRS = new Set(["host", "net", "port", "portrange", "proto"]);
const KEYWORDS = new Set([...Object.keys(PNAMES), "ip", "ip6", "vlan", "src", "dst", "mask", ...ADDRS]);
/** Max nesting of parentheses/`not` (the parser recurses). */
const MAX_DEPTH = 200;

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
      continue;
    }
    const pos = i + 1;
    if (c === "(" || c === ")") {
      out.push({ t: c, s: c, pos });
      i++;
    } else if ((c === "&" || c === "|") && src[i + 1] === c) {
      out.push({ t: c === "&" ? "and" : "or", s: c + c, pos });
      i += 2;
    } else if (c === "!" && src[i + 1] !== "=") {
      out.push({ t: "not", s: c, pos });
      i++;
    } else {
      let j = i + 1;
      while (j < src.length && !" \t\n\r()&|".includes(src[j]) && !(src[j] === "!" && src[j + 1] !== "=")) j++;
      const s = src.slice(i, j);
      out.push({ t: s === "and" || s === "or" || s === "not" ? s : "w", s, pos });
      i = j;
    }
  }
  out.push({ t: "end", s: "", pos: src.length + 1 });
  return out;
}

/** Parse a number as libpcap does: 0x hex, leading-0 octal, else decimal. */
function num(s: string): number | null {
  let v: number;
  if (/^0[xX][0-9a-fA-F]{1,8}$/.test(s)) v = parseInt(s.slice(2), 16);
  else if (/^0[0-7]*$/.test(s) && s.length <= 12) v = parseInt(s, 8);
  else if (/^[1-9][0-9]{0,9}$/.test(s)) v = parseInt(s, 10);
  else return null;
  return v <= 0xffffffff ? v : null;
}

/** Dotted IPv4 with 1-4 parts: value shifted to the top, and the number of bits given. */
function hid(s: string): { v: number; len: number } | null {
  const p = s.split(".");
  if (p.length < 2 || p.length > 4) return null;
  let v = 0;
  for (const x of p) {
    if (!/^[0-9]{1,3}$/.test(x) || Number(x) > 255) return null;
    v = v * 256 + Number(x);
  }
  const len = 8 * p.length;
  return { v: len === 32 ? v : (v * 2 ** (32 - len)) >>> 0, len };
}

/** IPv6 text (with `::` and an optional dotted IPv4 tail) as four 32-bit words. */
function hid6(s: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const x = parts[i];
      if (i === parts.length - 1 && x.includes(".")) {
        const a = hid(x);
        if (!a || a.len !== 32) return null;
        out.push(a.v >>> 16, a.v & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(x)) out.push(parseInt(x, 16));
      else return null;
    }
    return out;
  };
  const a = groups(halves[0]), b = halves.length === 2 ? groups(halves[1]) : [];
  if (!a || !b) return null;
  const fill = 8 - a.length - b.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const g = [...a, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...b];
  return [0, 1, 2, 3].map((i) => ((g[2 * i] << 16) | g[2 * i + 1]) >>> 0);
}

function isLiteral(s: string): boolean {
  return /^[0-9]/.test(s) || (s.includes(":") && /^[0-9a-fA-F:.]+(\/[0-9]+)?$/.test(s));
}

class Parser {
  private i = 0;
  private depth = 0;
  private vlans = 0;
  constructor(private readonly toks: Tok[]) {}

  private get cur(): Tok {
    return this.toks[this.i];
  }
  private peek(n = 1): Tok {
    return this.toks[Math.min(this.i + n, this.toks.length - 1)];
  }

  unsupported(tok: Tok): CaptureFilterError {
    return new CaptureFilterError("unsupported", tok.s, tok.pos, `unsupported word "${tok.s}" at position ${tok.pos} (supported: ${FILTER_WORDS})`);
  }
  syntax(tok: Tok, what: string): CaptureFilterError {
    if (tok.t === "w" && !KEYWORDS.has(tok.s) && !isLiteral(tok.s)) return this.unsupported(tok);
    const at = tok.t === "end" ? "at the end" : `at "${tok.s}" (position ${tok.pos})`;
    return new CaptureFilterError("syntax", tok.s, tok.pos, `syntax error ${at}: ${what}`);
  }
  invalid(tok: Tok, msg: string): CaptureFilterError {
    return new CaptureFilterError("invalid", tok.s, tok.pos, `${msg} (position ${tok.pos})`);
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.invalid(this.cur, `expression nested deeper than ${MAX_DEPTH}`);
  }

  /** expr: term { (and|or) (term | id) }, left-associative, one precedence. */
  expr(): { n: FilterNode; q: Qual | null } {
    this.enter();
    let { n, q } = this.term(null);
    while (this.cur.t === "and" || this.cur.t === "or") {
      const op = this.cur.t as "and" | "or";
      this.i++;
      let b: FilterNode;
      if (this.idAhead()) {
        if (q === null) throw this.syntax(this.cur, "an address or number needs a qualifier such as host or port");
        b = this.id(q);
      } else {
        const r = this.term(q);
        b = r.n;
        q = r.q;
      }
      n = { k: op, a: n, b };
    }
    this.depth--;
    return { n, q };
  }

  /** True when an id (address/number, maybe behind `not`s and parentheses) comes next. */
  private idAhead(): boolean {
    let j = this.i;
    while (this.toks[j].t === "not" || this.toks[j].t === "(") j++;
    return this.toks[j].t === "w" && isLiteral(this.toks[j].s);
  }

  private term(prevQ: Qual | null): { n: FilterNode; q: Qual | null } {
    const tok = this.cur;
    if (tok.t === "not") {
      this.i++;
      this.enter();
      const r = this.term(prevQ);
      this.depth--;
      return { n: { k: "not", a: r.n }, q: r.q };
    }
    if (tok.t === "(") {
      this.i++;
      const r = this.expr();
      if (this.cur.t !== ")") throw this.syntax(this.cur, `expected ")" to close the "(" at position ${tok.pos}`);
      this.i++;
      return { n: r.n, q: prevQ };
    }
    if (tok.t !== "w") throw this.syntax(tok, "expected a primitive such as host, port, udp or (");
    const s = tok.s;
    const next = this.peek();
    const qualNext = next.t === "w" && (next.s === "src" || next.s === "dst" || ADDRS.has(next.s));
    if (s === "vlan") {
      this.i++;
      let id = -1;
      if (this.cur.t === "w" && isLiteral(this.cur.s)) {
        const v = num(this.cur.s);
        if (v === null) throw this.syntax(this.cur, "expected a VLAN ID");
        if (v > 4095) throw this.invalid(this.cur, `VLAN tag ${v} greater than maximum 4095`);
        id = v;
        this.i++;
      }
      return { n: { k: "vlan", id, vlan: this.vlans++ }, q: null };
    }
    if ((s === "ip" || s === "ip6") && !qualNext) {
      this.i++;
      return { n: { k: "link", net: s === "ip" ? 4 : 6, vlan: this.vlans }, q: null };
    }
    if (s in PNAMES && !qualNext) {
      this.i++;
      const fam = s === "icmp" ? 4 : s === "icmp6" ? 6 : 0;
      return { n: { k: "proto", fam, proto: PNAMES[s], vlan: this.vlans }, q: null };
    }
    if (s in PNAMES && !PQUALS.has(s)) throw this.invalid(next, `'${s}' cannot qualify '${next.s}'`);
    // head: [proto] [dir] [addr], then an id
    const q: Qual = { proto: "", dir: "", addr: "" };
    if (PQUALS.has(s)) {
      q.proto = s as ProtoQ;
      this.i++;
    }
    const d = this.cur;
    if (d.t === "w" && (d.s === "src" || d.s === "dst")) {
      this.i++;
      q.dir = d.s;
      const other = d.s === "src" ? "dst" : "src";
      if ((this.cur.t === "and" || this.cur.t === "or") && this.peek().t === "w" && this.peek().s === other) {
        q.dir = this.cur.t;
        this.i += 2;
      }
    }
    const a = this.cur;
    if (a.t === "w" && ADDRS.has(a.s) && !(a.s === "proto" && q.dir !== "")) {
      q.addr = a.s as AddrQ;
      this.i++;
    }
    if (q.dir === "" && q.addr === "") throw this.syntax(tok, "expected a primitive such as host, port, udp or (");
    return { n: this.id(q), q };
  }

  /** id: literal | not id | "(" id { (and|or) id } ")", all with the qualifiers `q`. */
  id(q: Qual): FilterNode {
    const tok = this.cur;
    if (tok.t === "not") {
      this.i++;
      this.enter();
      const a = this.id(q);
      this.depth--;
      return { k: "not", a };
    }
    if (tok.t === "(") {
      this.i++;
      this.enter();
      let n = this.id(q);
      while (this.cur.t === "and" || this.cur.t === "or") {
        const op = this.cur.t as "and" | "or";
        this.i++;
        n = { k: op, a: n, b: this.id(q) };
      }
      if (this.cur.t !== ")") throw this.syntax(this.cur, `expected ")" to close the "(" at position ${tok.pos}`);
      this.i++;
      this.depth--;
      return n;
    }
    if (tok.t !== "w" || !isLiteral(tok.s)) {
      const want = q.addr === "port" || q.addr === "portrange" || q.addr === "proto" ? "a number" : "an address";
      throw this.syntax(tok, `expected ${want}`);
    }
    this.i++;
    return this.literal(tok, q);
  }

  private literal(tok: Tok, q: Qual): FilterNode {
    const s = tok.s;
    const dir: FilterDir = q.dir === "" ? "or" : q.dir;
    const vlan = this.vlans;
    if (q.addr === "port" || q.addr === "portrange") {
      if (q.proto === "ip" || q.proto === "ip6") throw this.invalid(tok, `illegal qualifier of '${q.addr}'`);
      const proto = q.proto === "tcp" ? 6 : q.proto === "udp" ? 17 : q.proto === "sctp" ? 132 : 0;
      const m = q.addr === "portrange" ? /^([^-]+)-([^-]+)$/.exec(s) : null;
      const lo = num(m ? m[1] : s), hi = m ? num(m[2]) : lo;
      if (lo === null || hi === null) throw this.syntax(tok, q.addr === "port" ? "expected a port number" : "expected a port range like 500-4500");
      for (const p of [lo, hi]) if (p > 65535) throw this.invalid(tok, `illegal port number ${p} > 65535`);
      return { k: "port", proto, dir, lo: Math.min(lo, hi), hi: Math.max(lo, hi), vlan };
    }
    if (q.addr === "proto") {
      if (q.proto !== "" && q.proto !== "ip" && q.proto !== "ip6") throw this.invalid(tok, `'${q.proto} proto' is bogus`);
      const v = num(s);
      if (v === null) throw this.syntax(tok, "expected a protocol number");
      if (v > 255) throw this.invalid(tok, `protocol number ${v} > 255`);
      return { k: "proto", fam: q.proto === "ip" ? 4 : q.proto === "ip6" ? 6 : 0, proto: v, vlan };
    }
    // host / net / default: an IPv4 or IPv6 address, maybe with /len or `mask`
    const slash = s.indexOf("/");
    const body = slash >= 0 ? s.slice(0, slash) : s;
    let len = -1;
    if (slash >= 0) {
      const l = /^[0-9]{1,3}$/.test(s.slice(slash + 1)) ? Number(s.slice(slash + 1)) : NaN;
      if (Number.isNaN(l)) throw this.syntax(tok, "expected a prefix length after /");
      len = l;
    }
    const v6 = body.includes(":") ? hid6(body) : null;
    if (v6) {
      if (q.proto !== "" && q.proto !== "ip6") throw this.invalid(tok, `'${q.proto}' modifier applied to ip6 host`);
      if (len > 128) throw this.invalid(tok, "mask length must be <= 128");
      const bits = len < 0 ? 128 : len;
      if (bits !== 128 && q.addr !== "net") throw this.invalid(tok, "Mask syntax for networks only");
      const mask = [0, 1, 2, 3].map((i) => {
        const b = Math.max(0, Math.min(32, bits - 32 * i));
        return b === 0 ? 0 : (0xffffffff << (32 - b)) >>> 0;
      });
      if (v6.some((w, i) => (w & ~mask[i]) !== 0)) throw this.invalid(tok, `non-network bits set in "${s}"`);
      return { k: "host6", dir, addr: v6, mask, vlan };
    }
    if (q.proto !== "" && q.proto !== "ip") throw this.invalid(tok, `'${q.proto}' modifier applied to ${q.proto === "ip6" ? "ip " : ""}host`);
    const arp = q.proto === "";
    let addr: number, mask: number;
    const n = slash < 0 ? num(body) : null;
    if (n !== null) {
      addr = n;
      mask = 0xffffffff;
      if (q.addr === "net") while (addr !== 0 && (addr & 0xff000000) === 0) {
        addr = (addr << 8) >>> 0;
        mask = (mask << 8) >>> 0;
      }
    } else {
      const h = hid(body);
      if (!h) throw this.syntax(tok, "expected an IPv4 or IPv6 address");
      addr = h.v;
      mask = h.len === 32 ? 0xffffffff : (0xffffffff << (32 - h.len)) >>> 0;
      const explicit = len >= 0 || (this.cur.t === "w" && this.cur.s === "mask");
      if (explicit) {
        if (q.addr !== "net") throw this.invalid(tok, "Mask syntax for networks only");
        let txt = s;
        if (len >= 0) {
          if (len > 32) throw this.invalid(tok, "mask length must be <= 32");
          mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        } else {
          this.i++;
          const mt = this.cur;
          const m = mt.t === "w" ? hid(mt.s) : null;
          if (!m) throw this.syntax(mt, "expected a dotted netmask after mask");
          this.i++;
          mask = m.v;
          txt = `${s} mask ${mt.s}`;
        }
        if ((addr & ~mask) !== 0) throw this.invalid(tok, `non-network bits set in "${txt}"`);
      }
    }
    return { k: "host4", dir, addr, mask, arp, vlan };
  }

  done(): void {
    if (this.cur.t !== "end") throw this.syntax(this.cur, "expected and, or or the end of the expression");
  }
}

/**
 * Parse a pcap-filter expression of the supported subset. Returns null for an empty
 * expression (everything passes). Throws {@link CaptureFilterError} (and nothing else).
 */
export function parseCaptureFilter(expression: string): FilterNode | null {
  const toks = lex(expression);
  if (toks.length === 1) return null;
  const p = new Parser(toks);
  // A word outside the subset is named even when the syntax around it is also wrong.
  for (const t of toks) if (t.t === "w" && !KEYWORDS.has(t.s) && !isLiteral(t.s)) throw p.unsupported(t);
  const { n } = p.expr();
  p.done();
  return n;
}
