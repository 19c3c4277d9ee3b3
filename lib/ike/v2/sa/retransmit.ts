/**
 * Retransmission timers of our requests (RFC 7296 §2.4 leaves them to the implementation).
 *
 * Every request: wait `t0` (`retransmitTimeout`, default 4 s, strongSwan's), then `t0·b`, `t0·b²`, ...
 * (`retransmitBase` b, default 1.8), `n` retransmissions (`retransmitTries`, default 5), and give up
 * when the wait after the last one ends: 4, 7.2, 13, 23.3, 42, 75.6 s, 165 s in all.
 *
 * The initiator's IKE_SA_INIT request (also its COOKIE or INVALID_KE_PAYLOAD retry) starts
 * shorter: two early retransmissions after `t0/4` and `t0/2` more (1 s and 2 s by default), then the
 * usual schedule from `t0`, and the last wait shortened by `0.75·t0`, so it gives up at the same
 * time as before (165 s by default): 1, 2, 4, 7.2, 13, 23.3, 42, 72.6 s. An IKE_SA_INIT is cheap to
 * answer and holds no state at a responder under load (it answers with a COOKIE or a cached
 * response), and one lost in a flood's queue otherwise costs 4 s (bench/ike/RESULTS.md (c)); the
 * early ones are two datagrams more per attempt, bounded, and only for IKE_SA_INIT. With
 * `retransmitTries` 0 (no retransmissions wanted) there are none.
 * @module
 */

interface Timers {
  retransmitTimeout?: number;
  retransmitBase?: number;
  retransmitTries?: number;
}

/** The early retransmissions of an initiator's IKE_SA_INIT. */
const EARLY = 2;

const early = (c: Timers, initInit: boolean) => initInit && (c.retransmitTries ?? 5) >= 1;

/** Retransmissions before giving up. `initInit`: the request is the initiator's IKE_SA_INIT. */
export function retransmitMax(c: Timers, initInit: boolean): number {
  return (c.retransmitTries ?? 5) + (early(c, initInit) ? EARLY : 0);
}

/** Wait (ms) after the send that follows `tries` retransmissions (0: the first send). */
export function retransmitWait(c: Timers, initInit: boolean, tries: number): number {
  const t0 = c.retransmitTimeout ?? 4000, b = c.retransmitBase ?? 1.8;
  if (!early(c, initInit)) return t0 * Math.pow(b, tries);
  if (tries === 0) return t0 / 4;
  if (tries === 1) return t0 / 2;
  const wait = t0 * Math.pow(b, tries - EARLY);
  // the last wait: the total is the usual schedule's
  return tries === retransmitMax(c, true) ? wait - 0.75 * t0 : wait;
}
