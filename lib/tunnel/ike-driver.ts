/**
 * IKEv2 driver for `vpnkit up`: glue between the I/O-free IKE SA manager
 * ({@link IkeSaManager}, lib/ike/v2/sa) and the tunnel: the UDP sockets, timers, the
 * receive queue and the Child SA sink. Runtime-neutral (clock and timers injectable).
 *
 * Transport (RFC 7296 §2.23, RFC 3948): plain IKE on the IKE socket (`sendIke`, port 500);
 * IKE with the non-ESP marker and ESP-in-UDP on the NAT-T socket (`send`, port 4500). An
 * IKE SA moves to the NAT-T socket when NAT-D says so; vpnkit forces that (random NAT-D
 * source hash, like strongSwan's `encap = yes`) because the packet path speaks ESP in UDP
 * only. Without `sendIke` every IKE message goes on the NAT-T socket (one-socket mode).
 *
 * One responder serves any number of peers (IKE SAs found by SPIs in the manager); with
 * `remoteAny` any address may initiate. Every dropped datagram is counted by reason
 * ({@link IkeDriver.drops} and the manager's) and logged at debug level.
 *
 * Actions: send → socket; install-child → sink (make before break); remove-child → sink;
 * keylog → key log; failed → one error line; closed → retry (initiator) or fatal.
 * Recovery: when the peer answers with INVALID_IKE_SPI (it restarted) the initiator starts
 * a new IKE SA at once, and also when a liveness check is still unanswered after its first
 * retransmission (a restarted strongSwan drops it silently); the new IKE SA replaces the old
 * one once up. A failed initiator retries after 5, 10, 20, 30 s with `retry`.
 * Timers: every SA's tick every 500 ms; Child SA rekey every `rekeySec`, IKE SA rekey every
 * `ikeRekeySec` (the responder waits 10 % longer so the initiator normally goes first).
 * @module
 */
import type { SaDatabase } from "../esp/sadb.ts";
import { IkeSa } from "../ike/v2/sa/ike-sa.ts";
import { IkeSaManager, type ManagedSa, type ManagerEvent, type Via } from "../ike/v2/sa/manager.ts";
import type { Action, ChildSaInfo, Endpoint, IkeSaConfig, VirtualIpPool } from "../ike/v2/sa/types.ts";
import { type ChildInstall, type ChildSaSink, LocalChildSink } from "./child-sink.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { TunnelChild } from "./engine.ts";
import { KeyLog, keylogAddIke } from "./keylog.ts";
import { tsToCidrs, VipPools } from "./ike-pool.ts";
import { buildIkeStatus, type IkeStatus, type Installed, type Meta } from "./ike-status.ts";

export { PrefixPool, tsToCidrs, VipPools } from "./ike-pool.ts";
export type { IkeStatus } from "./ike-status.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface IkeDriverOptions {
  cfg: IkeTunnelConfig;
  /** Sends one datagram on the NAT-T socket (port 4500); IKE messages arrive with the non-ESP marker already prepended. */
  send: (buf: Uint8Array, addr: string, port: number) => void;
  /** Sends one datagram on the plain IKE socket (port 500). Without it every IKE message goes through `send`. */
  sendIke?: (buf: Uint8Array, addr: string, port: number) => void;
  /** The local address the kernel uses to reach `peer` (route lookup): our IKE SA's address when `local` is the wildcard. */
  localAddressFor?: (peer: string) => string | null;
  /** Runs the receive queue's drain later, 64 datagrams a turn (`vpnkit up` passes setImmediate, so the queue fills and drops under a flood); without it datagrams are handled at once. */
  schedule?: (fn: () => void) => void;
  /**
   * Where Child SAs go: install / remove (lib/tunnel/child-sink.ts). `vpnkit up` passes the
   * data-plane worker's; without it, `db` + `child` + `reindex` make a {@link LocalChildSink}.
   */
  sink?: ChildSaSink;
  db?: SaDatabase;
  child?: TunnelChild;
  reindex?: () => void;
  log: (level: LogLevel, msg: string) => void;
  /** The IKE SA failed for good (initiator without `retry`): one line already logged. */
  onFatal?: (reason: string) => void;
  /** The peer assigned us a virtual IPv4 address (road warrior): put it on the TUN. */
  onVirtualIp?: (address: string) => void;
  /** A Child SA was installed (first one and every rekey). */
  onChild?: (info: { spiIn: number; spiOut: number; cipher: string; rekey: boolean }) => void;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (h: unknown) => void;
  setTimeout?: (fn: () => void, ms: number) => unknown;
  clearTimeout?: (h: unknown) => void;
  rng?: (n: number) => Uint8Array;
}

const TICK_MS = 500;
const RETRY_MIN_MS = 5000;
const RETRY_MAX_MS = 30_000;

function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

function isWildcard(a: string): boolean {
  return a === "0.0.0.0" || a === "::";
}

export class IkeDriver {
  private readonly o: IkeDriverOptions;
  private readonly cfg: IkeTunnelConfig;
  readonly manager: IkeSaManager;
  private readonly meta = new Map<ManagedSa, Meta>();
  private readonly installed = new Map<number, Installed>();
  private readonly queue: { d: Uint8Array; from: Endpoint; via: Via }[] = [];
  /** Everything but a first IKE_SA_INIT (no COOKIE): SAs' own messages and INITs that return a cookie go first under a flood. */
  private readonly urgent: { d: Uint8Array; from: Endpoint; via: Via }[] = [];
  private draining = false;
  private timer: unknown = null;
  private retryTimer: unknown = null;
  private retryMs = RETRY_MIN_MS;
  private stopping = false;
  private halted = false;
  private keylog: KeyLog | null;
  private readonly now: () => number;
  private readonly sink: ChildSaSink;
  /** Datagrams dropped before the manager, by reason (the manager counts its own). */
  readonly drops: Record<string, number> = {};
  private dropLogSec = 0;
  private dropLogLines = 0;
  private dropLogSkipped = 0;
  firstChildAt: number | null = null;
  startedAt = 0;
  /** Virtual IP assigned by the peer, if any. */
  virtualIp: string | null = null;
  lastError: string | null = null;
  readonly pool: VipPools | null;

  constructor(o: IkeDriverOptions) {
    this.o = o;
    this.cfg = o.cfg;
    const pools = [o.cfg.ike.pool, o.cfg.ike.pool6].filter((x): x is string => x !== undefined);
    this.pool = o.cfg.ike.responder && pools.length ? new VipPools(pools, o.cfg.ike.dns ?? []) : null;
    this.now = o.now ?? Date.now;
    this.keylog = o.cfg.keylog ? new KeyLog(o.cfg.keylog) : null;
    if (o.sink) this.sink = o.sink;
    else if (o.db && o.child) this.sink = new LocalChildSink(o.db, o.child, o.reindex ?? (() => {}));
    else throw new TypeError("IkeDriver: give `sink`, or `db` and `child`");
    this.manager = new IkeSaManager({
      now: this.now(), limits: o.cfg.ike.limits, rng: o.rng,
      responder: o.cfg.ike.responder ? (from, via) => this.saConfig(from, via) : undefined,
      onActions: (e, actions) => this.run(e, actions),
      onEvent: (ev) => this.onEvent(ev),
    });
  }

  /** Our address for an IKE SA with `peer`: `local`, or when that is the wildcard the route's source address. */
  private localAddress(peer: string): string {
    if (!isWildcard(this.cfg.local)) return this.cfg.local;
    return this.o.localAddressFor?.(peer) ?? this.cfg.local;
  }

  private natPort(): number {
    return this.cfg.localPort;
  }

  /** The core's configuration for one IKE SA (the core copies the PSK and wipes its copy; no per-SA copy here that nobody would zero). */
  private saConfig(remote: Endpoint, via: Via): IkeSaConfig {
    const c = this.cfg, k = c.ike;
    const local = this.localAddress(remote.address);
    return {
      local: { address: local, port: via === "natt" || !k.ikePort ? c.localPort : k.ikePort },
      remote: { ...remote },
      localId: k.localId ?? local,
      remoteId: k.remoteId,
      psk: k.psk.length ? k.psk : undefined,
      privateKey: k.privateKey,
      certificate: k.certificate,
      peerCa: k.peerCa,
      ikeProposals: k.ikeProposals,
      espProposals: k.espProposals,
      localTs: k.localTs.length ? k.localTs : undefined,
      requestVirtualIp: k.virtualIp,
      ...(this.pool ? { virtualIpPool: this.loggedPool(this.pool), dns: k.dns ?? [] } : {}),
      retransmitTimeout: Math.max(100, Math.round(k.retransmitSec * 1000)),
      retransmitTries: k.retransmitTries,
      remoteTs: k.remoteTs,
      dpdDelay: Math.round(k.dpdSec * 1000),
      forceEncap: true,
      natKeepalive: c.keepaliveSec > 0 ? Math.round(c.keepaliveSec * 1000) : 0,
      keylog: c.keylog !== null,
      fragmentSize: Math.min(c.pathMtu, 1280),
      halfOpenTimeout: this.manager?.limits.halfOpenTimeoutMs,
    };
  }

  private loggedPool(p: VipPools): VirtualIpPool {
    return {
      allocate: (peer, family = 4) => {
        const a = p.allocate(peer, family);
        if (a) this.o.log("info", `virtual IP ${a} assigned to "${peer}"${family === 4 && this.cfg.ike.dns?.length ? `, DNS ${this.cfg.ike.dns.join(" ")}` : ""}`);
        return a;
      },
      release: (a) => {
        p.release(a);
        this.o.log("info", `virtual IP ${a} released`);
      },
    };
  }

  /** Start: the initiator sends IKE_SA_INIT; the responder waits for one. */
  start(): void {
    this.startedAt = this.now();
    const si = this.o.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    this.timer = si(() => this.tick(), TICK_MS);
    if (!this.cfg.ike.responder) this.initiate();
    else {
      const peer = this.cfg.ike.remoteAny ? "any address" : this.cfg.remote;
      const ports = this.cfg.ike.ikePort && this.o.sendIke ? `UDP ${this.cfg.ike.ikePort} and ${this.cfg.localPort}` : `UDP ${this.cfg.localPort}`;
      this.o.log("info", `IKEv2 responder: waiting for ${peer} on ${ports}${this.pool ? `; virtual IPs from ${[this.cfg.ike.pool, this.cfg.ike.pool6].filter(Boolean).join(" and ")} (${this.pool.size} addresses)${this.cfg.ike.dns?.length ? `, DNS ${this.cfg.ike.dns.join(" ")}` : ""}` : ""}`);
    }
  }

  private initiate(probe = false): void {
    if (this.stopping) return;
    const port = this.cfg.remotePort;
    const via: Via = port === this.natPort() || !this.o.sendIke || !this.cfg.ike.ikePort ? "natt" : "ike";
    let r;
    try {
      r = IkeSa.initiator(this.saConfig({ address: this.cfg.remote, port }, via), this.now(), this.o.rng);
    } catch (e) {
      this.fatal(`IKE configuration rejected: ${(e as Error).message}`);
      return;
    }
    this.o.log("info", `IKEv2 initiator: IKE_SA_INIT to ${this.cfg.remote}:${port}`);
    const e = this.manager.add(r.sa, [], via, this.now());
    this.meta.set(e, { createdAt: this.now(), ikeRekeyRequested: false, virtualIp: null, probe });
    this.run(e, r.actions);
  }

  private dropped(reason: string, from: Endpoint, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    // every drop is counted; at most 20 debug lines a second (a flood drops ~100,000/s, and a
    // string per drop is garbage the responder's memory carries)
    const sec = Math.floor(this.now() / 1000);
    if (sec !== this.dropLogSec) {
      if (this.dropLogSkipped) this.o.log("debug", `${this.dropLogSkipped} more dropped IKE datagrams not logged`);
      this.dropLogSec = sec;
      this.dropLogLines = this.dropLogSkipped = 0;
    }
    if (this.dropLogLines >= 20) {
      this.dropLogSkipped++;
      return;
    }
    this.dropLogLines++;
    this.o.log("debug", `IKE datagram from ${from.address}:${from.port} dropped: ${reason}${detail ? ` (${detail})` : ""}`);
  }

  /**
   * One datagram for IKE. `via` "natt": from the NAT-T socket, non-ESP marker included (as
   * the packet path hands it over); "ike": from the plain IKE socket, no marker.
   */
  onDatagram(buf: Uint8Array, addr: string, port: number, via: Via = "natt"): void {
    const from = { address: addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr, port };
    if (this.halted) return this.dropped("stopped", from);
    let d = buf;
    if (via === "natt") {
      if (!(buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0)) return this.dropped("no-marker", from);
      d = buf.subarray(4);
    } else if (buf.length < 28 || (buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0)) {
      // a keep-alive, ESP or a marked IKE message on the plain IKE port (RFC 3948 keeps them on 4500)
      return this.dropped("wrong-port", from, `${buf.length} bytes on the IKE port`);
    }
    if (!this.cfg.ike.remoteAny && addr !== this.cfg.remote && from.address !== this.cfg.remote) return this.dropped("unexpected-address", from, `only ${this.cfg.remote} is configured`);
    // a new IKE_SA_INIT without a COOKIE (first payload not a notify) is what a spoofed flood sends
    const fresh = d[18] === 34 && (d[19] & 0x20) === 0 && d[16] !== 41;
    const q = fresh ? this.queue : this.urgent;
    if (q.length >= this.manager.limits.queue) return this.dropped("queue-full", from);
    q.push({ d, from, via });
    if (this.draining) return;
    this.draining = true;
    if (this.o.schedule) this.o.schedule(() => this.drain());
    else this.drain();
  }

  private drain(): void {
    // a bounded batch per turn, so the sockets' callbacks get their turn (and the queue its bound)
    const batch = this.o.schedule ? 64 : Infinity;
    for (let n = 0; n < batch && (this.urgent.length || this.queue.length); n++) {
      const q = (this.urgent.length ? this.urgent : this.queue).shift()!;
      if (this.halted) break;
      // the socket it came in on (a wildcard address: the SA keeps its own)
      const to = { address: this.cfg.local, port: q.via === "natt" || !this.cfg.ike.ikePort ? this.cfg.localPort : this.cfg.ike.ikePort };
      this.manager.receive(q.d, q.from, q.via, this.now(), to);
    }
    if ((this.urgent.length || this.queue.length) && !this.halted && this.o.schedule) this.o.schedule(() => this.drain());
    else this.draining = false;
  }

  private onEvent(ev: ManagerEvent): void {
    if (ev.type === "drop") {
      this.o.log("debug", `IKE datagram from ${ev.from.address}:${ev.from.port} dropped: ${ev.reason}${ev.detail ? ` (${ev.detail})` : ""}`);
      return;
    }
    // the peer lost our IKE SA (it restarted): start over now instead of after DPD gives up
    if (!this.cfg.ike.responder && ev.entry.sa.initiator && !this.stopping && !this.manager.list().some((x) => x !== ev.entry && x.sa.state !== "dead" && !x.replaced)) {
      this.o.log("warn", `peer ${ev.entry.sa.remote.address} does not know IKE SA #${ev.entry.id} any more (INVALID_IKE_SPI): starting a new one`);
      this.initiate();
    }
  }

  private tick(): void {
    const now = this.now();
    this.manager.tick(now);
    const k = this.cfg.ike;
    const silentMs = (k.dpdSec + k.retransmitSec) * 1000 + 1000;
    for (const e of this.manager.list()) {
      const m = this.meta.get(e);
      // the liveness check is unanswered after its first retransmission: the peer may have
      // restarted without answering INVALID_IKE_SPI (strongSwan does not), so a new IKE SA
      // starts next to this one (it replaces this one once up; a dead peer still fails it)
      if (m && !m.probed && !k.responder && k.dpdSec > 0 && e.sa.initiator && e.sa.state === "established" && e.lastReceived !== null && now - e.lastReceived > silentMs &&
        !this.stopping && !this.manager.list().some((x) => x !== e && x.sa.state !== "dead" && !x.replaced)) {
        m.probed = true;
        this.o.log("warn", `peer ${e.sa.remote.address} silent for ${Math.round((now - e.lastReceived) / 1000)} s (liveness check unanswered): starting a new IKE SA next to #${e.id}`);
        this.initiate(true);
      }
      const slack = e.sa.initiator ? 1 : 1.1;
      if (m && k.ikeRekeySec > 0 && e.sa.state === "established" && !m.ikeRekeyRequested && now - m.createdAt >= k.ikeRekeySec * 1000 * slack) {
        m.ikeRekeyRequested = true;
        this.o.log("info", `rekeying the IKE SA (#${e.id})`);
        this.manager.call(e, (sa) => sa.rekeyIke(now), now);
      }
    }
    if (k.rekeySec > 0) {
      for (const c of [...this.installed.values()]) {
        const slack = c.entry.sa.initiator ? 1 : 1.1;
        if (!c.rekeying && c.entry.sa.state === "established" && now - c.at >= k.rekeySec * 1000 * slack) this.rekeyChild(c.spiIn, "lifetime");
      }
    }
  }

  /** Rekey the Child SA with inbound SPI `spiIn` (SA database soft expiry, or the rekey timer). */
  rekeyChild(spiIn: number, why: string): void {
    const c = this.installed.get(spiIn >>> 0);
    if (!c || c.rekeying || c.entry.sa.state !== "established") return;
    c.rekeying = true;
    this.o.log("info", `rekeying Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o (${why})`);
    this.manager.call(c.entry, (sa) => sa.rekeyChild(c.spiIn, this.now()), this.now());
  }

  /** An SA database event: a soft expiry of one of our SAs starts a rekey. */
  onSaEvent(e: { type: string; spi: number; direction: "in" | "out" }): void {
    if (e.type !== "soft-expire") return;
    for (const c of [...this.installed.values()]) {
      if ((e.direction === "in" && c.spiIn === e.spi) || (e.direction === "out" && c.spiOut === e.spi)) this.rekeyChild(c.spiIn, "soft lifetime");
    }
  }

  private run(e: ManagedSa | null, actions: Action[]): void {
    const failed = actions.some((a) => a.type === "failed");
    for (const a of actions) {
      try {
        this.act(e, a, failed);
      } catch (err) {
        this.o.log("error", `IKE driver: ${a.type}: ${(err as Error).message}`);
      }
    }
  }

  private sendDatagram(data: Uint8Array, to: Endpoint, natt: boolean): void {
    if (natt || !this.o.sendIke || !this.cfg.ike.ikePort) {
      const b = new Uint8Array(4 + data.length);
      b.set(data, 4);
      this.o.send(b, to.address, to.port);
    } else this.o.sendIke(data, to.address, to.port);
  }

  private act(e: ManagedSa | null, a: Action, failedInBatch: boolean): void {
    const log = this.o.log;
    switch (a.type) {
      case "send":
        this.sendDatagram(a.data, a.to, a.natt);
        break;
      case "nat-keepalive":
        this.o.send(new Uint8Array([0xff]), a.to.address, a.to.port);
        break;
      case "log":
        // the core also logs a failure at "error": the `failed` action makes the one line
        if (a.level === "error" && failedInBatch) break;
        log(a.level, a.msg);
        break;
      default:
        if (e) this.actSa(e, a);
    }
  }

  private actSa(e: ManagedSa, a: Action): void {
    const log = this.o.log;
    const sa = e.sa;
    switch (a.type) {
      case "install-child":
        this.install(e, a.child);
        break;
      case "remove-child":
        this.remove(a.spiIn, a.spiOut, a.reason);
        break;
      case "established":
        if (!this.meta.has(e)) this.meta.set(e, { createdAt: this.now(), ikeRekeyRequested: false, virtualIp: null });
        if (sa.initiator) this.retryMs = RETRY_MIN_MS;
        break;
      case "failed": {
        const msg = `${a.scope === "ike" ? "IKE SA" : "Child SA"} failed: ${a.reason}${a.notify && !a.reason.includes(a.notify) ? ` (${a.notify})` : ""}`;
        if (this.meta.get(e)?.probe && e.establishedAt === null) {
          log("warn", `the new IKE SA toward the silent peer failed too: ${a.reason}`);
          break;
        }
        this.lastError = msg;
        log("error", msg);
        if (a.scope === "child") for (const c of this.installed.values()) if (c.entry === e && c.rekeying) { c.rekeying = false; c.at = this.now(); }
        // the initiator's first Child SA failed: no tunnel, so delete the IKE SA as strongSwan does
        if (a.scope === "child" && sa.initiator && sa.state === "established" && ![...this.installed.values()].some((c) => c.entry === e)) {
          queueMicrotask(() => this.manager.call(e, (s) => s.delete(this.now()), this.now()));
        }
        break;
      }
      case "keylog":
        if (this.cfg.keylog && !keylogAddIke(this.cfg.keylog, a)) log("warn", `key log: IKE algorithm ${a.encr}/${a.integ} has no key-log name`);
        for (const k of [a.skei, a.sker, a.skai, a.skar]) k.fill(0);
        break;
      case "ike-rekeyed": {
        log("info", `IKE SA rekeyed (#${e.id})`);
        const m = this.meta.get(e);
        if (m) { m.createdAt = this.now(); m.ikeRekeyRequested = false; }
        break;
      }
      case "closed":
        this.closed(e, a.reason);
        break;
      case "peer-address-changed":
        log("warn", `IKE SA #${e.id}: peer now at ${a.remote.address}:${a.remote.port}`);
        this.peerMoved(e);
        break;
      case "virtual-ip": {
        log("info", `virtual IP ${a.address}${a.dns.length ? `, DNS ${a.dns.join(" ")} (not configured)` : ""}`);
        this.virtualIp = a.address;
        const m = this.meta.get(e);
        if (m) m.virtualIp = a.address;
        this.o.onVirtualIp?.(a.address);
        break;
      }
      default:
        // nat-detected, switch-port: the manager moved the SA to the NAT-T socket
        break;
    }
  }

  /** The endpoint of `e`'s peer for ESP: its NAT-T address and port. */
  private espPeer(e: ManagedSa): Endpoint {
    return { address: e.sa.remote.address, port: e.sa.natt ? e.sa.remote.port : this.natPort() };
  }

  private install(e: ManagedSa, c: ChildSaInfo): void {
    const local = c.tsLocal.flatMap(tsToCidrs), remote = c.tsRemote.flatMap(tsToCidrs);
    // the peer's NAT-T endpoint: ESP goes there (the packet path routes per Child SA)
    const peer = this.espPeer(e);
    // a responder serves many peers: every Child SA (and its rekeys) is its own engine child
    // with its own selectors and endpoint; the initiator has one peer and uses the default child
    const old = c.rekeyOf ? this.installed.get(c.rekeyOf.spiIn >>> 0) : undefined;
    const key = old?.key ?? (this.cfg.ike.responder ? `ike${e.id}-${hex32(c.spiIn)}` : "");
    const inst: ChildInstall = {
      spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, keyIn: c.keyIn, keyOut: c.keyOut, esn: c.esn, local, remote, peer,
      ...(key ? { child: key } : {}),
    };
    try {
      this.sink.install(inst);
    } catch (err) {
      c.keyIn.fill(0);
      c.keyOut.fill(0);
      throw err;
    }
    const me = e.sa.local.address;
    if (this.keylog) {
      this.keylog.add({ src: me, dst: peer.address, spi: c.spiOut, cipher: c.cipher, keyMaterial: c.keyOut, esn: c.esn });
      this.keylog.add({ src: peer.address, dst: me, spi: c.spiIn, cipher: c.cipher, keyMaterial: c.keyIn, esn: c.esn });
    }
    c.keyIn.fill(0);
    c.keyOut.fill(0);
    const now = this.now();
    const lt = local.map((x) => x.text).join(","), rt = remote.map((x) => x.text).join(",");
    this.installed.set(c.spiIn >>> 0, { spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, entry: e, at: now, rekeying: false, local: lt, remote: rt, key, peer });
    if (old) old.rekeying = true;
    if (this.firstChildAt === null) this.firstChildAt = now;
    this.o.log("info", `Child SA ${c.rekeyOf ? "rekeyed" : "installed"}: ${c.cipher} spi in ${hex32(c.spiIn)} out ${hex32(c.spiOut)}, ${lt} === ${rt} (peer ${peer.address}:${peer.port}${key ? `, ${key}` : ""})`);
    this.o.onChild?.({ spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, rekey: !!c.rekeyOf });
  }

  /** The peer of `e` moved (NAT rebinding seen on an authenticated message): its Child SAs' ESP follows. */
  private peerMoved(e: ManagedSa): void {
    const peer = this.espPeer(e);
    for (const c of this.installed.values()) {
      if (c.entry !== e || (c.peer.address === peer.address && c.peer.port === peer.port)) continue;
      c.peer = peer;
      this.sink.updateRemote?.(c.spiOut, peer);
      this.o.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o: ESP now to ${peer.address}:${peer.port}`);
    }
  }

  private remove(spiIn: number, spiOut: number, reason: string): void {
    const ent = this.installed.get(spiIn >>> 0);
    if (!ent) return;
    this.installed.delete(spiIn >>> 0);
    // outbound falls back to the same child's newest remaining pair, or none (packets are then dropped as noSa)
    let next: Installed | null = null;
    for (const c of this.installed.values()) if (c.key === ent.key && (!next || c.at >= next.at)) next = c;
    this.sink.remove(spiIn >>> 0, spiOut >>> 0, next ? next.spiOut : null);
    this.o.log("info", `Child SA removed: spi in ${hex32(spiIn)} out ${hex32(spiOut)} (${reason})`);
  }

  private closed(e: ManagedSa, reason: string): void {
    this.meta.delete(e);
    for (const c of [...this.installed.values()]) if (c.entry === e) this.remove(c.spiIn, c.spiOut, `IKE SA closed: ${reason}`);
    if (this.stopping) return;
    if (!this.lastError || !this.lastError.includes(reason)) this.o.log(reason === "deleted" || e.replaced ? "info" : "warn", `IKE SA closed: ${reason} (#${e.id})`);
    if (!this.cfg.ike.responder && !e.replaced && !this.manager.list().some((x) => x !== e && x.sa.state !== "dead")) {
      if (this.cfg.ike.retry) {
        const ms = this.retryMs;
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
        this.o.log("info", `retrying in ${ms / 1000} s`);
        const st = this.o.setTimeout ?? ((fn, t) => setTimeout(fn, t));
        this.retryTimer = st(() => {
          this.retryTimer = null;
          this.initiate();
        }, ms);
      } else {
        this.fatal(this.lastError ?? `IKE SA closed: ${reason}`, true);
      }
    }
  }

  private fatal(reason: string, logged = false): void {
    if (!logged) this.o.log("error", reason);
    this.o.onFatal?.(reason);
  }

  /** Status for the control socket (`vpnkit status`): every IKE SA with its Child SAs, limits and drops. */
  status(): IkeStatus {
    return buildIkeStatus({ cfg: this.cfg, manager: this.manager, installed: [...this.installed.values()], meta: this.meta, drops: this.drops, virtualIp: this.virtualIp, lastError: this.lastError }, this.now());
  }

  /** The current (newest) Child SA, for the status line. */
  current(): { spiIn: number; spiOut: number; cipher: string } | null {
    let next: Installed | null = null;
    for (const c of this.installed.values()) if (!next || c.at >= next.at) next = c;
    return next;
  }

  /** Delete every IKE SA (INFORMATIONAL Delete) and stop the timers. Resolves when answered or after `waitMs`. */
  async stop(waitMs = 1000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const now = this.now();
    for (const e of this.manager.list()) this.manager.call(e, (sa) => sa.delete(now), now);
    const end = Date.now() + waitMs;
    while (this.manager.list().some((e) => e.sa.state !== "dead") && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      this.manager.tick(this.now());
    }
    if (this.timer !== null) (this.o.clearInterval ?? ((h) => clearInterval(h as ReturnType<typeof setInterval>)))(this.timer);
    if (this.retryTimer !== null) (this.o.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.retryTimer);
    this.timer = this.retryTimer = null;
    this.halted = true;
    this.queue.length = this.urgent.length = 0;
    for (const c of [...this.installed.values()]) this.remove(c.spiIn, c.spiOut, "stopped");
    this.manager.destroy();
    this.cfg.ike.psk.fill(0);
  }
}
