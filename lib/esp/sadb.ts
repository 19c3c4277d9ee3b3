/**
 * SA database for one tunnel: inbound SAs by SPI, outbound SAs with one "current",
 * make-before-break rekeying, drop counters and lifetime events. No I/O, no timers:
 * call {@link SaDatabase.tick} from the engine's timer.
 * @module
 */

import { u32 } from "../core/bytes.ts";
import { selectEspCrypto } from "./cbc.ts";
import { InboundSa, OutboundSa } from "./sa.ts";
import type { DropCounters, EspCipherName, EspCrypto, OpenResult, SaConfig, SaEvent } from "./types.ts";

/** Result of {@link SaDatabase.open}: an SA's result, or no SA for the SPI. */
export type DbOpenResult = OpenResult | { ok: false; reason: "no-sa"; spi: number };

export interface SaDatabaseOptions {
  /** Provider for every SA, or a chooser per cipher. Default: {@link selectEspCrypto}. */
  crypto?: EspCrypto | ((cipher: EspCipherName) => EspCrypto);
  /** How long a replaced inbound SA keeps accepting packets after rekey (ms). Default 10 000. */
  rekeyGraceMs?: number;
  /** Lifetime events of every SA in the database. */
  onEvent?: (e: SaEvent) => void;
}

export function newDropCounters(): DropCounters {
  return { icv: 0, replay: 0, noSa: 0, tooBig: 0, malformed: 0, dummy: 0, expired: 0 };
}

export class SaDatabase {
  /** Silent-drop counters. The engine may bump `tooBig` itself. */
  readonly counters: DropCounters = newDropCounters();
  onEvent: ((e: SaEvent) => void) | undefined;
  private readonly inbound = new Map<number, InboundSa>();
  private readonly outboundBySpi = new Map<number, OutboundSa>();
  /** Inbound SAs being retired after a rekey: SPI → time (ms) after which they go. */
  private readonly retireAt = new Map<number, number>();
  private current: OutboundSa | undefined;
  private readonly graceMs: number;
  private readonly crypto: SaDatabaseOptions["crypto"];

  constructor(opts: SaDatabaseOptions = {}) {
    this.crypto = opts.crypto;
    this.graceMs = opts.rekeyGraceMs ?? 10_000;
    this.onEvent = opts.onEvent;
  }

  private provider(cipher: EspCipherName): EspCrypto {
    const c = this.crypto;
    if (c === undefined) return selectEspCrypto(cipher);
    return typeof c === "function" ? c(cipher) : c;
  }

  /** Every SA's events go through this one function (not a closure per SA). */
  private readonly relay = (e: SaEvent): void => this.onEvent?.(e);

  private wire<T extends InboundSa | OutboundSa>(sa: T): T {
    sa.onEvent = this.relay;
    return sa;
  }

  /** Install an inbound SA. Throws if its SPI is already in use. */
  installInbound(cfg: SaConfig): InboundSa {
    const spi = cfg.spi >>> 0;
    if (this.inbound.has(spi)) throw new Error(`inbound SPI 0x${spi.toString(16)} already installed`);
    const sa = this.wire(new InboundSa(cfg, this.provider(cfg.cipher)));
    this.inbound.set(spi, sa);
    return sa;
  }

  /** Install an outbound SA; it becomes the current one used by {@link seal}. */
  installOutbound(cfg: SaConfig): OutboundSa {
    const spi = cfg.spi >>> 0;
    if (this.outboundBySpi.has(spi)) throw new Error(`outbound SPI 0x${spi.toString(16)} already installed`);
    const sa = this.wire(new OutboundSa(cfg, this.provider(cfg.cipher)));
    this.outboundBySpi.set(spi, sa);
    this.current = sa;
    return sa;
  }

  /**
   * Make-before-break rekey of the SA with `oldSpi` (looked up inbound first, then
   * outbound; pass `direction` when both tables could hold it or the old SA is gone).
   * Inbound: the new SA is installed and the old one keeps accepting packets for the grace
   * period (removed by {@link tick}). Outbound: the new SA becomes current at once and the
   * old one is destroyed (nothing else sends with it).
   */
  rekey(oldSpi: number, newCfg: SaConfig, opts: { now?: number; direction?: "in" | "out" } = {}): InboundSa | OutboundSa {
    const spi = oldSpi >>> 0;
    const now = opts.now ?? Date.now();
    const dir = opts.direction ?? (this.inbound.has(spi) ? "in" : this.outboundBySpi.has(spi) ? "out" : undefined);
    if (dir === undefined) throw new Error(`rekey: no SA with SPI 0x${spi.toString(16)}`);
    if (dir === "in") {
      const sa = this.installInbound(newCfg);
      if (this.inbound.has(spi)) this.retireAt.set(spi, now + this.graceMs);
      return sa;
    }
    const sa = this.installOutbound(newCfg);
    if (spi !== (newCfg.spi >>> 0)) this.removeOutbound(spi);
    return sa;
  }

  private removeOutbound(spi: number): boolean {
    const sa = this.outboundBySpi.get(spi);
    if (sa === undefined) return false;
    sa.destroy();
    this.outboundBySpi.delete(spi);
    if (this.current === sa) this.current = undefined;
    return true;
  }

  /** Remove (and destroy: keys zeroed) the SA with `spi`, inbound and/or outbound. */
  remove(spi: number): boolean {
    spi >>>= 0;
    let found = false;
    const sa = this.inbound.get(spi);
    if (sa !== undefined) {
      sa.destroy();
      this.inbound.delete(spi);
      this.retireAt.delete(spi);
      found = true;
    }
    return this.removeOutbound(spi) || found;
  }

  lookupInbound(spi: number): InboundSa | undefined {
    return this.inbound.get(spi >>> 0);
  }

  lookupOutbound(spi: number): OutboundSa | undefined {
    return this.outboundBySpi.get(spi >>> 0);
  }

  /** The outbound SA used by {@link seal}. */
  get outbound(): OutboundSa | undefined {
    return this.current;
  }

  /** Installed SPIs. */
  spis(): { inbound: number[]; outbound: number[] } {
    return { inbound: [...this.inbound.keys()], outbound: [...this.outboundBySpi.keys()] };
  }

  /** Seal with the current outbound SA; null when there is none or it is expired. */
  seal(inner: Uint8Array, nextHeader: number, now?: number): Uint8Array | null {
    const sa = this.current;
    if (sa === undefined) return null;
    const r = sa.seal(inner, nextHeader, now);
    if (r === null) this.counters.expired++;
    return r;
  }

  /**
   * Open an ESP packet (starting at the SPI): SPI lookup, open, count drops.
   * A retired SA past its grace time is removed here too (lazily).
   */
  open(esp: Uint8Array, now?: number): DbOpenResult {
    if (esp.length < 8) {
      this.counters.malformed++;
      return { ok: false, reason: "malformed" };
    }
    const spi = u32(esp, 0);
    let sa = this.inbound.get(spi);
    if (sa !== undefined) {
      const t = this.retireAt.get(spi);
      if (t !== undefined && (now ?? Date.now()) >= t) {
        this.remove(spi);
        sa = undefined;
      }
    }
    if (sa === undefined) {
      this.counters.noSa++;
      return { ok: false, reason: "no-sa", spi };
    }
    const r = sa.open(esp, now);
    if (!r.ok) this.counters[r.reason]++;
    return r;
  }

  /**
   * Timer hook: evaluates seconds lifetimes (firing events), removes retired inbound SAs
   * whose grace period is over, and removes hard-expired SAs (keys zeroed).
   */
  tick(now: number = Date.now()): void {
    for (const [spi, t] of this.retireAt) if (now >= t) this.remove(spi);
    for (const [spi, sa] of this.inbound) if (sa.tick(now)) this.remove(spi);
    for (const [spi, sa] of this.outboundBySpi) if (sa.tick(now)) this.removeOutbound(spi);
  }

  /** Destroy every SA. */
  destroy(): void {
    for (const spi of [...this.inbound.keys()]) this.remove(spi);
    for (const spi of [...this.outboundBySpi.keys()]) this.removeOutbound(spi);
  }
}
