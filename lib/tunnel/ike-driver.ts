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
import { CrlFetcher } from "./crl-fetcher.ts";
import { IkeSa } from "../ike/v2/sa/ike-sa.ts";
import { IkeSaManager, type ManagedSa, type ManagerEvent, type Via } from "../ike/v2/sa/manager.ts";
import type { Action, Endpoint, IkeSaConfig } from "../ike/v2/sa/types.ts";
import { type ChildSaSink, LocalChildSink } from "./child-sink.ts";
import type { IkeTunnelConfig } from "./config.ts";
import { KeyLog, keylogAddIke } from "./keylog.ts";
import { VipPools } from "./ike-pool.ts";
import { buildIkeStatus, type ChildTraffic, type IkeStatus, type Installed, type Meta } from "./ike-status.ts";
import { FAST_TICK_MS, hex32, type IkeDriverOptions, RETRY_MAX_MS, RETRY_MIN_MS, TICK_MS } from "./ike-driver-types.ts";
import { IkeRxQueue } from "./ike-rx-queue.ts";
import { ChildTable } from "./ike-children.ts";
import { saConfig } from "./ike-sa-config.ts";
import { InvalidSpiReporter } from "./ike-invalid-spi.ts";
import type { ReloadPlan } from "./config-reload.ts";
import { ConnectionSet } from "./ike-connections.ts";
import { streamSaConfig } from "./ike-stream.ts";

export { PrefixPool, tsToCidrs, VipPools } from "./ike-pool.ts";
export type { IkeStatus } from "./ike-status.ts";
export type { IkeDriverOptions, LogLevel } from "./ike-driver-types.ts";

/** The driver's own data of an IKE SA, kept on the manager's entry (no Map entry per SA). */
function meta(e: ManagedSa): Meta | undefined {
  return (e.user as Meta | null) ?? undefined;
}

export class IkeDriver {
  private readonly o: IkeDriverOptions;
  private cfg: IkeTunnelConfig;
  /** Named connections (`[connections]`), null in the single `[ike]` form. */
  private conns: ConnectionSet | null = null;
  readonly manager: IkeSaManager;
  private readonly children: ChildTable;
  private readonly rx: IkeRxQueue;
  private readonly invalidSpi: InvalidSpiReporter;
  private timer: unknown = null;
  /** A tick 100 ms from now while an IKE_SA_INIT of ours awaits its answer (see {@link fastTick}). */
  private fastTimer: unknown = null;
  private retryTimer: unknown = null;
  private retryMs = RETRY_MIN_MS;
  private stopping = false;
  private halted = false;
  private readonly now: () => number;
  startedAt = 0;
  /** Virtual IP assigned by the peer, if any. */
  virtualIp: string | null = null;
  lastError: string | null = null;
  pool: VipPools | null;
  /** CRLs named in peers' certificates, fetched over HTTP in the background. */
  readonly crlFetcher: CrlFetcher;

  constructor(o: IkeDriverOptions) {
    this.o = o;
    this.cfg = o.cfg;
    const pools = [o.cfg.ike.pool, o.cfg.ike.pool6].filter((x): x is string => x !== undefined);
    this.pool = o.cfg.ike.responder && pools.length ? new VipPools(pools, o.cfg.ike.dns ?? []) : null;
    this.now = o.now ?? Date.now;
    if (o.cfg.connections) this.conns = new ConnectionSet(o.cfg, (l, m) => o.log(l, m));
    this.crlFetcher = new CrlFetcher({ log: (level, msg) => o.log(level, msg) });
    const keylog = o.cfg.keylog ? new KeyLog(o.cfg.keylog) : null;
    let sink: ChildSaSink;
    if (o.sink) sink = o.sink;
    else if (o.db && o.child) sink = new LocalChildSink(o.db, o.child, o.reindex ?? (() => {}));
    else throw new TypeError("IkeDriver: give `sink`, or `db` and `child`");
    this.children = new ChildTable({ cfg: o.cfg, sink, keylog, log: o.log, now: this.now, onChild: o.onChild, stream: !!o.stream });
    this.invalidSpi = new InvalidSpiReporter(() => this.manager, o.log, this.now);
    this.rx = new IkeRxQueue({ cfg: o.cfg, manager: () => this.manager, schedule: o.schedule, log: o.log, now: this.now, halted: () => this.halted, localEndpoint: o.stream ? (from) => o.stream!.localEndpoint(from) ?? null : undefined });
    this.manager = new IkeSaManager({
      now: this.now(), limits: o.cfg.ike.limits, rng: o.rng, cookies: o.cookies,
      responder: o.cfg.ike.responder ? (from, via) => this.responderConfig(from, via) : undefined,
      onActions: (e, actions) => this.run(e, actions),
      onEvent: (ev) => this.onEvent(ev),
    });
  }

  private natPort(): number {
    return this.cfg.localPort;
  }

  /** Responder configurations by what differs between SAs (our address and port, identity, encapsulation); valid for `sharedOf`. */
  private readonly sharedCfgs = new Map<string, IkeSaConfig>();
  private sharedOf: unknown[] = [];

  /**
   * A new responder IKE SA's configuration: one frozen object for all the SAs whose configurations
   * would be equal but for the peer (the manager hands the core the peer itself; the core reads
   * `remote` nowhere else), not ~260 B per SA. Over TCP each SA's is its own.
   */
  private responderConfig(remote: Endpoint, via: Via): IkeSaConfig {
    const sc = this.saConfig(remote, via);
    if (this.o.stream) return sc;
    const of = [this.cfg, this.pool, this.conns, sc.fetchCrl, sc.halfOpenTimeout];
    if (of.some((v, i) => v !== this.sharedOf[i])) {
      this.sharedCfgs.clear();
      this.sharedOf = of;
    }
    const k = `${sc.local.address}|${sc.local.port}|${sc.localId}|${sc.forceEncap}|${sc.startOn4500}`;
    const known = this.sharedCfgs.get(k);
    if (known !== undefined) return known;
    if (this.sharedCfgs.size >= 256) this.sharedCfgs.clear();
    this.sharedCfgs.set(k, Object.freeze(sc));
    return sc;
  }

  /** The core's configuration for one IKE SA (lib/tunnel/ike-sa-config.ts). */
  private saConfig(remote: Endpoint, via: Via): IkeSaConfig {
    const sc = saConfig({
      cfg: this.cfg, pool: this.pool, localAddressFor: this.o.localAddressFor, log: this.o.log, halfOpenTimeoutMs: this.manager?.limits.halfOpenTimeoutMs,
      rawEsp: this.o.rawEsp, fetchCrl: this.crlFetcher.lookup, peerConfigs: this.conns?.peerConfigs,
      eapTlsEngine: this.o.eapTlsEngine,
    }, remote, via);
    // IKE and ESP over TCP (RFC 9329): lib/tunnel/ike-stream.ts
    return this.o.stream ? streamSaConfig(sc, this.o.stream.localEndpoint(remote)) : sc;
  }

  /** Start: the initiator sends IKE_SA_INIT; the responder waits for one. */
  start(): void {
    this.startedAt = this.now();
    const si = this.o.setInterval ?? ((fn, ms) => setInterval(fn, ms));
    this.timer = si(() => this.tick(), TICK_MS);
    if (!this.cfg.ike.responder) this.initiate();
    else {
      const peer = this.cfg.ike.remoteAny ? "any address" : this.cfg.remote;
      const ports = this.o.stream ? `TCP ${this.cfg.localPort}` : this.cfg.ike.ikePort && this.o.sendIke ? `UDP ${this.cfg.ike.ikePort} and ${this.cfg.localPort}` : `UDP ${this.cfg.localPort}`;
      for (const l of this.conns?.describe() ?? []) this.o.log("info", l);
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
    e.user = { createdAt: this.now(), ikeRekeyRequested: false, virtualIp: null, probe } satisfies Meta;
    this.run(e, r.actions);
    this.fastTick();
  }

  /**
   * While an IKE_SA_INIT of ours awaits its answer, tick every {@link FAST_TICK_MS} instead of
   * every {@link TICK_MS}: its early retransmissions (lib/ike/v2/sa/retransmit.ts, 1 s and 2 s)
   * then leave on time, not up to 500 ms late (a first request lost in a responder's flood queue
   * cost 1.0-1.5 s before). Only with the real timers (a test that drives the ticks gets none).
   */
  private fastTick(): void {
    if (this.fastTimer !== null || this.stopping || (this.o.setInterval && !this.o.setTimeout)) return;
    const st = this.o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
    this.fastTimer = st(() => {
      this.fastTimer = null;
      this.tick();
    }, FAST_TICK_MS);
    (this.fastTimer as { unref?: () => void })?.unref?.();
  }

  /** NAT keepalives sent for IKE SAs behind a NAT (the packet path sends none in IKE mode). */
  natKeepalivesSent = 0;

  /** Datagrams dropped before the manager, by reason (the manager counts its own). */
  get drops(): Record<string, number> {
    return this.rx.drops;
  }

  /** First Child SA installed at (ms), or null. */
  get firstChildAt(): number | null {
    return this.children.firstChildAt;
  }

  /**
   * One datagram for IKE. `via` "natt": from the NAT-T socket, non-ESP marker included (as
   * the packet path hands it over); "ike": from the plain IKE socket, no marker.
   */
  onDatagram(buf: Uint8Array, addr: string, port: number, via: Via = "natt"): void {
    this.rx.onDatagram(buf, addr, port, via);
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
    let initPending = false;
    for (const e of this.manager.list()) {
      if (e.sa.initiator && e.sa.state === "init-sent") initPending = true;
      const m = meta(e);
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
    if (initPending) this.fastTick();
    if (k.rekeySec > 0) {
      for (const c of [...this.children.installed.values()]) {
        const slack = c.entry.sa.initiator ? 1 : 1.1;
        if (!c.rekeying && c.entry.sa.state === "established" && now - c.at >= k.rekeySec * 1000 * slack) this.rekeyChild(c.spiIn, "lifetime");
      }
    }
  }

  /** Rekey the Child SA with inbound SPI `spiIn` (SA database soft expiry, or the rekey timer). */
  rekeyChild(spiIn: number, why: string): void {
    const c = this.children.installed.get(spiIn >>> 0);
    if (!c || c.rekeying || c.entry.sa.state !== "established") return;
    c.rekeying = true;
    this.o.log("info", `rekeying Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o (${why})`);
    this.manager.call(c.entry, (sa) => sa.rekeyChild(c.spiIn, this.now()), this.now());
  }

  /** An SA database event: a soft expiry of one of our SAs starts a rekey. */
  onSaEvent(e: { type: string; spi: number; direction: "in" | "out" }): void {
    if (e.type !== "soft-expire") return;
    for (const c of [...this.children.installed.values()]) {
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
        // only from behind a NAT (the core decides from NAT-D; RFC 3948 §2.3)
        this.natKeepalivesSent++;
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
        this.children.install(e, a.child);
        break;
      case "remove-child":
        this.children.remove(a.spiIn, a.spiOut, a.reason);
        break;
      case "established":
        if (!meta(e)) e.user = { createdAt: this.now(), ikeRekeyRequested: false, virtualIp: null } satisfies Meta;
        if (sa.initiator) this.retryMs = RETRY_MIN_MS;
        // its connection was removed by a reload while it was half-open
        if (this.conns && sa.connection !== null && !this.conns.settings.some((c) => c.name === sa.connection)) {
          log("info", `IKE SA #${e.id}: connection ${sa.connection} was removed: deleting it`);
          queueMicrotask(() => this.manager.call(e, (s) => s.delete(this.now()), this.now()));
        }
        break;
      case "failed": {
        const msg = `${a.scope === "ike" ? "IKE SA" : "Child SA"} failed: ${a.reason}${a.notify && !a.reason.includes(a.notify) ? ` (${a.notify})` : ""}`;
        if (meta(e)?.probe && e.establishedAt === null) {
          log("warn", `the new IKE SA toward the silent peer failed too: ${a.reason}`);
          break;
        }
        this.lastError = msg;
        log("error", msg);
        if (a.scope === "child") for (const c of this.children.installed.values()) if (c.entry === e && c.rekeying) { c.rekeying = false; c.at = this.now(); }
        // the initiator's first Child SA failed: no tunnel, so delete the IKE SA as strongSwan does
        if (a.scope === "child" && sa.initiator && sa.state === "established" && ![...this.children.installed.values()].some((c) => c.entry === e)) {
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
        const m = meta(e);
        if (m) { m.createdAt = this.now(); m.ikeRekeyRequested = false; }
        break;
      }
      case "closed":
        this.closed(e, a.reason);
        break;
      case "peer-address-changed":
        log("warn", `IKE SA #${e.id}: peer now at ${a.remote.address}:${a.remote.port}`);
        this.children.peerMoved(e);
        break;
      case "virtual-ip": {
        log("info", `virtual IP ${a.address}${a.dns.length ? `, DNS ${a.dns.join(" ")} (not configured)` : ""}`);
        this.virtualIp = a.address;
        const m = meta(e);
        if (m) m.virtualIp = a.address;
        this.o.onVirtualIp?.(a.address);
        break;
      }
      default:
        // nat-detected, switch-port: the manager moved the SA to the NAT-T socket
        break;
    }
  }

  private closed(e: ManagedSa, reason: string): void {
    e.user = null;
    // (no copy of the whole table per closed SA: with 1,000s held, only this SA's, usually none left)
    const mine: Installed[] = [];
    for (const c of this.children.installed.values()) if (c.entry === e) mine.push(c);
    for (const c of mine) this.children.remove(c.spiIn, c.spiOut, `IKE SA closed: ${reason}`);
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

  /**
   * Carry out a reload plan (lib/tunnel/config-reload.ts): the new configuration from now on;
   * IKE SAs of removed and changed connections are deleted (a changed initiator connection
   * starts its new IKE SA first); those of unchanged connections are not touched.
   */
  reload(plan: ReloadPlan): void {
    const now = this.now();
    const old = this.cfg;
    this.cfg = plan.effective;
    this.conns?.update(plan.effective);
    if (!this.conns) {
      old.ike.psk.fill(0);
      const k = this.cfg.ike;
      if (k.responder && (k.pool !== old.ike.pool || k.pool6 !== old.ike.pool6 || String(k.dns) !== String(old.ike.dns))) {
        const pools = [k.pool, k.pool6].filter((x): x is string => x !== undefined);
        this.pool = pools.length ? new VipPools(pools, k.dns ?? []) : null;
      }
      if (plan.changed.length && !this.cfg.ike.responder && !this.stopping) this.initiate();
    }
    const gone = new Set([...plan.removed, ...plan.changed]);
    for (const e of this.manager.list()) {
      const name = e.sa.connection ?? (this.conns ? null : "ike");
      if (name === null || !gone.has(name) || e.sa.state === "dead") continue;
      if (e.sa.initiator && !this.conns && e.sa.state !== "established") continue; // the new one just started
      this.o.log("info", `IKE SA #${e.id} (connection ${name}) ${plan.removed.includes(name) ? "removed" : "changed"}: deleting it`);
      this.manager.call(e, (sa) => sa.delete(now), now);
    }
  }

  /**
   * ESP for an SPI no SA has arrived from `addr` (the packet path's report, RFC 7296 §2.21):
   * INVALID_SPI in the IKE SA with that peer, rate-limited (lib/tunnel/ike-invalid-spi.ts).
   */
  onUnknownSpi(spi: number, addr: string, port = 0): void {
    if (this.halted) return;
    this.invalidSpi.report(spi, addr, port);
  }

  /**
   * Status for the control socket (`vpnkit status`): every IKE SA with its Child SAs (with
   * `traffic`, the packet path's per-child counters: bytes, packets, last received), limits and drops.
   */
  status(traffic?: ChildTraffic[]): IkeStatus {
    return buildIkeStatus({
      cfg: this.cfg, manager: this.manager, installed: [...this.children.installed.values()], meta, drops: this.drops, virtualIp: this.virtualIp, lastError: this.lastError,
      invalidSpi: this.invalidSpi.status(), traffic,
    }, this.now());
  }

  /** The current (newest) Child SA, for the status line. */
  current(): { spiIn: number; spiOut: number; cipher: string } | null {
    return this.children.current();
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
    for (const t of [this.retryTimer, this.fastTimer]) if (t !== null) (this.o.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(t);
    this.timer = this.retryTimer = this.fastTimer = null;
    this.halted = true;
    this.rx.clear();
    for (const c of [...this.children.installed.values()]) this.children.remove(c.spiIn, c.spiOut, "stopped");
    this.manager.destroy();
    this.cfg.ike.psk.fill(0);
    this.conns?.wipe();
  }
}
