/**
 * IKEv2 driver for `vpnkit up --peer ...`: glue between the I/O-free protocol core
 * ({@link IkeSa}, lib/ike/v2/sa) and the tunnel: the UDP socket, timers, the SA
 * database and the engine's child. Runtime-neutral (clock and timers injectable).
 *
 * Transport: one UDP socket (the engine's, normally port 4500) carries IKE and ESP.
 * Every IKE message is sent with the 4-byte non-ESP marker (RFC 3948 §2.2), IKE_SA_INIT
 * included (RFC 7296 §2.23 allows starting on 4500), and NAT-T is forced (random NAT-D
 * source hash, like strongSwan's `encap = yes`) so the peer puts ESP in UDP too, which
 * is all the engine speaks. A strongSwan peer needs `remote_port = 4500` (initiator) and
 * `encap = yes`.
 *
 * Actions: send → socket; install-child → SaDatabase inbound + outbound, the engine child
 * gets the new outbound SA and the new inbound SA next to the old ones (make before
 * break: the old inbound SA stays until the core's remove-child); remove-child →
 * SAs removed from the engine and destroyed (keys zeroed); keylog → key log (only when
 * asked for); failed → one error line; closed → retry (initiator with `retry`) or fatal.
 * Timers: the core's tick (retransmission, DPD, keep-alive) every 500 ms; Child SA rekey
 * every `rekeySec`, IKE SA rekey every `ikeRekeySec` (the responder waits 10 % longer so
 * the initiator normally goes first); an SA database soft-expire also rekeys.
 * @module
 */
import type { SaDatabase } from "../esp/sadb.ts";
import { IkeSa } from "../ike/v2/sa/ike-sa.ts";
import type { Action, ChildSaInfo, IkeSaConfig, VirtualIpPool } from "../ike/v2/sa/types.ts";
import type { TrafficSelector } from "../ike/v2/sa/ts.ts";
import { type ChildSaSink, LocalChildSink } from "./child-sink.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { TunnelChild } from "./engine.ts";
import { KeyLog, keylogAddIke } from "./keylog.ts";
import { type Cidr, parseCidr } from "../net/cidr.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface IkeDriverOptions {
  cfg: IkeTunnelConfig;
  /** Sends one UDP datagram (the engine's socket). */
  send: (buf: Uint8Array, addr: string, port: number) => void;
  /**
   * Where Child SAs go: install / remove (lib/tunnel/child-sink.ts). `vpnkit up` passes the
   * data-plane worker's; without it, `db` + `child` + `reindex` make a {@link LocalChildSink}.
   */
  sink?: ChildSaSink;
  db?: SaDatabase;
  /** The engine's child whose SAs this driver manages. */
  child?: TunnelChild;
  /** Tell the engine its inbound SAs changed (TunnelEngine.reindex). */
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
  /** Random bytes for the core (tests). */
  rng?: (n: number) => Uint8Array;
}

interface Installed {
  spiIn: number;
  spiOut: number;
  cipher: string;
  sa: IkeSa;
  at: number;
  rekeying: boolean;
}

interface SaEntry {
  sa: IkeSa;
  createdAt: number;
  ikeRekeyRequested: boolean;
}

/** Traffic selector (address range) → the smallest list of prefixes covering exactly it. */
export function tsToCidrs(ts: TrafficSelector): Cidr[] {
  const n = ts.start.length;
  const toBig = (b: Uint8Array) => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const bits = BigInt(n * 8);
  let lo = toBig(ts.start);
  const hi = toBig(ts.end);
  const out: Cidr[] = [];
  for (let guard = 0; lo <= hi && guard < 512; guard++) {
    let size = 0n; // prefix covers 2^size addresses
    while (size < bits && (lo & ((1n << (size + 1n)) - 1n)) === 0n && lo + (1n << (size + 1n)) - 1n <= hi) size++;
    const bytes = new Uint8Array(n);
    let v = lo;
    for (let i = n - 1; i >= 0; i--, v >>= 8n) bytes[i] = Number(v & 0xffn);
    const text = n === 4 ? Array.from(bytes).join(".") : ipv6Text(bytes);
    const c = parseCidr(`${text}/${Number(bits - size)}`);
    if (c) out.push(c);
    lo += 1n << size;
  }
  return out;
}

function ipv6Text(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i] << 8) | b[i + 1]).toString(16));
  return parts.join(":");
}

function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

/**
 * Virtual IPv4 pool for a responder (`ike.pool`): every host address of the prefix except
 * the network and broadcast addresses (for prefixes shorter than /31) and `exclude` (e.g. a
 * DNS server inside it). A peer identity that comes back gets its previous address when it
 * is still free; an address returns to the pool when its IKE SA dies.
 */
export class PrefixPool implements VirtualIpPool {
  private readonly free: string[] = [];
  private readonly used = new Set<string>();
  private readonly last = new Map<string, string>();
  readonly size: number;

  constructor(cidr: string, exclude: string[] = []) {
    const c = parseCidr(cidr);
    if (!c || c.family !== 4) throw new Error(`pool: not an IPv4 prefix: ${cidr}`);
    const base = ((c.addr[0] << 24) | (c.addr[1] << 16) | (c.addr[2] << 8) | c.addr[3]) >>> 0;
    const n = 2 ** (32 - c.prefix);
    const skipEnds = c.prefix < 31;
    for (let i = skipEnds ? 1 : 0; i < (skipEnds ? n - 1 : n) && this.free.length < 65536; i++) {
      const v = (base + i) >>> 0;
      const t = `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
      if (!exclude.includes(t)) this.free.push(t);
    }
    this.size = this.free.length;
  }

  allocate(peer: string): string | null {
    const prev = this.last.get(peer);
    let a: string | undefined;
    if (prev && !this.used.has(prev)) a = prev;
    else a = this.free.find((x) => !this.used.has(x));
    if (!a) return null;
    this.used.add(a);
    this.last.set(peer, a);
    return a;
  }

  release(address: string): void {
    this.used.delete(address);
  }

  /** Addresses handed out right now. */
  inUse(): string[] {
    return [...this.used];
  }
}

const TICK_MS = 500;
const RETRY_MS = 5000;

export class IkeDriver {
  private readonly o: IkeDriverOptions;
  private readonly cfg: IkeTunnelConfig;
  private sas: SaEntry[] = [];
  private readonly installed = new Map<number, Installed>();
  private timer: unknown = null;
  private retryTimer: unknown = null;
  private stopping = false;
  private halted = false;
  private keylog: KeyLog | null;
  private readonly now: () => number;
  private readonly sink: ChildSaSink;
  /** When the first Child SA came up (ms, driver clock), for "time to tunnel". */
  firstChildAt: number | null = null;
  startedAt = 0;
  /** Virtual IP assigned by the peer, if any. */
  virtualIp: string | null = null;
  /** Last failure (for status). */
  lastError: string | null = null;
  /** Responder: the virtual IP pool (`ike.pool`), shared by all IKE SAs. */
  readonly pool: PrefixPool | null;

  constructor(o: IkeDriverOptions) {
    this.o = o;
    this.cfg = o.cfg;
    this.pool = o.cfg.ike.responder && o.cfg.ike.pool ? new PrefixPool(o.cfg.ike.pool, o.cfg.ike.dns ?? []) : null;
    this.now = o.now ?? Date.now;
    this.keylog = o.cfg.keylog ? new KeyLog(o.cfg.keylog) : null;
    if (o.sink) this.sink = o.sink;
    else if (o.db && o.child) this.sink = new LocalChildSink(o.db, o.child, o.reindex ?? (() => {}));
    else throw new TypeError("IkeDriver: give `sink`, or `db` and `child`");
  }

  /** The core's configuration for one IKE SA (fresh PSK copy: the core wipes its own). */
  private saConfig(remote: { address: string; port: number }): IkeSaConfig {
    const c = this.cfg, k = c.ike;
    return {
      local: { address: c.local, port: c.localPort },
      remote,
      localId: k.localId,
      remoteId: k.remoteId,
      psk: k.psk.length ? k.psk.slice() : undefined,
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
    };
  }

  /** The pool as the core sees it, with one log line per lease and release. */
  private loggedPool(p: PrefixPool): VirtualIpPool {
    return {
      allocate: (peer) => {
        const a = p.allocate(peer);
        if (a) this.o.log("info", `virtual IP ${a} assigned to "${peer}"${this.cfg.ike.dns?.length ? `, DNS ${this.cfg.ike.dns.join(" ")}` : ""}`);
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
    else this.o.log("info", `IKEv2 responder: waiting for ${this.cfg.remote}:${this.cfg.remotePort} on UDP ${this.cfg.localPort}${this.pool ? `; virtual IPs from ${this.cfg.ike.pool} (${this.pool.size} addresses)${this.cfg.ike.dns?.length ? `, DNS ${this.cfg.ike.dns.join(" ")}` : ""}` : ""}`);
  }

  private initiate(): void {
    if (this.stopping) return;
    let r;
    try {
      r = IkeSa.initiator(this.saConfig({ address: this.cfg.remote, port: this.cfg.remotePort }), this.now(), this.o.rng);
    } catch (e) {
      this.fatal(`IKE configuration rejected: ${(e as Error).message}`);
      return;
    }
    this.sas.push({ sa: r.sa, createdAt: this.now(), ikeRekeyRequested: false });
    this.o.log("info", `IKEv2 initiator: IKE_SA_INIT to ${this.cfg.remote}:${this.cfg.remotePort}`);
    this.run(r.sa, r.actions);
  }

  /** A datagram that carried the non-ESP marker (as the engine hands it over: marker included). */
  onDatagram(buf: Uint8Array, addr: string, port: number): void {
    if (this.halted) return;
    const d = buf.length >= 4 && buf[0] === 0 && buf[1] === 0 && buf[2] === 0 && buf[3] === 0 ? buf.subarray(4) : buf;
    if (d.length < 28) return;
    if (addr !== this.cfg.remote) {
      this.o.log("debug", `IKE message from unexpected ${addr}:${port} dropped`);
      return;
    }
    const from = { address: addr, port };
    const ispi = d.subarray(0, 8);
    const exchange = d[18], flags = d[19];
    const isInitRequest = exchange === 34 && (flags & 0x20) === 0 && (flags & 0x08) !== 0;
    let e = this.sas.find((x) => x.sa.state !== "dead" && eq(x.sa.spii, ispi));
    if (!e && isInitRequest && this.cfg.ike.responder) {
      let sa: IkeSa;
      try {
        sa = IkeSa.responder(this.saConfig(from), this.now(), this.o.rng);
      } catch (err) {
        this.fatal(`IKE configuration rejected: ${(err as Error).message}`);
        return;
      }
      e = { sa, createdAt: this.now(), ikeRekeyRequested: false };
      this.sas.push(e);
    }
    if (!e) {
      // e.g. a reply for an SA we already dropped; the core of a single live SA may still know it
      const live = this.sas.filter((x) => x.sa.state !== "dead");
      if (live.length !== 1) return;
      e = live[0];
    }
    this.run(e.sa, e.sa.receive(d, from, this.now()));
  }

  private tick(): void {
    const now = this.now();
    for (const e of [...this.sas]) {
      this.run(e.sa, e.sa.tick(now));
      const k = this.cfg.ike;
      const slack = e.sa.initiator ? 1 : 1.1;
      if (k.ikeRekeySec > 0 && e.sa.state === "established" && !e.ikeRekeyRequested && now - e.createdAt >= k.ikeRekeySec * 1000 * slack) {
        e.ikeRekeyRequested = true;
        this.o.log("info", "rekeying the IKE SA");
        this.run(e.sa, e.sa.rekeyIke(now));
      }
    }
    const k = this.cfg.ike;
    if (k.rekeySec > 0) {
      for (const c of this.installed.values()) {
        const slack = c.sa.initiator ? 1 : 1.1;
        if (!c.rekeying && c.sa.state === "established" && now - c.at >= k.rekeySec * 1000 * slack) this.rekeyChild(c.spiIn, "lifetime");
      }
    }
  }

  /** Rekey the Child SA with inbound SPI `spiIn` (SA database soft expiry, or the rekey timer). */
  rekeyChild(spiIn: number, why: string): void {
    const c = this.installed.get(spiIn >>> 0);
    if (!c || c.rekeying || c.sa.state !== "established") return;
    c.rekeying = true;
    this.o.log("info", `rekeying Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o (${why})`);
    this.run(c.sa, c.sa.rekeyChild(c.spiIn, this.now()));
  }

  /** An SA database event: a soft expiry of one of our SAs starts a rekey. */
  onSaEvent(e: { type: string; spi: number; direction: "in" | "out" }): void {
    if (e.type !== "soft-expire") return;
    for (const c of this.installed.values()) {
      if ((e.direction === "in" && c.spiIn === e.spi) || (e.direction === "out" && c.spiOut === e.spi)) this.rekeyChild(c.spiIn, "soft lifetime");
    }
  }

  private run(sa: IkeSa, actions: Action[]): void {
    const failed = actions.filter((a): a is Extract<Action, { type: "failed" }> => a.type === "failed").map((a) => a.reason);
    for (const a of actions) {
      try {
        this.act(sa, a, failed);
      } catch (e) {
        this.o.log("error", `IKE driver: ${a.type}: ${(e as Error).message}`);
      }
    }
  }

  private act(sa: IkeSa, a: Action, failedReasons: string[]): void {
    const log = this.o.log;
    switch (a.type) {
      case "send": {
        const b = new Uint8Array(4 + a.data.length);
        b.set(a.data, 4);
        this.o.send(b, a.to.address, a.to.port);
        break;
      }
      case "nat-keepalive":
        this.o.send(new Uint8Array([0xff]), a.to.address, a.to.port);
        break;
      case "install-child":
        this.install(sa, a.child);
        break;
      case "remove-child":
        this.remove(a.spiIn, a.spiOut, a.reason);
        break;
      case "established":
        // the core logs the line ("IKE SA established with ...")
        break;
      case "failed": {
        const msg = `${a.scope === "ike" ? "IKE SA" : "Child SA"} failed: ${a.reason}${a.notify && !a.reason.includes(a.notify) ? ` (${a.notify})` : ""}`;
        this.lastError = msg;
        log("error", msg);
        // a failed rekey: try again one rekey interval later instead of never
        if (a.scope === "child") for (const c of this.installed.values()) if (c.sa === sa && c.rekeying) { c.rekeying = false; c.at = this.now(); }
        // the initiator's first Child SA failed (IKE_AUTH or CREATE_CHILD_SA): no tunnel, so
        // delete the IKE SA as strongSwan does; `closed` then retries or gives up
        if (a.scope === "child" && sa.initiator && sa.state === "established" && ![...this.installed.values()].some((c) => c.sa === sa)) {
          queueMicrotask(() => this.run(sa, sa.delete(this.now())));
        }
        break;
      }
      case "log":
        // the core also logs a failure at "error": the `failed` action makes the one line
        if (a.level === "error" && failedReasons.length > 0) break;
        log(a.level, a.msg);
        break;
      case "keylog":
        if (this.cfg.keylog && !keylogAddIke(this.cfg.keylog, a)) log("warn", `key log: IKE algorithm ${a.encr}/${a.integ} has no key-log name`);
        for (const k of [a.skei, a.sker, a.skai, a.skar]) k.fill(0);
        break;
      case "ike-rekeyed":
        log("info", "IKE SA rekeyed");
        for (const e of this.sas) if (e.sa === sa) { e.createdAt = this.now(); e.ikeRekeyRequested = false; }
        break;
      case "closed":
        this.closed(sa, a.reason);
        break;
      case "peer-address-changed":
        log("warn", `peer now at ${a.remote.address}:${a.remote.port}; the tunnel keeps sending ESP to ${this.cfg.remote}:${this.cfg.remotePort}`);
        break;
      case "nat-detected":
      case "switch-port":
        // one socket, NAT-T forced: nothing to switch
        break;
      case "virtual-ip":
        log("info", `virtual IP ${a.address}${a.dns.length ? `, DNS ${a.dns.join(" ")} (not configured)` : ""}`);
        this.virtualIp = a.address;
        this.o.onVirtualIp?.(a.address);
        break;
    }
  }

  private install(sa: IkeSa, c: ChildSaInfo): void {
    // selectors as negotiated (address ranges; protocol/port restrictions are not enforced by the engine)
    const local = c.tsLocal.flatMap(tsToCidrs), remote = c.tsRemote.flatMap(tsToCidrs);
    try {
      this.sink.install({ spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, keyIn: c.keyIn, keyOut: c.keyOut, esn: c.esn, local, remote });
    } catch (e) {
      c.keyIn.fill(0);
      c.keyOut.fill(0);
      throw e;
    }
    if (this.keylog) {
      this.keylog.add({ src: this.cfg.local, dst: this.cfg.remote, spi: c.spiOut, cipher: c.cipher, keyMaterial: c.keyOut, esn: c.esn });
      this.keylog.add({ src: this.cfg.remote, dst: this.cfg.local, spi: c.spiIn, cipher: c.cipher, keyMaterial: c.keyIn, esn: c.esn });
    }
    // the sink holds its own copies
    c.keyIn.fill(0);
    c.keyOut.fill(0);
    const now = this.now();
    this.installed.set(c.spiIn >>> 0, { spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, sa, at: now, rekeying: false });
    if (c.rekeyOf) {
      const old = this.installed.get(c.rekeyOf.spiIn >>> 0);
      if (old) old.rekeying = true;
    }
    if (this.firstChildAt === null) this.firstChildAt = now;
    this.o.log("info", `Child SA ${c.rekeyOf ? "rekeyed" : "installed"}: ${c.cipher} spi in ${hex32(c.spiIn)} out ${hex32(c.spiOut)}, ${local.map((x) => x.text).join(",")} === ${remote.map((x) => x.text).join(",")}`);
    this.o.onChild?.({ spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, rekey: !!c.rekeyOf });
  }

  private remove(spiIn: number, spiOut: number, reason: string): void {
    const ent = this.installed.get(spiIn >>> 0);
    if (!ent) return;
    this.installed.delete(spiIn >>> 0);
    // outbound falls back to the newest remaining Child SA, or none (packets are then dropped as noSa)
    let next: Installed | null = null;
    for (const c of this.installed.values()) if (!next || c.at >= next.at) next = c;
    this.sink.remove(spiIn >>> 0, spiOut >>> 0, next ? next.spiOut : null);
    this.o.log("info", `Child SA removed: spi in ${hex32(spiIn)} out ${hex32(spiOut)} (${reason})`);
  }

  private closed(sa: IkeSa, reason: string): void {
    this.sas = this.sas.filter((e) => e.sa !== sa);
    for (const c of [...this.installed.values()]) if (c.sa === sa) this.remove(c.spiIn, c.spiOut, `IKE SA closed: ${reason}`);
    if (this.stopping) return;
    // after a failure the `failed` line already said why
    if (!this.lastError || !this.lastError.includes(reason)) this.o.log(reason === "deleted" ? "info" : "warn", `IKE SA closed: ${reason}`);
    if (!this.cfg.ike.responder && !this.sas.some((e) => e.sa.state !== "dead")) {
      if (this.cfg.ike.retry) {
        this.o.log("info", `retrying in ${RETRY_MS / 1000} s`);
        const st = this.o.setTimeout ?? ((fn, ms) => setTimeout(fn, ms));
        this.retryTimer = st(() => {
          this.retryTimer = null;
          this.initiate();
        }, RETRY_MS);
      } else {
        this.fatal(this.lastError ?? `IKE SA closed: ${reason}`, true);
      }
    }
  }

  private fatal(reason: string, logged = false): void {
    if (!logged) this.o.log("error", reason);
    this.o.onFatal?.(reason);
  }

  /** Status for the control socket. */
  status(): { state: string; ikeSas: { spi: string; role: string; state: string }[]; childSas: { spiIn: string; spiOut: string; cipher: string }[]; virtualIp: string | null; lastError: string | null } {
    const cur = [...this.installed.values()];
    return {
      state: cur.length ? "up" : this.sas.some((e) => e.sa.state !== "dead") ? "negotiating" : "down",
      ikeSas: this.sas.map((e) => ({ spi: `${hexBytes(e.sa.spii)}_i ${hexBytes(e.sa.spir)}_r`, role: e.sa.initiator ? "initiator" : "responder", state: e.sa.state })),
      childSas: cur.map((c) => ({ spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), cipher: c.cipher })),
      virtualIp: this.virtualIp,
      lastError: this.lastError,
    };
  }

  /** The current (newest) Child SA, for the status line. */
  current(): { spiIn: number; spiOut: number; cipher: string } | null {
    let next: Installed | null = null;
    for (const c of this.installed.values()) if (!next || c.at >= next.at) next = c;
    return next;
  }

  /**
   * Delete every IKE SA (INFORMATIONAL Delete, so the peer drops its SAs too) and stop the
   * timers. Resolves when the deletes were answered or after `waitMs`.
   */
  async stop(waitMs = 1000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const now = this.now();
    for (const e of [...this.sas]) this.run(e.sa, e.sa.delete(now));
    const end = Date.now() + waitMs;
    while (this.sas.some((e) => e.sa.state !== "dead") && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
      for (const e of [...this.sas]) this.run(e.sa, e.sa.tick(this.now()));
    }
    if (this.timer !== null) (this.o.clearInterval ?? ((h) => clearInterval(h as ReturnType<typeof setInterval>)))(this.timer);
    if (this.retryTimer !== null) (this.o.clearTimeout ?? ((h) => clearTimeout(h as ReturnType<typeof setTimeout>)))(this.retryTimer);
    this.timer = this.retryTimer = null;
    this.halted = true;
    for (const c of [...this.installed.values()]) this.remove(c.spiIn, c.spiOut, "stopped");
    this.cfg.ike.psk.fill(0);
  }
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
