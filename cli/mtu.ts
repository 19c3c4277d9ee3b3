/**
 * `vpnkit mtu PEER`: measure the path MTU to a `vpnkit responder` with DF-set UDP probes
 * (lib/probe: search core and driver; lib/platform/bun/probe-socket.ts: the socket), then
 * show what fits inside an ESP tunnel. Thin: parse, call, render.
 */
import { Command } from "@commander-js/extra-typings";
import { DEFAULT_RESPONDER_PORT } from "../lib/probe/responder.ts";
import type { MtuRun } from "../lib/probe/run.ts";
import type { MtuReport } from "../lib/probe/report.ts";
import { EXIT } from "./exit.ts";
import { intOption, readSecretFile, UsageError } from "./responder.ts";

const BOUND_TEXT: Record<string, string> = {
  timeout: "one byte more never got through (no ICMP: black hole or filtered)",
  icmp: "one byte more drew an ICMP too-big",
  local: "one byte more was refused by the local stack (EMSGSIZE: local link MTU, or the path MTU the kernel learnt from ICMP)",
  max: "the local limit was reached (route/interface MTU or --max): the path may take more",
};

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  return right ? t.padEnd(n) : t.padStart(n);
}

export function renderReport(rep: MtuReport): string {
  const lines: string[] = [];
  const ciphers = [...new Set(rep.rows.map((r) => r.cipher))];
  lines.push(`${pad("outer", 6, true)} ${pad("encapsulation", 22, true)} ${ciphers.map((c) => pad(c, 17)).join("")} ${pad("MSS v4", 7)} ${pad("MSS v6", 7)}`);
  const keys = [...new Set(rep.rows.map((r) => `${r.outer}|${r.encap}`))];
  for (const k of keys) {
    const rows = rep.rows.filter((r) => `${r.outer}|${r.encap}` === k);
    const r0 = rows[0];
    const outer = `IPv${r0.outer}${r0.measured ? "" : "*"}`;
    const encap = r0.encap === "udp" ? "ESP-in-UDP (RFC 3948)" : "ESP-in-TCP (RFC 9329)";
    const mss4 = Math.min(...rows.map((r) => r.mssIpv4 ?? 0));
    const mss6 = rows.some((r) => r.mssIpv6 === null) ? "-" : Math.min(...rows.map((r) => r.mssIpv6!));
    lines.push(`${pad(outer, 6, true)} ${pad(encap, 22, true)} ${rows.map((r) => pad(r.innerMtu, 17)).join("")} ${pad(mss4 || "-", 7)} ${pad(mss6, 7)}`);
  }
  if (rep.rows.some((r) => !r.measured)) lines.push(`* not measured: the same path MTU assumed for IPv${rep.family === 4 ? 6 : 4} outer`);
  const c = rep.clamp.udp, t = rep.clamp.tcp;
  lines.push(`clamp TCP MSS to: inner IPv4 ${c.mssIpv4 ?? "-"}, inner IPv6 ${c.mssIpv6 ?? "- (tunnel MTU below 1280)"} (ESP-in-UDP); ${t.mssIpv4 ?? "-"} / ${t.mssIpv6 ?? "-"} (ESP-in-TCP)`);
  return lines.join("\n");
}

export function renderRun(r: MtuRun & { peer: string; address: string; port: number }): string {
  const who = r.peer === r.address ? r.address : `${r.peer} (${r.address})`;
  const lines: string[] = [];
  if (r.pathMtu !== null && r.ok) {
    lines.push(`path MTU to ${who} over IPv${r.family}: ${r.pathMtu} bytes`);
    if (r.bound) lines.push(`  ${BOUND_TEXT[r.bound]}`);
  } else {
    lines.push(`path MTU to ${who} over IPv${r.family}: not determined: ${r.error}`);
    if (r.pathMtu !== null) lines.push(`  largest size acknowledged: ${r.pathMtu} bytes`);
  }
  const srtt = r.srttMs === null ? "-" : `${r.srttMs.toFixed(1)} ms`;
  lines.push(`  ${r.durationMs.toFixed(0)} ms, ${r.probes} probes in ${r.rounds} rounds (${r.acks} acked, ${r.timeouts} timed out, ${r.icmpErrors} ICMP too-big, ${r.localTooBig} refused locally), srtt ${srtt}`);
  lines.push(`  searched ${r.min}..${r.max}; kernel path MTU before ${r.kernelPmtuBefore ?? "-"}, after ${r.kernelPmtuAfter ?? "-"}`);
  for (const e of r.errors) lines.push(`  ${e}`);
  if (r.report) lines.push("", "largest inner packet (tunnel MTU) per cipher:", renderReport(r.report));
  return lines.join("\n");
}

export function mtuCommand(): Command {
  const cmd = new Command("mtu")
    .description("measure the path MTU to a `vpnkit responder` (DF probes, works without ICMP) and the tunnel MTU/MSS it allows")
    .argument("<peer>", "responder host name or address")
    .requiredOption("--secret-file <file>", "shared secret (the responder's --secret-file)")
    .option("-p, --port <n>", `responder UDP port (default ${DEFAULT_RESPONDER_PORT})`)
    .option("-4", "IPv4 only (when PEER is a name)")
    .option("-6", "IPv6 only (when PEER is a name)")
    .option("--min <n>", "smallest size tried, total IP bytes (default 576 IPv4, 1280 IPv6)")
    .option("--max <n>", "largest size tried (default: the kernel's path MTU to the peer, at most 9216)")
    .option("--parallel <n>", "probes per round (default 12)")
    .option("--tries <n>", "unanswered probes before a size counts as too big (default 2; raise on lossy paths)")
    .option("--timeout <ms>", "minimum probe timeout in ms (default 50; the timeout adapts to the RTT)")
    .option("--json", "one JSON object (the whole result)")
    .addHelpText("after", `
Probe sizes are whole IP packets (DF set). Without ICMP (black hole) a size counts as too big
after --tries unanswered probes; an ICMP too-big is used as a hint and verified. The kernel's
cached path MTU to the peer caps the search (flush it with \`ip route flush cache\`).
Exit status 0 when the MTU was found, 4 when not.
Example:
  vpnkit mtu 192.0.2.7 --secret-file probe.secret
  vpnkit mtu vpn.example.net -6 --secret-file probe.secret --json`)
    .action(async (peer, o) => {
      const warn = (m: string) => process.stderr.write(`vpnkit mtu: ${m}\n`);
      if (process.platform !== "linux") {
        warn(`needs Linux (DF probes via IP_MTU_DISCOVER / IP_RECVERR); this is ${process.platform}`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      // the ffi socket loads only here (libc is Linux-only)
      const { measurePathMtu } = await import("../lib/platform/bun/probe-socket.ts");
      const ac = new AbortController();
      const onInt = () => ac.abort();
      process.on("SIGINT", onInt);
      try {
        if (o["4"] && o["6"]) throw new UsageError("-4 and -6 exclude each other");
        const secret = readSecretFile(o.secretFile, warn);
        const minRto = intOption(o.timeout, "--timeout", 1, 60_000);
        const r = await measurePathMtu({
          peer,
          secret,
          port: intOption(o.port, "--port", 1, 65535),
          family: o["4"] ? 4 : o["6"] ? 6 : undefined,
          min: intOption(o.min, "--min", 68, 65535),
          max: intOption(o.max, "--max", 68, 65535),
          parallel: intOption(o.parallel, "--parallel", 1, 64),
          tries: intOption(o.tries, "--tries", 1, 20),
          ...(minRto !== undefined ? { minRtoMs: minRto } : {}),
          signal: ac.signal,
        });
        secret.fill(0);
        process.stdout.write(o.json ? JSON.stringify(r) + "\n" : renderRun(r) + "\n");
        process.exitCode = ac.signal.aborted ? EXIT.INTERRUPTED : r.ok ? EXIT.OK : EXIT.RUNTIME;
      } catch (e) {
        warn((e as Error).message);
        process.exitCode = e instanceof UsageError ? EXIT.USAGE : EXIT.RUNTIME;
      } finally {
        process.off("SIGINT", onInt);
      }
    });
  return cmd as unknown as Command;
}
