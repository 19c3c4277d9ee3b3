/**
 * The tunnel engine: moves packets between a packet device (TUN) and an outer
 * datagram socket (ESP-in-UDP, RFC 3948). Runtime-neutral: it only sees the two
 * small interfaces below, so tests run it over in-memory adapters (memory.ts)
 * and `vpnkit up` over a bun:ffi TUN and a Bun UDP socket.
 *
 * Many children (a road-warrior server: one per client) each carry their own traffic
 * selectors, SAs, peer endpoint (address + port: clients behind one NAT address differ by
 * port) and counters.
 *
 * Outbound: device packet → IP version → child by destination (longest remote selector that
 * contains it, local selectors containing the source; route-index.ts; none: `policy`) → too
 * big for the tunnel MTU with DF (IPv4) or IPv6 → ICMP "too big" written back into the device
 * (counted `tooBig`) → else seal with the child's outbound SA → send to the child's endpoint
 * (batched until the device's batch end; one batch send per destination).
 *
 * Inbound: datagram → classify (1-byte 0xFF NAT-keepalive: ignored; 4 zero bytes =
 * non-ESP marker: IKE hook; else ESP with the SPI first) → SA by SPI (`noSa`) →
 * open (failures counted by reason, dropped silently; each SA has its own replay window) →
 * inner packet checked against THAT SA's child's traffic selectors (`policy`: one client
 * cannot send with another's inner address) → device write.
 * @module
 */
import { listContains } from "../net/cidr.ts";
import { RouteIndex } from "./route-index.ts";
import { type ChildStats, type DatagramSocket, type EngineCounters, type Endpoint, newChildStats, newCounters, type OpeningSa, type PacketDevice, RAW_ESP_PORT, type TunnelChild } from "./engine-types.ts";

export type { ChildStats, DatagramSocket, EngineCounters, Endpoint, OpeningSa, PacketDevice, SealingSa, TunnelChild } from "./engine-types.ts";
export { newChildStats, newCounters, RAW_ESP_PORT } from "./engine-types.ts";

export interface EngineOptions {
  device: PacketDevice;
  socket: DatagramSocket;
  /** Default peer endpoint: of children without an `endpoint` of their own. */
  remoteAddress: string;
  remotePort: number;
  children: TunnelChild[];
  /** Build the ICMP(v6) too-big reply for `inner` (lib/esp buildIcmpTooBig). */
  icmpTooBig: (inner: Uint8Array, mtu: number) => Uint8Array | null;
  /** NAT-keepalive interval in ms (0 = off). Default 20000. */
  keepaliveMs?: number;
  /** Datagrams with the non-ESP marker (IKE over UDP/4500). */
  onIke?: (buf: Uint8Array, addr: string, port: number) => void;
  /**
   * An ESP packet for an SPI no SA has (counted `noSa`): RFC 7296 §2.21 (INVALID_SPI). `addr`
   * may be "" (the socket tells ESP senders' addresses only on demand). Rate-limit it there.
   */
  onUnknownSpi?: (spi: number, addr: string, port: number) => void;
  /** Max ICMP too-big messages per second written back (RFC 4443 §2.4(f)); 0 = none. Default 100. */
  icmpPerSecond?: number;
  /** Clock in ms (tests inject a fake). Default Date.now. */
  now?: () => number;
  /** Timer functions (tests inject fakes). */
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
}

const KEEPALIVE = new Uint8Array([0xff]);
const MAX_BATCH = 64;
/** How often the engine's clock (per-child `lastIn`) is refreshed when the host does not. */
const CLOCK_MS = 1000;

/** The SA with inbound SPI `spi` among `child`'s (one or two: a rekey's grace period). */
function inboundSa(child: TunnelChild, spi: number): OpeningSa | undefined {
  const l = child.inbound;
  for (let i = 0; i < l.length; i++) if (l[i].spi >>> 0 === spi) return l[i];
  return undefined;
}

function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a === b || (a.port === b.port && a.address === b.address);
}

export class TunnelEngine {
  readonly counters: EngineCounters = newCounters();
  /** The children, in priority order. Change them through {@link addChild}/{@link removeChild}, or call {@link reindex}. */
  readonly children: TunnelChild[];
  /**
   * Clock in ms for per-child `lastIn` (read per packet, so not a clock call per packet):
   * refreshed every second, at each device batch end, and by the host ({@link setClock}).
   */
  clock: number;
  private readonly dev: PacketDevice;
  private readonly sock: DatagramSocket;
  private readonly defaultEp: Endpoint;
  private readonly tooBig: (inner: Uint8Array, mtu: number) => Uint8Array | null;
  private readonly onIke?: (buf: Uint8Array, addr: string, port: number) => void;
  private readonly onUnknownSpi?: (spi: number, addr: string, port: number) => void;
  /** Inbound SPI -> the child whose `inbound` holds that SA (no {sa, child} object per SA: issue 12). */
  private readonly bySpi = new Map<number, TunnelChild>();
  private readonly routes = new RouteIndex<TunnelChild>();
  private pending: Uint8Array[] = [];
  private pendingEp: Endpoint[] = [];
  /** Scratch of {@link flush} when a batch goes to several endpoints. */
  private readonly run: Uint8Array[] = [];
  private done = new Uint8Array(MAX_BATCH);
  private batching = false;
  private timer: unknown = null;
  private clockTimer: unknown = null;
  private readonly keepaliveMs: number;
  private readonly clearIv: (h: unknown) => void;
  private readonly setIv: (fn: () => void, ms: number) => unknown;
  private readonly icmpRate: number;
  private readonly now: () => number;
  private icmpTokens: number;
  private icmpStamp = 0;

  constructor(o: EngineOptions) {
    this.dev = o.device;
    this.sock = o.socket;
    this.defaultEp = { address: o.remoteAddress, port: o.remotePort };
    this.children = o.children;
    this.tooBig = o.icmpTooBig;
    this.onIke = o.onIke;
    this.onUnknownSpi = o.onUnknownSpi;
    this.keepaliveMs = o.keepaliveMs ?? 20000;
    this.setIv = o.setInterval ?? ((fn, ms) => {
      const h = setInterval(fn, ms);
      (h as unknown as { unref?: () => void }).unref?.();
      return h;
    });
    this.clearIv = o.clearInterval ?? ((h) => clearInterval(h as ReturnType<typeof setInterval>));
    this.icmpRate = o.icmpPerSecond ?? 100;
    this.icmpTokens = this.icmpRate;
    this.now = o.now ?? Date.now;
    this.clock = this.now();
    this.reindex();
  }

  /** Token bucket for ICMP errors: refills `icmpRate` per second, burst `icmpRate`. */
  private icmpAllowed(): boolean {
    if (this.icmpRate <= 0) return false;
    const t = this.now();
    const dt = t - this.icmpStamp;
    if (dt > 0) {
      this.icmpTokens = Math.min(this.icmpRate, this.icmpTokens + (dt * this.icmpRate) / 1000);
      this.icmpStamp = t;
    }
    if (this.icmpTokens < 1) return false;
    this.icmpTokens -= 1;
    return true;
  }

  /**
   * Rebuild the SPI index and the routing index after children, their SAs or their
   * selectors changed. O(children + selectors); not on the packet path. One child's change:
   * {@link refreshChild}.
   */
  reindex(): void {
    this.bySpi.clear();
    this.spisOf.clear();
    for (const child of this.children) this.indexSpis(child);
    this.routes.rebuild(this.children);
    this.nextOrder = this.children.length;
  }

  /** Inbound SPIs indexed per child (removal must find them after the child's list changed): the SPI itself when one (most children), else a list. */
  private readonly spisOf = new Map<TunnelChild, number | number[]>();
  private nextOrder = 0;

  private indexSpis(child: TunnelChild): void {
    child.stats ??= newChildStats();
    const spis: number[] = [];
    for (const sa of child.inbound) {
      this.bySpi.set(sa.spi >>> 0, child);
      spis.push(sa.spi >>> 0);
    }
    this.spisOf.set(child, spis.length === 1 ? spis[0] : spis);
  }

  private unindexSpis(child: TunnelChild): void {
    const s = this.spisOf.get(child) ?? [];
    for (const spi of typeof s === "number" ? [s] : s) if (this.bySpi.get(spi) === child) this.bySpi.delete(spi);
    this.spisOf.delete(child);
  }

  /** Add a child (after the existing ones: an equal-length selector of an earlier child wins). O(its SAs + selectors). */
  addChild(c: TunnelChild): void {
    this.children.push(c);
    this.indexSpis(c);
    this.routes.add(c, this.nextOrder++);
  }

  /** Remove a child (its SAs are the caller's to destroy). */
  removeChild(c: TunnelChild): boolean {
    const i = this.children.indexOf(c);
    if (i < 0) return false;
    this.children.splice(i, 1);
    this.unindexSpis(c);
    this.routes.remove(c);
    return true;
  }

  /** Re-index one child after its SAs or selectors changed (keeps its priority). */
  refreshChild(c: TunnelChild): void {
    const order = this.routes.orderOf(c);
    if (order === undefined) return this.reindex();
    this.unindexSpis(c);
    this.indexSpis(c);
    this.routes.add(c, order);
  }

  /** The child outbound packets from `src` to `dst` (4 or 16 address bytes each) would take, or null. */
  routeFor(src: Uint8Array, dst: Uint8Array): TunnelChild | null {
    if (src.length !== dst.length || (src.length !== 4 && src.length !== 16)) return null;
    const b = new Uint8Array(src.length * 2);
    b.set(src, 0);
    b.set(dst, src.length);
    return this.routes.lookup(src.length === 4 ? 4 : 6, b, 0, src.length);
  }

  /** Set the clock used for per-child `lastIn` (the data-plane loop calls it once per wake-up). */
  setClock(ms: number): void {
    this.clock = ms;
  }

  /** Start moving packets. */
  start(): void {
    this.dev.onPacket((p) => this.fromDevice(p), () => this.flush());
    this.sock.onMessage((b, a, p) => this.fromNetwork(b, a, p));
    if (this.keepaliveMs > 0) this.timer = this.setIv(() => this.sendKeepalive(), this.keepaliveMs);
    this.clockTimer = this.setIv(() => (this.clock = this.now()), CLOCK_MS);
  }

  stop(): void {
    if (this.timer !== null) this.clearIv(this.timer);
    if (this.clockTimer !== null) this.clearIv(this.clockTimer);
    this.timer = null;
    this.clockTimer = null;
    this.flush();
  }

  /**
   * One NAT keepalive to each distinct peer endpoint: the default remote when no child has an
   * endpoint of its own (one peer, as before); else each child's endpoint, and the default
   * remote only for children without one that have an outbound SA.
   */
  sendKeepalive(): void {
    if (this.sock.carriesKeepalives === false) return;
    const ch = this.children;
    let own = false;
    for (let i = 0; i < ch.length && !own; i++) if (ch[i].endpoint) own = true;
    if (!own) {
      this.sock.send(KEEPALIVE, this.defaultEp.address, this.defaultEp.port);
      this.counters.keepalivesSent++;
      return;
    }
    const seen = new Set<string>();
    for (const c of ch) {
      if (!c.endpoint && c.outbound === null) continue;
      const ep = c.endpoint ?? this.defaultEp;
      if (ep.port === RAW_ESP_PORT) continue; // plain ESP: no UDP, no NAT to keep open
      const k = `${ep.address}|${ep.port}`;
      if (seen.has(k)) continue;
      seen.add(k);
      this.sock.send(KEEPALIVE, ep.address, ep.port);
      this.counters.keepalivesSent++;
    }
  }

  /** Outbound path: one inner packet from the device. */
  fromDevice(pkt: Uint8Array): void {
    const c = this.counters;
    const len = pkt.length;
    if (len < 20) {
      c.drops.malformed++;
      return;
    }
    const v = pkt[0] >> 4;
    let family: 4 | 6;
    let srcOff: number, dstOff: number, df: boolean, nh: number;
    if (v === 4) {
      family = 4;
      srcOff = 12;
      dstOff = 16;
      df = (pkt[6] & 0x40) !== 0;
      nh = 4;
    } else if (v === 6 && len >= 40) {
      family = 6;
      srcOff = 8;
      dstOff = 24;
      df = true;
      nh = 41;
    } else {
      c.drops.malformed++;
      return;
    }
    const child = this.routes.lookup(family, pkt, srcOff, dstOff);
    if (child === null) {
      c.drops.policy++;
      return;
    }
    if (len > child.mtu && df) {
      c.drops.tooBig++;
      if (this.icmpAllowed()) {
        const icmp = this.tooBig(pkt, child.mtu);
        if (icmp) {
          if (this.dev.write(icmp)) c.icmpSent++;
          else c.drops.deviceWrite++;
        }
      }
      return;
    }
    const sa = child.outbound;
    if (sa === null) {
      c.drops.noSa++;
      return;
    }
    if (this.sock.connected === false) {
      c.drops.notConnected++;
      return;
    }
    const esp = sa.seal(pkt, nh);
    if (esp === null) {
      c.drops.sealFailed++;
      return;
    }
    c.packetsOut++;
    c.bytesOut += len;
    const st = child.stats!;
    st.packetsOut++;
    st.bytesOut += len;
    const ep = child.endpoint ?? this.defaultEp;
    if (this.sock.sendBatch) {
      this.pending.push(esp);
      this.pendingEp.push(ep);
      if (!this.batching) {
        // No batch-end hook from the device yet: flush on the microtask queue.
        this.batching = true;
        queueMicrotask(() => this.flush());
      }
      if (this.pending.length >= MAX_BATCH) this.flush();
    } else {
      this.sock.send(esp, ep.address, ep.port);
    }
  }

  /**
   * Send everything queued by {@link fromDevice}: one batch send per destination (a UDP
   * GSO run must go to one peer), each destination's packets in their order.
   */
  flush(): void {
    this.batching = false;
    this.clock = this.now();
    const n = this.pending.length;
    if (n === 0) return;
    const batch = this.pending;
    const eps = this.pendingEp;
    this.pending = [];
    this.pendingEp = [];
    const e0 = eps[0];
    let k = 1;
    while (k < n && sameEndpoint(eps[k], e0)) k++;
    if (k === n) {
      if (n === 1) this.sock.send(batch[0], e0.address, e0.port);
      else this.sock.sendBatch!(batch, e0.address, e0.port);
      return;
    }
    // several peers in one burst: group by endpoint
    if (this.done.length < n) this.done = new Uint8Array(n);
    const done = this.done;
    done.fill(0, 0, n);
    const run = this.run;
    for (let i = 0; i < n; i++) {
      if (done[i]) continue;
      const d = eps[i];
      run.length = 0;
      for (let j = i; j < n; j++) {
        if (!done[j] && sameEndpoint(eps[j], d)) {
          run.push(batch[j]);
          done[j] = 1;
        }
      }
      if (run.length === 1) this.sock.send(run[0], d.address, d.port);
      else this.sock.sendBatch!(run, d.address, d.port);
    }
    run.length = 0;
  }

  /** Inbound path: one UDP payload from the outer socket. */
  fromNetwork(buf: Uint8Array, addr: string, port: number): void {
    const c = this.counters;
    const len = buf.length;
    if (len === 1 && buf[0] === 0xff) {
      c.keepalivesIn++;
      return;
    }
    if (len >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0) {
      c.ikeIn++;
      this.onIke?.(buf, addr, port);
      return;
    }
    if (len < 8) {
      c.drops.malformed++;
      return;
    }
    const spi = ((buf[0] << 24) | (buf[1] << 16) | (buf[2] << 8) | buf[3]) >>> 0;
    const child = this.bySpi.get(spi);
    const sa = child === undefined ? undefined : inboundSa(child, spi);
    if (child === undefined || sa === undefined) {
      c.drops.noSa++;
      this.onUnknownSpi?.(spi, addr, port);
      return;
    }
    const r = sa.open(buf);
    if (!r.ok) {
      c.drops[r.reason]++;
      return;
    }
    const inner = r.payload;
    const ilen = inner.length;
    let family: 4 | 6;
    let srcOff: number, dstOff: number;
    if (r.nextHeader === 4 && ilen >= 20 && inner[0] >> 4 === 4) {
      family = 4;
      srcOff = 12;
      dstOff = 16;
    } else if (r.nextHeader === 41 && ilen >= 40 && inner[0] >> 4 === 6) {
      family = 6;
      srcOff = 8;
      dstOff = 24;
    } else if (r.nextHeader === 59) {
      c.drops.dummy++;
      return;
    } else {
      c.drops.malformed++;
      return;
    }
    // the SA's own child: a client's SA may only carry that client's inner addresses
    const st = child.stats!;
    if (!listContains(child.remote, family, inner, srcOff) || (child.local.length > 0 && !listContains(child.local, family, inner, dstOff))) {
      c.drops.policy++;
      st.policyDrops++;
      return;
    }
    if (!this.dev.write(inner)) {
      c.drops.deviceWrite++;
      return;
    }
    c.packetsIn++;
    c.bytesIn += ilen;
    st.packetsIn++;
    st.bytesIn += ilen;
    st.lastIn = this.clock;
  }
}
