/**
 * IKEv2 SK / SKF decryption for `vpnkit decode`: picks the direction's keys from the
 * Initiator flag, verifies integrity over the whole message ({@link skOpen}), decodes the
 * plaintext with {@link decodeIkev2Payloads} (layer prefix `ikev2.decrypted`, offsets
 * relative to the plaintext) and reassembles RFC 7383 fragments per message (bounded).
 * @module
 */
import type { Anomaly } from "../core/anomaly.ts";
import { concat, toHex } from "../core/bytes.ts";
import type { KeyStore } from "../keys/store.ts";
import { decodeIkev2Payloads, type Ikev2Message } from "../ike/v2/message.ts";
import type { Ikev2SkPayload } from "../ike/v2/payloads/sk.ts";
import type { Ikev2SkfPayload } from "../ike/v2/payloads/skf.ts";
import { skOpen } from "../ike/v2/sk-crypto.ts";
import type { Ikev2Decrypted } from "./types.ts";

/** Messages being reassembled at once, and fragments per message. */
const MAX_PENDING = 64;
const MAX_FRAGMENTS = 256;

interface Pending {
  total: number;
  parts: (Uint8Array | undefined)[];
  have: number;
  firstType: number;
  packets: number[];
}

export class Ikev2Decryptor {
  private readonly pending = new Map<string, Pending>();
  /** Index of the key set that last verified, per SPI pair (only for SAs with several). */
  private readonly lastKeys = new Map<string, number>();

  /** `unverified`: also decode CBC plaintext whose integrity check failed (marked integrity BAD). */
  constructor(private readonly keys: KeyStore, private readonly opts: { unverified?: boolean } = {}) {}

  /**
   * Decrypt the SK/SKF payload of `m` (decoded from `b`) when keys are known; sets
   * `decrypted` on that payload and returns it (undefined: no keys or no SK payload).
   * `no` is the packet number (for SKF reassembly notes).
   */
  decrypt(b: Uint8Array, m: Ikev2Message, no: number, an: Anomaly[]): Ikev2Decrypted | undefined {
    const last = m.payloads[m.payloads.length - 1];
    if (!last || (last.kind !== "sk" && last.kind !== "skf")) return undefined;
    const ks = this.keys.ikev2All(m.ispi, m.rspi);
    if (!ks.length) return undefined;
    const msg = b.subarray(m.offset, m.offset + m.length);
    const pl = last as (Ikev2SkPayload | Ikev2SkfPayload) & { decrypted?: Ikev2Decrypted };
    // RFC 9370: after each IKE_INTERMEDIATE the SA has new keys under the same SPIs; the key set
    // that verifies wins (the last one that did is tried first), else the first one's result
    const spis = `${toHex(m.ispi)}/${toHex(m.rspi)}`;
    const start = this.lastKeys.get(spis) ?? 0;
    let r: ReturnType<typeof skOpen> | undefined;
    for (let n = 0; n < ks.length; n++) {
      const j = (start + n) % ks.length;
      const k = ks[j];
      const t = skOpen(m.flags.initiator ? k.initiator : k.responder, msg, pl.offset - m.offset, pl.offset - m.offset + pl.length, pl.kind, { unverified: this.opts.unverified, cacheCipher: true });
      if (t.ok) {
        if (ks.length > 1) this.lastKeys.set(spis, j);
        r = t;
        break;
      }
      if (j === 0 || !r) r = t;
    }
    r = r!;
    const d: Ikev2Decrypted = { integrity: r.integrity };
    pl.decrypted = d;
    if (!r.ok && r.plaintext && pl.kind === "sk") {
      // integrity BAD, shown on request: decoded like any plaintext, flagged by integrity + reason
      d.reason = r.reason;
      d.payloads = decodeIkev2Payloads(r.plaintext, 0, r.plaintext.length, pl.nextPayload, an, "ikev2.unverified");
      return d;
    }
    if (!r.ok) {
      d.reason = r.integrity === "bad" ? (r.reason?.startsWith("ICV") ? "integrity check failed (wrong keys, or corrupted)" : r.reason) : r.reason;
      return d;
    }
    if (pl.kind === "sk") {
      d.payloads = decodeIkev2Payloads(r.plaintext!, 0, r.plaintext!.length, pl.nextPayload, an, "ikev2.decrypted");
      return d;
    }
    const f = pl as Ikev2SkfPayload;
    if (f.fragmentNumber < 1 || f.fragmentNumber > f.totalFragments || f.totalFragments > MAX_FRAGMENTS) {
      d.reason = `fragment ${f.fragmentNumber} of ${f.totalFragments}: not reassembled`;
      return d;
    }
    const id = `${toHex(m.ispi)}/${toHex(m.rspi)}/${m.messageId}/${m.flags.response ? "r" : "q"}/${m.flags.initiator ? "i" : "-"}`;
    let st = this.pending.get(id);
    if (st && st.total !== f.totalFragments) {
      // RFC 7383 §2.6.2: a retransmission with a different fragmentation starts over.
      this.pending.delete(id);
      st = undefined;
    }
    if (!st) {
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
      st = { total: f.totalFragments, parts: new Array(f.totalFragments), have: 0, firstType: 0, packets: [] };
      this.pending.set(id, st);
    }
    if (st.parts[f.fragmentNumber - 1] === undefined) {
      st.parts[f.fragmentNumber - 1] = r.plaintext!.slice();
      st.have++;
      st.packets.push(no);
      if (f.fragmentNumber === 1) st.firstType = f.nextPayload;
    }
    if (st.have < st.total) {
      d.reason = `fragment ${f.fragmentNumber} of ${f.totalFragments}, held for reassembly`;
      return d;
    }
    this.pending.delete(id);
    const whole = concat(...(st.parts as Uint8Array[]));
    d.payloads = decodeIkev2Payloads(whole, 0, whole.length, st.firstType, an, "ikev2.decrypted");
    d.fragments = st.packets.slice().sort((a, c) => a - c);
    return d;
  }

  /** Messages still waiting for fragments at the end of input. */
  incomplete(): string[] {
    const out: string[] = [];
    for (const [id, st] of this.pending) out.push(`IKEv2 message ${id.split("/").slice(0, 3).join(" mid ")}: ${st.have} of ${st.total} fragments (packets ${st.packets.join(", ")})`);
    return out;
  }
}
