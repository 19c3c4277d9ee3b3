/**
 * Output sink for the decode loop: text is appended as UTF-8 bytes to one
 * reusable buffer and handed to the destination in large chunks, honouring
 * back-pressure, so memory stays flat when stdout is a slow pipe.
 *
 * The fast paths (lib/decode/fast-summary.ts) write ASCII straight into
 * {@link ByteWriter.buf}; everything else goes through {@link ByteWriter.text}
 * (TextEncoder, so non-ASCII text stays correct UTF-8).
 * Runtime-neutral: wraps any Node-style writable (process.stdout, a file stream).
 *
 * When the destination fails (EPIPE: `vpnkit decode … | head` after head
 * exits), the writer records the error in {@link ByteWriter.error}, drops all
 * further output and wakes a pending {@link ByteWriter.flush}; the decode loop
 * checks it after every flush and stops reading the capture.
 * @module
 */

/** Minimal writable: Node's `stream.Writable` fits. */
export interface WritableLike {
  /** `done` runs once the chunk has been handed on (with the error if it failed): only then may its memory be reused. */
  write(chunk: string | Uint8Array, done?: (err?: Error | null) => void): boolean;
  once(event: "drain", cb: () => void): unknown;
  /** Optional: the writer listens for `error` (a stream without a listener would throw it, e.g. EPIPE). */
  on?(event: "error", cb: (err: Error) => void): unknown;
}

/**
 * True for the errors that mean "the reader went away" (EPIPE: the other end
 * of the pipe was closed, as by `head` or by quitting `less`): a command
 * line tool then stops quietly.
 */
export function isBrokenPipe(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END" || (e as Error | null)?.name === "BrokenPipe";
}

const encoder = new TextEncoder();

/** Default buffer size; a chunk is handed on once `highWater` bytes are queued. */
const SIZE = 1 << 20;

/**
 * A byte buffer with ASCII append primitives. Writers that know their size
 * bound call {@link ensure} once, then store into `buf` from `pos` and
 * advance `pos` themselves.
 */
export class ByteWriter {
  /** The buffer being filled (replaced after each flush: the old one belongs to the destination). */
  buf: Uint8Array;
  /** Bytes queued in `buf`. */
  pos = 0;
  /** Buffers the destination has finished with (reused instead of allocating). */
  private readonly spare: Uint8Array[] = [];
  private readonly cap: number;
  /** The first error the destination reported; from then on output is dropped. */
  error: Error | null = null;
  /** Resolves a flush waiting for `drain` (called on error too). */
  private wake: (() => void) | null = null;

  constructor(private readonly out: WritableLike, private readonly highWater = 1 << 18, size = SIZE) {
    this.cap = Math.max(size, highWater * 2);
    this.buf = new Uint8Array(this.cap);
    out.on?.("error", (e) => this.fail(e));
  }

  private fail(e: unknown): void {
    this.error ??= e instanceof Error ? e : new Error(String(e));
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** Make room for `n` more bytes (grows the buffer; a batch may exceed the high-water mark). */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  /** Append a string as UTF-8. */
  text(s: string): void {
    const n = s.length;
    this.ensure(n * 3);
    const buf = this.buf;
    let p = this.pos;
    if (n < 128) {
      // short lines: a plain loop beats a native call; leave it at the first non-ASCII char
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p + i] = c;
      }
      if (i === n) {
        this.pos = p + n;
        return;
      }
    }
    p += encoder.encodeInto(s, buf.subarray(p)).written;
    this.pos = p;
  }

  /** Append a string and a newline. */
  line(s: string): void {
    this.text(s);
    this.ensure(1);
    this.buf[this.pos++] = 10;
  }

  /** Append bytes. */
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** True when enough is queued that the caller should `flush()`. */
  get full(): boolean {
    return this.pos >= this.highWater;
  }

  /** Hand the queued bytes to the destination; resolves when it can take more. */
  async flush(): Promise<void> {
    if (this.error !== null) {
      this.pos = 0;
      return;
    }
    if (this.pos === 0) return;
    // The destination may keep the chunk until it is written: the buffer is
    // only reused once the write's callback says it is done with it.
    const full = this.buf;
    const chunk = full.subarray(0, this.pos);
    this.buf = this.spare.pop() ?? new Uint8Array(this.cap);
    this.pos = 0;
    const done = (err?: Error | null) => {
      if (err) this.fail(err);
      else if (full.length === this.cap && this.spare.length < 2) this.spare.push(full);
    };
    let more: boolean;
    try {
      more = this.out.write(chunk, done);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (more || this.error !== null) return;
    await new Promise<void>((r) => {
      this.wake = r;
      this.out.once("drain", () => {
        if (this.wake === r) this.wake = null;
        r();
      });
    });
  }
}

/** Text of everything written to a {@link ByteWriter} (tests, small outputs). */
export function collectText(): { out: WritableLike; text(): string } {
  const parts: Uint8Array[] = [];
  const dec = new TextDecoder();
  return {
    out: {
      write(chunk, done) {
        // keep a copy: the writer reuses its buffer once `done` has run
        parts.push(typeof chunk === "string" ? encoder.encode(chunk) : chunk.slice());
        done?.();
        return true;
      },
      once() {},
    },
    text() {
      let s = "";
      for (const p of parts) s += dec.decode(p, { stream: true });
      return s + dec.decode();
    },
  };
}

// ---- ASCII primitives: store at buf[p], return the position after ----------

/** "00".."99" as ASCII pairs. */
const DIG2 = new Uint8Array(200);
/** "000".."999" as ASCII triples. */
const DIG3 = new Uint8Array(3000);
for (let i = 0; i < 100; i++) {
  DIG2[2 * i] = 48 + ((i / 10) | 0);
  DIG2[2 * i + 1] = 48 + (i % 10);
}
for (let i = 0; i < 1000; i++) {
  DIG3[3 * i] = 48 + ((i / 100) | 0);
  DIG3[3 * i + 1] = 48 + (((i / 10) | 0) % 10);
  DIG3[3 * i + 2] = 48 + (i % 10);
}

/** Unsigned decimal of a non-negative integer. */
export function putDec(buf: Uint8Array, p: number, n: number): number {
  if (n < 10) {
    buf[p] = 48 + n;
    return p + 1;
  }
  if (n < 100) {
    buf[p] = DIG2[2 * n];
    buf[p + 1] = DIG2[2 * n + 1];
    return p + 2;
  }
  if (n < 1000) {
    buf[p] = DIG3[3 * n];
    buf[p + 1] = DIG3[3 * n + 1];
    buf[p + 2] = DIG3[3 * n + 2];
    return p + 3;
  }
  return putDecLong(buf, p, n);
}

function putDecLong(buf: Uint8Array, p: number, n: number): number {
  if (n > 0x7fffffff) return putDecBig(buf, p, n);
  const len = n < 10000 ? 4 : n < 100000 ? 5 : n < 1000000 ? 6 : n < 10000000 ? 7 : n < 100000000 ? 8 : n < 1000000000 ? 9 : 10;
  let e = p + len;
  while (n >= 1000) {
    const q = (n / 1000) | 0;
    const r = (n - q * 1000) * 3;
    buf[e - 1] = DIG3[r + 2];
    buf[e - 2] = DIG3[r + 1];
    buf[e - 3] = DIG3[r];
    e -= 3;
    n = q;
  }
  if (n >= 100) {
    buf[e - 1] = DIG3[3 * n + 2];
    buf[e - 2] = DIG3[3 * n + 1];
    buf[e - 3] = DIG3[3 * n];
  } else if (n >= 10) {
    buf[e - 1] = DIG2[2 * n + 1];
    buf[e - 2] = DIG2[2 * n];
  } else buf[e - 1] = 48 + n;
  return p + len;
}

function putDecBig(buf: Uint8Array, p: number, n: number): number {
  let len = 2;
  for (let t = n; t >= 100; t = Math.floor(t / 10)) len++;
  const end = p + len;
  for (let i = end - 1; i >= p; i--) {
    const q = Math.floor(n / 10);
    buf[i] = 48 + (n - q * 10);
    n = q;
  }
  return end;
}

/** Decimal, left-padded with zeros to at least `width` digits (`String(n).padStart(width, "0")`). */
export function putDecPad(buf: Uint8Array, p: number, n: number, width: number): number {
  let len = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
  for (; len < width; width--) buf[p++] = 48;
  return putDec(buf, p, n);
}

/** Three digits of 0 <= v < 1000, zero-padded, at `p`. */
function put3(buf: Uint8Array, p: number, v: number): void {
  buf[p] = DIG3[3 * v];
  buf[p + 1] = DIG3[3 * v + 1];
  buf[p + 2] = DIG3[3 * v + 2];
}

/** Exactly 9 digits of 0 <= n < 10^9, zero-padded (nanoseconds). */
export function put9(buf: Uint8Array, p: number, n: number): number {
  if (!(n >= 0 && n < 1000000000)) return putDecPad(buf, p, n, 9);
  const a = (n / 1000000) | 0;
  const r = n - a * 1000000;
  const b = (r / 1000) | 0;
  put3(buf, p, a);
  put3(buf, p + 3, b);
  put3(buf, p + 6, r - b * 1000);
  return p + 9;
}

/** Exactly 6 digits of 0 <= n < 10^6, zero-padded (microseconds). */
export function put6(buf: Uint8Array, p: number, n: number): number {
  if (!(n >= 0 && n < 1000000)) return putDecPad(buf, p, n, 6);
  const a = (n / 1000) | 0;
  put3(buf, p, a);
  put3(buf, p + 3, n - a * 1000);
  return p + 6;
}

/** ASCII code of each lower-case hex digit. */
const HEXC = new Uint8Array(16);
for (let i = 0; i < 16; i++) HEXC[i] = i < 10 ? 48 + i : 87 + i;

/** Lower-case hex of `b[start..end)`. */
export function putHex(buf: Uint8Array, p: number, b: Uint8Array, start: number, end: number): number {
  for (let i = start; i < end; i++) {
    const v = b[i];
    buf[p] = HEXC[v >>> 4];
    buf[p + 1] = HEXC[v & 15];
    p += 2;
  }
  return p;
}

/** Copy a pre-encoded segment. */
export function putSeg(buf: Uint8Array, p: number, seg: Uint8Array): number {
  const n = seg.length;
  // a native set() costs more than a byte loop up to ~64 bytes
  if (n < 64) {
    for (let i = 0; i < n; i++) buf[p + i] = seg[i];
  } else buf.set(seg, p);
  return p + n;
}

/** ASCII string → bytes (segments built once). */
export function ascii(s: string): Uint8Array {
  return encoder.encode(s);
}
