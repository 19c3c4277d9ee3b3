/**
 * Priority steering for the IKE gate (lib/platform/bun/ike-gate.ts) in the kernel: the plain IKE
 * port is bound twice with SO_REUSEPORT, and this classic BPF program, attached to the group
 * with SO_ATTACH_REUSEPORT_CBPF, picks the socket of each datagram. In the UDP reuseport case
 * the kernel runs it on the UDP payload (the IKE header at offset 0, RFC 7296 §3.1) and takes
 * its return value as the index of the socket in the group (the order they were bound in):
 *
 * - {@link STEER_BULK} (0): a new IKE_SA_INIT request without a COOKIE notify as its first
 *   payload (what a spoofed flood sends), and anything that is not IKEv2 or too short (a
 *   load past the end makes a cBPF program return 0, so the bulk socket must be index 0);
 * - {@link STEER_PRIORITY} (1): an IKE_SA_INIT request whose first payload is N(COOKIE)
 *   (RFC 7296 §2.6: the initiator's retry puts it first), IKE_SA_INIT responses and every
 *   other exchange (IKE_AUTH and later stay on this port when there is no NAT).
 *
 * The gate reads the priority socket first, so a client whose first IKE_SA_INIT got through a
 * flood is not lost on its COOKIE retry or its IKE_AUTH in the flood's queue. Anyone can put a
 * COOKIE notify first or send another exchange type: the priority socket is not trusted (the
 * gate checks the COOKIE as before), it is only spared the blind flood; and the gate reads
 * both sockets every round, so a flood aimed at the priority socket cannot starve the bulk one.
 *
 * {@link steerClass} is the same decision in TypeScript (the gate counts datagrams that came
 * through the other socket than it says; the unit test runs the program against it).
 * Pure data, runtime-neutral.
 * @module
 */
import type { BpfInsn } from "../../../capture/bpf-ipsec.ts";

export const STEER_BULK = 0, STEER_PRIORITY = 1;

const LDB_ABS = 0x30, LDH_ABS = 0x28, AND_K = 0x54, JEQ_K = 0x15, JSET_K = 0x45, RET_K = 0x06;
const EX_INIT = 34, PT_NOTIFY = 41, N_COOKIE = 16390;

/** The reuseport program: returns {@link STEER_BULK} or {@link STEER_PRIORITY}. */
export function gateSteerProgram(): BpfInsn[] {
  // indices: 11 = priority, 12 = bulk; jt/jf are relative to the next instruction
  const P = 11, B = 12;
  const at = (i: number, to: number) => to - i - 1;
  return [
    /* 0 */ { code: LDB_ABS, jt: 0, jf: 0, k: 17 }, // version
    /* 1 */ { code: AND_K, jt: 0, jf: 0, k: 0xf0 },
    /* 2 */ { code: JEQ_K, jt: 0, jf: at(2, B), k: 0x20 }, // major version 2, else bulk
    /* 3 */ { code: LDB_ABS, jt: 0, jf: 0, k: 18 }, // exchange type
    /* 4 */ { code: JEQ_K, jt: 0, jf: at(4, P), k: EX_INIT }, // not IKE_SA_INIT: priority
    /* 5 */ { code: LDB_ABS, jt: 0, jf: 0, k: 19 }, // flags
    /* 6 */ { code: JSET_K, jt: at(6, P), jf: 0, k: 0x20 }, // a response: priority
    /* 7 */ { code: LDB_ABS, jt: 0, jf: 0, k: 16 }, // first payload
    /* 8 */ { code: JEQ_K, jt: 0, jf: at(8, B), k: PT_NOTIFY },
    /* 9 */ { code: LDH_ABS, jt: 0, jf: 0, k: 28 + 6 }, // its notify message type
    /* 10 */ { code: JEQ_K, jt: at(10, P), jf: at(10, B), k: N_COOKIE },
    /* 11 */ { code: RET_K, jt: 0, jf: 0, k: STEER_PRIORITY },
    /* 12 */ { code: RET_K, jt: 0, jf: 0, k: STEER_BULK },
  ];
}

/** The program's decision for the IKE message d[off, off+len). */
export function steerClass(d: Uint8Array, off: number, len: number): number {
  if (len < 18 || (d[off + 17] & 0xf0) !== 0x20) return STEER_BULK;
  if (len < 19 || d[off + 18] !== EX_INIT) return len < 19 ? STEER_BULK : STEER_PRIORITY;
  if (len < 20) return STEER_BULK;
  if (d[off + 19] & 0x20) return STEER_PRIORITY;
  if (d[off + 16] !== PT_NOTIFY || len < 36) return STEER_BULK;
  return ((d[off + 34] << 8) | d[off + 35]) === N_COOKIE ? STEER_PRIORITY : STEER_BULK;
}
