/**
 * Path MTU search (datagram PLPMTUD in the spirit of RFC 8899) as a pure state machine.
 * No I/O, no clock: the adapter feeds events and the current time, and performs the
 * "send a probe of N bytes" actions it gets back.
 *
 * Sizes are total IP packet sizes. The search keeps, per size, whether it was acked (proof
 * that it fits: acks are authenticated), how many probes of it went unanswered, and whether
 * the local stack refused it (EMSGSIZE) or an ICMP "fragmentation needed" / "packet too big"
 * named it. `lo` is the largest acked size; a size counts as too big once it failed `tries`
 * times (black hole: no ICMP, the probe just vanishes), or the kernel refused it, or an ICMP
 * error quoted it. The search ends when lo + 1 is too big (exact to the byte) or lo = max.
 *
 * Each round sends up to `parallel` probes spread over the open interval (a (K+1)-ary search),
 * plus the retry of the smallest size that failed once and the sizes an ICMP hint named
 * (mtu and mtu+1), then waits until every probe inside the interval is answered or timed out.
 * The timeout is adaptive (RFC 6298 SRTT/RTTVAR from the acks, floor `minRtoMs`), and
 * deadlines of probes in flight shrink as soon as the first RTT sample arrives.
 *
 * ```ts
 * const s = new MtuSearch({ min: 576, max: 1500 });
 * let st = s.step(now);             // { send: [{id, size}, ...], wakeAt, done }
 * // send each probe; then feed s.ack(id, now) / s.tooBig(id, mtu) / s.icmp(id, mtu) and call
 * // s.step(now) again after events or at wakeAt, until st.done; then s.result(now).
 * ```
 * @module
 */

export interface SearchOptions {
  /** Smallest size tried; it must be acked or the search fails (default 576). */
  min?: number;
  /** Largest size tried (the local interface/route MTU). */
  max: number;
  /** Probes per round (default 12). */
  parallel?: number;
  /** Unanswered probes of one size before it counts as too big (default 2). */
  tries?: number;
  /** The same for `min` (no ack at all yet: responder or path may be down). Default max(3, tries). */
  baseTries?: number;
  /** Timeout before any RTT sample (default 500 ms). */
  initialRtoMs?: number;
  /** Timeout floor (default 50 ms). */
  minRtoMs?: number;
  /** Timeout ceiling (default 2000 ms). */
  maxRtoMs?: number;
  /** Give up after this many probes (default 300). */
  maxProbes?: number;
  /** Give up after this long (default 15000 ms). */
  maxDurationMs?: number;
}

export interface ProbeAction {
  id: number;
  size: number;
}

export interface SearchStep {
  /** Probes to send now (in this order). */
  send: ProbeAction[];
  /** Call step() again at this time at the latest (null when done). */
  wakeAt: number | null;
  done: boolean;
}

/** What proved lo + 1 too big. */
export type UpperBound = "max" | "local" | "icmp" | "timeout";

export interface SearchResult {
  ok: boolean;
  /** Largest size acked (the path MTU when ok). Null when nothing was acked. */
  pathMtu: number | null;
  /** Why lo + 1 is too big: "max" means the local limit was reached (the path may take more). */
  bound: UpperBound | null;
  /** Set when !ok. */
  error?: string;
  probes: number;
  acks: number;
  timeouts: number;
  /** Probes the local stack refused (EMSGSIZE). */
  localTooBig: number;
  /** ICMP too-big errors received. */
  icmpErrors: number;
  /** Distinct MTU values hinted (ICMP, kernel PMTU). */
  hints: number[];
  rounds: number;
  durationMs: number;
  srttMs: number | null;
}

interface SizeRec {
  acked: boolean;
  fails: number;
  local: boolean;
  icmp: boolean;
}

interface Probe {
  size: number;
  sentAt: number;
  attempt: number;
  open: boolean;
}

export class MtuSearch {
  private readonly min: number;
  private readonly max: number;
  private readonly k: number;
  private readonly tries: number;
  private readonly baseTries: number;
  private readonly initialRto: number;
  private readonly minRto: number;
  private readonly maxRto: number;
  private readonly maxProbes: number;
  private readonly maxDuration: number;

  private readonly sizes = new Map<number, SizeRec>();
  private readonly probes = new Map<number, Probe>();
  private readonly hintSet = new Set<number>();
  private nextId = 1;
  private lo = 0;
  private srtt: number | null = null;
  private rttvar = 0;
  private start: number | null = null;
  private finished: { ok: boolean; error?: string; at: number } | null = null;
  private counts = { probes: 0, acks: 0, timeouts: 0, localTooBig: 0, icmpErrors: 0, rounds: 0 };

  constructor(o: SearchOptions) {
    this.min = o.min ?? 576;
    this.max = o.max;
    if (!Number.isInteger(this.min) || !Number.isInteger(this.max) || this.min < 1 || this.max < this.min || this.max > 65535) {
      throw new RangeError(`bad search range ${this.min}..${this.max}`);
    }
    this.k = Math.max(1, o.parallel ?? 12);
    this.tries = Math.max(1, o.tries ?? 2);
    this.baseTries = Math.max(1, o.baseTries ?? Math.max(3, this.tries));
    this.initialRto = o.initialRtoMs ?? 500;
    this.minRto = o.minRtoMs ?? 50;
    this.maxRto = o.maxRtoMs ?? 2000;
    this.maxProbes = o.maxProbes ?? 300;
    this.maxDuration = o.maxDurationMs ?? 15_000;
  }

  private rec(size: number): SizeRec {
    let r = this.sizes.get(size);
    if (!r) {
      r = { acked: false, fails: 0, local: false, icmp: false };
      this.sizes.set(size, r);
    }
    return r;
  }

  private triesFor(size: number): number {
    return size === this.min && this.lo === 0 ? this.baseTries : this.tries;
  }

  private isBig(size: number, r: SizeRec): boolean {
    return !r.acked && (r.local || r.icmp || r.fails >= this.triesFor(size));
  }

  /** Smallest size above lo proven too big, or max + 1. */
  private hiConfirmed(): number {
    let hi = this.max + 1;
    for (const [s, r] of this.sizes) if (s > this.lo && s < hi && this.isBig(s, r)) hi = s;
    return hi;
  }

  /** Smallest size above lo that failed at least once (or is proven too big). */
  private hiTentative(hiC: number): number {
    let hi = hiC;
    for (const [s, r] of this.sizes) if (s > this.lo && s < hi && !r.acked && r.fails > 0) hi = s;
    return hi;
  }

  /** Current retransmission timeout in ms. */
  rto(): number {
    if (this.srtt === null) return this.initialRto;
    return Math.min(this.maxRto, Math.max(this.minRto, this.srtt + 4 * this.rttvar));
  }

  private deadline(p: Probe): number {
    return p.sentAt + this.rto() * (1 + 0.5 * (p.attempt - 1));
  }

  /** An authenticated ack for probe `id` arrived. Returns false for an unknown id. */
  ack(id: number, now: number): boolean {
    const p = this.probes.get(id);
    if (!p) return false;
    const r = this.rec(p.size);
    if (p.open || !r.acked) {
      const rtt = Math.max(0, now - p.sentAt);
      if (this.srtt === null) {
        this.srtt = rtt;
        this.rttvar = rtt / 2;
      } else {
        this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
        this.srtt = 0.875 * this.srtt + 0.125 * rtt;
      }
    }
    p.open = false;
    this.counts.acks++;
    r.acked = true;
    if (p.size > this.lo) this.lo = p.size;
    return true;
  }

  /** The local stack refused to send probe `id` (EMSGSIZE); `mtu` is the kernel's PMTU if known. */
  tooBig(id: number, mtu?: number): void {
    const p = this.probes.get(id);
    if (!p) return;
    p.open = false;
    this.counts.localTooBig++;
    this.rec(p.size).local = true;
    if (mtu !== undefined) this.hint(mtu);
  }

  /**
   * An ICMP fragmentation-needed / packet-too-big arrived, naming `mtu`. `id` is the probe it
   * quotes when the adapter could tell (else null): that size is then taken as too big.
   */
  icmp(id: number | null, mtu: number): void {
    this.counts.icmpErrors++;
    const p = id === null ? undefined : this.probes.get(id);
    if (p && (mtu <= 0 || mtu < p.size)) {
      p.open = false;
      this.rec(p.size).icmp = true;
    }
    if (mtu > 0) this.hint(mtu);
  }

  /** A PMTU value worth probing (ICMP, the kernel's cached PMTU). Only a hint: it is verified. */
  hint(mtu: number): void {
    if (Number.isInteger(mtu) && mtu >= this.min && mtu <= this.max) this.hintSet.add(mtu);
  }

  get done(): boolean {
    return this.finished !== null;
  }

  private finish(now: number, ok: boolean, error?: string): SearchStep {
    this.finished = { ok, error, at: now };
    for (const p of this.probes.values()) p.open = false;
    return { send: [], wakeAt: null, done: true };
  }

  /** Advance: expire timed-out probes, decide, and plan the next round. */
  step(now: number): SearchStep {
    if (this.finished) return { send: [], wakeAt: null, done: true };
    if (this.start === null) this.start = now;
    for (const p of this.probes.values()) {
      if (p.open && now >= this.deadline(p)) {
        p.open = false;
        this.counts.timeouts++;
        this.rec(p.size).fails++;
      }
    }
    const minRec = this.rec(this.min);
    if (this.lo === 0 && this.isBig(this.min, minRec)) {
      return this.finish(now, false, `no authenticated answer at the minimum size ${this.min} (responder down or unreachable, wrong secret or port, or path MTU below ${this.min})`);
    }
    const hiC = this.hiConfirmed();
    if (this.lo > 0 && hiC === this.lo + 1) return this.finish(now, true);
    if (this.counts.probes >= this.maxProbes) return this.finish(now, false, `gave up after ${this.counts.probes} probes`);
    if (now - this.start >= this.maxDuration) return this.finish(now, false, `gave up after ${now - this.start} ms`);

    // Wait while a probe inside the open interval is in flight.
    const low = this.lo > 0 ? this.lo : this.min - 1;
    let wake = Infinity;
    for (const p of this.probes.values()) {
      if (p.open && p.size > low && p.size < hiC) wake = Math.min(wake, this.deadline(p));
    }
    if (wake !== Infinity) return { send: [], wakeAt: wake, done: false };

    // Plan the next round.
    const want = new Set<number>();
    const usable = (s: number) => s > low && s < hiC && !this.rec(s).acked;
    if (this.lo === 0) {
      want.add(this.min);
      if (minRec.fails > 0) return this.send(want, now); // nothing back yet: only retry the base
    }
    const hiT = this.hiTentative(hiC);
    if (hiT < hiC) want.add(hiT); // retry: loss or too big?
    for (const h of this.hintSet) {
      if (usable(h)) want.add(h);
      if (usable(h + 1)) want.add(h + 1);
    }
    if (!this.sizes.has(this.max) && usable(this.max)) want.add(this.max);
    const a = this.lo > 0 ? this.lo : this.min; // splits strictly between a and hiT
    const gap = hiT - a - 1;
    const budget = Math.max(2, this.k - want.size);
    if (gap <= budget) {
      for (let s = a + 1; s < hiT; s++) want.add(s);
    } else {
      for (let j = 1; j <= budget; j++) want.add(a + Math.round((j * (hiT - a)) / (budget + 1)));
    }
    for (const s of want) if (!usable(s) && !(s === this.min && this.lo === 0)) want.delete(s);
    if (want.size === 0) return this.finish(now, false, "internal: nothing left to probe");
    return this.send(want, now);
  }

  private send(sizes: Set<number>, now: number): SearchStep {
    this.counts.rounds++;
    const out: ProbeAction[] = [];
    let wake = Infinity;
    for (const size of [...sizes].sort((x, y) => x - y)) {
      const id = this.nextId++;
      const p: Probe = { size, sentAt: now, attempt: this.rec(size).fails + 1, open: true };
      this.probes.set(id, p);
      this.counts.probes++;
      out.push({ id, size });
      wake = Math.min(wake, this.deadline(p));
    }
    return { send: out, wakeAt: wake, done: false };
  }

  /** Size of probe `id` (undefined when unknown). */
  sizeOf(id: number): number | undefined {
    return this.probes.get(id)?.size;
  }

  result(now: number): SearchResult {
    const f = this.finished;
    const hiC = this.hiConfirmed();
    let bound: UpperBound | null = null;
    if (this.lo > 0 && hiC === this.lo + 1) {
      if (hiC > this.max) bound = "max";
      else {
        const r = this.rec(hiC);
        bound = r.local ? "local" : r.icmp ? "icmp" : "timeout";
      }
    }
    return {
      ok: f?.ok ?? false,
      pathMtu: this.lo > 0 ? this.lo : null,
      bound,
      ...(f?.error ? { error: f.error } : !f ? { error: "not finished" } : {}),
      probes: this.counts.probes,
      acks: this.counts.acks,
      timeouts: this.counts.timeouts,
      localTooBig: this.counts.localTooBig,
      icmpErrors: this.counts.icmpErrors,
      hints: [...this.hintSet].sort((x, y) => x - y),
      rounds: this.counts.rounds,
      durationMs: (f?.at ?? now) - (this.start ?? now),
      srttMs: this.srtt,
    };
  }
}
