/**
 * A small classic-BPF interpreter for tests: runs `struct sock_filter[]` programs the way
 * the Linux kernel does for the instructions vpnkit's compiler may emit (ld/ldx/alu and/
 * jmp/ret, SKF_AD_PROTOCOL). A load past the end returns 0 (packet rejected). Throws on
 * an invalid program (bad opcode, jump out of range, falling off the end).
 */
import type { BpfInsn } from "../../lib/capture/filter/mod.ts";

const SKF_AD_OFF = 0xfffff000;

export function runBpf(prog: readonly BpfInsn[], pkt: Uint8Array, opts: { protocol?: number } = {}): number {
  let A = 0, X = 0;
  const load = (off: number, size: number): number | null => {
    if (off >= SKF_AD_OFF) {
      if (off === SKF_AD_OFF && opts.protocol !== undefined) return opts.protocol;
      throw new Error(`unsupported ancillary load ${off.toString(16)}`);
    }
    if (off + size > pkt.length) return null;
    if (size === 1) return pkt[off];
    if (size === 2) return (pkt[off] << 8) | pkt[off + 1];
    return ((pkt[off] << 24) | (pkt[off + 1] << 16) | (pkt[off + 2] << 8) | pkt[off + 3]) >>> 0;
  };
  for (let pc = 0, steps = 0; ; steps++) {
    if (pc < 0 || pc >= prog.length || steps > 100000) throw new Error(`pc ${pc} out of program`);
    const { code, jt, jf, k } = prog[pc];
    const size = (code & 0x18) === 0x10 ? 1 : (code & 0x18) === 0x08 ? 2 : 4;
    switch (code & 0x07) {
      case 0x00: { // LD
        const mode = code & 0xe0;
        let v: number | null;
        if (mode === 0x20) v = load(k, size);
        else if (mode === 0x40) v = load((X + k) >>> 0, size);
        else if (mode === 0x00) v = k;
        else if (mode === 0x80) v = pkt.length;
        else throw new Error(`bad ld ${code.toString(16)}`);
        if (v === null) return 0;
        A = v >>> 0;
        pc++;
        break;
      }
      case 0x01: { // LDX
        if (code === 0xb1) {
          if (k >= pkt.length) return 0;
          X = (pkt[k] & 0xf) << 2;
        } else if (code === 0x01) X = k >>> 0;
        else throw new Error(`bad ldx ${code.toString(16)}`);
        pc++;
        break;
      }
      case 0x04: // ALU
        if (code !== 0x54) throw new Error(`bad alu ${code.toString(16)}`);
        A = (A & k) >>> 0;
        pc++;
        break;
      case 0x05: { // JMP
        if (code === 0x05) {
          pc += 1 + k;
          break;
        }
        if (jt > 255 || jf > 255) throw new Error("jump offset > 255");
        const op = code & 0xf0;
        const r = op === 0x10 ? A === k >>> 0 : op === 0x20 ? A > k >>> 0 : op === 0x30 ? A >= k >>> 0 : op === 0x40 ? (A & k) !== 0 : null;
        if (r === null || (code & 0x08) !== 0) throw new Error(`bad jmp ${code.toString(16)}`);
        pc += 1 + (r ? jt : jf);
        break;
      }
      case 0x06:
        if (code !== 0x06) throw new Error(`bad ret ${code.toString(16)}`);
        return k >>> 0;
      default:
        throw new Error(`bad opcode ${code.toString(16)}`);
    }
  }
}
