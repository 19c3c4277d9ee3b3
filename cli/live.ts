/**
 * `-i IFACE` of `vpnkit decode` and `vpnkit diagnose`: open a live capture (Linux,
 * lib/platform/bun/af-packet.ts, loaded only when asked for) and say what it listens
 * to; errors become one line on stderr and an exit code.
 */
import { type LiveCapture, LiveCapturePermissionError, liveCaptureUnsupported } from "../lib/capture/live.ts";
import { EXIT } from "./exit.ts";

export interface LiveArgs {
  interface: string;
  ikePort?: number[];
  nattPort?: number[];
  tcpPort?: number[];
}

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
    cap = openAfPacket({ iface: o.interface, udpPorts: udp, tcpPorts: tcp });
  } catch (e) {
    return fail((e as Error).message, e instanceof LiveCapturePermissionError ? EXIT.RUNTIME : EXIT.USAGE);
  }
  process.stderr.write(`vpnkit ${cmd}: listening on ${o.interface} (IPsec traffic: UDP ${[500, 4500, ...udp].join("/")}, ESP, AH, TCP ${[4500, ...tcp].join("/")}, IP fragments)\n`);
  return cap;
}

/** Close a live capture and print tcpdump's closing counts on stderr. */
export function closeLive(cap: LiveCapture): void {
  const st = cap.stats();
  cap.close();
  process.stderr.write(`${st.captured} packets captured${st.kernelDrops !== undefined ? `, ${st.kernelDrops} dropped by kernel` : ""}\n`);
}
