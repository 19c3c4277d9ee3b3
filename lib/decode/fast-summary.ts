/**
 * Fast paths for the commonest packet in a busy capture: ESP in UDP on a
 * NAT-T port over Ethernet/IPv4 (or a NAT-keepalive). The summary line, the
 * `-v` tree and the NDJSON object are written straight from the packet bytes
 * into the output buffer ({@link ByteWriter}), as tcpdump prints while it
 * parses.
 *
 * Most of that text depends only on the flow: MAC and IP addresses, ports,
 * DSCP/ECN, flags, TTL and SPI. Each flow's constant text is encoded once
 * into byte segments (a small direct-mapped cache keyed by exactly those
 * header bytes, compared in full on every hit), so a packet costs a few
 * segment copies plus its own fields: number, time (the date/time prefix is
 * cached per second), lengths, id, checksums, sequence number, payload hex.
 *
 * They only answer when the packet is well-formed in every respect the full
 * decoder checks (IPv4 header checksum, lengths, no fragment, no reserved
 * bits, a valid SPI and room for the ESP trailer); anything else returns
 * false and the caller runs the full decoder. They feed the same ESP tracker,
 * so sequence flags match (through a tracker handle cached per flow: no SA key
 * string is built per packet). test/decode/fast-summary.test.ts proves each
 * output is identical to the full decoder's rendering, on every fixture, on
 * mutated packets, on interleaved flows and on the benchmark capture.
 * @module
 */
import { hex2, ipv4Text, toHex } from "../core/bytes.ts";
import type { CaptureRecord } from "../capture/types.ts";
import type { EspSaHandle, EspSaKeyInfo, EspTracker } from "../ipsec/esp-tracker.ts";
import type { IpsecPorts } from "../ipsec/natt.ts";
import { GSO_MIN_PAYLOAD } from "../ipsec/gso.ts";
import { ascii, type ByteWriter, put6, put9, putDec, putHex, putSeg } from "./output.ts";
import { isoTime, spiHex } from "./summary.ts";
import type { TimeFormatter } from "./time.ts";
import type { IkeTracker } from "./ike-tracker.ts";
import { fullIke, ikev2Summary, observeSk, renderLayer, type SkMsg, skJson, skOnly, skSummary, skTree, toJson } from "./fast-ike.ts";
import type { Ikev2Message } from "../ike/v2/message.ts";
import { type IkeTemplate, IkeTemplates, T_JSON, T_SUMMARY, T_TREE } from "./fast-ike-template.ts";
import type { KeyedEspFast } from "../decrypt/fast-esp.ts";

/** Most bytes one fast-path packet writes (segments are bounded: addresses and numbers are). */
const MAX_OUT = 2048;
/** Payload bytes shown in full in `-v` before `...` (render-tree's HEX_MAX). */
const HEX_MAX = 48;
/** Flow cache slots (direct-mapped; a power of two up to 256). */
const SLOTS = 256;
/** Bytes of the flow key: MACs 12, TOS, flags, TTL, addresses 8, ports 4, kind, SPI 4. */
const KEY_LEN = 32;

/** What a flow carries (key byte 27). */
const K_ESP = 0, K_KEEPALIVE = 1, K_IKE_NATT = 2, K_IKE = 3;

/** One flow's constant text, per output mode (built when first needed). */
interface Flow {
  key: Uint8Array;
  src: string;
  dst: string;
  /** K_ESP, K_KEEPALIVE, K_IKE_NATT (IKE after the non-ESP marker) or K_IKE (port 500). */
  kind: number;
  keepalive: boolean;
  sa: EspSaKeyInfo;
  /** The tracker's handle for `sa` (no per-packet key string or lookup); null for a keepalive. */
  handle: EspSaHandle | null;
  /** Summary: `A.P > B.Q NAT-T ESP spi 0x… seq ` (or `… NAT-keepalive\n`, or `A.P > B.Q NAT-T ` for IKE). */
  sum: Uint8Array | null;
  /** -v: eth … `totalLength: `, `flags: ` … `checksum: 0x`, `checksumOk` … `udpLength: `, ` bytes\n    spi: … seq: `. */
  tree: Uint8Array[] | null;
  /** --json: from `,"layers":[` on, split around the per-packet numbers. */
  json: Uint8Array[] | null;
}

const T_ID = ascii("\n    id: ");
const T_UCSUM = ascii("\n    checksum: 0x");
const T_ESP = ascii("\n    truncated: false\n  natt @42, 0 bytes\n    kind: esp\n    off: 42\n  esp @42, ");
const T_KEEP = ascii("\n    truncated: false\n  natt @42, 1 bytes\n    kind: keepalive\n    off: ");
const T_PAYLOAD = ascii("\n    payload: ");
const T_BYTES = ascii(" bytes)");
const T_SEQINFO = ascii("\n    seqInfo:\n      status: ");
const T_MISSING = ascii("\n      missing: ");
const T_HEAD = ascii("packet ");
const T_IFACE = ascii(" bytes, iface ");
const S_LEN = ascii(" len ");
const S_GAP = ascii(" (gap: ");
const S_MISSING = ascii(" missing)");
const J_NO = ascii('{"no":');
const J_TS = ascii(',"ts":"');
const J_IFACE = ascii('","iface":');
const J_CAPLEN = ascii(',"linkType":1,"caplen":');
const J_LEN = ascii(',"len":');
const J_ID = ascii(',"id":');
const J_UCSUM = ascii(',"checksum":');
const J_UEND = ascii(',"payloadOffset":42,"payloadEnd":');
const J_ESP = ascii(',"truncated":false},{"layer":"natt","offset":42,"length":0,"kind":"esp","off":42},{"layer":"esp","offset":42,"length":');
const J_KEEP = ascii(',"truncated":false},{"layer":"natt","offset":42,"length":1,"kind":"keepalive","off":');
const J_SEQINFO = ascii(',"seqInfo":{"status":"');
const J_MISSING = ascii('","missing":');
const J_PLEN = ascii(',"payloadLength":');
const J_END = ascii('}],"anomalies":[]}\n');
const J_KEEPEND = ascii('}],"anomalies":[]}\n');
const T_IKE_NATT = ascii("\n    truncated: false\n  natt @42, 4 bytes\n    kind: ike\n    off: 46\n    markerOffset: 42\n");
const T_IKE = ascii("\n    truncated: false\n");
const T_IKEV2 = ascii("  ikev2 @");
const J_IKE_NATT = ascii(',"truncated":false},{"layer":"natt","offset":42,"length":4,"kind":"ike","off":46,"markerOffset":42},');
const J_IKE = ascii(',"truncated":false},');
const J_IKEV2 = ascii('{"layer":"ikev2","offset":');
const J_IKEEND = ascii('],"anomalies":[]}\n');

function putAscii(buf: Uint8Array, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[p + i] = s.charCodeAt(i);
  return p + s.length;
}

function checksumOk(b: Uint8Array, off: number): boolean {
  let s = 0;
  for (let i = off; i < off + 20; i += 2) s += (b[i] << 8) | b[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}

function macAt(b: Uint8Array, o: number): string {
  return `${hex2(b[o])}:${hex2(b[o + 1])}:${hex2(b[o + 2])}:${hex2(b[o + 3])}:${hex2(b[o + 4])}:${hex2(b[o + 5])}`;
}

/**
 * The fast paths of one Decoder: the flow cache, the per-second time
 * prefixes, and the three writers. Its state never changes what is printed,
 * only how fast.
 */
export class FastPaths {
  private readonly slots: (Flow | undefined)[];
  /** Slot index = top byte of the flow hash & mask. */
  private readonly mask: number;
  // per-packet results of match()
  private total = 0;
  private ulen = 0;
  private have = 0;
  private seq = 0;
  /** ESP tracker verdict when not in order (gap, duplicate, ...), else "". */
  private status = "";
  private missing = 0;
  // time prefixes, cached per second
  private isoSec = NaN;
  private iso: Uint8Array = new Uint8Array(0);
  private tsSec = NaN;
  private ts: Uint8Array = new Uint8Array(0);

  /** Per UDP port: 1 = NAT-T port, 2 = IKE port (classifyUdp without Set lookups). */
  private readonly portTab = new Uint8Array(65536);
  /** The SK-only IKEv2 message of the packet being written. */
  private readonly sk: SkMsg = { off: 0, len: 0, exch: 0, flags: 0, mid: 0 };

  /** Shapes of IKEv2 messages that are not SK-only (lib/decode/fast-ike-template.ts); null while the IKE tracker is fed or with keys. */
  private readonly tpl: IkeTemplates | null;
  /** The template matched by the packet being written (when ikeCheck returned `tplMsg`). */
  private cur: IkeTemplate | null = null;
  /** Offset of the IKE message in the packet being written. */
  private ikeOff = 0;

  /** With keys: the ESP packet's line ends with keyed.text (set by match). */
  private suffix = false;

  /**
   * `slots`: flow cache size (tests use 1 to make every flow change a collision).
   * `keyed` (decoding with keys, summary only): ESP packets are opened by it
   * (lib/decrypt/fast-esp.ts); IKE packets go to the full decoder (it decrypts them).
   */
  constructor(ports: IpsecPorts, private readonly esp: EspTracker, private readonly ike: IkeTracker | null, slots = SLOTS, private readonly keyed: KeyedEspFast | null = null) {
    this.tpl = ike === null && keyed === null ? new IkeTemplates() : null;
    const bits = Math.max(0, Math.min(8, Math.round(Math.log2(slots))));
    this.slots = new Array(1 << bits);
    this.mask = (1 << bits) - 1;
    for (const p of ports.ike) if (p >= 0 && p < 65536) this.portTab[p] |= 2;
    for (const p of ports.natt) if (p >= 0 && p < 65536) this.portTab[p] |= 1;
  }

  /**
   * The flow of a well-formed NAT-T packet (and the tracker fed), or null.
   * Sets total/ulen/have/seq/status/missing.
   */
  private match(rec: CaptureRecord): Flow | null {
    if (rec.linkType !== 1 || rec.comment !== undefined) return null;
    const b = rec.data;
    const n = b.length;
    // Ethernet II, IPv4, no VLAN; IPv4 without options
    if (n < 42 || b[12] !== 0x08 || b[13] !== 0x00 || b[14] !== 0x45) return null;
    const total = (b[16] << 8) | b[17];
    if (total < 28 || 14 + total > n) return null;
    // flags: reserved, MF, offset all zero (DF may be set); UDP
    if ((b[20] & 0xbf) !== 0 || b[21] !== 0 || b[23] !== 17) return null;
    if (!checksumOk(b, 14)) return null;
    const ulen = (b[38] << 8) | b[39];
    if (ulen < 8 || 34 + ulen > 14 + total) return null;
    const have = ulen - 8;
    const ports = ((b[34] << 24) | (b[35] << 16) | (b[36] << 8) | b[37]) >>> 0;
    // classifyUdp(): destination first, NAT-T before IKE
    const pt = this.portTab, pd = pt[ports & 0xffff], ps = pt[ports >>> 16];
    const cls = (pd & 1) !== 0 ? 1 : (pd & 2) !== 0 ? 2 : (ps & 1) !== 0 ? 1 : (ps & 2) !== 0 ? 2 : 0;
    let kind: number;
    if (cls === 2) {
      // IKE on port 500 (a message of at least the 28-byte header)
      if (have < 28) return null;
      kind = K_IKE;
    } else if (cls === 0) return null;
    else if (have === 1) {
      if (b[42] !== 0xff) return null;
      kind = K_KEEPALIVE;
    } else if (b[42] === 0 && b[43] === 0 && b[44] === 0 && b[45] === 0) {
      // non-ESP marker, then at least the IKE header
      if (have < 32) return null;
      kind = K_IKE_NATT;
    } else {
      // too big for one 1500-byte frame: maybe a UDP GSO run (lib/ipsec/gso.ts), the full decoder's job
      if (have < 10 || have >= GSO_MIN_PAYLOAD) return null;
      // 1-255: reserved SPI (an anomaly)
      if (b[42] === 0 && b[43] === 0 && b[44] === 0) return null;
      kind = K_ESP;
    }
    if (this.keyed !== null && kind >= K_IKE_NATT) return null;
    const keepalive = kind === K_KEEPALIVE;
    const spi = kind === K_ESP ? ((b[42] << 24) | (b[43] << 16) | (b[44] << 8) | b[45]) >>> 0 : 0;
    const h = Math.imul(
      ((b[26] << 24) | (b[27] << 16) | (b[28] << 8) | b[29]) ^ Math.imul((b[30] << 24) | (b[31] << 16) | (b[32] << 8) | b[33], 0x85ebca6b) ^ Math.imul(ports, 0x9e3779b1) ^ spi ^ (b[22] << 8) ^ b[11],
      0xc2b2ae35,
    ) >>> 24 & this.mask;
    let f = this.slots[h];
    if (f === undefined || !sameFlow(f.key, b, kind)) {
      f = newFlow(b, kind, spi, ports >>> 16, ports & 0xffff, this.esp);
      this.slots[h] = f;
    }
    this.total = total;
    this.ulen = ulen;
    this.have = have;
    this.status = "";
    if (kind === K_ESP) {
      const seq = ((b[46] << 24) | (b[47] << 16) | (b[48] << 8) | b[49]) >>> 0;
      this.seq = seq;
      if (this.keyed !== null) {
        // decrypt before the tracker sees the packet: a fallback must leave no trace
        const r = this.keyed.prepare(b, 42, 42 + have, spi, seq, f.src, f.dst);
        if (r < 0) return null;
        this.suffix = r > 0;
      }
      const o = this.esp.observeHandle(f.handle!, seq, have, rec.no, rec.tsSec, rec.tsNsec);
      if (o.status !== "in-order" && o.status !== "first") {
        this.status = o.status;
        this.missing = o.missing;
      }
    }
    return f;
  }

  /** IKEv2 messages written from a template so far (tests). */
  get ikeTemplateHits(): number {
    return this.tpl?.hits ?? 0;
  }

  /** Marker returned by {@link ikeCheck} for an SK-only message (its fields in `sk`). */
  private readonly skOnly = {} as Ikev2Message;
  /** Marker returned by {@link ikeCheck} for a message written from a template (`cur`). */
  private readonly tplMsg = {} as Ikev2Message;

  /**
   * An IKEv2 packet of flow `f`: `skOnly` (fields in `sk`), the decoded
   * message, or null when the full decoder must handle it. When not null,
   * the IKE tracker has been fed.
   */
  private ikeCheck(rec: CaptureRecord, f: Flow, mode: number): Ikev2Message | null {
    const b = rec.data;
    const off = f.kind === K_IKE_NATT ? 46 : 42, end = 42 + this.have;
    this.ikeOff = off;
    if (skOnly(b, off, end, this.sk)) {
      if (this.ike !== null) observeSk(this.ike, b, this.sk, rec.no, rec.tsSec, rec.tsNsec, f.src, f.dst);
      return this.skOnly;
    }
    const tpl = this.tpl;
    if (tpl !== null) {
      const t = tpl.find(b, off, end, mode);
      if (t !== null) {
        this.cur = t;
        return this.tplMsg;
      }
    }
    const m = fullIke(this.ike, b, off, end, rec.no, rec.tsSec, rec.tsNsec, f.src, f.dst);
    if (m !== null && tpl !== null) tpl.learn(b, off, end, m);
    return m;
  }

  /** The summary line (as `summaryLine(decode(rec), time)` + newline); false when the full decoder must handle this packet. */
  summary(w: ByteWriter, rec: CaptureRecord, time: TimeFormatter): boolean {
    const f = this.match(rec);
    if (f === null) return false;
    let m: Ikev2Message | null = null;
    if (f.kind >= K_IKE_NATT && (m = this.ikeCheck(rec, f, T_SUMMARY)) === null) return false;
    const seg = f.sum ?? (f.sum = summarySegment(f));
    w.ensure(MAX_OUT);
    const buf = w.buf;
    let p = w.pos;
    // padNo: right-aligned in 6 columns
    const no = rec.no;
    if (no < 100000) {
      const digits = no < 10 ? 1 : no < 100 ? 2 : no < 1000 ? 3 : no < 10000 ? 4 : 5;
      for (let i = digits; i < 6; i++) buf[p++] = 32;
    }
    p = putDec(buf, p, no);
    buf[p++] = 32;
    p = time.put(buf, p, rec.tsSec, rec.tsNsec);
    p = putSeg(buf, p, seg);
    if (f.kind >= K_IKE_NATT) {
      if (m === this.skOnly) p = skSummary(buf, p, rec.data, this.sk);
      else if (m === this.tplMsg) {
        w.pos = p;
        this.cur!.write(w, T_SUMMARY, rec.data, this.ikeOff);
        w.ensure(1);
        p = w.pos;
        w.buf[p++] = 10;
      } else {
        w.pos = p;
        w.text("IKEv2 " + ikev2Summary(m!, { spis: "suffix" }));
        w.ensure(1);
        p = w.pos;
        w.buf[p++] = 10;
      }
    } else if (!f.keepalive) {
      p = putDec(buf, p, this.seq);
      p = putSeg(buf, p, S_LEN);
      p = putDec(buf, p, this.have);
      const st = this.status;
      if (st !== "") {
        if (st === "gap") {
          p = putSeg(buf, p, S_GAP);
          p = putDec(buf, p, this.missing);
          p = putSeg(buf, p, S_MISSING);
        } else {
          buf[p++] = 32;
          buf[p++] = 40;
          p = putAscii(buf, p, st);
          buf[p++] = 41;
        }
      }
      if (this.keyed !== null && this.suffix) {
        const t = this.keyed.text;
        for (let i = 0, n = this.keyed.len; i < n; i++) buf[p++] = t[i];
      }
      buf[p++] = 10;
    }
    w.pos = p;
    return true;
  }

  /** The NDJSON line (as `packetJson(decode(rec))` + newline), or false. */
  json(w: ByteWriter, rec: CaptureRecord): boolean {
    if (this.keyed !== null) return false;
    const f = this.match(rec);
    if (f === null) return false;
    let m: Ikev2Message | null = null;
    if (f.kind >= K_IKE_NATT && (m = this.ikeCheck(rec, f, T_JSON)) === null) return false;
    const s = f.json ?? (f.json = jsonSegments(f));
    const b = rec.data;
    w.ensure(MAX_OUT + 2 * this.have);
    const buf = w.buf;
    let p = w.pos;
    p = putSeg(buf, p, J_NO);
    p = putDec(buf, p, rec.no);
    p = putSeg(buf, p, J_TS);
    const sec = rec.tsSec;
    if (sec !== this.tsSec) {
      this.ts = ascii(`${sec}.`);
      this.tsSec = sec;
    }
    p = putSeg(buf, p, this.ts);
    p = put9(buf, p, rec.tsNsec);
    p = putSeg(buf, p, J_IFACE);
    p = putDec(buf, p, rec.iface);
    p = putSeg(buf, p, J_CAPLEN);
    p = putDec(buf, p, rec.caplen);
    p = putSeg(buf, p, J_LEN);
    p = putDec(buf, p, rec.len);
    p = putSeg(buf, p, s[0]); // ,"layers":[{eth …"payloadEnd":
    p = putDec(buf, p, b.length);
    p = putSeg(buf, p, s[1]); // },{ipv4 …"totalLength":
    p = putDec(buf, p, this.total);
    p = putSeg(buf, p, J_ID);
    p = putDec(buf, p, (b[18] << 8) | b[19]);
    p = putSeg(buf, p, s[2]); // ,"flags" … "checksum":
    p = putDec(buf, p, (b[24] << 8) | b[25]);
    p = putSeg(buf, p, s[3]); // ,"checksumOk" … "payloadEnd":
    p = putDec(buf, p, 14 + this.total);
    p = putSeg(buf, p, s[4]); // ,"truncated":false},{udp … "udpLength":
    p = putDec(buf, p, this.ulen);
    p = putSeg(buf, p, J_UCSUM);
    p = putDec(buf, p, (b[40] << 8) | b[41]);
    p = putSeg(buf, p, J_UEND);
    p = putDec(buf, p, 34 + this.ulen);
    if (m !== null) {
      p = putSeg(buf, p, f.kind === K_IKE_NATT ? J_IKE_NATT : J_IKE);
      if (m === this.skOnly) {
        p = putSeg(buf, p, J_IKEV2);
        p = skJson(buf, p, b, this.sk);
      } else if (m === this.tplMsg) {
        w.pos = p;
        this.cur!.write(w, T_JSON, b, this.ikeOff);
        w.ensure(J_IKEEND.length);
        p = putSeg(w.buf, w.pos, J_IKEEND);
      } else {
        w.pos = p;
        w.text(toJson(m));
        w.ensure(J_IKEEND.length);
        p = putSeg(w.buf, w.pos, J_IKEEND);
      }
    } else if (f.keepalive) {
      p = putSeg(buf, p, J_KEEP);
      p = putDec(buf, p, 34 + this.ulen);
      p = putSeg(buf, p, J_KEEPEND);
    } else {
      p = putSeg(buf, p, J_ESP);
      p = putDec(buf, p, this.have);
      p = putSeg(buf, p, s[5]); // ,"spi":…,"seq":
      p = putDec(buf, p, this.seq);
      if (this.status !== "") {
        p = putSeg(buf, p, J_SEQINFO);
        p = putAscii(buf, p, this.status);
        p = putSeg(buf, p, J_MISSING);
        p = putDec(buf, p, this.missing);
        buf[p++] = 125;
      }
      p = putSeg(buf, p, J_PLEN);
      p = putDec(buf, p, this.have - 8);
      p = putSeg(buf, p, J_END);
    }
    w.pos = p;
    return true;
  }

  /** The `-v` block (as `renderTree(decode(rec), packetHeaderLine(...))` + blank line), or false. */
  tree(w: ByteWriter, rec: CaptureRecord): boolean {
    if (this.keyed !== null) return false;
    const f = this.match(rec);
    if (f === null) return false;
    let m: Ikev2Message | null = null;
    if (f.kind >= K_IKE_NATT && (m = this.ikeCheck(rec, f, T_TREE)) === null) return false;
    const s = f.tree ?? (f.tree = treeSegments(f));
    const b = rec.data;
    w.ensure(MAX_OUT);
    const buf = w.buf;
    let p = w.pos;
    p = putSeg(buf, p, T_HEAD);
    p = putDec(buf, p, rec.no);
    buf[p++] = 58; // ':'
    buf[p++] = 32;
    const sec = rec.tsSec;
    if (sec !== this.isoSec) {
      this.iso = ascii(isoTime(sec, 0).slice(0, -10));
      this.isoSec = sec;
    }
    p = putSeg(buf, p, this.iso);
    p = put9(buf, p, rec.tsNsec);
    buf[p++] = 90; // 'Z'
    buf[p++] = 44; // ','
    buf[p++] = 32;
    p = putDec(buf, p, rec.caplen);
    buf[p++] = 47; // '/'
    p = putDec(buf, p, rec.len);
    p = putSeg(buf, p, T_IFACE);
    p = putDec(buf, p, rec.iface);
    p = putSeg(buf, p, s[0]); // , linktype 1 / eth … totalLength:
    p = putDec(buf, p, this.total);
    p = putSeg(buf, p, T_ID);
    p = putDec(buf, p, (b[18] << 8) | b[19]);
    p = putSeg(buf, p, s[1]); // flags … checksum: 0x
    p = putHex(buf, p, b, 24, 26);
    p = putSeg(buf, p, s[2]); // checksumOk … udpLength:
    p = putDec(buf, p, this.ulen);
    p = putSeg(buf, p, T_UCSUM);
    p = putHex(buf, p, b, 40, 42);
    if (m !== null) {
      p = putSeg(buf, p, f.kind === K_IKE_NATT ? T_IKE_NATT : T_IKE);
      if (m === this.skOnly) {
        p = putSeg(buf, p, T_IKEV2);
        w.pos = skTree(buf, p, b, this.sk);
      } else if (m === this.tplMsg) {
        w.pos = p;
        this.cur!.write(w, T_TREE, b, this.ikeOff);
        w.ensure(1);
        w.buf[w.pos++] = 10;
      } else {
        w.pos = p;
        w.text(renderLayer(m));
        w.ensure(1);
        w.buf[w.pos++] = 10;
      }
      return true;
    }
    if (f.keepalive) {
      p = putSeg(buf, p, T_KEEP);
      p = putDec(buf, p, 34 + this.ulen);
    } else {
      p = putSeg(buf, p, T_ESP);
      p = putDec(buf, p, this.have);
      p = putSeg(buf, p, s[3]); // bytes, spi, seq:
      p = putDec(buf, p, this.seq);
      p = putSeg(buf, p, T_PAYLOAD);
      const plen = this.have - 8;
      if (plen <= HEX_MAX) {
        p = putHex(buf, p, b, 50, 50 + plen);
      } else {
        p = putHex(buf, p, b, 50, 50 + HEX_MAX);
        buf[p++] = 46;
        buf[p++] = 46;
        buf[p++] = 46;
      }
      buf[p++] = 32;
      buf[p++] = 40; // '('
      p = putDec(buf, p, plen);
      p = putSeg(buf, p, T_BYTES);
      if (this.status !== "") {
        p = putSeg(buf, p, T_SEQINFO);
        p = putAscii(buf, p, this.status);
        p = putSeg(buf, p, T_MISSING);
        p = putDec(buf, p, this.missing);
      }
    }
    buf[p++] = 10;
    buf[p++] = 10;
    w.pos = p;
    return true;
  }
}

/** The cached flow is the one in `b` (every byte of the key compared). */
function sameFlow(k: Uint8Array, b: Uint8Array, kind: number): boolean {
  for (let i = 0; i < 12; i++) if (k[i] !== b[i]) return false;
  if (k[12] !== b[15] || k[13] !== b[20] || k[14] !== b[22]) return false;
  for (let i = 0; i < 12; i++) if (k[15 + i] !== b[26 + i]) return false;
  if (k[27] !== kind) return false;
  return kind !== K_ESP || (k[28] === b[42] && k[29] === b[43] && k[30] === b[44] && k[31] === b[45]);
}

function newFlow(b: Uint8Array, kind: number, spi: number, sport: number, dport: number, esp: EspTracker): Flow {
  const key = new Uint8Array(KEY_LEN);
  key.set(b.subarray(0, 12), 0);
  key[12] = b[15];
  key[13] = b[20];
  key[14] = b[22];
  key.set(b.subarray(26, 38), 15);
  key[27] = kind;
  if (kind === K_ESP) key.set(b.subarray(42, 46), 28);
  const src = ipv4Text(b, 26), dst = ipv4Text(b, 30);
  const sa: EspSaKeyInfo = { spi, src, dst, sport, dport };
  const keepalive = kind === K_KEEPALIVE;
  return { key, src, dst, kind, keepalive, sa, handle: kind === K_ESP ? esp.handle(sa) : null, sum: null, tree: null, json: null };
}

// The segments below are built from the flow key alone (key offsets: see newFlow).

function summarySegment(f: Flow): Uint8Array {
  const { src, dst, sport, dport } = f.sa;
  const head = `${src}.${sport} > ${dst}.${dport} `;
  if (f.kind === K_IKE) return ascii(head);
  if (f.kind === K_IKE_NATT) return ascii(head + "NAT-T ");
  return ascii(f.keepalive ? head + "NAT-keepalive\n" : `${head}NAT-T ESP spi ${spiHex(f.sa.spi)} seq `);
}

function treeSegments(f: Flow): Uint8Array[] {
  const k = f.key;
  const tos = k[12], fl = k[13] << 8;
  const { src, dst, sport, dport } = f.sa;
  return [
    ascii(
      `, linktype 1\n  eth @0, 14 bytes\n    dst: ${macAt(k, 0)}\n    src: ${macAt(k, 6)}\n    vlans: []\n    etherType: IPv4 (2048)\n` +
        `  ipv4 @14, 20 bytes\n    version: 4\n    headerLength: 20\n    dscp: ${tos >>> 2}\n    ecn: ${tos & 3}\n    totalLength: `,
    ),
    ascii(
      `\n    flags: ${fl >>> 13}\n    reservedFlag: false\n    df: ${(fl & 0x4000) !== 0}\n    mf: false\n    fragOffset: 0\n    ttl: ${k[14]}\n    proto: UDP (17)\n    checksum: 0x`,
    ),
    ascii(
      `\n    checksumOk: true\n    src: ${src}\n    dst: ${dst}\n    options: []\n    truncated: false\n` +
        `  udp @34, 8 bytes\n    srcPort: ${sport}\n    dstPort: ${dport}\n    udpLength: `,
    ),
    ascii(` bytes\n    spi: ${spiHex(f.sa.spi)}\n    seq: `),
  ];
}

function jsonSegments(f: Flow): Uint8Array[] {
  const k = f.key;
  const tos = k[12], fl = k[13] << 8;
  const { src, dst, sport, dport } = f.sa;
  return [
    ascii(
      `,"layers":[{"layer":"eth","offset":0,"length":14,"dst":"${toHex(k, 0, 6)}","src":"${toHex(k, 6, 12)}","vlans":[],"etherType":2048,"etherTypeName":"IPv4","payloadOffset":14,"payloadEnd":`,
    ),
    ascii(`},{"layer":"ipv4","offset":14,"length":20,"version":4,"headerLength":20,"dscp":${tos >>> 2},"ecn":${tos & 3},"totalLength":`),
    ascii(`,"flags":${fl >>> 13},"reservedFlag":false,"df":${(fl & 0x4000) !== 0},"mf":false,"fragOffset":0,"ttl":${k[14]},"proto":17,"protoName":"UDP","checksum":`),
    ascii(`,"checksumOk":true,"src":"${src}","dst":"${dst}","options":[],"payloadOffset":34,"payloadEnd":`),
    ascii(`,"truncated":false},{"layer":"udp","offset":34,"length":8,"srcPort":${sport},"dstPort":${dport},"udpLength":`),
    ascii(`,"spi":${f.sa.spi},"seq":`),
  ];
}
