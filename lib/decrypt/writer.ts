/**
 * `--write-decrypted OUT.pcapng`: the decrypted inner packets (and with `--write-all`
 * every original packet too) as pcapng. Tunnel-mode inner packets are written as they
 * are on a LINKTYPE_RAW interface; transport-mode payloads get a synthesized IPv4/IPv6
 * header with the outer addresses (its comment says so). Each decrypted packet carries a
 * comment tying it to its SPI, sequence number and original packet number.
 * @module
 */
import type { CaptureRecord } from "../capture/types.ts";
import type { PcapngWriter } from "../capture/pcapng-writer.ts";
import { putU16 } from "../core/bytes.ts";
import { foldComplement, onesSum } from "../net/checksum.ts";
import type { DecodedPacket, LayerBase } from "../core/layer.ts";
import type { Ipv4Layer } from "../net/ipv4.ts";
import type { Ipv6Layer } from "../net/ipv6.ts";
import { innerPlaintext, type EspDecryptInfo, type InnerLayer } from "./types.ts";

/** LINKTYPE_RAW: raw IPv4 or IPv6, version from the first nibble. */
export const LINKTYPE_RAW = 101;

export interface DecryptedWriterOptions {
  /** Also write every original packet (in capture order, before its decrypted packets). */
  all?: boolean;
}

export interface DecryptedWriterCounts {
  decrypted: number;
  originals: number;
}

function v4Bytes(s: string): Uint8Array | null {
  const p = s.split(".").map(Number);
  return p.length === 4 && p.every((x) => Number.isInteger(x) && x >= 0 && x < 256) ? Uint8Array.from(p) : null;
}

function v6Bytes(s: string): Uint8Array | null {
  let t = s;
  const out = new Uint8Array(16);
  const m4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  let tail: number[] = [];
  if (m4) {
    const b = v4Bytes(m4[1]);
    if (!b) return null;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    t = t.slice(0, -m4[1].length) + "0";
    t = t.replace(/:0$/, "");
  }
  const [h, l] = t.includes("::") ? t.split("::") : [t, undefined];
  const hi = h ? h.split(":").filter((x) => x !== "").map((x) => parseInt(x, 16)) : [];
  const lo = l !== undefined ? (l ? l.split(":").map((x) => parseInt(x, 16)) : []) : [];
  const words = l !== undefined ? [...hi, ...new Array(8 - hi.length - lo.length - tail.length).fill(0), ...lo, ...tail] : [...hi, ...tail];
  if (words.length !== 8 || words.some((w) => !(w >= 0 && w <= 0xffff))) return null;
  words.forEach((w, i) => putU16(out, 2 * i, w));
  return out;
}

/** A minimal IP header around a transport-mode payload (outer addresses, protocol = next header). */
export function synthesizeIp(outer: Ipv4Layer | Ipv6Layer, nextHeader: number, payload: Uint8Array): Uint8Array | null {
  if (outer.layer === "ipv4") {
    const src = v4Bytes(outer.src), dst = v4Bytes(outer.dst);
    if (!src || !dst || payload.length + 20 > 0xffff) return null;
    const b = new Uint8Array(20 + payload.length);
    b[0] = 0x45;
    putU16(b, 2, b.length);
    b[8] = 64;
    b[9] = nextHeader;
    b.set(src, 12);
    b.set(dst, 16);
    putU16(b, 10, foldComplement(onesSum(b, 0, 20)));
    b.set(payload, 20);
    return b;
  }
  const src = v6Bytes(outer.src), dst = v6Bytes(outer.dst);
  if (!src || !dst || payload.length > 0xffff) return null;
  const b = new Uint8Array(40 + payload.length);
  b[0] = 0x60;
  putU16(b, 4, payload.length);
  b[6] = nextHeader;
  b[7] = 64;
  b.set(src, 8);
  b.set(dst, 24);
  b.set(payload, 40);
  return b;
}

/** Feeds a {@link PcapngWriter} from decoded packets. */
export class DecryptedWriter {
  readonly counts: DecryptedWriterCounts = { decrypted: 0, originals: 0 };

  constructor(private readonly w: PcapngWriter, private readonly opts: DecryptedWriterOptions = {}) {}

  /** Write what `p` (decoded from `rec`) contributes. */
  async packet(rec: CaptureRecord, p: DecodedPacket): Promise<void> {
    if (this.opts.all) {
      await this.w.write({ linkType: rec.linkType, tsSec: rec.tsSec, tsNsec: rec.tsNsec, data: rec.data, len: rec.len, comment: rec.comment });
      this.counts.originals++;
    }
    const L = p.layers;
    for (let i = 0; i < L.length; i++) {
      if (L[i].layer !== "inner") continue;
      const inner = L[i] as InnerLayer;
      const pt = innerPlaintext(inner);
      if (!pt) continue;
      const esp = L[i - 1] as LayerBase & { decrypt?: EspDecryptInfo };
      const verdict = esp?.decrypt?.icv === "good" ? "ICV good" : "ICV not checked";
      let comment = `decrypted from packet ${p.no}: ESP spi 0x${(inner.spi >>> 0).toString(16).padStart(8, "0")} seq ${inner.seq >>> 0}${esp?.decrypt?.esnSeq ? ` (ESN ${esp.decrypt.esnSeq})` : ""}, ${verdict}`;
      let data = pt;
      if (inner.mode === "transport") {
        let outer: Ipv4Layer | Ipv6Layer | undefined;
        for (let j = i - 1; j >= 0 && !outer; j--) if (L[j].layer === "ipv4" || L[j].layer === "ipv6") outer = L[j] as Ipv4Layer | Ipv6Layer;
        const nh = esp?.decrypt?.nextHeader;
        const s = outer && nh !== undefined ? synthesizeIp(outer, nh, pt) : null;
        if (!s) continue;
        data = s;
        comment += "; transport mode: IP header synthesized from the outer addresses";
      }
      await this.w.write({ linkType: LINKTYPE_RAW, tsSec: rec.tsSec, tsNsec: rec.tsNsec, data, comment });
      this.counts.decrypted++;
    }
  }
}
