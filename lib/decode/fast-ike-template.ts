/**
 * IKEv2 message templates for the fast paths (lib/decode/fast-summary.ts):
 * the IKEv2 messages that are not a lone SK payload (IKE_SA_INIT above all,
 * about 60 us each through the real decoder and the generic `-v` renderer)
 * repeat in a capture with the same shape: the same proposals, the same
 * notifies, the same lengths; only SPIs, KE data, nonces, NAT-D hashes,
 * cookies and ciphertext differ. Those fields are opaque to the decoder and
 * the validator (they check their length, and an SPI only for zero), and
 * every renderer shows them only as their hex.
 *
 * A template is made from a message the real decoder and validator passed
 * without an anomaly. Its holes are exactly those opaque fields (at least 8
 * bytes long, SPIs only when not zero); every other byte of the message is
 * kept. A later message of the same length whose bytes outside the holes are
 * equal (and whose SPI holes are not zero) is written as the template's text
 * with the hex of its own hole bytes, with no decoding and no object.
 *
 * The text of each output mode is made from the real renderers' output
 * (`ikev2Summary`, `toJson`, `renderLayer`) on the template's bytes, cut at
 * every occurrence of a hole's hex (in full, or its first HEX_MAX bytes
 * followed by `...`), and accepted only when it reproduces, character for
 * character, the real decoder's and renderer's text of two variants of the
 * message whose hole bytes are changed (every bit of every hole byte flipped
 * in one of them). Otherwise that mode has no template text and the message
 * goes through the real decoder. test/decode/fast-ike.test.ts compares the
 * output with the full decoder's on every fixture, on the bench captures and
 * on mutated messages.
 *
 * Used only when no IKE tracker is fed (decode without --stats): the tracker
 * needs the decoded message's event.
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { toHex } from "../core/bytes.ts";
import { decodeIkev2, type Ikev2Message } from "../ike/v2/message.ts";
import { validateIkev2 } from "../ike/v2/validate.ts";
import { ikev2Summary } from "../ike/v2/summary.ts";
import { ascii, type ByteWriter, putHex, putSeg } from "./output.ts";
import { HEX_MAX, renderLayer } from "./render-tree.ts";
import { toJson } from "./render-json.ts";

/** Output modes, as Decoder.fast numbers them. */
export const T_SUMMARY = 0, T_JSON = 1, T_TREE = 2;

/** Shorter opaque fields are kept as exact bytes (their hex would be found by chance in the text). */
const MIN_HOLE = 8;
/** Notify types whose data the decoder keeps as opaque bytes (NAT_DETECTION_*_IP, COOKIE, COOKIE2). */
const OPAQUE_NOTIFY = new Set([16388, 16389, 16390, 16401]);
/** Templates per (length, offset, exchange) bucket, and buckets in all. */
const PER_BUCKET = 4;
const MAX_BUCKETS = 64;
/** Longer messages are not learned (memory: at most MAX_BUCKETS x PER_BUCKET copies of this size). */
const MAX_LEN = 4096;

/** The text of one output mode: literals around the hex of hole bytes. */
interface ModeText {
  /** n + 1 literal segments (UTF-8). */
  lits: Uint8Array[];
  /** Hex of message bytes [from[k], to[k]) goes between lits[k] and lits[k + 1]. */
  from: Int32Array;
  to: Int32Array;
  /** Bytes written at most. */
  max: number;
}

interface Hole {
  start: number;
  end: number;
  /** An SPI: a hole only while not all zero (the validator checks that). */
  spi: boolean;
}

/** One learned message shape. */
export class IkeTemplate {
  /** Exact-compare ranges [s, e) of the message, pairwise. */
  private readonly cmp: Int32Array;
  /** Start offsets of SPI holes (8 bytes each; must not be zero). */
  private readonly spis: number[];
  /** Per mode: text, null (no template text for that mode), undefined (not made yet). */
  private readonly texts: (ModeText | null | undefined)[] = [undefined, undefined, undefined];

  constructor(
    /** Offset of the message in the frame (42: UDP 500, 46: behind the non-ESP marker). */
    readonly off: number,
    /** The message bytes. */
    private readonly base: Uint8Array,
    private readonly holes: Hole[],
  ) {
    const cmp: number[] = [];
    let p = 0;
    for (const h of holes) {
      if (h.start > p) cmp.push(p, h.start);
      p = h.end;
    }
    if (p < base.length) cmp.push(p, base.length);
    // the header's fixed part (bytes 16-27) first: it tells most messages apart
    this.cmp = Int32Array.from(cmp);
    this.spis = holes.filter((h) => h.spi).map((h) => h.start);
  }

  /** True when `b[o, o + len)` is this shape (same bytes outside the holes, SPI holes not zero). */
  matches(b: Uint8Array, o: number, len: number): boolean {
    const base = this.base;
    if (len !== base.length) return false;
    const cmp = this.cmp;
    for (let k = 0; k < cmp.length; k += 2) {
      for (let i = cmp[k], e = cmp[k + 1]; i < e; i++) if (b[o + i] !== base[i]) return false;
    }
    const spis = this.spis;
    for (let k = 0; k < spis.length; k++) {
      const s = o + spis[k];
      if ((b[s] | b[s + 1] | b[s + 2] | b[s + 3] | b[s + 4] | b[s + 5] | b[s + 6] | b[s + 7]) === 0) return false;
    }
    return true;
  }

  /** The text of `mode` (made on first use; null when it could not be proven). */
  text(mode: number): ModeText | null {
    let t = this.texts[mode];
    if (t === undefined) this.texts[mode] = t = makeText(this.off, this.base, this.holes, mode);
    return t;
  }

  /** Write the mode's text for the message at `b[o, ...)` (text(mode) must be non-null). */
  write(w: ByteWriter, mode: number, b: Uint8Array, o: number): void {
    const t = this.texts[mode]!;
    w.ensure(t.max);
    const buf = w.buf, lits = t.lits, from = t.from, to = t.to;
    let p = w.pos;
    const n = from.length;
    for (let k = 0; k < n; k++) {
      p = putSeg(buf, p, lits[k]);
      p = putHex(buf, p, b, o + from[k], o + to[k]);
    }
    w.pos = putSeg(buf, p, lits[n]);
  }
}

/** What the fast paths print for a decoded IKEv2 message in `mode` (before the fast path's own suffix). */
export function ikeText(m: Ikev2Message, mode: number): string {
  return mode === T_SUMMARY ? "IKEv2 " + ikev2Summary(m, { spis: "suffix" }) : mode === T_JSON ? toJson(m) : renderLayer(m);
}

/** The message in `msg` decoded at offset `off` of a frame, or null on any anomaly. */
function decodeAt(off: number, msg: Uint8Array): Ikev2Message | null {
  const b = new Uint8Array(off + msg.length);
  b.set(msg, off);
  const an: Anomaly[] = [];
  const m = decodeIkev2(b, off, b.length, an);
  if (m === null || an.length !== 0 || validateIkev2(m).length !== 0) return null;
  return m;
}

/** `msg` with every hole byte XORed with `x`; null when an SPI hole would become zero. */
function variant(msg: Uint8Array, holes: Hole[], x: number): Uint8Array | null {
  const v = msg.slice();
  for (const h of holes) {
    let z = 0;
    for (let i = h.start; i < h.end; i++) z |= v[i] ^= x;
    if (h.spi && z === 0) return null;
  }
  return v;
}

interface Occ {
  pos: number;
  len: number;
  from: number;
  to: number;
}

function makeText(off: number, msg: Uint8Array, holes: Hole[], mode: number): ModeText | null {
  const m = decodeAt(off, msg);
  if (m === null) return null;
  const s = ikeText(m, mode);
  // every occurrence of each hole's hex: in full, or cut after HEX_MAX bytes and followed by "..."
  const occ: Occ[] = [];
  for (const h of holes) {
    const full = toHex(msg, h.start, h.end);
    for (let i = s.indexOf(full); i >= 0; i = s.indexOf(full, i + full.length)) occ.push({ pos: i, len: full.length, from: h.start, to: h.end });
    if (h.end - h.start > HEX_MAX) {
      const cut = toHex(msg, h.start, h.start + HEX_MAX);
      const key = cut + "...";
      for (let i = s.indexOf(key); i >= 0; i = s.indexOf(key, i + key.length)) occ.push({ pos: i, len: cut.length, from: h.start, to: h.start + HEX_MAX });
    }
  }
  occ.sort((a, b) => a.pos - b.pos);
  const lits: string[] = [];
  let p = 0;
  for (const o of occ) {
    if (o.pos < p) return null; // overlapping occurrences: ambiguous
    lits.push(s.slice(p, o.pos));
    p = o.pos + o.len;
  }
  lits.push(s.slice(p));
  // proof: the real decoder and renderer on changed hole bytes give exactly the filled-in text
  for (const x of [0xa5, 0x5a]) {
    const v = variant(msg, holes, x);
    if (v === null) return null;
    const mv = decodeAt(off, v);
    if (mv === null) return null;
    let want = lits[0];
    for (let k = 0; k < occ.length; k++) want += toHex(v, occ[k].from, occ[k].to) + lits[k + 1];
    if (ikeText(mv, mode) !== want) return null;
  }
  const enc = lits.map(ascii);
  let max = 0;
  for (const e of enc) max += e.length;
  for (const o of occ) max += 2 * (o.to - o.from);
  return { lits: enc, from: Int32Array.from(occ, (o) => o.from), to: Int32Array.from(occ, (o) => o.to), max };
}

function isZero(v: Uint8Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/** The opaque fields of a decoded message, relative to its start (views into `b`, message at `off`). */
function holesOf(m: Ikev2Message, b: Uint8Array, off: number): Hole[] {
  const holes: Hole[] = [];
  const base = b.byteOffset + off;
  const add = (v: Uint8Array, spi: boolean) => {
    if (v.length >= MIN_HOLE && v.buffer === b.buffer) holes.push({ start: v.byteOffset - base, end: v.byteOffset - base + v.length, spi });
  };
  if (!isZero(m.ispi)) add(m.ispi, true);
  if (!isZero(m.rspi)) add(m.rspi, true);
  for (const p of m.payloads) {
    switch (p.kind) {
      case "ke":
        add(p.data, false);
        break;
      case "nonce":
        add(p.nonce, false);
        break;
      case "notify":
        if (OPAQUE_NOTIFY.has(p.notifyType)) add(p.data, false);
        break;
      case "sk":
      case "skf":
        add(p.encrypted, false);
        break;
    }
  }
  holes.sort((x, y) => x.start - y.start);
  for (let i = 1; i < holes.length; i++) if (holes[i].start < holes[i - 1].end) return [];
  return holes;
}

/** The templates of one FastPaths (bounded: MAX_BUCKETS x PER_BUCKET). */
export class IkeTemplates {
  private readonly buckets = new Map<number, IkeTemplate[]>();
  private readonly rr = new Map<number, number>();
  private builds = 0;
  /** Messages written from a template so far. */
  hits = 0;
  /** The last {@link find} matched a template that has no text for its mode: do not learn that shape again. */
  declined = false;

  private static key(b: Uint8Array, off: number, len: number): number {
    return len * 65536 + (off & 255) * 256 + b[off + 18];
  }

  /** The template of the message `b[off, end)` with text for `mode`, or null. */
  find(b: Uint8Array, off: number, end: number, mode: number): IkeTemplate | null {
    const len = end - off;
    this.declined = false;
    if (len < 28 || off > 255) return null;
    const list = this.buckets.get(IkeTemplates.key(b, off, len));
    if (list === undefined) return null;
    for (let i = 0; i < list.length; i++) {
      const t = list[i];
      if (t.off === off && t.matches(b, off, len)) {
        if (t.text(mode) === null) {
          this.declined = true;
          return null;
        }
        this.hits++;
        return t;
      }
    }
    return null;
  }

  /**
   * Learn the shape of `m`, decoded from `b[off, end)` without an anomaly (and
   * not matched by {@link find}). Bounded work: a few shapes up front, then one
   * per eight template hits.
   */
  learn(b: Uint8Array, off: number, end: number, m: Ikev2Message): void {
    const len = end - off;
    if (this.declined || len < 28 || len > MAX_LEN || off > 255 || m.length !== len || this.builds >= 16 + (this.hits >>> 3)) return;
    this.builds++;
    const k = IkeTemplates.key(b, off, len);
    let list = this.buckets.get(k);
    if (list === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) {
        this.buckets.clear();
        this.rr.clear();
      }
      this.buckets.set(k, (list = []));
    }
    const t = new IkeTemplate(off, b.slice(off, end), holesOf(m, b, off));
    if (list.length < PER_BUCKET) list.push(t);
    else {
      const i = this.rr.get(k) ?? 0;
      list[i] = t;
      this.rr.set(k, (i + 1) % PER_BUCKET);
    }
  }
}
