/**
 * Capture filters: a hand-written pcap-filter subset (host, net, port, portrange,
 * src/dst, ip, ip6, tcp, udp, sctp, icmp, icmp6, esp, ah, proto, vlan; and/or/not,
 * parentheses), evaluated on raw frames in user space or compiled to classic BPF.
 *
 * @example
 * ```ts
 * import { compileCaptureFilter, compileCaptureFilterBpf } from "./mod.ts";
 * const f = compileCaptureFilter("udp port 500 or udp port 4500 or esp");
 * f.match(1, ethernetFrame);                         // user space
 * const prog = compileCaptureFilterBpf(f.ast, 1);    // kernel (null: filter in user space)
 * ```
 * @module
 */
export { CaptureFilterError, type CaptureFilterErrorKind, FILTER_WORDS, type FilterDir, type FilterNode, formatCaptureFilter } from "./ast.ts";
export { parseCaptureFilter } from "./parse.ts";
export { FILTER_LINKTYPES, type FilterIr, lowerCaptureFilter } from "./lower.ts";
export { type CaptureFilter, compileCaptureFilter, evalFilterIr, type IrResult } from "./eval.ts";
export { BPF_MAXINSNS, type BpfInsn, type BpfOptions, compileCaptureFilterBpf, formatBpf } from "./bpf.ts";
