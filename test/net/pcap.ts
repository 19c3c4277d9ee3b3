/**
 * Test-only capture reader: classic pcap (both byte orders, µs/ns) and pcapng
 * (SHB, IDB, EPB, SPB, OPB). Enough to pull golden frames out of fixtures.
 */
import { readFileSync } from "node:fs";

export interface Frame {
  no: number;
  linkType: number;
  tsSec: number;
  data: Uint8Array;
}

export function readCapture(path: string): Frame[] {
  const b = new Uint8Array(readFileSync(path));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = dv.getUint32(0, false);
  const out: Frame[] = [];
  if (magic === 0x0a0d0d0a) {
    let o = 0;
    let le = true;
    const ifaces: { linkType: number; tsDiv: number }[] = [];
    while (o + 12 <= b.length) {
      const bomLe = dv.getUint32(o + 8, true) === 0x1a2b3c4d;
      const type = dv.getUint32(o, le);
      if (type === 0x0a0d0d0a) {
        le = bomLe;
        ifaces.length = 0;
      }
      const len = dv.getUint32(o + 4, le);
      if (len < 12 || o + len > b.length) break;
      if (type === 1) {
        let tsDiv = 1e6;
        // options: look for if_tsresol (9)
        let p = o + 16;
        while (p + 4 <= o + len - 4) {
          const code = dv.getUint16(p, le), olen = dv.getUint16(p + 2, le);
          if (code === 0) break;
          if (code === 9 && olen >= 1) {
            const r = b[p + 4];
            tsDiv = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
          }
          p += 4 + ((olen + 3) & ~3);
        }
        ifaces.push({ linkType: dv.getUint16(o + 8, le), tsDiv });
      } else if (type === 6 || type === 2) {
        const ifc = type === 6 ? dv.getUint32(o + 8, le) : dv.getUint16(o + 8, le);
        const hi = dv.getUint32(o + 12, le), lo = dv.getUint32(o + 16, le);
        const cap = dv.getUint32(o + 20, le);
        const i = ifaces[ifc] ?? { linkType: 1, tsDiv: 1e6 };
        const ts = (hi * 2 ** 32 + lo) / i.tsDiv;
        out.push({ no: out.length + 1, linkType: i.linkType, tsSec: ts, data: b.slice(o + 28, o + 28 + cap) });
      } else if (type === 3) {
        const i = ifaces[0] ?? { linkType: 1, tsDiv: 1e6 };
        const olen = dv.getUint32(o + 8, le);
        out.push({ no: out.length + 1, linkType: i.linkType, tsSec: 0, data: b.slice(o + 12, o + 12 + Math.min(olen, len - 16)) });
      }
      o += len;
    }
    return out;
  }
  let le: boolean, nano: boolean;
  if (magic === 0xd4c3b2a1) [le, nano] = [true, false];
  else if (magic === 0x4d3cb2a1) [le, nano] = [true, true];
  else if (magic === 0xa1b2c3d4) [le, nano] = [false, false];
  else if (magic === 0xa1b23c4d) [le, nano] = [false, true];
  else throw new Error(`${path}: not a capture`);
  const linkType = dv.getUint32(20, le) & 0x0fffffff;
  let o = 24;
  while (o + 16 <= b.length) {
    const sec = dv.getUint32(o, le), frac = dv.getUint32(o + 4, le), cap = dv.getUint32(o + 8, le);
    if (o + 16 + cap > b.length) break;
    out.push({ no: out.length + 1, linkType, tsSec: sec + frac / (nano ? 1e9 : 1e6), data: b.slice(o + 16, o + 16 + cap) });
    o += 16 + cap;
  }
  return out;
}

/** Parse a golden TSV (header row of tshark field names). */
export function readTsv(path: string): Record<string, string>[] {
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0);
  const head = lines[0].split("\t");
  return lines.slice(1).map((l) => {
    const c = l.split("\t");
    const r: Record<string, string> = {};
    head.forEach((h, i) => (r[h] = c[i] ?? ""));
    return r;
  });
}
