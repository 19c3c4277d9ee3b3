/** Test helpers: golden frames (tshark-made, see golden/README.md) and tcpdump expected outputs. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fromHex } from "../../lib/core/bytes.ts";

export const ROOT = join(import.meta.dirname, "..", "..");

export interface GoldenFrame {
  no: number;
  /** Capture timestamp (tshark frame.time_epoch). */
  tsSec: number;
  tsNsec: number;
  protocols: string;
  bytes: Uint8Array;
  ip?: { version: 4 | 6; off: number; end?: number; src: string; dst: string };
  udp?: { off: number; srcport: number; dstport: number; length?: number };
  udpencap?: { keepalive: boolean; nonEspMarker: boolean };
  esp?: { off: number; len: number; spi: string; seq?: number };
  ah?: { off: number; len: number; nextHeader: number; length: number; reserved: string; spi: string; seq: number; icv: string };
}

export function loadGolden(name: string): GoldenFrame[] {
  const doc = JSON.parse(readFileSync(join(import.meta.dirname, "golden", `${name}.json`), "utf8"));
  return doc.frames.map((f: Record<string, unknown>) => ({ ...f, bytes: fromHex(f.frame as string)! }));
}

/** End of the IP datagram clamped to the captured bytes. */
export function ipEnd(f: GoldenFrame): number {
  const e = f.ip?.end ?? f.bytes.length;
  return Math.min(e, f.bytes.length);
}

/** UDP payload [off, end) clamped to the IP datagram and capture. */
export function udpPayload(f: GoldenFrame): [number, number] {
  const u = f.udp!;
  const off = u.off + 8;
  let end = ipEnd(f);
  if (u.length !== undefined) end = Math.min(end, u.off + u.length);
  return [off, Math.max(off, end)];
}

/** Read a tcpdump expected output: packet number → its first line. */
export function tcpdumpLines(file: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of readFileSync(join(ROOT, "fixtures", "tcpdump", file), "utf8").split("\n")) {
    const r = /^\s*(\d+)\s{2}(.*)$/.exec(line);
    if (r) m.set(Number(r[1]), r[2]);
  }
  return m;
}

/** tcpdump's outermost `ESP(spi=…,seq=…), length N` (seq/length absent when truncated). */
export function tcpdumpEsp(line: string): { spi: number; seq?: number; length?: number; truncated: boolean } | null {
  const r = /ESP\(spi=0x([0-9a-f]+)(?:,seq=0x([0-9a-f]+)\))?(?:, length (\d+))?( \[\|esp\])?/.exec(line);
  if (!r) return null;
  return {
    spi: parseInt(r[1], 16),
    seq: r[2] === undefined ? undefined : parseInt(r[2], 16),
    length: r[3] === undefined ? undefined : Number(r[3]),
    truncated: r[2] === undefined,
  };
}

/** tcpdump's `AH(length=L(N-bytes),spi=…,seq=…,icv=…)`. */
export function tcpdumpAh(line: string): { length: number; sumlen: number; spi: number; seq: number; icv: string } | null {
  const r = /AH\(length=(\d+)\((\d+)-bytes\),spi=0x([0-9a-f]+),seq=0x([0-9a-f]+),icv=0x([0-9a-f]+)\)/.exec(line);
  if (!r) return null;
  return { length: Number(r[1]), sumlen: Number(r[2]), spi: parseInt(r[3], 16), seq: parseInt(r[4], 16), icv: r[5] };
}

/** "00:11:22" → "001122". */
export function colonHex(s: string): string {
  return s.replace(/:/g, "");
}
