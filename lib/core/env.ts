/**
 * Every `VPNKIT_*` environment variable vpnkit reads, in one place, with its documentation.
 * Code reads them only through {@link vpnkitEnv}; the man page's ENVIRONMENT section and
 * `vpnkit up --help` are generated from {@link VPNKIT_ENV}. Most are benchmark knobs
 * (bench/tunnel/README.md) that keep an older code path for before/after measurements.
 * (VPNKIT_VERSION is not one: it is a build-time constant, scripts/build.ts.)
 * @module
 */

export interface EnvVar {
  name: string;
  doc: string;
}

export const VPNKIT_ENV = [
  { name: "VPNKIT_DEBUG", doc: "when set, the log level is debug (same as --log-level debug) and an internal error prints its stack trace" },
  { name: "VPNKIT_DATAPLANE", doc: "\"main\": run the packet path on the main thread instead of its own worker (benchmarks)" },
  { name: "VPNKIT_TUN_READER", doc: "\"poll\": wake the TUN reader by polling instead of epoll (benchmarks)" },
  { name: "VPNKIT_TUN_OFFLOAD", doc: "\"0\": plain TUN without TSO/GRO-like offload" },
  { name: "VPNKIT_UDP_IMPL", doc: "\"dgram\": node:dgram UDP socket on the main-thread path (benchmarks)" },
  { name: "VPNKIT_UDP_GSO", doc: "\"0\": send batches with sendmmsg instead of UDP GSO" },
  { name: "VPNKIT_UDP_BUF", doc: "UDP socket buffer size in bytes (0 keeps the kernel default)" },
  { name: "VPNKIT_AEAD", doc: "\"default\": AEAD in TypeScript (@noble/ciphers) instead of libcrypto via FFI" },
  { name: "VPNKIT_KEEP_WARM_MS", doc: "keep-warm tick in ms, overriding keep_warm (benchmarks)" },
  { name: "VPNKIT_KEEP_WARM_FOR_MS", doc: "how long after the last packet the keep-warm ticks go on (ms, default 5000)" },
  { name: "VPNKIT_IDLE_WAIT_MS", doc: "the packet-path worker's idle wait in ms (default 50)" },
  { name: "VPNKIT_WARM_SAS", doc: "\"0\": do not warm up new SAs' code paths" },
  { name: "VPNKIT_WARMUP", doc: "packets in the start-up warm-up of the packet path (default 4000)" },
  { name: "VPNKIT_IKE_GATE", doc: "\"0\": a responder reads UDP 500 on the main thread instead of the IKE gate's thread (COOKIE answers to a flood off the main thread; benchmarks)" },
  { name: "VPNKIT_IKE_STEER", doc: "\"0\": one UDP 500 socket per family for the IKE gate instead of a kernel-steered bulk / priority pair (benchmarks)" },
  { name: "VPNKIT_YOUNG_GC_MS", doc: "young-generation GC interval in ms while IKE datagrams arrive (default 50; 0: off, benchmarks)" },
  { name: "VPNKIT_BENCH_EXTRA_CHILDREN", doc: "install N idle Child SAs with distinct /32 selectors next to the real one (the 1,000-SA throughput benchmark)" },
] as const satisfies readonly EnvVar[];

export type VpnkitEnvName = (typeof VPNKIT_ENV)[number]["name"];

/** The value of a listed VPNKIT_* variable (undefined when unset). */
export function vpnkitEnv(name: VpnkitEnvName): string | undefined {
  return typeof process === "undefined" ? undefined : process.env[name];
}
