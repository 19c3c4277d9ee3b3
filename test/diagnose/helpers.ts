// Test helpers: diagnose a capture through the real pipeline, and build
// synthetic captures (raw IPv4 frames with real IKEv2/ESP bytes) for the
// cases no fixture covers.
import { decodeFile, FIX } from "../decode/helpers.ts";
import { loadKeyStore } from "../../lib/keys/load.ts";
import { Decoder } from "../../lib/decode/pipeline.ts";
import { Diagnoser } from "../../lib/diagnose/diagnoser.ts";
import type { Diagnosis, Finding } from "../../lib/diagnose/types.ts";
import { encodeIkev2Message, type HeaderSpec } from "../../lib/ike/v2/encode/message.ts";
import type { PayloadSpec } from "../../lib/ike/v2/encode/payloads.ts";
import { foldComplement, onesSum } from "../../lib/net/checksum.ts";
import { parseIp } from "../../lib/net/cidr.ts";

/** Diagnose `fixtures/<rel>` (a capture path); `keys` are key files next to it (names only). */
export async function diagnoseFixture(rel: string, keys: string[] = []): Promise<Diagnosis> {
  const path = FIX + rel;
  const dir = path.slice(0, path.lastIndexOf("/") + 1);
  const opts = keys.length ? { keys: loadKeyStore(keys.map((k) => dir + k)) } : {};
  const { packets } = await decodeFile(path, opts);
  const d = new Diagnoser();
  for (const p of packets) d.observe(p);
  return d.report();
}

/** Findings with a code. */
export function withCode(d: Diagnosis, code: string): Finding[] {
  return d.findings.filter((f) => f.code === code);
}

/** Findings that are errors or warnings. */
export function problems(d: Diagnosis): Finding[] {
  return d.findings.filter((f) => f.severity !== "info");
}

/** A raw IPv4 + UDP datagram. */
export function udpFrame(src: string, dst: string, sport: number, dport: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(28 + payload.length);
  b[0] = 0x45;
  b[2] = b.length >> 8;
  b[3] = b.length & 0xff;
  b[6] = 0x40; // DF
  b[8] = 64;
  b[9] = 17;
  b.set(parseIp(src)!.addr, 12);
  b.set(parseIp(dst)!.addr, 16);
  const c = foldComplement(onesSum(b, 0, 20));
  b[10] = c >> 8;
  b[11] = c & 0xff;
  const ul = 8 + payload.length;
  b[20] = sport >> 8;
  b[21] = sport & 0xff;
  b[22] = dport >> 8;
  b[23] = dport & 0xff;
  b[24] = ul >> 8;
  b[25] = ul & 0xff;
  b.set(payload, 28);
  return b;
}

/** An IKEv2 message on UDP 500 (or behind the non-ESP marker on 4500). */
export function ikeFrame(src: string, dst: string, h: HeaderSpec, payloads: PayloadSpec[], natt = false): Uint8Array {
  const m = encodeIkev2Message(h, payloads);
  const body = natt ? new Uint8Array(4 + m.length) : m;
  if (natt) body.set(m, 4);
  return udpFrame(src, dst, natt ? 4500 : 500, natt ? 4500 : 500, body);
}

/** An ESP packet in UDP 4500 (SPI, sequence number, some opaque bytes). */
export function espFrame(src: string, dst: string, spi: number, seq: number): Uint8Array {
  const e = new Uint8Array(8 + 48);
  new DataView(e.buffer).setUint32(0, spi >>> 0);
  new DataView(e.buffer).setUint32(4, seq >>> 0);
  e.fill(0xab, 8);
  return udpFrame(src, dst, 4500, 4500, e);
}

/** A NAT-keepalive (one 0xff byte on UDP 4500). */
export function keepaliveFrame(src: string, dst: string): Uint8Array {
  return udpFrame(src, dst, 4500, 4500, new Uint8Array([0xff]));
}

/** Run frames (with times in seconds) through the real Decoder and the Diagnoser. */
export function diagnoseFrames(frames: { t: number; data: Uint8Array }[]): Diagnosis {
  const dec = new Decoder();
  const d = new Diagnoser();
  frames.forEach((f, i) => {
    const sec = Math.floor(f.t);
    d.observe(dec.decode({ no: i + 1, iface: 0, linkType: 101, tsSec: sec, tsNsec: Math.round((f.t - sec) * 1e9), caplen: f.data.length, len: f.data.length, data: f.data }));
  });
  return d.report();
}

export const SPI_I = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
export const SPI_R = new Uint8Array([9, 10, 11, 12, 13, 14, 15, 16]);
export const ZERO_SPI = new Uint8Array(8);
