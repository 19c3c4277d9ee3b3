/**
 * Where the IKE driver puts the Child SAs it negotiates: the SA interface between the
 * control plane (lib/tunnel/ike-driver.ts) and the packet path. Operations, all
 * fire-and-forget from the driver's side:
 *
 * - `install`: a new inbound + outbound SA pair (first Child SA, or a rekey: the new
 *   inbound SA goes next to the old ones, make before break, and the new outbound SA takes
 *   over at once);
 * - `remove`: the pair is taken out of the packet path and destroyed (keys zeroed); the
 *   outbound direction falls back to the pair the driver names (if it is the same child's),
 *   or to none;
 * - `updateRemote`: the child's peer moved (NAT rebinding seen on an authenticated IKE
 *   message): its ESP goes to the new address and port.
 *
 * Children: an install names the engine child its pair belongs to (`child`, a key the IKE
 * layer picks, one per road-warrior client or per CHILD_SA) and that child's peer endpoint
 * (`peer`). A new key makes a new child with the negotiated selectors; when its last pair
 * is removed the child goes. Without a key the pair goes to the sink's default child (one
 * peer: the client side, manual keys).
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
import { type ChildStats, type Endpoint, newChildStats, type TunnelChild } from "./engine.ts";
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
  /**
   * Key of the engine child this pair belongs to (e.g. the client's IKE SA SPIs + the Child
   * SA's first inbound SPI, or the client's identity): a key not seen yet makes a new child,
   * a known one rekeys it. Absent: the default child.
   */
  child?: string;
  /**
   * The peer's outer endpoint for this child's ESP (IPv4 or IPv6 text + UDP port; clients
   * behind one NAT share the address and differ by port). Absent: the child keeps its
   * current one (a new keyed child: the engine's default remote).
   */
  peer?: Endpoint;
}

export interface ChildSaSink {
  /** Install the pair; throws when the packet path refuses it (nothing is left installed then). */
  install(c: ChildInstall): void;
  /**
   * Remove the pair with these SPIs (unknown SPIs are ignored). When its outbound SA was the
   * current one, outbound switches to `nextOutSpi` (an installed pair's of the same child) or
   * to none. A keyed child left without SAs is removed from the engine.
   */
  remove(spiIn: number, spiOut: number, nextOutSpi: number | null): void;
  /**
   * The peer of the child whose pair has outbound SPI `spiOut` is now at `peer` (NAT
   * rebinding on an authenticated IKE message, RFC 7296 §2.23). Unknown SPIs are ignored.
   */
  updateRemote?(spiOut: number, peer: Endpoint): void;
}

/** What the sink needs to add and remove engine children (TunnelEngine fits). */
export interface ChildHost {
  addChild(c: TunnelChild): void;
  removeChild(c: TunnelChild): boolean;
  /** Re-index one child whose SAs or selectors changed (else the sink calls `reindex`). */
  refreshChild?(c: TunnelChild): void;
}

/** One child as `vpnkit status` shows it. */
export interface ChildStatus {
  name: string;
  /** Newest inbound SPI, current outbound SPI (null: none). */
  spiIn: number | null;
  spiOut: number | null;
  /** null: the engine's default remote. */
  peer: Endpoint | null;
  local: string[];
  remote: string[];
  stats: ChildStats;
}

/**
 * The peer's selectors as kept for the Child SA's life: an address that arrived in a message
 * (structured clone) is a view on an ArrayBuffer of its own, which costs a buffer object and a
 * separate allocation besides the 4 or 16 bytes; a copy is one small array.
 */
function compact(l: Cidr[]): Cidr[] {
  return l.map((x) => ({ family: x.family, addr: x.addr.slice(), prefix: x.prefix, text: x.text }));
}

interface Pair {
  inSa: InboundSa;
  outSa: OutboundSa;
  child: TunnelChild;
}

/** The sink over an SA database and the engine's children in this thread. */
export class LocalChildSink implements ChildSaSink {
  private readonly pairs = new Map<number, Pair>();
  private readonly byOut = new Map<number, Pair>();
  private readonly keyed = new Map<string, TunnelChild>();
  /** Our side's selector lists by text: a server's children share one (read-only) list (the peers' sides differ per client: not kept here). */
  private readonly lists = new Map<string, Cidr[]>();

  /**
   * `child`: the default child (pairs without a `child` key). `reindex`: tell the engine its
   * SAs or selectors changed (TunnelEngine.reindex). `host`: where keyed children are added and
   * removed (the engine); without it every pair goes to the default child.
   */
  constructor(private readonly db: SaDatabase, private readonly child: TunnelChild, private readonly reindex: () => void, private readonly host?: ChildHost) {}

  install(c: ChildInstall): void {
    const { db } = this;
    let child = this.child;
    let created = false;
    if (c.child !== undefined && this.host !== undefined) {
      const known = this.keyed.get(c.child);
      if (known !== undefined) child = known;
      else {
        child = { name: c.child, local: this.shared(c.local), remote: compact(c.remote), outbound: null, inbound: [], mtu: this.child.mtu, endpoint: null, stats: newChildStats() };
        created = true;
      }
    }
    const inSa = db.installInbound({ spi: c.spiIn, cipher: c.cipher, keyMaterial: c.keyIn, esn: c.esn, replayWindow: c.replayWindow });
    let outSa: OutboundSa;
    try {
      outSa = db.installOutbound({ spi: c.spiOut, cipher: c.cipher, keyMaterial: c.keyOut, esn: c.esn });
    } catch (e) {
      db.remove(c.spiIn);
      throw e;
    }
    const p: Pair = { inSa, outSa, child };
    this.pairs.set(c.spiIn >>> 0, p);
    this.byOut.set(c.spiOut >>> 0, p);
    if (c.local.length) child.local = this.shared(c.local);
    if (c.remote.length && child.remote !== c.remote && !created) child.remote = compact(c.remote);
    if (c.peer !== undefined) child.endpoint = { address: this.address(c.peer.address), port: c.peer.port };
    child.inbound.push(inSa);
    child.outbound = outSa;
    if (created) {
      this.keyed.set(c.child!, child);
      this.host!.addChild(child);
    } else this.changed(child);
  }

  remove(spiIn: number, spiOut: number, nextOutSpi: number | null): void {
    const { db } = this;
    const p = this.pairs.get(spiIn >>> 0);
    if (p === undefined) return;
    const child = p.child;
    this.pairs.delete(spiIn >>> 0);
    if (this.byOut.get(p.outSa.spi >>> 0) === p) this.byOut.delete(p.outSa.spi >>> 0);
    child.inbound = child.inbound.filter((s) => s !== p.inSa);
    if (child.outbound === p.outSa) {
      const next = nextOutSpi === null ? undefined : this.byOut.get(nextOutSpi >>> 0);
      child.outbound = next !== undefined && next.child === child ? next.outSa : null;
    }
    if (child !== this.child && child.inbound.length === 0 && child.outbound === null) {
      this.keyed.delete(child.name);
      this.host!.removeChild(child);
    } else this.changed(child);
    if (db.lookupInbound(spiIn) === p.inSa) db.remove(spiIn);
    if (db.lookupOutbound(spiOut) === p.outSa) db.remove(spiOut);
  }

  /** One list object per distinct selector list (bounded: cleared at 4,096 lists). */
  private shared(l: Cidr[]): Cidr[] {
    const k = l.map((x) => x.text).join(",");
    const known = this.lists.get(k);
    if (known !== undefined) return known;
    if (this.lists.size >= 4096) this.lists.clear();
    this.lists.set(k, l);
    return l;
  }

  /** Peer addresses by text (clients behind one NAT share one; bounded: cleared at 4,096). */
  private readonly addresses = new Map<string, string>();

  private address(a: string): string {
    const known = this.addresses.get(a);
    if (known !== undefined) return known;
    if (this.addresses.size >= 4096) this.addresses.clear();
    this.addresses.set(a, a);
    return a;
  }

  /** A keyed child's SAs or selectors changed: re-index just it when the host can. */
  private changed(child: TunnelChild): void {
    if (child !== this.child && this.host?.refreshChild) this.host.refreshChild(child);
    else this.reindex();
  }

  updateRemote(spiOut: number, peer: Endpoint): void {
    const p = this.byOut.get(spiOut >>> 0);
    if (p !== undefined) p.child.endpoint = { address: peer.address, port: peer.port };
  }

  /** The installed pairs' SAs (keep-warm of the newest pair). */
  newest(): { inSa: InboundSa; outSa: OutboundSa } | null {
    let last: Pair | null = null;
    for (const p of this.pairs.values()) last = p;
    return last === null ? null : { inSa: last.inSa, outSa: last.outSa };
  }

  /** The default child and every keyed one, with their counters (a snapshot). */
  children(): ChildStatus[] {
    const out: ChildStatus[] = [];
    for (const c of [this.child, ...this.keyed.values()]) {
      const inb = c.inbound;
      out.push({
        name: c.name,
        spiIn: inb.length ? inb[inb.length - 1].spi >>> 0 : null,
        spiOut: c.outbound ? c.outbound.spi >>> 0 : null,
        peer: c.endpoint ? { ...c.endpoint } : null,
        local: c.local.map((x) => x.text),
        remote: c.remote.map((x) => x.text),
        stats: { ...(c.stats ?? newChildStats()) },
      });
    }
    return out;
  }

  /** Number of keyed children. */
  get keyedCount(): number {
    return this.keyed.size;
  }
}
