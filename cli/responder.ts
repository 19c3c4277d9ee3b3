/**
 * `vpnkit responder`: answer authenticated MTU probes (`vpnkit mtu`) on a UDP port.
 * Thin: read the secret, start lib/platform/bun/probe-socket.ts startResponder, stop on
 * SIGINT/SIGTERM. Also the shared-secret file reader used by `vpnkit mtu`.
 */
import { Command } from "@commander-js/extra-typings";
import { readSecretFile as readSecret, SecretFileError } from "../lib/core/secret.ts";
import { DEFAULT_RESPONDER_PORT, type ResponderStats } from "../lib/probe/responder.ts";
import { MIN_SECRET_LEN } from "../lib/probe/wire.ts";
import { EXIT } from "./exit.ts";

/** Thrown for a bad command line or secret file (exit 2). */
export class UsageError extends Error {}

/**
 * The shared secret: the file's bytes without trailing whitespace/newlines (a passphrase or
 * e.g. `head -c 32 /dev/urandom | base64`), at least 16 bytes. Warns on stderr when others
 * may read the file (refuses with `strict`). lib/core/secret.ts does the work.
 */
export function readSecretFile(path: string, warn: (m: string) => void, strict = false): Uint8Array {
  try {
    return readSecret(path, { warn, strict, minLen: MIN_SECRET_LEN });
  } catch (e) {
    if (e instanceof SecretFileError) throw new UsageError(e.message);
    throw e;
  }
}

/** Parse a positive integer option in [lo, hi]. */
export function intOption(v: string | undefined, name: string, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi) throw new UsageError(`${name} must be an integer in ${lo}..${hi} (got ${JSON.stringify(v)})`);
  return Number(v);
}

function statsLine(s: ResponderStats): string {
  return Object.entries(s).filter(([k, v]) => v > 0 || k === "answered").map(([k, v]) => `${k} ${v}`).join(", ");
}

export function responderCommand(): Command {
  const cmd = new Command("responder")
    .description("answer `vpnkit mtu` probes (authenticated with a shared secret, rate-limited, no amplification)")
    .requiredOption("--secret-file <file>", "shared secret (same file as `vpnkit mtu --secret-file`), at least 16 bytes")
    .option("-p, --port <n>", `UDP port (default ${DEFAULT_RESPONDER_PORT})`)
    .option("--listen <addr>", "local address (default \"::\", which also takes IPv4)")
    .option("--max-size <n>", "largest probe answered, total IP bytes (default 9216)")
    .option("--rate <n>", "answers per second per source address (default 200)")
    .option("--global-rate <n>", "answers per second in total (default 2000)")
    .option("--max-skew <sec>", "accepted clock difference to the prober in seconds (default 30)")
    .addHelpText("after", `
Example:
  head -c 32 /dev/urandom | base64 > probe.secret && chmod 600 probe.secret
  vpnkit responder --secret-file probe.secret            # on the peer
  vpnkit mtu PEER --secret-file probe.secret              # on this side`)
    .action(async (o) => {
      const warn = (m: string) => process.stderr.write(`vpnkit responder: ${m}\n`);
      if (process.platform !== "linux") {
        warn(`needs Linux (UDP socket options via libc); this is ${process.platform}`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      let running;
      try {
        const secret = readSecretFile(o.secretFile, warn);
        const port = intOption(o.port, "--port", 1, 65535) ?? DEFAULT_RESPONDER_PORT;
        const rate = intOption(o.rate, "--rate", 1, 1_000_000);
        const grate = intOption(o.globalRate, "--global-rate", 1, 10_000_000);
        const skew = intOption(o.maxSkew, "--max-skew", 1, 86_400);
        const { startResponder } = await import("../lib/platform/bun/probe-socket.ts");
        running = await startResponder({
          secret, port, address: o.listen,
          maxSize: intOption(o.maxSize, "--max-size", 100, 65535),
          perSource: rate ? { rate, burst: rate } : undefined,
          global: grate ? { rate: grate, burst: Math.max(1, Math.ceil(grate / 2)) } : undefined,
          maxSkewMs: skew ? skew * 1000 : undefined,
        });
        secret.fill(0);
      } catch (e) {
        warn((e as Error).message);
        process.exit(e instanceof UsageError ? EXIT.USAGE : EXIT.RUNTIME);
      }
      const r = running;
      const where = o.listen ?? "::";
      warn(`answering MTU probes on ${where.includes(":") ? `[${where}]` : where}:${r.port}`);
      const stop = (sig: string) => {
        warn(`${sig}: ${statsLine(r.responder.stats)}`);
        r.stop();
        process.exit(sig === "SIGINT" ? EXIT.INTERRUPTED : EXIT.OK);
      };
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("SIGTERM", () => stop("SIGTERM"));
    });
  return cmd as unknown as Command;
}
