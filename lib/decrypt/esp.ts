/**
 * ESP decryption for `vpnkit decode`: finds the SA in the {@link KeyStore}, infers the
 * high half of extended sequence numbers (RFC 4303 Appendix A, per-SA state), and opens
 * the packet with {@link openEspForDecode}. A packet whose ICV fails never yields
 * plaintext; without an ICV the plaintext is only offered when it looks like a packet.
 * @module
 */
import { openEspForDecode, type EspDecodeParams } from "../esp/decrypt.ts";
import type { DecodeCrypto } from "../esp/decode-crypto.ts";
import type { KeyStore } from "../keys/store.ts";
import type { EspKey } from "../keys/types.ts";
import type { EspDecryptInfo } from "./types.ts";

const MAX_SAS = 4096;
/** Window for the ESN inference: packets this far behind the highest seen count as late, not wrapped. */
const ESN_WINDOW = 2 ** 30;

const NEXT_HEADER_NAMES: Record<number, string> = {
  1: "ICMP", 2: "IGMP", 4: "IPv4", 6: "TCP", 17: "UDP", 41: "IPv6", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 59: "No Next Header", 132: "SCTP", 137: "MPLS-in-IP", 143: "Ethernet",
};

export interface EspOpened {
  info: EspDecryptInfo;
  /** The inner packet, when it can be trusted as a decode. */
  plaintext?: Uint8Array;
  nextHeader?: number;
}

interface EsnState { th: number; tl: number }

/** The last lookup for one SPI: the same SA is asked for again and again. */
interface KeyHit { src: string; dst: string; k: EspKey | undefined }

export class EspDecryptor {
  private readonly esn = new Map<string, EsnState>();
  private readonly hits = new Map<number, KeyHit>();

  /** `crypto`: a faster HMAC / AES-CBC backend (lib/esp/decode-crypto.ts), else node:crypto. */
  constructor(private readonly keys: KeyStore, private readonly crypto?: DecodeCrypto) {}

  /** The key for this SA, if any (cheap; the pipeline calls it per ESP packet). */
  key(spi: number, src: string, dst: string): EspKey | undefined {
    const h = this.hits.get(spi);
    if (h !== undefined && h.src === src && h.dst === dst) return h.k;
    const k = this.keys.esp(spi, src, dst);
    if (this.hits.size >= MAX_SAS) this.hits.clear();
    this.hits.set(spi, { src, dst, k });
    return k;
  }

  /**
   * Open one ESP packet (`esp` starts at the SPI) with `k`. With `scratch` the plaintext may
   * be a view of it (valid until the next call with it: for callers that keep only text).
   */
  open(k: EspKey, esp: Uint8Array, seq: number, src: string, dst: string, scratch?: Uint8Array): EspOpened {
    let params: EspDecodeParams = k.params;
    let st: EsnState | undefined, th = 0;
    const id = `${k.spi ?? "*"}|${src}|${dst}`;
    if (k.esn) {
      st = this.esn.get(id);
      if (!st) {
        if (this.esn.size >= MAX_SAS) this.esn.clear();
        st = { th: 0, tl: 0 };
        this.esn.set(id, st);
      }
      th = inferHigh(st, seq >>> 0);
      params = { ...params, esn: { high: th } };
    }
    let bytes = esp;
    if (k.icvSkip) {
      if (esp.length < 8 + k.icvSkip) return { info: { icv: "none", reason: "truncated: shorter than the ICV" } };
      bytes = esp.subarray(0, esp.length - k.icvSkip);
    }
    const r = openEspForDecode(params, bytes, this.crypto, scratch);
    const info: EspDecryptInfo = { icv: r.icv };
    if (r.nextHeader !== undefined) {
      info.nextHeader = r.nextHeader;
      info.nextHeaderName = NEXT_HEADER_NAMES[r.nextHeader] ?? `UNKNOWN(${r.nextHeader})`;
    }
    if (r.padLength !== undefined) info.padLength = r.padLength;
    if (r.reason) info.reason = r.reason;
    if (k.esn) info.esnSeq = String(BigInt(th) * 2n ** 32n + BigInt(seq >>> 0));
    if (r.icv === "bad" || !r.payload) return { info };
    if (st && r.icv === "good") {
      // RFC 4303 App. A: advance the highest sequence number only after the ICV verified.
      if (th > st.th || (th === st.th && (seq >>> 0) > st.tl)) {
        st.th = th;
        st.tl = seq >>> 0;
      }
    }
    if (r.nextHeader === 59) return { info };
    if (r.icv === "none") {
      if (k.icvSkip) info.reason = `ICV (${k.icvSkip} bytes) not checked: no authentication key`;
      if (!plausible(r.nextHeader!, r.payload)) {
        info.reason = "no ICV to check, and the plaintext does not look like a packet (wrong key?)";
        delete info.nextHeader;
        delete info.nextHeaderName;
        delete info.padLength;
        return { info };
      }
    }
    return { info, plaintext: r.payload, nextHeader: r.nextHeader };
  }
}

/** RFC 4303 Appendix A2.2: the high 32 bits for low half `seq`, given the highest seen (th, tl). */
function inferHigh(st: EsnState, seq: number): number {
  const { th, tl } = st;
  if (tl >= ESN_WINDOW - 1) return seq >= tl - ESN_WINDOW + 1 ? th : (th + 1) >>> 0;
  return seq >= ((tl - ESN_WINDOW + 1) >>> 0) ? (th === 0 ? 0 : th - 1) : th;
}

/** Unauthenticated plaintext is shown only when it starts like the packet its next header names. */
function plausible(nh: number, pt: Uint8Array): boolean {
  if (pt.length === 0) return false;
  switch (nh) {
    case 4: return pt.length >= 20 && pt[0] >> 4 === 4 && (pt[0] & 15) >= 5 && ((pt[2] << 8) | pt[3]) === pt.length;
    case 41: return pt.length >= 40 && pt[0] >> 4 === 6 && ((pt[4] << 8) | pt[5]) + 40 === pt.length;
    case 17: return pt.length >= 8 && ((pt[4] << 8) | pt[5]) === pt.length;
    case 6: return pt.length >= 20 && pt[12] >> 4 >= 5;
    case 1: case 58: return pt.length >= 4;
    default: return false;
  }
}
