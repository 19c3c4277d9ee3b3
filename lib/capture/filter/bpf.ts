/**
 * Capture filter → classic BPF (`struct sock_filter[]`, for SO_ATTACH_FILTER on an
 * AF_PACKET socket). Compiles the same lowered program the user-space evaluator runs, so
 * the kernel keeps exactly the packets {@link CaptureFilter.match} keeps.
 * @module
 */
import type { FilterNode } from "./ast.ts";
import { type FilterIr, IR_AND, IR_CMP, IR_FALSE, IR_NOT, IR_OR, IR_TRUE, lowerCaptureFilter } from "./lower.ts";
import type { BpfInsn } from "../bpf-ipsec.ts";

export type { BpfInsn };

/** Options of {@link compileCaptureFilterBpf}. */
export interface BpfOptions {
  /** Value the program returns for a kept packet (bytes to keep); default 262144. */
  snaplen?: number;
  /**
   * Only for LINKTYPE_LINUX_SLL (113) / LINUX_SLL2 (276): the socket is SOCK_DGRAM
   * (`-i any`-style cooked capture), so the data starts at the network header. The
   * cooked header's protocol field is read from the kernel's ancillary
   * `SKF_AD_PROTOCOL`; any other load from the cooked header makes the compile fail (null).
   */
  cooked?: boolean;
  /**
   * The program runs in the kernel on a live AF_PACKET socket. Linux takes 802.1Q tags out
   * of the frame before the filter runs (libpcap reads them back from ancillary data), so
   * an expression with `vlan` gives null there: filter those in user space, on frames with
   * the tags put back, as `CaptureFilter.match` expects.
   */
  live?: boolean;
}

function hasVlan(n: FilterNode): boolean {
  if (n.k === "and" || n.k === "or") return hasVlan(n.a) || hasVlan(n.b);
  if (n.k === "not") return hasVlan(n.a);
  return n.k === "vlan";
}

/** Maximum program length the Linux kernel accepts (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;
const SKF_AD_PROTOCOL = 0xfffff000;

// opcodes
const LD_ABS = 0x20, LD_IND = 0x40, LDX_MSH_B = 0xb1, ALU_AND_K = 0x54, JA = 0x05, RET_K = 0x06;
const SIZE = { 1: 0x10, 2: 0x08, 4: 0x00 } as const;
const JOP = [0x15, 0x25, 0x35, 0x45]; // jeq jgt jge jset (by OP_*)

interface Label {
  at: Ins | null;
}
interface Ins {
  code: number;
  k: number;
  jt?: Label;
  jf?: Label;
}

function relocate(n: FilterIr, hdr: number, protoOff: number): FilterIr | null {
  if (n.t === IR_AND || n.t === IR_OR) {
    const a = relocate(n.a, hdr, protoOff), b = relocate(n.b, hdr, protoOff);
    return a && b ? { t: n.t, a, b } : null;
  }
  if (n.t === IR_NOT) {
    const a = relocate(n.a, hdr, protoOff);
    return a && { t: IR_NOT, a };
  }
  if (n.t !== IR_CMP) return n;
  if (n.x < 0 && n.off === protoOff && n.size === 2) return { ...n, off: SKF_AD_PROTOCOL };
  if (n.off < hdr || (n.x >= 0 && n.x < hdr)) return null;
  return { ...n, off: n.off - hdr, x: n.x >= 0 ? n.x - hdr : -1 };
}

/**
 * Compile a parsed filter (`compileCaptureFilter(expr).ast`, or `parseCaptureFilter(expr)`)
 * to classic BPF for frames of `linkType`. Returns null when it cannot: unknown link
 * type, a load the cooked socket cannot do, `vlan` on a live Ethernet socket, or a program
 * over {@link BPF_MAXINSNS}.
 * Then filter in user space with `CaptureFilter.match`.
 */
export function compileCaptureFilterBpf(ast: FilterNode | null, linkType: number, opts: BpfOptions = {}): BpfInsn[] | null {
  if (opts.live && ast !== null && linkType === 1 && hasVlan(ast)) return null;
  let ir = lowerCaptureFilter(ast, linkType);
  if (ir === null) return null;
  if (opts.cooked) {
    if (linkType !== 113 && linkType !== 276) return null;
    ir = relocate(ir, linkType === 113 ? 16 : 20, linkType === 113 ? 14 : 0);
    if (ir === null) return null;
  }
  const snap = opts.snaplen ?? 262144;
  const code: Ins[] = [];
  const pending: Label[] = [];
  const emit = (i: Ins) => {
    for (const l of pending) l.at = i;
    pending.length = 0;
    code.push(i);
  };
  const label = (): Label => ({ at: null });
  const place = (l: Label) => pending.push(l);
  const acc = label(), rej = label();
  let stack = 0;
  const gen = (n: FilterIr, t: Label, f: Label): void => {
    if (++stack > 10000) throw new RangeError("filter too deep");
    switch (n.t) {
      case IR_TRUE: emit({ code: JA, k: 0, jt: t }); break;
      case IR_FALSE: emit({ code: JA, k: 0, jt: f }); break;
      case IR_NOT: gen(n.a, f, t); break;
      case IR_AND: case IR_OR: {
        const mid = label();
        if (n.t === IR_AND) gen(n.a, mid, f);
        else gen(n.a, t, mid);
        place(mid);
        gen(n.b, t, f);
        break;
      }
      default: {
        if (n.x >= 0) emit({ code: LDX_MSH_B, k: n.x });
        emit({ code: (n.x >= 0 ? LD_IND : LD_ABS) | SIZE[n.size], k: n.off });
        if (n.mask !== 0xffffffff) emit({ code: ALU_AND_K, k: n.mask });
        emit({ code: JOP[n.op], k: n.k, jt: t, jf: f });
      }
    }
    stack--;
  };
  try {
    gen(ir, acc, rej);
  } catch {
    return null;
  }
  place(acc);
  emit({ code: RET_K, k: snap });
  place(rej);
  emit({ code: RET_K, k: 0 });
  // Resolve labels; a conditional jump reaches at most 255 ahead: route longer ones
  // through an unconditional `ja` trampoline placed right after the jump.
  for (;;) {
    if (code.length > BPF_MAXINSNS) return null;
    const pos = new Map<Ins, number>();
    code.forEach((ins, i) => pos.set(ins, i));
    let fixed = true;
    for (let i = 0; i < code.length && fixed; i++) {
      const ins = code[i];
      if (ins.code === JA || !ins.jt) continue;
      for (const side of ["jt", "jf"] as const) {
        const l = ins[side]!;
        if (pos.get(l.at!)! - i - 1 <= 255) continue;
        const tramp: Ins = { code: JA, k: 0, jt: { at: l.at } };
        code.splice(i + 1, 0, tramp);
        ins[side] = { at: tramp };
        fixed = false;
        break;
      }
    }
    if (!fixed) continue;
    return code.map((ins, i) => {
      if (ins.code === JA) return { code: JA, jt: 0, jf: 0, k: pos.get(ins.jt!.at!)! - i - 1 };
      if (!ins.jt) return { code: ins.code, jt: 0, jf: 0, k: ins.k >>> 0 };
      return { code: ins.code, jt: pos.get(ins.jt.at!)! - i - 1, jf: pos.get(ins.jf!.at!)! - i - 1, k: ins.k >>> 0 };
    });
  }
}

/** Human-readable listing in the style of `tcpdump -d`. */
export function formatBpf(prog: readonly BpfInsn[]): string {
  const sz = (c: number) => (c & 0x18) === 0x10 ? "b" : (c & 0x18) === 0x08 ? "h" : "";
  return prog.map((p, i) => {
    const n = `(${String(i).padStart(3, "0")}) `;
    const hex = "#0x" + p.k.toString(16);
    const at = p.k >= SKF_AD_PROTOCOL ? "proto" : String(p.k);
    let s: string;
    if (p.code === RET_K) s = `ret      #${p.k}`;
    else if (p.code === JA) s = `ja       ${i + 1 + p.k}`;
    else if (p.code === LDX_MSH_B) s = `ldxb     4*([${p.k}]&0xf)`;
    else if ((p.code & 0xe7) === LD_ABS) s = `ld${sz(p.code)}`.padEnd(9) + `[${at}]`;
    else if ((p.code & 0xe7) === LD_IND) s = `ld${sz(p.code)}`.padEnd(9) + `[x + ${p.k}]`;
    else if (p.code === ALU_AND_K) s = `and      ${hex}`;
    else s = `${["jeq", "jgt", "jge", "jset"][JOP.indexOf(p.code)] ?? "?"}`.padEnd(9) + hex.padEnd(17) + `jt ${i + 1 + p.jt}\tjf ${i + 1 + p.jf}`;
    return n + s;
  }).join("\n");
}
