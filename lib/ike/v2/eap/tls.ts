/**
 * EAP-TLS (RFC 5216, EAP type 13), server side, as an I/O-free state machine: EAP-Identity,
 * the Start request (S flag), then the TLS handshake carried in EAP-TLS messages. Large
 * flights are cut into fragments (L flag with the TLS Message Length on the first, M flag on
 * all but the last); each fragment is acknowledged by an empty EAP-TLS message, both ways.
 *
 * The TLS handshake itself is not done here: a complete client flight is handed out
 * (`{ tls }`) for a TLS engine ({@link EapTlsEngine}, injected by the platform), whose answer
 * comes back through {@link EapTlsServer.flight}. Bounded: a fixed number of rounds, at
 * most {@link EapTlsLimits.maxMessage} bytes per reassembled client flight and
 * {@link EapTlsLimits.maxTotal} over the conversation; malformed input ends the conversation
 * with a reason and an EAP-Failure, never a throw.
 * @module
 */
import { escapeControls, putU32, u32 } from "../../../core/bytes.ts";
import { EAP_FAILURE, EAP_IDENTITY, EAP_NAK, EAP_REQUEST, EAP_RESPONSE, EAP_SUCCESS, encodeEap, parseEap } from "./mschapv2.ts";

export const EAP_TLS = 13;
export const F_LENGTH = 0x80, F_MORE = 0x40, F_START = 0x20;

export interface EapTlsLimits {
  /** TLS bytes per EAP-TLS request we send (keeps an IKE message under ~1280 bytes). */
  fragment: number;
  /** Largest reassembled client flight (TLS Message Length). */
  maxMessage: number;
  /** Largest sum of all client TLS data in one conversation. */
  maxTotal: number;
  /** EAP round trips before we give up (strongSwan: max_message_count 32). */
  maxRounds: number;
}

export const DEFAULT_EAP_TLS_LIMITS: EapTlsLimits = { fragment: 1000, maxMessage: 32768, maxTotal: 65536, maxRounds: 64 };

/**
 * A TLS server engine over an in-memory transport (the platform's: node:tls in
 * lib/platform/bun/eap-tls-engine.ts). Asynchronous behind a polling interface so that the
 * IKE core stays synchronous: `write` a client flight, then `poll` until it answers.
 */
export interface EapTlsEngine {
  /** Hand one complete TLS flight of the client to the engine. */
  write(tls: Uint8Array): void;
  /** Null while the engine is still working on the last flight; else what it produced. */
  poll(): EapTlsEngineResult | null;
  /** Release the engine (and wipe what it holds). */
  destroy(): void;
}

export type EapTlsEngineResult =
  /** More handshake to come: send `out`, wait for the client's next flight. */
  | { state: "more"; out: Uint8Array }
  /** The handshake is complete (client Finished verified); `out` is our last flight. */
  | { state: "done"; out: Uint8Array; msk: Uint8Array; peerCerts: Uint8Array[]; version: string; cipher: string }
  /** The handshake failed; `out` may hold an alert. */
  | { state: "failed"; out: Uint8Array; error: string };

/** What a platform gives the core to make engines: our certificate and key, the client CAs (PEM). */
export type EapTlsEngineFactory = (o: { certificate: string; privateKey: string; ca: readonly string[] }) => EapTlsEngine;

export type EapTlsStep =
  /** Answer with this EAP request. */
  | { send: Uint8Array }
  /** A complete client TLS flight: feed the engine, then call {@link EapTlsServer.flight} with its output. */
  | { tls: Uint8Array }
  /** The client acknowledged our last flight: send EAP-Success (after the caller's checks). */
  | { done: "success"; send: Uint8Array; user: string }
  | { done: "failure"; send: Uint8Array; reason: string };

/** EAP-TLS Type-Data: flags, the TLS Message Length when L is set, the TLS data. */
export interface EapTlsPacket {
  flags: number;
  length: number | null;
  data: Uint8Array;
}

/** Parse EAP-TLS Type-Data; null when malformed (no flags, or L without its 4 bytes). */
export function parseEapTls(d: Uint8Array): EapTlsPacket | null {
  if (d.length < 1) return null;
  const flags = d[0];
  if (flags & F_LENGTH) {
    if (d.length < 5) return null;
    return { flags, length: u32(d, 1), data: d.subarray(5) };
  }
  return { flags, length: null, data: d.subarray(1) };
}

/** Encode EAP-TLS Type-Data. */
export function encodeEapTls(flags: number, data: Uint8Array, length?: number): Uint8Array {
  const hasL = length !== undefined;
  const out = new Uint8Array(1 + (hasL ? 4 : 0) + data.length);
  out[0] = (flags & ~F_LENGTH) | (hasL ? F_LENGTH : 0);
  if (hasL) putU32(out, 1, length);
  out.set(data, hasL ? 5 : 1);
  return out;
}

const ALERTS: Record<number, string> = {
  0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
  44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
  50: "decode_error", 51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
  109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required",
};

/** A plaintext TLS alert record at the start of `d`, as text ("fatal alert 48 unknown_ca"), or null. */
export function tlsAlertText(d: Uint8Array): string | null {
  if (d.length < 7 || d[0] !== 21 || d[1] !== 3) return null;
  const desc = d[6];
  return `${d[5] === 2 ? "fatal" : "warning"} alert ${desc} ${ALERTS[desc] ?? `UNKNOWN(${desc})`}`;
}

const dec = new TextDecoder("utf-8", { fatal: false });

/** A name from the wire for a log line (control characters escaped). */
export const printable = escapeControls;
const EMPTY = new Uint8Array(0);

type State = "identity" | "start" | "recv" | "sending" | "engine" | "final-sent" | "alert-sent" | "done";

export const ALERT_HANDSHAKE_FAILURE = 40, ALERT_CERTIFICATE_UNKNOWN = 46;

/** Name of a TLS alert description ("certificate_unknown"). */
export function alertName(desc: number): string {
  return ALERTS[desc] ?? `UNKNOWN(${desc})`;
}

/** Server side of one EAP-TLS conversation (framing, fragmentation, ACKs, bounds). */
export class EapTlsServer {
  private id: number;
  private round = 0;
  private state: State = "identity";
  private user = "";
  private parts: Uint8Array[] = [];
  private have = 0;
  private want: number | null = null;
  private total = 0;
  private out: Uint8Array = EMPTY;
  private outOff = 0;
  private outFinal = false;
  readonly limits: EapTlsLimits;

  constructor(rng: (n: number) => Uint8Array, limits: Partial<EapTlsLimits> = {}) {
    this.id = rng(1)[0];
    this.limits = { ...DEFAULT_EAP_TLS_LIMITS, ...limits };
    if (!(this.limits.fragment >= 16)) this.limits.fragment = 16;
  }

  /** The EAP identity the client gave ("" before it did). */
  get userName(): string {
    return this.user;
  }

  /** Waiting for the TLS engine (between a `{ tls }` step and {@link flight}). */
  get waiting(): boolean {
    return this.state === "engine";
  }

  /** The first request: EAP-Identity. */
  start(): Uint8Array {
    return encodeEap({ code: EAP_REQUEST, id: this.id, type: EAP_IDENTITY, data: EMPTY });
  }

  /** EAP-Failure answering the last response (for a failure decided outside, e.g. the certificate check). */
  failure(): Uint8Array {
    this.state = "done";
    return encodeEap({ code: EAP_FAILURE, id: this.id, data: EMPTY });
  }

  private fail(reason: string): EapTlsStep {
    return { done: "failure", reason, send: this.failure() };
  }

  private request(flags: number, data: Uint8Array, length?: number): Uint8Array {
    this.id = (this.id + 1) & 0xff;
    return encodeEap({ code: EAP_REQUEST, id: this.id, type: EAP_TLS, data: encodeEapTls(flags, data, length) });
  }

  /** The next fragment of our pending flight. */
  private nextFragment(): Uint8Array {
    const first = this.outOff === 0;
    const n = Math.min(this.limits.fragment, this.out.length - this.outOff);
    const chunk = this.out.subarray(this.outOff, this.outOff + n);
    this.outOff += n;
    const more = this.outOff < this.out.length;
    if (more) this.state = "sending";
    else {
      this.state = this.outFinal ? "final-sent" : "recv";
      this.out = EMPTY;
      this.outOff = 0;
    }
    return this.request(more ? F_MORE : 0, chunk, first ? this.outTotal : undefined);
  }

  private outTotal = 0;

  /** The engine's answer to the last `{ tls }` step: the first (or only) fragment of our flight. `final`: the handshake is complete. */
  flight(tls: Uint8Array, final: boolean): Uint8Array {
    this.out = tls;
    this.outTotal = tls.length;
    this.outOff = 0;
    this.outFinal = final;
    return this.nextFragment();
  }

  /**
   * Refuse the client after its flight (RFC 5216 §2.1.3, as strongSwan's server does): a fatal
   * TLS alert in plaintext (our ChangeCipherSpec was not sent) as the next request; whatever
   * the client answers then gets EAP-Failure.
   */
  alert(description: number): Uint8Array {
    const rec = Uint8Array.of(21, 3, 3, 0, 2, 2, description & 0xff);
    this.state = "alert-sent";
    return this.request(0, rec, rec.length);
  }

  /** Consume the client's EAP response. */
  step(raw: Uint8Array): EapTlsStep {
    if (this.state === "done") return this.fail("EAP conversation already ended");
    if (this.state === "engine") return this.fail("EAP response while the TLS engine is busy");
    if (++this.round > this.limits.maxRounds) return this.fail(`more than ${this.limits.maxRounds} EAP-TLS rounds`);
    const m = parseEap(raw);
    if (!m || m.code !== EAP_RESPONSE) return this.fail("malformed EAP message, or not a Response");
    if (m.id !== this.id) return this.fail(`EAP Response identifier ${m.id}, expected ${this.id}`);
    if (m.type === EAP_NAK) return this.fail(`client refuses EAP-TLS (Nak, wants ${[...m.data].join(", ") || "nothing"})`);
    if (this.state === "identity") {
      if (m.type !== EAP_IDENTITY || m.data.length > 255) return this.fail("expected an EAP-Identity response");
      this.user = dec.decode(m.data);
      this.state = "recv";
      return { send: this.request(F_START, EMPTY) };
    }
    if (m.type !== EAP_TLS) return this.fail(`expected EAP-TLS, got EAP type ${m.type}`);
    const t = parseEapTls(m.data);
    if (!t) return this.fail("malformed EAP-TLS message");
    const ack = t.data.length === 0 && !(t.flags & (F_MORE | F_LENGTH));
    if (this.state === "alert-sent") return this.fail(ack ? "client acknowledged our TLS alert" : "client answered our TLS alert");
    if (this.state === "sending") {
      if (!ack) return this.fail("expected the acknowledgement of our EAP-TLS fragment");
      return { send: this.nextFragment() };
    }
    if (this.state === "final-sent") {
      if (!ack) {
        const alert = tlsAlertText(t.data);
        return this.fail(alert ? `client ended the TLS handshake with ${alert}` : "client answered our TLS Finished with data instead of an acknowledgement");
      }
      this.state = "done";
      return { done: "success", user: this.user, send: encodeEap({ code: EAP_SUCCESS, id: this.id, data: EMPTY }) };
    }
    // "recv": a client flight, whole or in fragments
    if (ack) return this.fail(this.parts.length ? "empty EAP-TLS fragment" : "empty EAP-TLS response where a TLS flight was expected");
    if (!this.parts.length) {
      if (t.length !== null && (t.length > this.limits.maxMessage || t.length === 0)) return this.fail(`TLS Message Length ${t.length} (at most ${this.limits.maxMessage})`);
      if ((t.flags & F_MORE) && t.length === null) return this.fail("first EAP-TLS fragment without the L flag");
      this.want = t.length;
    } else if (t.length !== null && t.length !== this.want) return this.fail("TLS Message Length changed between fragments");
    this.have += t.data.length;
    this.total += t.data.length;
    const cap = this.want ?? this.limits.maxMessage;
    if (this.have > cap) return this.fail(`EAP-TLS fragments exceed the TLS Message Length (${this.have} > ${cap})`);
    if (this.total > this.limits.maxTotal) return this.fail(`more than ${this.limits.maxTotal} bytes of TLS data from the client`);
    this.parts.push(t.data.slice());
    if (t.flags & F_MORE) return { send: this.request(0, EMPTY) };
    if (this.want !== null && this.have !== this.want) return this.fail(`EAP-TLS message of ${this.have} bytes, TLS Message Length said ${this.want}`);
    const tls = new Uint8Array(this.have);
    let o = 0;
    for (const p of this.parts) {
      tls.set(p, o);
      o += p.length;
    }
    this.parts = [];
    this.have = 0;
    this.want = null;
    this.state = "engine";
    return { tls };
  }
}

export { EAP_FAILURE, EAP_SUCCESS };
