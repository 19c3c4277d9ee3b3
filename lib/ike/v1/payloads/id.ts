/**
 * ISAKMP Identification payload (RFC 2408 §3.8, IPsec DOI RFC 2407 §4.6.2):
 * ID type (1), protocol (1), port (2), identification data. The data is
 * rendered per type: addresses, subnets and ranges as text, FQDN/USER_FQDN
 * as text, DER_ASN1_DN as an RFC 4514-like string when it parses.
 * @module
 */
import { type Anomaly, anomaly } from "../../../core/anomaly.ts";
import { ipv4Text, ipv6Text, isPrintable, printable, toHex, u16 } from "../../../core/bytes.ts";
import { ID_TYPES } from "../registry.ts";
import { type IsakmpContext, type IsakmpPayloadBase, need, readGenericHeader, WIRE } from "./generic.ts";

export interface IdPayload extends IsakmpPayloadBase {
  kind: "id";
  idType: number;
  idTypeName: string;
  /** IP protocol (IPsec DOI); 0 = unused. */
  protocolId: number;
  port: number;
  data: Uint8Array;
  /** Address (IPV4/6_ADDR, the address of a *_SUBNET, the start of a *_RANGE). */
  address?: string;
  /** Netmask of a *_SUBNET, as an address. */
  mask?: string;
  /** Prefix length of a *_SUBNET when the mask is contiguous. */
  prefixLength?: number;
  /** End of a *_RANGE. */
  rangeEnd?: string;
  /** One-line rendering of the identification data. */
  text: string;
}

const SIZES: Record<number, number> = { 1: 4, 4: 8, 5: 16, 6: 32, 7: 8, 8: 32 };

/** Prefix length of a contiguous netmask, else -1. */
function prefixLen(b: Uint8Array): number {
  let n = 0, i = 0;
  for (; i < b.length && b[i] === 0xff; i++) n += 8;
  if (i < b.length) {
    let x = b[i];
    while (x & 0x80) { n++; x = (x << 1) & 0xff; }
    if (x !== 0) return -1;
    for (i++; i < b.length; i++) if (b[i] !== 0) return -1;
  }
  return n;
}

/** Decode an Identification payload at `off`. */
export function decodeIdPayload(b: Uint8Array, off: number, end: number, an: Anomaly[], ctx: IsakmpContext = WIRE): IdPayload | null {
  const layer = `${ctx.prefix}.id`;
  const h = readGenericHeader(b, off, end, an, 5, layer);
  if (!h) return null;
  const { bodyOff, pend } = h;
  const p: IdPayload = { ...h.base, kind: "id", idType: 0, idTypeName: "", protocolId: 0, port: 0, data: b.subarray(pend, pend), text: "" };
  if (!need(an, layer, bodyOff, pend, 4, "ID header")) return p;
  p.idType = b[bodyOff];
  p.idTypeName = ID_TYPES.name(p.idType);
  p.protocolId = b[bodyOff + 1];
  p.port = u16(b, bodyOff + 2);
  const d = b.subarray(bodyOff + 4, pend);
  p.data = d;
  const want = SIZES[p.idType];
  if (want !== undefined && d.length !== want) {
    anomaly(an, layer, bodyOff + 4, `${p.idTypeName} data is ${d.length} bytes, expected ${want}`);
    p.text = toHex(d);
    return p;
  }
  const v6 = p.idType === 5 || p.idType === 6 || p.idType === 8;
  const addr = (o: number) => (v6 ? ipv6Text(d, o) : ipv4Text(d, o));
  const half = v6 ? 16 : 4;
  switch (p.idType) {
    case 1:
    case 5:
      p.address = addr(0);
      p.text = p.address;
      break;
    case 4:
    case 6: {
      p.address = addr(0);
      p.mask = addr(half);
      const pl = prefixLen(d.subarray(half, 2 * half));
      if (pl >= 0) p.prefixLength = pl;
      p.text = `${p.address}/${pl >= 0 ? pl : p.mask}`;
      break;
    }
    case 7:
    case 8:
      p.address = addr(0);
      p.rangeEnd = addr(half);
      p.text = `${p.address}-${p.rangeEnd}`;
      break;
    case 2:
    case 3:
      if (!isPrintable(d)) anomaly(an, layer, bodyOff + 4, `${p.idTypeName} is not printable ASCII`);
      p.text = printable(d);
      break;
    case 9:
      p.text = derDnText(d) ?? toHex(d);
      break;
    case 11:
      p.text = d.length > 0 && isPrintable(d) ? printable(d) : toHex(d);
      break;
    default:
      p.text = toHex(d);
  }
  return p;
}

const OIDS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.4": "SN",
  "2.5.4.5": "serialNumber",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.9": "street",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "2.5.4.12": "title",
  "2.5.4.42": "GN",
  "1.2.840.113549.1.9.1": "E",
  "0.9.2342.19200300.100.1.25": "DC",
  "0.9.2342.19200300.100.1.1": "UID",
};

/** DER TLV at `o` within `end`: [tag, valueStart, valueEnd] or null. */
function tlv(d: Uint8Array, o: number, end: number): [number, number, number] | null {
  if (o + 2 > end) return null;
  const tag = d[o];
  let len = d[o + 1];
  let v = o + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || v + n > end) return null;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + d[v + i];
    v += n;
  }
  if (v + len > end) return null;
  return [tag, v, v + len];
}

function oidText(d: Uint8Array, s: number, e: number): string | null {
  if (s >= e) return null;
  const parts: number[] = [Math.floor(d[s] / 40), d[s] % 40];
  let v = 0;
  for (let i = s + 1; i < e; i++) {
    v = v * 128 + (d[i] & 0x7f);
    if (v > 2 ** 40) return null;
    if (!(d[i] & 0x80)) { parts.push(v); v = 0; }
  }
  return parts.join(".");
}

/** Render a DER Name (SEQUENCE OF SET OF AttributeTypeAndValue) as `C=.., O=.., CN=..`; null if it does not parse. */
export function derDnText(d: Uint8Array): string | null {
  const top = tlv(d, 0, d.length);
  if (!top || top[0] !== 0x30 || top[2] !== d.length) return null;
  const out: string[] = [];
  let o = top[1];
  while (o < top[2]) {
    const set = tlv(d, o, top[2]);
    if (!set || set[0] !== 0x31) return null;
    let q = set[1];
    while (q < set[2]) {
      const atv = tlv(d, q, set[2]);
      if (!atv || atv[0] !== 0x30) return null;
      const oid = tlv(d, atv[1], atv[2]);
      if (!oid || oid[0] !== 0x06) return null;
      const val = tlv(d, oid[2], atv[2]);
      if (!val) return null;
      const o2 = oidText(d, oid[1], oid[2]);
      if (o2 === null) return null;
      const vb = d.subarray(val[1], val[2]);
      const text = isPrintable(vb) ? printable(vb) : `#${toHex(vb)}`;
      out.push(`${OIDS[o2] ?? o2}=${text}`);
      q = atv[2];
    }
    o = set[2];
  }
  return out.join(", ");
}
