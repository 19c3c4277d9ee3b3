/**
 * A small classic-BPF interpreter (the subset of linux/filter.h that lib/capture's
 * programs use, plus the usual ALU/LDX forms), for testing filters against real
 * packets without a kernel. Out-of-bounds loads reject the packet (return 0), as the
 * kernel's interpreter does. `protocol` answers the SKF_AD_PROTOCOL ancillary load.
 */
import type { BpfInsn } from "../../lib/capture/bpf-ipsec.ts";

export function runBpf(prog: readonly BpfInsn[], pkt: Uint8Array, protocol = 0): number {
  let A = 0, X = 0;
  const M = new Uint32Array(16);
  const load = (k: number, size: 1 | 2 | 4): number | null => {
    if (k >= 0xfffff000) {
      if (k === 0xfffff000) return protocol; // SKF_AD_OFF + SKF_AD_PROTOCOL
      throw new Error(`unsupported ancillary load ${k.toString(16)}`);
    }
    if (k < 0 || k + size > pkt.length) return null;
    return size === 1 ? pkt[k] : size === 2 ? (pkt[k] << 8) | pkt[k + 1] : ((pkt[k] << 24) | (pkt[k + 1] << 16) | (pkt[k + 2] << 8) | pkt[k + 3]) >>> 0;
  };
  for (let pc = 0, steps = 0; pc < prog.length; pc++) {
    if (++steps > 4096) throw new Error("bpf: too many steps");
    const { code, jt, jf, k } = prog[pc];
    const cls = code & 7;
    switch (cls) {
      case 0x00: // LD
      case 0x01: { // LDX
        const mode = code & 0xe0, size = code & 0x18;
        const sz = size === 0x10 ? 1 : size === 0x08 ? 2 : 4;
        let v: number | null;
        if (cls === 0x01 && mode === 0xa0) { // LDX B MSH: 4 * (pkt[k] & 0xf)
          const b = load(k, 1);
          if (b === null) return 0;
          X = (b & 0xf) * 4;
          break;
        }
        if (mode === 0x00) v = k >>> 0; // IMM
        else if (mode === 0x20) v = load(k, sz as 1 | 2 | 4); // ABS
        else if (mode === 0x40) v = load((X + k) >>> 0, sz as 1 | 2 | 4); // IND
        else if (mode === 0x60) v = M[k & 15]; // MEM
        else if (mode === 0x80) v = pkt.length; // LEN
        else throw new Error(`bpf: unsupported load mode ${code.toString(16)}`);
        if (v === null) return 0;
        if (cls === 0x00) A = v;
        else X = v;
        break;
      }
      case 0x02: M[k & 15] = A; break; // ST
      case 0x03: M[k & 15] = X; break; // STX
      case 0x04: { // ALU
        const src = code & 0x08 ? X : k;
        switch (code & 0xf0) {
          case 0x00: A = (A + src) >>> 0; break;
          case 0x10: A = (A - src) >>> 0; break;
          case 0x20: A = Math.imul(A, src) >>> 0; break;
          case 0x30: if (src === 0) return 0; A = Math.floor(A / src) >>> 0; break;
          case 0x40: A = (A | src) >>> 0; break;
          case 0x50: A = (A & src) >>> 0; break;
          case 0x60: A = (A << src) >>> 0; break;
          case 0x70: A = A >>> src; break;
          case 0x80: A = -A >>> 0; break;
          default: throw new Error(`bpf: unsupported alu ${code.toString(16)}`);
        }
        break;
      }
      case 0x05: { // JMP
        const op = code & 0xf0;
        if (op === 0x00) { pc += k; break; }
        const src = code & 0x08 ? X : k >>> 0;
        const c = op === 0x10 ? A === src : op === 0x20 ? A > src : op === 0x30 ? A >= src : op === 0x40 ? (A & src) !== 0 : (() => { throw new Error(`bpf: unsupported jump ${code.toString(16)}`); })();
        pc += c ? jt : jf;
        break;
      }
      case 0x06: return code & 0x10 ? A : k >>> 0; // RET (A or K)
      case 0x07: if (code & 0x80) A = X; else X = A; break; // MISC: TXA / TAX
    }
  }
  throw new Error("bpf: fell off the end of the program");
}
