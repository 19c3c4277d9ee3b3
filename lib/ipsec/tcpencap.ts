/**
 * IKE and ESP over TCP (RFC 9329, which obsoletes RFC 8229).
 *
 * A {@link TcpEncapParser} consumes the in-order byte stream of *one*
 * direction of a TCP connection (the reassembler lives elsewhere) and cuts it
 * into frames:
 *
 * ```
 * stream    = [ "IKETCP" ]  *frame         ; prefix: initiator direction only
 * frame     = Length(2, counts itself) ( NonESPMarker(4 zero) IKE-message
 *                                      / ESP-packet (SPI != 0) )
 * ```
 *
 * A 3-byte frame holding the single octet 0xFF is reported as a keepalive
 * (the RFC 3948 NAT-keepalive carried in the TCP framing; tolerated, not
 * required by RFC 9329).
 *
 * ## Anomalies and resynchronisation policy
 * Anomalies use layer `"tcpencap"` and *stream offsets* (byte 0 = first byte
 * of this direction's stream, i.e. just after the SYN).
 * - Length 2–5 (no room for marker/SPI, and not a keepalive): anomaly, the
 *   frame is skipped — the framing itself is still consistent, parsing goes on.
 * - Length 0 or 1 (a fatal error per RFC 9329 §3) or a length above
 *   `maxFrame`: the framing is lost. The parser enters *resync* mode: it
 *   scans forward byte by byte for the next position that is unambiguously a
 *   frame start — an IKE-over-TCP frame, i.e. Length ≥ 34, a zero non-ESP
 *   marker, an IKE header with major version 1 or 2 whose own length field
 *   equals Length − 6. ESP frames cannot be recognised reliably, so they are
 *   discarded until the next IKE message (rekey, DPD…). One anomaly reports
 *   the loss and one the recovery (with the number of bytes discarded).
 * - {@link TcpEncapParser.gap} (bytes missing from the capture) also enters
 *   resync mode.
 * - A frame whose IKE header length disagrees with the frame length, or an
 *   ESP frame shorter than the 8-byte header, is still emitted, with an
 *   anomaly (the next Length field decides whether framing holds).
 *
 * Memory is bounded: the only buffer is the current frame body
 * (≤ `maxFrame` − 2 bytes) plus a 34-byte resync window.
 * @module
 */
import { type Anomaly } from "../core/anomaly.ts";
import { u16, u32 } from "../core/bytes.ts";
import { IKETCP_PREFIX, NAT_KEEPALIVE_BYTE, NON_ESP_MARKER_LEN } from "./registry.ts";

/** What one TCP-encapsulated frame carries. */
export type TcpEncapKind = "ike" | "esp" | "keepalive";

/** One frame cut from the stream. */
export interface TcpEncapFrame {
  kind: TcpEncapKind;
  /**
   * Standalone copy (never aliases the pushed bytes): for IKE the IKE
   * message (after the non-ESP marker), for ESP the packet from the SPI on,
   * for a keepalive the single 0xFF byte.
   */
  data: Uint8Array;
  /** Stream offset of the frame's Length field. */
  streamOffset: number;
  /** Value of the Length field (includes its own 2 bytes). */
  length: number;
}

/** Parser options. */
export interface TcpEncapOptions {
  /**
   * "auto" (default): strip an "IKETCP" prefix if the stream starts with it;
   * "required": the initiator direction — a missing prefix is an anomaly;
   * "none": the responder direction — never look for a prefix.
   */
  prefix?: "auto" | "required" | "none";
  /** Largest acceptable Length value (default 65535, the field's maximum). */
  maxFrame?: number;
}

/** Parser states (plain constants: no enums, so type-stripping runtimes load this file as is). */
const St = { Prefix: 0, Len: 1, Body: 2, Resync: 3 } as const;
type St = (typeof St)[keyof typeof St];

const IKE_HDR = 28;
/** Length(2) + marker(4) + IKE header(28): what resync needs to see. */
const RESYNC_WIN = 2 + NON_ESP_MARKER_LEN + IKE_HDR;
const LAYER = "tcpencap";

/** Per-direction RFC 9329 stream parser. Feed it in-order bytes. */
export class TcpEncapParser {
  private st: St;
  private readonly mode: "auto" | "required" | "none";
  private readonly maxFrame: number;
  /** Stream offset of the next byte to consume. */
  private pos = 0;
  private readonly hdr = new Uint8Array(6);
  private hlen = 0;
  private body: Uint8Array | null = null;
  private bodyLen = 0;
  private frameStart = 0;
  private frameLenField = 0;
  private readonly win = new Uint8Array(RESYNC_WIN);
  private wlen = 0;
  private discarded = 0;
  private resyncFrom = 0;

  /** True once an "IKETCP" prefix has been consumed. */
  prefixSeen = false;
  /** Frames emitted so far. */
  frames = 0;
  /** Times framing was lost (bad length or gap). */
  resyncs = 0;
  /** Bytes thrown away while resynchronising, plus skipped short frames. */
  discardedBytes = 0;

  constructor(opts: TcpEncapOptions = {}) {
    this.mode = opts.prefix ?? "auto";
    const m = opts.maxFrame ?? 65535;
    this.maxFrame = m >= 6 && m <= 65535 ? Math.floor(m) : 65535;
    this.st = this.mode === "none" ? St.Len : St.Prefix;
  }

  /** Stream offset of the next byte the parser expects. */
  get streamOffset(): number {
    return this.pos;
  }

  /** True while the parser is scanning for a frame start after losing sync. */
  get resyncing(): boolean {
    return this.st === St.Resync;
  }

  /** Consume the next in-order bytes of the stream; returns the frames completed by them. */
  push(bytes: Uint8Array, an: Anomaly[]): TcpEncapFrame[] {
    const out: TcpEncapFrame[] = [];
    this.consume(bytes, 0, bytes.length, an, out);
    return out;
  }

  /**
   * Tell the parser that `n` bytes of the stream are missing (capture loss).
   * Any partial frame is dropped and the parser resynchronises.
   */
  gap(n: number, an: Anomaly[]): void {
    if (!(n > 0)) return;
    an.push({ layer: LAYER, offset: this.pos, reason: `${n} bytes missing from the stream: framing lost, resynchronising` });
    if (this.st === St.Prefix) this.st = St.Len;
    this.pos += n;
    this.enterResync(null, 0);
  }

  /** End of stream: report a frame cut short. Returns nothing; the parser stays usable for stats. */
  finish(an: Anomaly[]): void {
    if (this.st === St.Body && this.body !== null) {
      an.push({ layer: LAYER, offset: this.frameStart, reason: `stream ended inside a frame: have ${this.bodyLen + 2} of ${this.frameLenField} bytes` });
    } else if (this.st === St.Len && this.hlen > 0) {
      an.push({ layer: LAYER, offset: this.pos - this.hlen, reason: "stream ended inside a Length field" });
    } else if (this.st === St.Resync) {
      an.push({ layer: LAYER, offset: this.resyncFrom, reason: `stream ended while resynchronising: ${this.discarded + this.wlen} bytes discarded` });
    }
  }

  private consume(src: Uint8Array, i: number, n: number, an: Anomaly[], out: TcpEncapFrame[]): void {
    while (i < n) {
      switch (this.st) {
        case St.Prefix: {
          const c = src[i];
          if (c === IKETCP_PREFIX[this.hlen]) {
            this.hdr[this.hlen++] = c;
            i++;
            this.pos++;
            if (this.hlen === IKETCP_PREFIX.length) {
              this.prefixSeen = true;
              this.hlen = 0;
              this.st = St.Len;
            }
          } else {
            // Not a prefix: replay what we held back as frame bytes.
            const held = this.hdr.slice(0, this.hlen);
            this.pos -= this.hlen;
            this.hlen = 0;
            this.st = St.Len;
            if (this.mode === "required") {
              an.push({ layer: LAYER, offset: 0, reason: 'initiator stream does not start with the "IKETCP" prefix (RFC 9329 §3.1)' });
            }
            this.consume(held, 0, held.length, an, out);
          }
          break;
        }
        case St.Len: {
          this.hdr[this.hlen++] = src[i++];
          this.pos++;
          if (this.hlen < 2) break;
          this.hlen = 0;
          const L = u16(this.hdr, 0);
          this.frameStart = this.pos - 2;
          this.frameLenField = L;
          if (L < 2 || L > this.maxFrame) {
            an.push({
              layer: LAYER,
              offset: this.frameStart,
              reason: L < 2
                ? `Length ${L} is a fatal framing error (RFC 9329 §3): framing lost, resynchronising`
                : `Length ${L} exceeds the maximum frame size ${this.maxFrame}: framing lost, resynchronising`,
            });
            this.resyncs++;
            this.enterResync(this.hdr, 1);
            break;
          }
          if (L === 2) {
            an.push({ layer: LAYER, offset: this.frameStart, reason: "empty frame (Length 2): skipped" });
            this.discardedBytes += 2;
            break;
          }
          this.body = new Uint8Array(L - 2);
          this.bodyLen = 0;
          this.st = St.Body;
          break;
        }
        case St.Body: {
          const body = this.body!;
          const k = Math.min(n - i, body.length - this.bodyLen);
          body.set(src.subarray(i, i + k), this.bodyLen);
          this.bodyLen += k;
          i += k;
          this.pos += k;
          if (this.bodyLen === body.length) {
            this.body = null;
            this.st = St.Len;
            const f = this.classify(body, an);
            if (f !== null) {
              this.frames++;
              out.push(f);
            }
          }
          break;
        }
        case St.Resync: {
          this.win[this.wlen++] = src[i++];
          this.pos++;
          this.scanWindow(an, out);
          break;
        }
      }
    }
  }

  /** Start scanning; `seed[from..2)` are already-consumed bytes to rescan. */
  private enterResync(seed: Uint8Array | null, from: number): void {
    this.st = St.Resync;
    this.body = null;
    this.bodyLen = 0;
    this.hlen = 0;
    this.wlen = 0;
    this.discarded = 0;
    this.resyncFrom = this.pos;
    if (seed !== null) {
      this.resyncFrom = this.pos - 2;
      this.discarded = from;
      for (let j = from; j < 2; j++) this.win[this.wlen++] = seed[j];
    }
  }

  private dropFirst(): void {
    this.win.copyWithin(0, 1, this.wlen);
    this.wlen--;
    this.discarded++;
  }

  /** Check candidates at the start of the window until one needs more bytes. */
  private scanWindow(an: Anomaly[], out: TcpEncapFrame[]): void {
    const w = this.win;
    for (;;) {
      if (this.wlen < 2) return;
      const L = u16(w, 0);
      if (L < RESYNC_WIN || L > this.maxFrame) {
        this.dropFirst();
        continue;
      }
      let bad = false;
      const upto = Math.min(this.wlen, 6);
      for (let j = 2; j < upto; j++) if (w[j] !== 0) bad = true;
      if (bad) {
        this.dropFirst();
        continue;
      }
      if (this.wlen < RESYNC_WIN) return;
      const major = w[6 + 17] >>> 4;
      if ((major !== 1 && major !== 2) || u32(w, 6 + 24) !== L - 6) {
        this.dropFirst();
        continue;
      }
      // Found an IKE frame start.
      const start = this.pos - this.wlen;
      an.push({
        layer: LAYER,
        offset: start,
        reason: `resynchronised on an IKE frame after discarding ${this.discarded} bytes (from stream offset ${this.resyncFrom})`,
      });
      this.discardedBytes += this.discarded;
      this.discarded = 0;
      this.frameStart = start;
      this.frameLenField = L;
      const body = new Uint8Array(L - 2);
      body.set(w.subarray(2, RESYNC_WIN), 0);
      this.body = body;
      this.bodyLen = RESYNC_WIN - 2;
      this.wlen = 0;
      this.st = St.Body;
      if (this.bodyLen === body.length) {
        // Length 34: a bare IKE header, complete already.
        this.body = null;
        this.st = St.Len;
        const f = this.classify(body, an);
        if (f !== null) {
          this.frames++;
          out.push(f);
        }
      }
      return;
    }
  }

  private classify(body: Uint8Array, an: Anomaly[]): TcpEncapFrame | null {
    const streamOffset = this.frameStart;
    const length = this.frameLenField;
    if (body.length === 1 && body[0] === NAT_KEEPALIVE_BYTE) {
      return { kind: "keepalive", data: body, streamOffset, length };
    }
    if (body.length < NON_ESP_MARKER_LEN) {
      an.push({
        layer: LAYER,
        offset: streamOffset,
        reason: `Length ${length}: too short for a non-ESP marker or an SPI (minimum 6) and not a keepalive: skipped`,
      });
      this.discardedBytes += length;
      return null;
    }
    if ((body[0] | body[1] | body[2] | body[3]) === 0) {
      const data = body.slice(NON_ESP_MARKER_LEN);
      if (data.length < IKE_HDR) {
        an.push({ layer: LAYER, offset: streamOffset + 6, reason: `IKE message of ${data.length} bytes is shorter than the 28-byte IKE header` });
      } else {
        const ikeLen = u32(data, 24);
        if (ikeLen !== data.length) {
          an.push({ layer: LAYER, offset: streamOffset + 6 + 24, reason: `IKE length ${ikeLen} differs from the frame's ${data.length} bytes` });
        }
      }
      return { kind: "ike", data, streamOffset, length };
    }
    if (body.length < 8) {
      an.push({ layer: LAYER, offset: streamOffset + 2, reason: `ESP frame of ${body.length} bytes is shorter than the 8-byte ESP header` });
    }
    return { kind: "esp", data: body, streamOffset, length };
  }
}
