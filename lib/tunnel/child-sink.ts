/**
 * Where the IKE driver puts the Child SAs it negotiates: the SA interface between the
 * control plane (lib/tunnel/ike-driver.ts) and the packet path. Two operations, both
 * fire-and-forget from the driver's side:
 *
 * - `install`: a new inbound + outbound SA pair (first Child SA, or a rekey: the new
 *   inbound SA goes next to the old ones, make before break, and the new outbound SA takes
 *   over at once);
 * - `remove`: the pair is taken out of the packet path and destroyed (keys zeroed); the
 *   outbound direction falls back to the pair the driver names, or to none.
 *
 * Lifetime events come back the other way ({@link SaDatabase.onEvent} → the driver's
 * `onSaEvent`). {@link LocalChildSink} applies the operations to an SA database and an
 * engine child in the same thread; the data-plane worker of `vpnkit up` runs one on its
 * side and the main thread sends it the operations as messages
 * (lib/platform/bun/dataplane-worker.ts).
 * @module
 */
import type { SaDatabase } from "../esp/sadb.ts";
import type { InboundSa, OutboundSa } from "../esp/sa.ts";
import type { EspCipherName } from "../esp/types.ts";
import type { TunnelChild } from "./engine.ts";
import type { Cidr } from "../net/cidr.ts";

/** One negotiated Child SA pair. The sink copies the keys; the caller zeroes its own. */
export interface ChildInstall {
  spiIn: number;
  spiOut: number;
  cipher: EspCipherName;
  keyIn: Uint8Array;
  keyOut: Uint8Array;
  esn: boolean;
  /** Negotiated selectors as prefixes (empty: keep the child's current ones). */
  local: Cidr[];
  remote: Cidr[];
  replayWindow?: number;
}

export interface ChildSaSink {
  /** Install the pair; throws when the packet path refuses it (nothing is left installed then). */
  install(c: ChildInstall): void;
  /**
   * Remove the pair with these SPIs (unknown SPIs are ignored). When its outbound SA was the
   * current one, outbound switches to `nextOutSpi` (an installed pair's) or to none.
   */
  remove(spiIn: number, spiOut: number, nextOutSpi: number | null): void;
}

/** The sink over an SA database and one engine child in this thread. */
export class LocalChildSink implements ChildSaSink {
  private readonly pairs = new Map<number, { inSa: InboundSa; outSa: OutboundSa }>();

  /** `reindex`: tell the engine its inbound SAs changed (TunnelEngine.reindex). */
  constructor(private readonly db: SaDatabase, private readonly child: TunnelChild, private readonly reindex: () => void) {}

  install(c: ChildInstall): void {
    const { db, child } = this;
    const inSa = db.installInbound({ spi: c.spiIn, cipher: c.cipher, keyMaterial: c.keyIn, esn: c.esn, replayWindow: c.replayWindow });
    let outSa: OutboundSa;
    try {
      outSa = db.installOutbound({ spi: c.spiOut, cipher: c.cipher, keyMaterial: c.keyOut, esn: c.esn });
    } catch (e) {
      db.remove(c.spiIn);
      throw e;
    }
    this.pairs.set(c.spiIn >>> 0, { inSa, outSa });
    if (c.local.length) child.local = c.local;
    if (c.remote.length) child.remote = c.remote;
    child.inbound.push(inSa);
    child.outbound = outSa;
    this.reindex();
  }

  remove(spiIn: number, spiOut: number, nextOutSpi: number | null): void {
    const { db, child } = this;
    const p = this.pairs.get(spiIn >>> 0);
    if (p === undefined) return;
    this.pairs.delete(spiIn >>> 0);
    child.inbound = child.inbound.filter((s) => s !== p.inSa);
    if (child.outbound === p.outSa) {
      const next = nextOutSpi === null ? undefined : db.lookupOutbound(nextOutSpi);
      child.outbound = next ?? null;
    }
    this.reindex();
    if (db.lookupInbound(spiIn) === p.inSa) db.remove(spiIn);
    if (db.lookupOutbound(spiOut) === p.outSa) db.remove(spiOut);
  }

  /** The installed pairs' SAs (keep-warm of the newest pair). */
  newest(): { inSa: InboundSa; outSa: OutboundSa } | null {
    let last: { inSa: InboundSa; outSa: OutboundSa } | null = null;
    for (const p of this.pairs.values()) last = p;
    return last;
  }
}
