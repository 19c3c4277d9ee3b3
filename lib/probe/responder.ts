/**
 * MTU probe responder core (`vpnkit responder`, and `vpnkit up` later). No I/O: `handle()`
 * takes one received datagram and returns the ack to send back, or null (silently drop).
 *
 * It cannot be abused as a reflector or amplifier:
 *  - only probes carrying a valid MAC under the shared secret are answered (constant-time
 *    compare); anything else gets no reply at all;
 *  - the ack is 44 bytes, and a probe is at least 44 bytes of UDP payload: never amplified;
 *  - replays are refused: the timestamp must be within `maxSkewMs` of our clock and each
 *    (session nonce, probe id) is answered once (anti-replay window per session, updated only
 *    after the MAC verified). Sessions are kept until their newest timestamp is stale; when the
 *    table is full, new sessions are refused (fail closed) rather than forgetting live ones;
 *  - the declared size must match the datagram's length and stay below `maxSize`;
 *  - answers are rate-limited per source address and globally (token buckets), and the MAC
 *    work itself is capped (`verifyPerSecond`).
 *
 * A valid probe captured on the path could still be replayed once from a spoofed source
 * before the original arrives; the reply is then one 44-byte ack per captured probe.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import { ReplayWindow } from "../esp/replay.ts";
import type { DatagramSocket } from "../tunnel/engine.ts";
import { KeyedRateLimiter, type RateSpec, TokenBucket } from "./ratelimit.ts";
import { buildAck, DEFAULT_MAX_PROBE_SIZE, deriveProbeKey, minProbeSize, parseHeader, probePayloadLength, TYPE_PROBE, verifyMac } from "./wire.ts";

/** Default UDP port of the responder. */
export const DEFAULT_RESPONDER_PORT = 4501;

export interface ResponderOptions {
  /** Shared secret (≥ 16 bytes). Copied into a derived key; the caller may zero it. */
  secret: Uint8Array;
  /** Largest probe answered (total IP packet size). Default 9216. */
  maxSize?: number;
  /** Accepted clock difference in ms. Default 30000. */
  maxSkewMs?: number;
  /** Answers per source address. Default 200/s, burst 200. */
  perSource?: RateSpec;
  /** Answers in total. Default 2000/s, burst 1000. */
  global?: RateSpec;
  /** MAC verifications in total (bounds CPU under a flood). Default 20000/s, burst 5000. */
  verifyPerSecond?: RateSpec;
  /** Live probe sessions remembered for anti-replay. Default 4096. */
  maxSessions?: number;
  /** Source addresses with a rate-limit bucket. Default 4096. */
  maxSources?: number;
}

export interface ResponderStats {
  received: number;
  answered: number;
  /** Not a probe of ours, or inconsistent lengths. */
  malformed: number;
  /** Declared size above maxSize. */
  oversized: number;
  /** MAC did not verify (wrong secret, tampered). */
  badMac: number;
  /** Timestamp outside the skew window. */
  stale: number;
  /** Probe id already answered (or too old for the window). */
  replayed: number;
  /** Session table full. */
  sessionsFull: number;
  rateLimitedSource: number;
  rateLimitedGlobal: number;
  /** Dropped before MAC verification because of the verification budget. */
  verifyBudget: number;
}

interface Session {
  window: ReplayWindow;
  maxTs: number;
}

/** IPv4 sources may arrive as IPv4-mapped IPv6 on a dual-stack socket. */
export function sourceFamily(addr: string): { family: 4 | 6; key: string } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
  if (m) return { family: 4, key: m[1] };
  return { family: addr.includes(":") ? 6 : 4, key: addr.toLowerCase() };
}

export class MtuResponder {
  readonly stats: ResponderStats = {
    received: 0, answered: 0, malformed: 0, oversized: 0, badMac: 0, stale: 0, replayed: 0,
    sessionsFull: 0, rateLimitedSource: 0, rateLimitedGlobal: 0, verifyBudget: 0,
  };
  private readonly key: Uint8Array;
  private readonly maxSize: number;
  private readonly maxSkew: number;
  private readonly maxSessions: number;
  private readonly sessions = new Map<string, Session>();
  private readonly perSource: KeyedRateLimiter;
  private readonly global: TokenBucket;
  private readonly verify: TokenBucket;
  private closed = false;

  constructor(o: ResponderOptions, now = Date.now()) {
    this.key = deriveProbeKey(o.secret);
    this.maxSize = o.maxSize ?? DEFAULT_MAX_PROBE_SIZE;
    this.maxSkew = o.maxSkewMs ?? 30_000;
    this.maxSessions = o.maxSessions ?? 4096;
    this.perSource = new KeyedRateLimiter(o.perSource ?? { rate: 200, burst: 200 }, o.maxSources ?? 4096);
    this.global = new TokenBucket(o.global ?? { rate: 2000, burst: 1000 }, now);
    this.verify = new TokenBucket(o.verifyPerSecond ?? { rate: 20000, burst: 5000 }, now);
  }

  /** One datagram from `addr` at time `now` (ms). Returns the ack to send back, or null. */
  handle(buf: Uint8Array, addr: string, now: number): Uint8Array | null {
    const st = this.stats;
    st.received++;
    if (this.closed) return null;
    const h = parseHeader(buf);
    if (!h || h.type !== TYPE_PROBE) {
      st.malformed++;
      return null;
    }
    const src = sourceFamily(addr);
    if (h.size > this.maxSize) {
      st.oversized++;
      return null;
    }
    if (h.size < minProbeSize(src.family) || probePayloadLength(h.size, src.family) !== buf.length) {
      st.malformed++;
      return null;
    }
    if (!this.verify.take(now)) {
      st.verifyBudget++;
      return null;
    }
    if (!verifyMac(this.key, buf)) {
      st.badMac++;
      return null;
    }
    if (Math.abs(now - h.ts) > this.maxSkew) {
      st.stale++;
      return null;
    }
    const sid = toHex(h.nonce);
    let s = this.sessions.get(sid);
    if (!s) {
      if (this.sessions.size >= this.maxSessions) {
        for (const [k, v] of this.sessions) if (now - v.maxTs > this.maxSkew) this.sessions.delete(k);
        if (this.sessions.size >= this.maxSessions) {
          st.sessionsFull++;
          return null;
        }
      }
      s = { window: new ReplayWindow(1024, false), maxTs: h.ts };
      this.sessions.set(sid, s);
    }
    if (s.window.check(h.id) < 0) {
      st.replayed++;
      return null;
    }
    if (!this.perSource.take(src.key, now)) {
      st.rateLimitedSource++;
      return null;
    }
    if (!this.global.take(now)) {
      st.rateLimitedGlobal++;
      return null;
    }
    s.window.update(0, h.id);
    if (h.ts > s.maxTs) s.maxTs = h.ts;
    st.answered++;
    return buildAck(this.key, h);
  }

  /** Forget the key (zeroed). The responder refuses everything afterwards. */
  close(): void {
    this.closed = true;
    this.key.fill(0);
    this.sessions.clear();
  }
}

/**
 * Serve `responder` on a datagram socket (any DatagramSocket: the Bun adapter, or a socket
 * `vpnkit up` already owns). Returns a function that stops answering.
 */
export function attachResponder(sock: DatagramSocket, responder: MtuResponder, clock: () => number = Date.now): () => void {
  let on = true;
  sock.onMessage((buf, addr, port) => {
    if (!on) return;
    const ack = responder.handle(buf, addr, clock());
    if (ack) sock.send(ack, addr, port);
  });
  return () => {
    on = false;
  };
}
