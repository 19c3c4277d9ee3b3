/** Test helpers for the ESP tests. */
import { readFileSync } from "node:fs";
import { fromHex } from "../../lib/core/bytes.ts";
import { internetChecksum } from "../../lib/esp/icmp.ts";

export function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (b === null) throw new Error(`bad hex ${s}`);
  return b;
}

export interface GoldenKey { spi: string; src: string; dst: string; encr: string; strongswan_encr?: string; ekey: string; integ: string; ikey: string }
export interface GoldenEsp { frame: number; spi: string; hex: string; time?: number; src?: string; dst?: string }
export interface Golden {
  fixture: string;
  keys: GoldenKey[];
  esp: GoldenEsp[];
  sll2?: { esp: GoldenEsp[]; inner: { frame: number; src: string; dst: string; hex: string }[] };
}

export function golden(name: string): Golden {
  return JSON.parse(readFileSync(new URL(`./golden/${name}`, import.meta.url), "utf8")) as Golden;
}

export function keyFor(g: Golden, spi: string): GoldenKey {
  const k = g.keys.find((k) => k.spi === spi);
  if (k === undefined) throw new Error(`no key for SPI ${spi}`);
  return k;
}

/** A valid IPv4/ICMP echo request of `payloadLen` data bytes, with checksums, DF optional. */
export function ipv4Packet(payloadLen: number, opts: { df?: boolean; proto?: number; icmpType?: number; src?: number[]; dst?: number[]; fragOff?: number } = {}): Uint8Array {
  const total = 20 + 8 + payloadLen;
  const p = new Uint8Array(total);
  p[0] = 0x45;
  p[2] = total >> 8; p[3] = total & 0xff;
  p[4] = 0x12; p[5] = 0x34;
  const ff = (opts.df ? 0x4000 : 0) | (opts.fragOff ?? 0);
  p[6] = ff >> 8; p[7] = ff & 0xff;
  p[8] = 64;
  p[9] = opts.proto ?? 1;
  p.set(opts.src ?? [198, 51, 100, 1], 12);
  p.set(opts.dst ?? [203, 0, 113, 1], 16);
  const c = internetChecksum(p, 0, 20);
  p[10] = c >> 8; p[11] = c & 0xff;
  p[20] = opts.icmpType ?? 8;
  for (let i = 0; i < payloadLen; i++) p[28 + i] = i & 0xff;
  if ((opts.proto ?? 1) === 1) {
    const ic = internetChecksum(p, 20, total);
    p[22] = ic >> 8; p[23] = ic & 0xff;
  }
  return p;
}

/** A valid IPv6/ICMPv6 echo request (type 128) of `payloadLen` data bytes. */
export function ipv6Packet(payloadLen: number, opts: { nh?: number; icmpType?: number; src?: Uint8Array; dst?: Uint8Array } = {}): Uint8Array {
  const plen = 8 + payloadLen;
  const p = new Uint8Array(40 + plen);
  p[0] = 0x60;
  p[4] = plen >> 8; p[5] = plen & 0xff;
  p[6] = opts.nh ?? 58;
  p[7] = 64;
  p.set(opts.src ?? hex("20010db8000000000000000000000001"), 8);
  p.set(opts.dst ?? hex("20010db8000000000000000000000002"), 24);
  p[40] = opts.icmpType ?? 128;
  for (let i = 0; i < payloadLen; i++) p[48 + i] = i & 0xff;
  return p;
}

/** ICMPv6 checksum check (pseudo-header) of an IPv6 packet with no extension headers. */
export function icmp6ChecksumOk(p: Uint8Array): boolean {
  const len = (p[4] << 8) | p[5];
  const pseudo = new Uint8Array(40 + len);
  pseudo.set(p.subarray(8, 40), 0);
  pseudo[32] = len >>> 24; pseudo[33] = (len >>> 16) & 0xff; pseudo[34] = (len >>> 8) & 0xff; pseudo[35] = len & 0xff;
  pseudo[39] = 58;
  pseudo.set(p.subarray(40, 40 + len), 40);
  return internetChecksum(pseudo) === 0;
}

export function keyMaterial(len: number, seed = 1): Uint8Array {
  const k = new Uint8Array(len);
  for (let i = 0; i < len; i++) k[i] = (i * 31 + seed * 7) & 0xff;
  return k;
}
