/**
 * KeyStore: every key loaded for one decode, with the lookups the pipeline needs.
 * Keys never leave it except through {@link KeyStore.dump} (an explicit key dump).
 * @module
 */
import { toHex } from "../core/bytes.ts";
import { canonAddr, type EspKey, type Ikev1Key, type Ikev2Key, type ParsedKeys } from "./types.ts";
import { EspDecryptor } from "../decrypt/esp.ts";
import { Ikev2Decryptor } from "../decrypt/ikev2.ts";
import { Ikev1Decryptor } from "../decrypt/ikev1.ts";
import type { DecodeCrypto } from "../esp/decode-crypto.ts";

/** The stateful decryptors the decode pipeline uses for one capture. */
export interface Decryptors {
  esp?: EspDecryptor;
  ikev2: Ikev2Decryptor;
  ikev1: Ikev1Decryptor;
}

const hex = (x: Uint8Array | string): string => (typeof x === "string" ? x.toLowerCase() : toHex(x));

export class KeyStore {
  private readonly bySpi = new Map<number, EspKey[]>();
  private readonly defaults: EspKey[] = [];
  /** Several key sets per SPI pair: RFC 9370 IKE_INTERMEDIATE updates the keys of one IKE SA (in key-log order). */
  private readonly v2 = new Map<string, Ikev2Key[]>();
  private readonly v1 = new Map<string, Ikev1Key[]>();
  private count = 0;
  /**
   * A faster HMAC / AES-CBC backend for ESP decryption (the Bun CLI sets libcrypto's,
   * lib/platform/bun/decode-crypto-ffi.ts); closed by {@link zero}. Unset: node:crypto.
   */
  crypto?: DecodeCrypto;

  constructor(keys?: ParsedKeys | ParsedKeys[]) {
    if (keys) for (const k of Array.isArray(keys) ? keys : [keys]) this.add(k);
  }

  /**
   * Add parsed keys. Later keys for the same ESP or IKEv1 SA do not replace earlier ones
   * (first wins); an IKEv2 SA keeps every distinct key set (RFC 9370 key updates), in order.
   */
  add(k: ParsedKeys): void {
    for (const e of k.esp) {
      // Addresses compare as the decoder prints them (RFC 5952 for IPv6).
      if (e.src !== undefined) e.src = canonAddr(e.src) ?? e.src;
      if (e.dst !== undefined) e.dst = canonAddr(e.dst) ?? e.dst;
      if (e.spi === undefined) this.defaults.push(e);
      else {
        const l = this.bySpi.get(e.spi);
        if (l) l.push(e);
        else this.bySpi.set(e.spi, [e]);
      }
      this.count++;
    }
    for (const e of k.ikev2) {
      const id = `${e.ispi}/${e.rspi}`;
      const l = this.v2.get(id);
      if (!l) this.v2.set(id, [e]);
      else if (!l.some((x) => sameIkev2Keys(x, e))) l.push(e);
      else continue;
      this.count++;
    }
    for (const e of k.ikev1) {
      const l = this.v1.get(e.icookie);
      if (l) l.push(e);
      else this.v1.set(e.icookie, [e]);
      this.count++;
    }
  }

  /** Number of SAs (ESP, IKEv2, IKEv1) held. */
  get size(): number {
    return this.count;
  }

  /**
   * Fresh decryptors bound to this store. They live here, not in the decode
   * pipeline, so that decoding without keys never loads the crypto code
   * (start-up time of `vpnkit decode`).
   */
  decryptors(opts: { unverified?: boolean } = {}): Decryptors {
    return { esp: this.hasEsp ? new EspDecryptor(this, this.crypto) : undefined, ikev2: new Ikev2Decryptor(this, opts), ikev1: new Ikev1Decryptor(this) };
  }

  get hasEsp(): boolean {
    return this.bySpi.size > 0 || this.defaults.length > 0;
  }

  get hasIke(): boolean {
    return this.v2.size > 0 || this.v1.size > 0;
  }

  /**
   * The ESP SA for `spi` seen from `src` to `dst`: an entry whose addresses both match wins
   * over one matching the destination only, over one without addresses; then tcpdump's
   * default SA (no SPI), if any.
   */
  esp(spi: number, src?: string, dst?: string): EspKey | undefined {
    const l = this.bySpi.get(spi >>> 0);
    const pick = (list: EspKey[]): EspKey | undefined => {
      let best: EspKey | undefined, score = -1;
      for (const k of list) {
        if (k.src !== undefined && src !== undefined && k.src !== src) continue;
        if (k.dst !== undefined && dst !== undefined && k.dst !== dst) continue;
        const s = (k.src !== undefined ? 2 : 0) + (k.dst !== undefined ? 1 : 0);
        if (s > score) {
          best = k;
          score = s;
        }
      }
      return best;
    };
    return (l && pick(l)) || (this.defaults.length ? pick(this.defaults) : undefined);
  }

  /** The IKEv2 SA with these SPIs (bytes or hex): its first key set. */
  ikev2(ispi: Uint8Array | string, rspi: Uint8Array | string): Ikev2Key | undefined {
    return this.v2.get(`${hex(ispi)}/${hex(rspi)}`)?.[0];
  }

  /** Every key set of the IKEv2 SA with these SPIs, in the order loaded (RFC 9370: initial, then each update). */
  ikev2All(ispi: Uint8Array | string, rspi: Uint8Array | string): readonly Ikev2Key[] {
    return this.v2.get(`${hex(ispi)}/${hex(rspi)}`) ?? [];
  }

  /** The IKEv1 SA with this initiator cookie (and responder cookie, when the key names one). */
  ikev1(icookie: Uint8Array | string, rcookie?: Uint8Array | string): Ikev1Key | undefined {
    const l = this.v1.get(hex(icookie));
    if (!l) return undefined;
    const r = rcookie === undefined ? undefined : hex(rcookie);
    return l.find((k) => k.rcookie !== undefined && k.rcookie === r) ?? l.find((k) => k.rcookie === undefined) ?? l[0];
  }

  /** Explicit key dump (prints key material: only for a user who asked for it). */
  dump(): string[] {
    const out: string[] = [];
    const where = (o: { file: string; line: number }) => `# ${o.file}:${o.line}`;
    for (const k of [...[...this.bySpi.values()].flat(), ...this.defaults]) {
      const p = k.params;
      out.push(`ESP spi=${k.spi === undefined ? "*" : "0x" + (k.spi >>> 0).toString(16).padStart(8, "0")} src=${k.src ?? "*"} dst=${k.dst ?? "*"} ${p.encr}${p.icvLen ? "/" + p.icvLen : ""} 0x${toHex(p.encKey)} ${p.integ}${p.authKey ? " 0x" + toHex(p.authKey) : ""}${k.icvSkip ? ` icv-unchecked=${k.icvSkip}` : ""} esn=${k.esn ? 1 : 0} ${where(k.origin)}`);
    }
    for (const k of [...this.v2.values()].flat()) {
      const d = (p: Ikev2Key["initiator"]) => `${p.encr} 0x${toHex(p.encKey)} ${p.integ}${p.integKey ? " 0x" + toHex(p.integKey) : ""}`;
      out.push(`IKEv2 ${k.ispi}/${k.rspi} I: ${d(k.initiator)} R: ${d(k.responder)} ${where(k.origin)}`);
    }
    for (const k of [...this.v1.values()].flat()) out.push(`IKEv1 ${k.icookie}${k.rcookie ? "/" + k.rcookie : ""} 0x${toHex(k.encKey)} ${where(k.origin)}`);
    return out;
  }

  /** Overwrite every key with zeros (call when the decode is done). */
  zero(): void {
    // native contexts hold key schedules
    this.crypto?.close();
    for (const k of [...[...this.bySpi.values()].flat(), ...this.defaults]) {
      k.params.encKey.fill(0);
      k.params.authKey?.fill(0);
    }
    for (const k of [...this.v2.values()].flat()) {
      for (const p of [k.initiator, k.responder]) {
        p.encKey.fill(0);
        p.integKey?.fill(0);
      }
    }
    for (const k of [...this.v1.values()].flat()) k.encKey.fill(0);
  }
}

function sameIkev2Keys(a: Ikev2Key, b: Ikev2Key): boolean {
  const eq = (x?: Uint8Array, y?: Uint8Array) => (x === undefined || y === undefined ? x === y : toHex(x) === toHex(y));
  return eq(a.initiator.encKey, b.initiator.encKey) && eq(a.responder.encKey, b.responder.encKey) && eq(a.initiator.integKey, b.initiator.integKey) && eq(a.responder.integKey, b.responder.integKey);
}
