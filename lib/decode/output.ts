/**
 * Output sink for the decode loop: batches text into large writes and
 * honours back-pressure, so memory stays flat when stdout is a slow pipe.
 * Runtime-neutral: wraps any Node-style writable (process.stdout, a file stream).
 * @module
 */

/** Minimal writable: Node's `stream.Writable` fits. */
export interface WritableLike {
  write(chunk: string | Uint8Array): boolean;
  once(event: "drain", cb: () => void): unknown;
}

/** Buffers lines and flushes them in chunks of about `highWater` characters. */
export class LineWriter {
  // One growing string: JSC/V8 concatenate into ropes cheaply, and the rope
  // is flattened once, when written (Array#join was 18% of summary mode).
  private buf = "";
  constructor(private readonly out: WritableLike, private readonly highWater = 1 << 16) {}

  /** Queue one line (without its newline). */
  line(s: string): void {
    this.buf += s + "\n";
  }

  /** True when enough text is queued that the caller should `flush()`. */
  get full(): boolean {
    return this.buf.length >= this.highWater;
  }

  /** Write queued text; resolves when the destination can take more. */
  async flush(): Promise<void> {
    if (this.buf.length === 0) return;
    const text = this.buf;
    this.buf = "";
    if (!this.out.write(text)) await new Promise<void>((r) => this.out.once("drain", r));
  }
}
