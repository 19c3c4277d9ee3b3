/**
 * Capture filter evaluation in user space: runs the lowered program ({@link FilterIr}) on
 * the raw frame bytes, as the kernel would run the BPF program. No decoding, no
 * allocation per packet; a load past the captured bytes rejects the packet (BPF semantics,
 * so truncated frames match exactly what tcpdump keeps).
 * @module
 */
import type { FilterNode } from "./ast.ts";
import { type FilterIr, IR_AND, IR_NOT, IR_OR, IR_TRUE, lowerCaptureFilter, OP_EQ, OP_GE, OP_GT } from "./lower.ts";
import { parseCaptureFilter } from "./parse.ts";

/** Result of {@link evalFilterIr}: 1 pass, 0 fail, -1 a load went past the end (reject). */
export type IrResult = 1 | 0 | -1;

/** Evaluate a lowered program on one frame. Never throws. */
export function evalFilterIr(n: FilterIr, b: Uint8Array): IrResult {
  switch (n.t) {
    case IR_AND: {
      const r = evalFilterIr(n.a, b);
      return r === 1 ? evalFilterIr(n.b, b) : r;
    }
    case IR_OR: {
      const r = evalFilterIr(n.a, b);
      return r === 0 ? evalFilterIr(n.b, b) : r;
    }
    case IR_NOT: {
      const r = evalFilterIr(n.a, b);
      return r === -1 ? -1 : r === 1 ? 0 : 1;
    }
    case IR_TRUE:
      return 1;
    case 0:
      return 0;
    default: {
      let o = n.off;
      if (n.x >= 0) {
        if (n.x >= b.length) return -1;
        o += (b[n.x] & 0xf) << 2;
      }
      if (o + n.size > b.length) return -1;
      let v = n.size === 1 ? b[o] : n.size === 2 ? (b[o] << 8) | b[o + 1] : ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
      if (n.mask !== 0xffffffff) v = (v & n.mask) >>> 0;
      const op = n.op;
      const ok = op === OP_EQ ? v === n.k : op === OP_GT ? v > n.k : op === OP_GE ? v >= n.k : (v & n.k) !== 0;
      return ok ? 1 : 0;
    }
  }
}

/** A compiled capture filter (pcap-filter subset). */
export interface CaptureFilter {
  /** The expression as given. */
  readonly expression: string;
  /** Parsed tree; null for the empty expression (everything passes). */
  readonly ast: FilterNode | null;
  /**
   * Does the frame pass? `frame` is the captured bytes from the link-layer header on, as in
   * a pcap record of LINKTYPE `linkType`. Frames of a link type the filter does not know
   * never pass (unless the expression is empty). Never throws.
   */
  match(linkType: number, frame: Uint8Array): boolean;
  /** The lowered program for `linkType` (null: unknown link type). Cached. */
  program(linkType: number): FilterIr | null;
}

/**
 * Parse and compile a pcap-filter expression (the subset in README "Capture filters").
 * Throws {@link CaptureFilterError} for anything outside the subset.
 *
 * @example
 * ```ts
 * const f = compileCaptureFilter("udp port 500 or esp");
 * for (const rec of batch) if (f.match(rec.linkType, rec.data)) keep(rec);
 * ```
 */
export function compileCaptureFilter(expression: string): CaptureFilter {
  const ast = parseCaptureFilter(expression);
  const cache = new Map<number, FilterIr | null>();
  let lastLt = -1;
  let last: FilterIr | null = null;
  const program = (lt: number): FilterIr | null => {
    let p = cache.get(lt);
    if (p === undefined) {
      p = lowerCaptureFilter(ast, lt);
      cache.set(lt, p);
    }
    return p;
  };
  return {
    expression,
    ast,
    program,
    match(linkType, frame) {
      if (ast === null) return true;
      if (linkType !== lastLt) {
        last = program(linkType);
        lastLt = linkType;
      }
      return last !== null && evalFilterIr(last, frame) === 1;
    },
  };
}
