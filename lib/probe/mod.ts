/**
 * MTU probing (runtime-neutral): the path MTU search core, the probe wire format, the
 * responder core, the driver over a `ProbeTransport`, and the tunnel MTU/MSS report.
 * The DF socket itself is platform code (lib/platform/bun/probe-socket.ts).
 *
 * @example Answer probes on a socket you already have
 * ```ts
 * import { MtuResponder, attachResponder } from "./lib/probe/mod.ts";
 * const stop = attachResponder(datagramSocket, new MtuResponder({ secret }));
 * ```
 * @module
 */
export { MtuSearch, type ProbeAction, type SearchOptions, type SearchResult, type SearchStep, type UpperBound } from "./mtu.ts";
export { attachResponder, DEFAULT_RESPONDER_PORT, MtuResponder, type ResponderOptions, type ResponderStats } from "./responder.ts";
export { type MtuRun, type ProbeTransport, runMtuProbe, type RunOptions, type TransportEvent } from "./run.ts";
export { type Encapsulation, mtuReport, type MtuReport, type MtuReportRow } from "./report.ts";
export { DEFAULT_MAX_PROBE_SIZE, MIN_SECRET_LEN, PROBE_HEADER_LEN } from "./wire.ts";
