/**
 * The tunnel engine: moves packets between a packet device (TUN) and an outer
 * datagram socket (ESP-in-UDP, RFC 3948). Runtime-neutral: it only sees the two
 * small interfaces below, so tests run it over in-memory adapters (memory.ts)
 * and `vpnkit up` over a bun:ffi TUN and a Bun UDP socket.
 *
 * Outbound: device packet → IP version / selector check (policy) → too big for the
 * tunnel MTU with DF (IPv4) or IPv6 → ICMP "too big" written back into the device
 * (counted `tooBig`) → else seal with the child's outbound SA → send (batched until
 * the device's batch end).
 *
 * Inbound: datagram → classify (1-byte 0xFF NAT-keepalive: ignored; 4 zero bytes =
 * non-ESP marker: IKE hook; else ESP with the SPI first) → SA by SPI (`noSa`) →
 * open (failures counted by reason, dropped silently) → inner packet checked
 * against the child's traffic selectors (`policy`) → device write.
 * @module
 */
import type { OpenResult } from "../esp/types.ts";
import { type Cidr, listContains } from "../net/cidr.ts";

/** An L3 packet device (TUN). */
export interface PacketDevice {
  /**
   * Register the packet consumer and start delivering. The packet may be a view into a
   * reused buffer, valid only during the call. `onBatchEnd` runs after each burst.
   */
  onPacket(cb: (pkt: Uint8Array) => void, onBatchEnd?: () => void): void;
  /** Write one IP packet into the device. */
  write(pkt: Uint8Array): boolean;
}

/** The outer datagram socket (UDP/4500 normally). */
export interface DatagramSocket {
  send(buf: Uint8Array, addr: string, port: number): void;
  /** Optional batched send of several datagrams to one peer. */
  sendBatch?(bufs: Uint8Array[], addr: string, port: number): void;
  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void;
  /**
   * Connection-oriented transports (TCP): false while no connection is up. The engine then
   * drops outbound packets before sealing them and counts them (`drops.notConnected`), instead
   * of counting them as sent. Absent (UDP): always connected.
   */
  readonly connected?: boolean;
  /** False when the transport does not carry 1-byte NAT-keepalives (TCP): the engine neither sends nor counts them. */
  readonly carriesKeepalives?: boolean;
}

/** What the engine needs from an outbound SA (lib/esp OutboundSa fits). */
export interface SealingSa {
  readonly spi: number;
  seal(inner: Uint8Array, nextHeader: number): Uint8Array | null;
}

/** What the engine needs from an inbound SA (lib/esp InboundSa fits). */
export interface OpeningSa {
  readonly spi: number;
  open(esp: Uint8Array): OpenResult;
}

/**
 * One pair of SAs with its traffic selectors (a CHILD_SA, or a manual-key tunnel).
 * `local` are our inner prefixes (sources going out), `remote` the peer's.
 */
export interface TunnelChild {
  name: string;
  local: Cidr[];
  remote: Cidr[];
  /** Current outbound SA (null: none installed, packets dropped as noSa). */
  outbound: SealingSa | null;
  /** Inbound SAs (several during a rekey). */
  inbound: OpeningSa[];
  /** Tunnel MTU: largest inner packet sent without an ICMP "too big". */
  mtu: number;
}

/** Engine counters, as served by the control socket. */
export interface EngineCounters {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  keepalivesSent: number;
  keepalivesIn: number;
  ikeIn: number;
  /** ICMP too-big messages written back into the device (rate-limited). */
  icmpSent: number;
  drops: {
    icv: number;
    replay: number;
    noSa: number;
    tooBig: number;
    malformed: number;
    dummy: number;
    policy: number;
    expired: number;
    /** Outbound seal refused (SA hard-expired or sequence space exhausted). */
    sealFailed: number;
    /** The device refused a write. */
    deviceWrite: number;
    /** Outbound packets while a connection-oriented transport (TCP) had no connection. */
    notConnected: number;
  };
}

export function newCounters(): EngineCounters {
  return {
    packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, keepalivesSent: 0, keepalivesIn: 0, ikeIn: 0, icmpSent: 0,
    drops: { icv: 0, replay: 0, noSa: 0, tooBig: 0, malformed: 0, dummy: 0, policy: 0, expired: 0, sealFailed: 0, deviceWrite: 0, notConnected: 0 },
  };
}

export interface EngineOptions {
  device: PacketDevice;
  socket: DatagramSocket;
  remoteAddress: string;
  remotePort: number;
  children: TunnelChild[];
  /** Build the ICMP(v6) too-big reply for `inner` (lib/esp buildIcmpTooBig). */
  icmpTooBig: (inner: Uint8Array, mtu: number) => Uint8Array | null;
  /** NAT-keepalive interval in ms (0 = off). Default 20000. */
  keepaliveMs?: number;
  /** Datagrams with the non-ESP marker (IKE over UDP/4500). */
  onIke?: (buf: Uint8Array, addr: string, port: number) => void;
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

export class TunnelEngine {
  readonly counters: EngineCounters = newCounters();
  readonly children: TunnelChild[];
  private readonly dev: PacketDevice;
  private readonly sock: DatagramSocket;
  private readonly remoteAddress: string;
  private readonly remotePort: number;
  private readonly tooBig: (inner: Uint8Array, mtu: number) => Uint8Array | null;
  private readonly onIke?: (buf: Uint8Array, addr: string, port: number) => void;
  private readonly bySpi = new Map<number, { sa: OpeningSa; child: TunnelChild }>();
  private pending: Uint8Array[] = [];
  private batching = false;
  private timer: unknown = null;
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
    this.remoteAddress = o.remoteAddress;
    this.remotePort = o.remotePort;
    this.children = o.children;
    this.tooBig = o.icmpTooBig;
    this.onIke = o.onIke;
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

  /** Rebuild the SPI index after SAs were added or removed from a child. */
  reindex(): void {
    this.bySpi.clear();
    for (const child of this.children) for (const sa of child.inbound) this.bySpi.set(sa.spi >>> 0, { sa, child });
  }

  /** Start moving packets. */
  start(): void {
    this.dev.onPacket((p) => this.fromDevice(p), () => this.flush());
    this.sock.onMessage((b, a, p) => this.fromNetwork(b, a, p));
    if (this.keepaliveMs > 0) this.timer = this.setIv(() => this.sendKeepalive(), this.keepaliveMs);
  }

  stop(): void {
    if (this.timer !== null) this.clearIv(this.timer);
    this.timer = null;
    this.flush();
  }

  sendKeepalive(): void {
    if (this.sock.carriesKeepalives === false) return;
    this.sock.send(KEEPALIVE, this.remoteAddress, this.remotePort);
    this.counters.keepalivesSent++;
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
    const child = this.childFor(family, pkt, srcOff, dstOff);
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
    if (this.sock.sendBatch) {
      this.pending.push(esp);
      if (!this.batching) {
        // No batch-end hook from the device yet: flush on the microtask queue.
        this.batching = true;
        queueMicrotask(() => this.flush());
      }
      if (this.pending.length >= MAX_BATCH) this.flush();
    } else {
      this.sock.send(esp, this.remoteAddress, this.remotePort);
    }
  }

  /** Send everything queued by {@link fromDevice}. */
  flush(): void {
    this.batching = false;
    const n = this.pending.length;
    if (n === 0) return;
    const batch = this.pending;
    this.pending = [];
    if (n === 1) this.sock.send(batch[0], this.remoteAddress, this.remotePort);
    else this.sock.sendBatch!(batch, this.remoteAddress, this.remotePort);
  }

  private childFor(family: 4 | 6, pkt: Uint8Array, srcOff: number, dstOff: number): TunnelChild | null {
    const ch = this.children;
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i];
      if (listContains(c.remote, family, pkt, dstOff) && (c.local.length === 0 || listContains(c.local, family, pkt, srcOff))) return c;
    }
    return null;
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
    const ent = this.bySpi.get(spi);
    if (ent === undefined) {
      c.drops.noSa++;
      return;
    }
    const r = ent.sa.open(buf);
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
    const child = ent.child;
    if (!listContains(child.remote, family, inner, srcOff) || (child.local.length > 0 && !listContains(child.local, family, inner, dstOff))) {
      c.drops.policy++;
      return;
    }
    if (!this.dev.write(inner)) {
      c.drops.deviceWrite++;
      return;
    }
    c.packetsIn++;
    c.bytesIn += ilen;
  }
}
