/**
 * The default kernel filter of live capture (`vpnkit decode -i IFACE`): a classic BPF
 * program (the `struct sock_filter` instructions of SO_ATTACH_FILTER) that keeps IPsec
 * traffic only, so a busy interface does not drown the process:
 *
 * - IPv4 and IPv6: ESP (50), AH (51); UDP with source or destination port 500 or 4500
 *   (and the extra IKE/NAT-T ports given); TCP port 4500 (RFC 9329, and the extra TCP ports);
 * - every IPv4 fragment (MF set or a non-zero offset) and every IPv6 packet whose first
 *   next header is a Fragment header: a fragmented IKE_AUTH must reach the reassembler.
 *
 * IPv6 packets whose first next header is another extension header (hop-by-hop,
 * routing, destination options) are not followed and are dropped, as are VLAN-tagged
 * frames whose tag the NIC left in the frame.
 *
 * Pure data, runtime-neutral: the platform layer (lib/platform/bun/af-packet.ts) encodes
 * and attaches it; tests run it in a small interpreter against real packets.
 * @module
 */

/** One cBPF instruction (`struct sock_filter`). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Opcodes used here (linux/filter.h, linux/bpf_common.h). */
export const BPF = {
  LD_W_ABS: 0x20,
  LD_H_ABS: 0x28,
  LD_B_ABS: 0x30,
  LD_H_IND: 0x48,
  LD_B_IND: 0x50,
  LDX_B_MSH: 0xb1,
  JEQ_K: 0x15,
  JSET_K: 0x45,
  JA: 0x05,
  RET_K: 0x06,
} as const;

/** Ancillary load of skb->protocol (SKF_AD_OFF + SKF_AD_PROTOCOL): the EtherType, host order. */
export const SKF_AD_PROTOCOL_K = 0xfffff000;

export interface IpsecFilterOptions {
  /** Bytes before the IP header: 14 (Ethernet, SOCK_RAW) or 0 (SOCK_DGRAM, raw IP). */
  linkHeader: 0 | 14;
  /** Where the EtherType is read from: offset 12 of the Ethernet header, or skb->protocol. */
  protocolFrom: "ethernet" | "skb";
  /** UDP ports carrying IKE or NAT-T besides 500 and 4500 (--ike-port, --natt-port). */
  udpPorts?: number[];
  /** TCP ports carrying RFC 9329 besides 4500 (--tcp-port). */
  tcpPorts?: number[];
  /** Bytes kept of an accepted packet (the RET value). */
  snaplen?: number;
}

type Target = string | number;
interface Sym {
  code: number;
  k: number;
  jt?: Target;
  jf?: Target;
  label?: string;
}

/** Resolve symbolic jump targets (labels) into the forward offsets cBPF wants. */
function assemble(prog: Sym[]): BpfInsn[] {
  const at = new Map<string, number>();
  prog.forEach((s, i) => s.label && at.set(s.label, i));
  const off = (t: Target | undefined, i: number): number => {
    if (t === undefined) return 0;
    const to = typeof t === "number" ? i + 1 + t : at.get(t);
    if (to === undefined) throw new Error(`bpf: no label ${t}`);
    const d = to - i - 1;
    if (d < 0 || d > 255) throw new Error(`bpf: jump to ${t} out of range (${d})`);
    return d;
  };
  return prog.map((s, i) => ({ code: s.code, jt: off(s.jt, i), jf: off(s.jf, i), k: s.k >>> 0 }));
}

/** A chain of `jeq` tests of A against `values`: any match jumps to `yes`, none to `no`. */
function anyOf(values: number[], yes: string, no: string): Sym[] {
  return values.map((v, i) => ({ code: BPF.JEQ_K, k: v, jt: yes, jf: i === values.length - 1 ? no : 0 }));
}

/** The default IPsec-only program (see the module doc). */
export function ipsecFilter(o: IpsecFilterOptions): BpfInsn[] {
  const L = o.linkHeader;
  const udp = [...new Set([500, 4500, ...(o.udpPorts ?? [])])];
  const tcp = [...new Set([4500, ...(o.tcpPorts ?? [])])];
  const snap = o.snaplen ?? 262144;
  const p: Sym[] = [
    o.protocolFrom === "ethernet" ? { code: BPF.LD_H_ABS, k: 12 } : { code: BPF.LD_H_ABS, k: SKF_AD_PROTOCOL_K },
    { code: BPF.JEQ_K, k: 0x0800, jt: "v4", jf: 0 },
    { code: BPF.JEQ_K, k: 0x86dd, jt: "v6", jf: "drop" },
    // IPv4
    { label: "v4", code: BPF.LD_B_ABS, k: L + 9 },
    { code: BPF.JEQ_K, k: 50, jt: "keep", jf: 0 },
    { code: BPF.JEQ_K, k: 51, jt: "keep", jf: 0 },
    { code: BPF.LD_H_ABS, k: L + 6 },
    { code: BPF.JSET_K, k: 0x3fff, jt: "keep", jf: 0 }, // MF or a fragment offset
    { code: BPF.LD_B_ABS, k: L + 9 },
    { code: BPF.JEQ_K, k: 17, jt: "udp4", jf: 0 },
    { code: BPF.JEQ_K, k: 6, jt: "tcp4", jf: "drop" },
    { label: "udp4", code: BPF.LDX_B_MSH, k: L }, // X = IPv4 header length
    { code: BPF.LD_H_IND, k: L },
    ...anyOf(udp, "keep", "udp4d"),
    { label: "udp4d", code: BPF.LD_H_IND, k: L + 2 },
    ...anyOf(udp, "keep", "drop"),
    { label: "tcp4", code: BPF.LDX_B_MSH, k: L },
    { code: BPF.LD_H_IND, k: L },
    ...anyOf(tcp, "keep", "tcp4d"),
    { label: "tcp4d", code: BPF.LD_H_IND, k: L + 2 },
    ...anyOf(tcp, "keep", "drop"),
    // IPv6: the first next header only
    { label: "v6", code: BPF.LD_B_ABS, k: L + 6 },
    { code: BPF.JEQ_K, k: 50, jt: "keep", jf: 0 },
    { code: BPF.JEQ_K, k: 51, jt: "keep", jf: 0 },
    { code: BPF.JEQ_K, k: 44, jt: "keep", jf: 0 }, // Fragment header
    { code: BPF.JEQ_K, k: 17, jt: "udp6", jf: 0 },
    { code: BPF.JEQ_K, k: 6, jt: "tcp6", jf: "drop" },
    { label: "udp6", code: BPF.LD_H_ABS, k: L + 40 },
    ...anyOf(udp, "keep", "udp6d"),
    { label: "udp6d", code: BPF.LD_H_ABS, k: L + 42 },
    ...anyOf(udp, "keep", "drop"),
    { label: "tcp6", code: BPF.LD_H_ABS, k: L + 40 },
    ...anyOf(tcp, "keep", "tcp6d"),
    { label: "tcp6d", code: BPF.LD_H_ABS, k: L + 42 },
    ...anyOf(tcp, "keep", "drop"),
    { label: "keep", code: BPF.RET_K, k: snap },
    { label: "drop", code: BPF.RET_K, k: 0 },
  ];
  return assemble(p);
}

/** `struct sock_filter[]` bytes in the host's byte order (little-endian on the Linux targets). */
export function encodeBpf(prog: readonly BpfInsn[], littleEndian = true): Uint8Array {
  const b = new Uint8Array(prog.length * 8);
  const dv = new DataView(b.buffer);
  prog.forEach((x, i) => {
    dv.setUint16(i * 8, x.code, littleEndian);
    b[i * 8 + 2] = x.jt;
    b[i * 8 + 3] = x.jf;
    dv.setUint32(i * 8 + 4, x.k >>> 0, littleEndian);
  });
  return b;
}
