/** Exit codes of every vpnkit command (documented in README.md). */
export const EXIT = {
  /** Success. Anomalies in the decoded packets are reported, not fatal. */
  OK: 0,
  /** Unexpected internal error (a bug: please report it with VPNKIT_DEBUG=1 output). */
  INTERNAL: 1,
  /** Usage error, unreadable input, or input that is not a capture file. */
  USAGE: 2,
  /** `decode --strict`: at least one packet had an anomaly. */
  ANOMALIES: 3,
  /** Runtime failure of a long-running command (tunnel setup, peer unreachable). */
  RUNTIME: 4,
  /** Interrupted by SIGINT. */
  INTERRUPTED: 130,
} as const;
