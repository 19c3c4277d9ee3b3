/**
 * Issue #12's flood acceptance as a benchmark: a spoofed IKE_SA_INIT flood (scripts/flood/ike-flood.c
 * at the highest rate it reaches, random sources in 198.18.0.0/15, one request in 10 from the
 * legitimate charon client's address) against the README's vpnkit responder, then against charon
 * as a responder with a default connection and default limits, in namespaces vkf2a/b/c (created and
 * deleted here; see test/interop/flood-scenario.ts). During the flood a charon client and the
 * README's vpnkit initiator start; recorded: their time to tunnel, the responder's RSS (VmRSS every
 * 0.5 s), COOKIE answers, SAs during and after.
 *
 *   sudo bun bench/ike/flood.ts [--time 30] [--max 5000000] [--rate 0] [--runs 1] [--out DIR]
 *   sudo VPNKIT_IKE_GATE=0 bun bench/ike/flood.ts --only vpnkit     # UDP 500 read on the main thread (before the IKE gate)
 *   sudo VPNKIT_IKE_STEER=0 bun bench/ike/flood.ts --only vpnkit    # one UDP 500 socket, no kernel priority steering
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type FloodResult, floodTopoDown, floodTopoUp, runFlood } from "../../test/interop/flood-scenario.ts";

const { values } = parseArgs({ options: { time: { type: "string", default: "30" }, max: { type: "string", default: "5000000" }, rate: { type: "string", default: "0" }, runs: { type: "string", default: "1" }, out: { type: "string" }, only: { type: "string" }, limits: { type: "string" } } });
const out = values.out ?? join(import.meta.dir, "../out", `ike-flood-${new Date().toISOString().replace(/[:.]/g, "")}`);
mkdirSync(out, { recursive: true });
const who = (values.only ? [values.only] : ["vpnkit", "charon"]) as ("vpnkit" | "charon")[];
const results: FloodResult[] = [];
process.on("SIGINT", () => {
  floodTopoDown();
  process.exit(130);
});
try {
  for (let r = 1; r <= Number(values.runs); r++) {
    for (const responder of who) {
      floodTopoUp();
      try {
        console.log(`== run ${r}: ${responder} responder, load ${(await Bun.file("/proc/loadavg").text()).trim()}`);
        const res = await runFlood({ responder, seconds: Number(values.time), maxPackets: Number(values.max), rate: Number(values.rate), dir: join(out, `${responder}-${r}`), settleMax: 40, log: console.log, ...(values.limits ? { vpnkitLimits: values.limits.replace(/;\s*/g, "\n") } : {}) });
        results.push(res);
        console.log(JSON.stringify(res));
      } finally {
        floodTopoDown();
      }
    }
  }
} finally {
  floodTopoDown();
}
writeFileSync(join(out, "results.json"), JSON.stringify(results, null, 1));
const mb = (kb: number) => (kb / 1024).toFixed(1);
/** vpnkit's kernel steering counters (lib/platform/bun/ike-gate-steer.ts), "-" without them. */
const steerText = (x: FloodResult) => {
  const t = (x.counters as { gate?: { steer?: { prioReceived: number; prioInits: number; misrouted: number; bulkKernelDrops: number; prioKernelDrops: number } } }).gate?.steer;
  return t ? `${t.prioReceived} (${t.prioInits}) / ${t.misrouted} / ${t.bulkKernelDrops}, ${t.prioKernelDrops}` : "-";
};
const s = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(2));
const rows = [
  ["responder", "flood sent", "pps", "COOKIE answers", "INIT answers", "RSS base MB", "RSS max MB", "RSS after MB", "RSS anon+file KiB at max", "UDP read / rcvbuf drops", "charon client s", "vpnkit initiator s (spawn / 1st INIT)", "SAs during (half-open)", "SAs after (half-open)", "settle s", "load at flood end", "gate steering: priority read (IKE_SA_INITs) / misrouted / kernel drops bulk, priority"],
  ...results.map((x) => [x.responder === "vpnkit" && process.env.VPNKIT_IKE_GATE === "0" ? "vpnkit (VPNKIT_IKE_GATE=0)" : x.responder === "vpnkit" && process.env.VPNKIT_IKE_STEER === "0" ? "vpnkit (VPNKIT_IKE_STEER=0)" : x.responder, String(x.flood.sent), String(x.flood.pps), String(x.answers.cookie), String(x.answers.init), mb(x.rssKb.baseline), mb(x.rssKb.max), mb(x.rssKb.after), x.rssKb.parts?.max ?? "?", `${x.udp?.UdpInDatagrams ?? "?"} / ${x.udp?.UdpRcvbufErrors ?? "?"}`,
    `${x.charonClient.ok ? s(x.charonClient.ms) : "FAILED"}${x.charonClient.floodRunningWhenUp ? "" : " (after flood)"}`,
    `${x.vpnkitInitiator.ok ? `${s(x.vpnkitInitiator.msFromSpawn)} / ${s(x.vpnkitInitiator.msFromFirstInit)}` : "FAILED"}${x.vpnkitInitiator.floodRunningWhenUp ? "" : " (after flood)"}`,
    `${x.during.sas} (${x.during.halfOpen})`, `${x.after.sas} (${x.after.halfOpen})`, x.after.settleS.toFixed(1), x.loadavg.split(" ").slice(0, 3).join(" "), steerText(x)]),
];
const table = rows.map((r, i) => `| ${r.join(" | ")} |` + (i === 0 ? `\n|${r.map(() => "---").join("|")}|` : "")).join("\n");
writeFileSync(join(out, "table.md"), table + "\n");
console.log(table);
console.log(`results in ${out}`);
