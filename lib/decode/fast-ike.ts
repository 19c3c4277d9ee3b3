/**
 * IKEv2 part of the fast paths (lib/decode/fast-summary.ts): an IKEv2
 * message in UDP on port 500 or behind the non-ESP marker on a NAT-T port,
 * over Ethernet/IPv4, in a capture full of IKE (rekeys, DPD, retries).
 *
 * Two tiers, both only when the full decoder would record no anomaly:
 * - a message that is exactly one SK payload (IKE_AUTH, CREATE_CHILD_SA,
 *   INFORMATIONAL, IKE_INTERMEDIATE, IKE_FOLLOWUP_KE after IKE_SA_INIT:
 *   nearly every IKE message of a running tunnel) is read from its header
 *   bytes and written straight into the output buffer, with no object per
 *   packet; the checks are exactly those the decoder and validateIkev2 make
 *   on such a message (version, reserved flags, length, SPIs, message ID,
 *   SK header);
 * - any other IKEv2 message is decoded by the real IKEv2 decoder and
 *   validator, and only its IKE layer is rendered by the generic renderers
 *   (the link/IP/UDP/NAT-T text comes from the flow's cached segments); when
 *   no IKE tracker is fed, a message of a shape seen before is written from a
 *   template instead (lib/decode/fast-ike-template.ts).
 * Both feed the IKE tracker with the event the full decoder would build.
 * test/decode/fast-summary.test.ts compares every output with the full
 * decoder's on all fixtures, on mutated IKE packets and on the bench captures.
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { toHex } from "../core/bytes.ts";
import { decodeIkev2 } from "../ike/v2/message.ts";
import { validateIkev2 } from "../ike/v2/validate.ts";
import { ikev2Summary } from "../ike/v2/summary.ts";
import { EXCHANGE_TYPES, PAYLOAD_ABBREV, PAYLOAD_TYPES } from "../ike/v2/registry.ts";
import { type IkeTracker, ikev2Event } from "./ike-tracker.ts";
import { ascii, type ByteWriter, putDec, putHex, putSeg } from "./output.ts";
import { renderLayer } from "./render-tree.ts";
import { toJson } from "./render-json.ts";

/** Payload bytes shown in full in `-v` before `...` (render-tree's HEX_MAX). */
const HEX_MAX = 48;
const SK_TOKEN = PAYLOAD_ABBREV.name(46);

/** The SK-only message found by {@link skOnly} (fields of the last call). */
export interface SkMsg {
  off: number;
  len: number;
  exch: number;
  flags: number;
  mid: number;
}

/**
 * True when `b[off, end)` is an IKEv2 message made of exactly one SK payload
 * that the full decoder and validator pass without an anomaly; fills `m`.
 */
export function skOnly(b: Uint8Array, off: number, end: number, m: SkMsg): boolean {
  const len = end - off;
  if (len < 33) return false; // header + SK header + at least one byte (an empty SK is an anomaly)
  if (b[off + 16] !== 46 || b[off + 17] >> 4 !== 2) return false;
  const exch = b[off + 18];
  if (exch !== 35 && exch !== 36 && exch !== 37 && exch !== 43 && exch !== 44) return false;
  const flags = b[off + 19];
  if ((flags & 0xc7) !== 0) return false;
  const mid = ((b[off + 20] << 24) >>> 0) + ((b[off + 21] << 16) | (b[off + 22] << 8) | b[off + 23]);
  if (mid === 0 && (exch === 35 || exch === 43)) return false;
  if (b[off + 24] !== 0 || b[off + 25] !== 0 || ((b[off + 26] << 8) | b[off + 27]) !== len) return false;
  let z = 0;
  for (let i = 0; i < 8; i++) z |= b[off + i];
  if (z === 0) return false;
  z = 0;
  for (let i = 8; i < 16; i++) z |= b[off + i];
  if (z === 0) return false;
  // SK generic header: no reserved bits, length exactly the rest of the message
  if ((b[off + 29] & 0x7f) !== 0 || ((b[off + 30] << 8) | b[off + 31]) !== len - 28) return false;
  m.off = off;
  m.len = len;
  m.exch = exch;
  m.flags = flags;
  m.mid = mid;
  return true;
}

/** Text cached per code (registries are data: names are built once). */
function cached(t: (Uint8Array | undefined)[], code: number, make: (c: number) => string): Uint8Array {
  let s = t[code];
  if (s === undefined) t[code] = s = ascii(make(code));
  return s;
}

const sumExch: (Uint8Array | undefined)[] = [];

const S_REQ_I = ascii(" request I mid ");
const S_REQ_R = ascii(" request R mid ");
const S_RSP_I = ascii(" response I mid ");
const S_RSP_R = ascii(" response R mid ");
const S_SK = ascii(` [ ${SK_TOKEN} ] `);

const T_ISPI = ascii(" bytes\n    ispi: ");
const T_RSPI = ascii(" (8 bytes)\n    rspi: ");
const T_DLEN = ascii("\n    declaredLength: ");
const T_PL = ascii(`\n    payloads: (1)\n      [0] ${PAYLOAD_TYPES.name(46)} @`);
const T_DOTS = ascii("... (");
const T_BYTES = ascii(" bytes)\n\n");

const J_ISPI = ascii(',"ispi":"');
const J_RSPI = ascii('","rspi":"');
const J_DLEN = ascii(',"declaredLength":');
const J_PL = ascii(',"payloads":[{"layer":"ikev2.sk","offset":');
const J_SKLEN = ascii(',"length":');
const J_END = ascii('"}]}],"anomalies":[]}\n');

// Hex of an IKE SPI, cached (a capture has few IKE SAs, each seen many times):
// direct-mapped on the SPI's two words, compared in full on a hit.
const hxHi = new Int32Array(256);
const hxLo = new Int32Array(256);
const hxStr: string[] = new Array<string>(256).fill("");

function spiHexAt(b: Uint8Array, o: number): string {
  const hi = (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
  const lo = (b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7];
  const h = Math.imul(hi ^ Math.imul(lo, 0x9e3779b1), 0x85ebca6b) >>> 24;
  const s = hxStr[h];
  if (s !== "" && hxHi[h] === hi && hxLo[h] === lo) return s;
  const t = toHex(b, o, o + 8);
  hxHi[h] = hi;
  hxLo[h] = lo;
  hxStr[h] = t;
  return t;
}

/** Feed the IKE tracker exactly as the full decoder does for an SK-only message. */
export function observeSk(ike: IkeTracker, b: Uint8Array, m: SkMsg, no: number, tsSec: number, tsNsec: number, src: string, dst: string): void {
  const o = m.off;
  ike.observe({
    no, tsSec, tsNsec, version: 2,
    ispi: spiHexAt(b, o), rspi: spiHexAt(b, o + 8), exchange: EXCHANGE_TYPES.name(m.exch), messageId: m.mid,
    initiator: (m.flags & 0x08) !== 0, response: (m.flags & 0x20) !== 0,
    payloads: SK_TOKEN, notifies: [], encrypted: true,
    src, dst, length: m.len,
  });
}

/** Summary text from `IKEv2 ` on (after the flow's address segment), with the newline. */
export function skSummary(buf: Uint8Array, p: number, b: Uint8Array, m: SkMsg): number {
  const o = m.off;
  p = putSeg(buf, p, cached(sumExch, m.exch, (c) => `IKEv2 ${EXCHANGE_TYPES.name(c)}`));
  const resp = (m.flags & 0x20) !== 0, ini = (m.flags & 0x08) !== 0;
  p = putSeg(buf, p, resp ? (ini ? S_RSP_I : S_RSP_R) : ini ? S_REQ_I : S_REQ_R);
  p = putDec(buf, p, m.mid);
  p = putSeg(buf, p, S_SK);
  p = putHex(buf, p, b, o, o + 8);
  buf[p++] = 47; // '/'
  p = putHex(buf, p, b, o + 8, o + 16);
  buf[p++] = 10;
  return p;
}

// The text between the SPIs and the message ID, and between the SK length and its
// ciphertext, depends only on a few header bits: made once per combination.
const treeHead: (Uint8Array | undefined)[] = [];
const treeSk: (Uint8Array | undefined)[] = [];
const jsonHead: (Uint8Array | undefined)[] = [];
const jsonSk: (Uint8Array | undefined)[] = [];
const yes = (v: boolean) => (v ? "true" : "false");

/** Index of (minor version, exchange, flags) of an SK-only message (flags has bits 0x38 only, exchange < 64). */
function headIndex(b: Uint8Array, m: SkMsg): number {
  return ((b[m.off + 17] & 15) << 9) | ((m.exch & 63) << 3) | ((m.flags >> 3) & 7);
}

function treeHeadText(minor: number, exch: number, fl: number): Uint8Array {
  return ascii(
    ` (8 bytes)\n    nextPayload: ${PAYLOAD_TYPES.name(46)} (46)\n    majorVersion: 2\n    minorVersion: ${minor}\n    exchange: ${EXCHANGE_TYPES.name(exch)} (${exch})` +
      `\n    flags:\n      initiator: ${yes((fl & 0x08) !== 0)}\n      response: ${yes((fl & 0x20) !== 0)}\n      higherVersion: ${yes((fl & 0x10) !== 0)}` +
      `\n      raw: ${fl}\n    messageId: `,
  );
}

function treeSkText(critical: boolean, inner: number): Uint8Array {
  return ascii(` bytes\n        kind: sk\n        type: ${PAYLOAD_TYPES.name(46)} (46)\n        critical: ${yes(critical)}\n        nextPayload: ${PAYLOAD_TYPES.name(inner)} (${inner})\n        encrypted: `);
}

/** `-v` text of the ikev2 layer (from `  ikev2 @`'s offset on), with the blank line after the packet. */
export function skTree(buf: Uint8Array, p: number, b: Uint8Array, m: SkMsg): number {
  const o = m.off;
  p = putDec(buf, p, o);
  buf[p++] = 44; // ','
  buf[p++] = 32;
  p = putDec(buf, p, m.len);
  p = putSeg(buf, p, T_ISPI);
  p = putHex(buf, p, b, o, o + 8);
  p = putSeg(buf, p, T_RSPI);
  p = putHex(buf, p, b, o + 8, o + 16);
  const hi = headIndex(b, m);
  p = putSeg(buf, p, treeHead[hi] ??= treeHeadText(b[o + 17] & 15, m.exch, m.flags));
  p = putDec(buf, p, m.mid);
  p = putSeg(buf, p, T_DLEN);
  p = putDec(buf, p, m.len);
  p = putSeg(buf, p, T_PL);
  p = putDec(buf, p, o + 28);
  buf[p++] = 44;
  buf[p++] = 32;
  p = putDec(buf, p, m.len - 28);
  const si = (b[o + 29] & 0x80) << 1 | b[o + 28];
  p = putSeg(buf, p, treeSk[si] ??= treeSkText((b[o + 29] & 0x80) !== 0, b[o + 28]));
  const n = m.len - 32;
  p = putHex(buf, p, b, o + 32, o + 32 + (n <= HEX_MAX ? n : HEX_MAX));
  if (n > HEX_MAX) p = putSeg(buf, p, T_DOTS);
  else {
    buf[p++] = 32;
    buf[p++] = 40; // '('
  }
  p = putDec(buf, p, n);
  return putSeg(buf, p, T_BYTES);
}

function jsonHeadText(minor: number, exch: number, fl: number): Uint8Array {
  return ascii(
    `","nextPayload":46,"nextPayloadName":${JSON.stringify(PAYLOAD_TYPES.name(46))},"majorVersion":2,"minorVersion":${minor}` +
      `,"exchange":${exch},"exchangeName":${JSON.stringify(EXCHANGE_TYPES.name(exch))}` +
      `,"flags":{"initiator":${yes((fl & 0x08) !== 0)},"response":${yes((fl & 0x20) !== 0)},"higherVersion":${yes((fl & 0x10) !== 0)},"raw":${fl}},"messageId":`,
  );
}

function jsonSkText(critical: boolean, inner: number): Uint8Array {
  return ascii(
    `,"kind":"sk","type":46,"typeName":${JSON.stringify(PAYLOAD_TYPES.name(46))},"critical":${yes(critical)}` +
      `,"nextPayload":${inner},"nextPayloadName":${JSON.stringify(PAYLOAD_TYPES.name(inner))},"encrypted":"`,
  );
}

/** JSON text of the ikev2 layer (from its `"offset":` value on) to the end of the line. */
export function skJson(buf: Uint8Array, p: number, b: Uint8Array, m: SkMsg): number {
  const o = m.off;
  p = putDec(buf, p, o);
  p = putSeg(buf, p, J_SKLEN);
  p = putDec(buf, p, m.len);
  p = putSeg(buf, p, J_ISPI);
  p = putHex(buf, p, b, o, o + 8);
  p = putSeg(buf, p, J_RSPI);
  p = putHex(buf, p, b, o + 8, o + 16);
  p = putSeg(buf, p, jsonHead[headIndex(b, m)] ??= jsonHeadText(b[o + 17] & 15, m.exch, m.flags));
  p = putDec(buf, p, m.mid);
  p = putSeg(buf, p, J_DLEN);
  p = putDec(buf, p, m.len);
  p = putSeg(buf, p, J_PL);
  p = putDec(buf, p, o + 28);
  p = putSeg(buf, p, J_SKLEN);
  p = putDec(buf, p, m.len - 28);
  p = putSeg(buf, p, jsonSk[(b[o + 29] & 0x80) << 1 | b[o + 28]] ??= jsonSkText((b[o + 29] & 0x80) !== 0, b[o + 28]));
  p = putHex(buf, p, b, o + 32, o + m.len);
  return putSeg(buf, p, J_END);
}

/** Most bytes {@link skTree} / {@link skJson} / {@link skSummary} write besides the payload hex. */
export const SK_MAX_FIXED = 1024;

/**
 * Any other IKEv2 message: the real decoder and validator; null when either
 * records an anomaly (or it is not IKEv2), else the message, and the tracker
 * (when given) has been fed.
 */
export function fullIke(ike: IkeTracker | null, b: Uint8Array, off: number, end: number, no: number, tsSec: number, tsNsec: number, src: string, dst: string) {
  if (off + 17 >= end || b[off + 17] >> 4 !== 2) return null;
  const an: Anomaly[] = [];
  const m = decodeIkev2(b, off, end, an);
  if (m === null || an.length !== 0 || validateIkev2(m).length !== 0) return null;
  if (ike !== null) ike.observe(ikev2Event(no, tsSec, tsNsec, m, src, dst));
  return m;
}

/** Write text through the writer's UTF-8 path (generic renderings may hold any character). */
export function text(w: ByteWriter, s: string): void {
  w.text(s);
}

export { ikev2Summary, renderLayer, toJson };
