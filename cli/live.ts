/**
 * `-i IFACE` of `vpnkit decode` and `vpnkit diagnose`: open a live capture (Linux,
 * lib/platform/bun/af-packet.ts, loaded only when asked for) and say what it listens
 * to; errors become one line on stderr and an exit code.
 */
import { type LiveCapture, LiveCapturePermissionError, liveCaptureUnsupported } from "../lib/capture/live.ts";
import type { CaptureFilter } from "../lib/capture/filter/mod.ts";
import { EXIT } from "./exit.ts";

export interface LiveArgs {
  interface: string;
  ikePort?: number[];
  nattPort?: number[];
  tcpPort?: number[];
  /** A user filter expression (replaces the default IPsec-only filter, as tcpdump's does). */
  captureFilter?: CaptureFilter;
}

/** Accept every packet whole: the kernel program when a user filter cannot be compiled for it. */
const ACCEPT_ALL = [{ code: 0x06, jt: 0, jf: 0, k: 0x40000 }];

/** The live capture, or null after printing why not (exit code set). */
export async function openLive(cmd: string, o: LiveArgs, platform: string = process.platform): Promise<LiveCapture | null> {
  const fail = (msg: string, code: number) => {
    process.stderr.write(`vpnkit ${cmd}: ${msg}\n`);
    process.exitCode = code;
    return null;
  };
  const why = liveCaptureUnsupported(platform);
  if (why) return fail(why, EXIT.USAGE);
  const udp = [...(o.ikePort ?? []), ...(o.nattPort ?? [])];
  const tcp = o.tcpPort ?? [];
  let cap: LiveCapture;
  try {
    const { openAfPacket } = await import("../lib/platform/bun/af-packet.ts");
    const cf = o.captureFilter;
    if (cf === undefined) cap = openAfPacket({ iface: o.interface, udpPorts: udp, tcpPorts: tcp });
    else {
      const { compileCaptureFilterBpf } = await import("../lib/capture/filter/mod.ts");
      cap = openAfPacket({
        iface: o.interface,
        // in the kernel where the expression compiles for this socket (cooked: the data starts
        // at the network header), and always in user space too, so both agree by construction
        filter: ({ linkType }) => compileCaptureFilterBpf(cf.ast, linkType, { cooked: linkType === 113 || linkType === 276, live: true }) ?? ACCEPT_ALL,
        predicate: (rec) => cf.match(rec.linkType, rec.data),
      });
    }
  } catch (e) {
    return fail((e as Error).message, e instanceof LiveCapturePermissionError ? EXIT.RUNTIME : EXIT.USAGE);
  }
  const what = o.captureFilter !== undefined
    ? `filter: ${o.captureFilter.expression}`
    : `IPsec traffic: UDP ${[500, 4500, ...udp].join("/")}, ESP, AH, TCP ${[4500, ...tcp].join("/")}, IP fragments`;
  process.stderr.write(`vpnkit ${cmd}: listening on ${o.interface} (${what})\n`);
  return cap;
}

/** Close a live capture and print tcpdump's closing counts on stderr. */
export function closeLive(cap: LiveCapture): void {
  const st = cap.stats();
  cap.close();
  process.stderr.write(`${st.captured} packets captured${st.kernelDrops !== undefined ? `, ${st.kernelDrops} dropped by kernel` : ""}\n`);
}
