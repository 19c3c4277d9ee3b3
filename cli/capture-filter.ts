/**
 * The pcap-filter expression after the capture file (`vpnkit decode FILE udp port 500`):
 * joined with spaces as tcpdump does, compiled by lib/capture/filter (loaded only when an
 * expression is given, for start-up time).
 */
import { EXIT } from "./exit.ts";
import type { CaptureFilter } from "../lib/capture/filter/mod.ts";

/** Help text for the `[expression...]` argument. */
export const FILTER_ARG_HELP =
  "pcap-filter expression, as tcpdump takes it (one quoted argument or several words): host, net, port, portrange, src, dst, ip, ip6, tcp, udp, sctp, icmp, icmp6, esp, ah, proto, vlan, and/or/not, parentheses";

/**
 * Compile the expression words. Returns undefined when there are none, null after printing
 * `vpnkit CMD: filter: ...` and setting exit code 2 when the expression is refused.
 */
export async function captureFilterArg(cmd: string, words: readonly string[]): Promise<CaptureFilter | undefined | null> {
  const expr = words.join(" ").trim();
  if (expr === "") return undefined;
  const { compileCaptureFilter, CaptureFilterError } = await import("../lib/capture/filter/mod.ts");
  try {
    return compileCaptureFilter(expr);
  } catch (e) {
    if (!(e instanceof CaptureFilterError)) throw e;
    process.stderr.write(`vpnkit ${cmd}: filter: ${e.message}\n`);
    process.exitCode = EXIT.USAGE;
    return null;
  }
}

const FILTER_START = /^(host|net|port|portrange|src|dst|ip|ip6|tcp|udp|sctp|icmp|icmp6|esp|ah|proto|vlan|not|!|\()$/;

/** When the "capture" that could not be opened looks like the start of a filter: a hint. */
export function captureFilterHint(cmd: string, capture: string): string {
  return FILTER_START.test(capture) ? ` (the capture file comes before the filter; for stdin: vpnkit ${cmd} - ${capture} ...)` : "";
}
