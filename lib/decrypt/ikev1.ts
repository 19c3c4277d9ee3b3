/**
 * IKEv1 (ISAKMP) decryption for `vpnkit decode`, RFC 2409 Appendix B IV chaining, with
 * per-SA state (bounded):
 * - phase 1 (Main / Aggressive Mode): first IV = hash(g^xi | g^xr) from the two KE
 *   payloads seen in the capture, then the last ciphertext block of the previous
 *   encrypted phase-1 message;
 * - phase 2 / Informational (message ID ≠ 0): first IV = hash(last phase-1 CBC block |
 *   message ID), then the last ciphertext block of the previous message with that ID.
 * Cipher (AES-CBC with its key length, 3DES-CBC) and hash come from the phase-1 SA
 * payload; the key is the final encryption key (Wireshark's ikev1_decryption_table).
 * IKEv1 has no integrity check on encryption, so the plaintext is shown only when its
 * payload chain parses completely (else: "wrong key or IV?").
 * @module
 */
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { Anomaly } from "../core/anomaly.ts";
import { concat, putU32, toHex } from "../core/bytes.ts";
import type { KeyStore } from "../keys/store.ts";
import { decodeIsakmpPayloads, type IsakmpMessage, type IsakmpPayload } from "../ike/v1/message.ts";
import type { Ipv4Layer } from "../net/ipv4.ts";
import type { Ipv6Layer } from "../net/ipv6.ts";
import { blockCipher } from "../ike/v2/sk-crypto.ts";
import type { Ikev1Decrypted } from "./types.ts";

const MAX_SAS = 1024;
const MAX_PHASE2 = 64;

const HASHES: Record<number, (m: Uint8Array) => Uint8Array> = { 1: md5, 2: sha1, 4: sha256, 5: sha384, 6: sha512 };

interface Sa {
  initiator?: string;
  keI?: Uint8Array;
  keR?: Uint8Array;
  encAlg?: number;
  keyBits?: number;
  hashAlg?: number;
  /** Chosen by the responder (its SA payload) rather than the initiator's first offer. */
  fromResponder: boolean;
  /** Phase-1 IV for the next encrypted message. */
  p1Iv?: Uint8Array;
  /** Last CBC block of the last phase-1 message. */
  lastP1?: Uint8Array;
  /** IV used per ciphertext seen (retransmissions reuse it). */
  seen: Map<string, Uint8Array>;
  p2: Map<number, Uint8Array>;
}

function attrs(pl: IsakmpPayload): { enc?: number; bits?: number; hash?: number } | undefined {
  if (pl.kind !== "sa") return undefined;
  const t = pl.proposals[0]?.transforms?.[0];
  if (!t || t.attributeFamily !== "ike") return undefined;
  const out: { enc?: number; bits?: number; hash?: number } = {};
  for (const a of t.attributes) {
    if (a.type === 1) out.enc = a.value;
    else if (a.type === 2) out.hash = a.value;
    else if (a.type === 14) out.bits = a.value;
  }
  return out;
}

export class Ikev1Decryptor {
  private readonly sas = new Map<string, Sa>();

  constructor(private readonly keys: KeyStore) {}

  private sa(icookie: string): Sa {
    let s = this.sas.get(icookie);
    if (!s) {
      if (this.sas.size >= MAX_SAS) this.sas.delete(this.sas.keys().next().value!);
      s = { fromResponder: false, seen: new Map(), p2: new Map() };
      this.sas.set(icookie, s);
    }
    return s;
  }

  /**
   * Learn from a cleartext message (KE, SA) or decrypt an encrypted one; sets and returns
   * `m.decrypted` for encrypted messages of an SA with keys.
   */
  decrypt(_b: Uint8Array, m: IsakmpMessage, ip: Ipv4Layer | Ipv6Layer, an: Anomaly[]): Ikev1Decrypted | undefined {
    const ic = toHex(m.icookie);
    const key = this.keys.ikev1(m.icookie, m.rcookie);
    if (!key) return undefined;
    const s = this.sa(ic);
    if (s.initiator === undefined && m.rcookie.every((x) => x === 0)) s.initiator = ip.src;
    if (!m.flags.encryption) {
      this.learn(s, m.payloads, ip.src);
      return undefined;
    }
    const d: Ikev1Decrypted = {};
    (m as IsakmpMessage & { decrypted?: Ikev1Decrypted }).decrypted = d;
    const ct = m.encrypted ?? new Uint8Array(0);
    const alg = s.encAlg;
    if (alg !== 7 && alg !== 5) {
      d.reason = alg === undefined ? "cipher unknown: the phase-1 SA payload was not seen" : `encryption algorithm ${alg} is not supported (AES-CBC and 3DES-CBC are)`;
      return d;
    }
    const block = alg === 7 ? 16 : 8;
    const klen = alg === 5 ? 24 : s.keyBits ? s.keyBits / 8 : key.encKey.length >= 32 ? 32 : key.encKey.length >= 24 ? 24 : 16;
    if (key.encKey.length < klen) {
      d.reason = `encryption key is ${key.encKey.length} bytes, the cipher needs ${klen}`;
      return d;
    }
    if (ct.length === 0 || ct.length % block !== 0) {
      d.reason = `ciphertext length ${ct.length} is not a multiple of the ${block}-byte block`;
      return d;
    }
    const hash = HASHES[s.hashAlg ?? 2];
    if (!hash) {
      d.reason = `hash algorithm ${s.hashAlg} is not supported`;
      return d;
    }
    const last = ct.slice(ct.length - block);
    const lastHex = toHex(last);
    let iv = s.seen.get(lastHex);
    const phase1 = m.messageId === 0;
    if (!iv) {
      if (phase1) {
        if (!s.p1Iv) {
          if (!s.keI || !s.keR) {
            d.reason = "first phase-1 IV needs both KE payloads (g^xi, g^xr), not seen in this capture";
            return d;
          }
          s.p1Iv = hash(concat(s.keI, s.keR)).subarray(0, block);
        }
        iv = s.p1Iv;
      } else {
        iv = s.p2.get(m.messageId);
        if (!iv) {
          if (!s.lastP1) {
            d.reason = "phase-2 IV needs the last phase-1 block: phase 1 was not decrypted in this capture";
            return d;
          }
          const mid = new Uint8Array(4);
          putU32(mid, 0, m.messageId);
          iv = hash(concat(s.lastP1, mid)).subarray(0, block);
        }
      }
    }
    let pt: Uint8Array;
    try {
      pt = blockCipher(alg === 7 ? "aes-cbc" : "3des-cbc", key.encKey.subarray(0, klen), iv, ct, false);
    } catch (e) {
      d.reason = `decrypt error: ${(e as Error).message}`;
      return d;
    }
    const scratch: Anomaly[] = [];
    const list = decodeIsakmpPayloads(pt, 0, pt.length, m.nextPayload, scratch, m.exchange, "isakmp.decrypted");
    if (!list.complete || list.payloads.length === 0 && m.nextPayload !== 0) {
      d.reason = "decrypted payloads do not parse (wrong key or IV?)";
      return d;
    }
    // Trusted enough: advance the IV chains.
    if (s.seen.size > 4 * MAX_PHASE2) s.seen.clear();
    s.seen.set(lastHex, iv);
    if (phase1) {
      s.p1Iv = last;
      s.lastP1 = last;
    } else {
      if (s.p2.size >= MAX_PHASE2 && !s.p2.has(m.messageId)) s.p2.delete(s.p2.keys().next().value!);
      s.p2.set(m.messageId, last);
    }
    d.payloads = list.payloads;
    for (const a of scratch) an.push(a);
    return d;
  }

  private learn(s: Sa, payloads: IsakmpPayload[], src: string): void {
    const fromInit = s.initiator === undefined || src === s.initiator;
    for (const pl of payloads) {
      if (pl.kind === "ke") {
        if (fromInit) s.keI = pl.keyData.slice();
        else s.keR = pl.keyData.slice();
      } else if (pl.kind === "sa") {
        const a = attrs(pl);
        if (!a || (s.fromResponder && fromInit)) continue;
        s.encAlg = a.enc;
        s.keyBits = a.bits;
        s.hashAlg = a.hash;
        s.fromResponder = !fromInit;
      }
    }
  }
}
