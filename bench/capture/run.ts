/**
 * Capture-reader bench: constant memory and packets/s.
 *   bun bench/capture/run.ts [packets=2000000] [dir=/tmp/vpnkit-capture-bench]
 * Generates the files with gen.ts when missing (plus a 10x smaller set, to show
 * that peak RSS does not grow with the file), then runs read.ts once per mode
 * and file in its own process, sequentially (one core).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const N = Number(process.argv[2] ?? 2_000_000);
const DIR = process.argv[3] ?? "/tmp/vpnkit-capture-bench";
const here = new URL(".", import.meta.url).pathname;
const bun = process.execPath;

function ensure(n: number, dir: string) {
  if (!existsSync(`${dir}/bench.pcap`) || !existsSync(`${dir}/bench.pcapng`)) {
    const r = spawnSync(bun, [here + "gen.ts", String(n), dir], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("gen failed");
  }
  if (!existsSync(`${dir}/bench.pcapng.gz`)) spawnSync("sh", ["-c", `gzip -1 -k -c ${dir}/bench.pcapng > ${dir}/bench.pcapng.gz`]);
}

const small = `${DIR}-small`;
ensure(N, DIR);
ensure(Math.floor(N / 10), small);

const runs: [string, string][] = [
  ["lib", `${DIR}/bench.pcap`],
  ["chunk", `${DIR}/bench.pcap`],
  ["chunk-pp", `${DIR}/bench.pcap`],
  ["raw-pp", `${DIR}/bench.pcap`],
  ["minimal", `${DIR}/bench.pcap`],
  ["lib", `${DIR}/bench.pcapng`],
  ["lib", `${DIR}/bench.pcapng.gz`],
  ["lib", `${small}/bench.pcap`],
  ["lib", `${small}/bench.pcapng`],
];
console.log("| mode | file | packets | s | packets/s | CPU ns/packet | MB/s | peak RSS MB | RSS every 200k packets (MB) |");
console.log("|---|---|--:|--:|--:|--:|--:|--:|---|");
for (const [mode, file] of runs) {
  const r = spawnSync(bun, [here + "read.ts", mode, file], { encoding: "utf8" });
  if (r.status !== 0) {
    console.log(`| ${mode} | ${file} | failed: ${r.stderr.trim().split("\n").pop()} |`);
    continue;
  }
  const j = JSON.parse(r.stdout.trim().split("\n").pop()!);
  console.log(`| ${mode} | ${file.replace(/^.*\/(vpnkit-capture-bench[^/]*)\//, "$1/")} | ${j.packets} | ${j.secs} | ${j.pps} | ${j.cpuNsPerPacket} | ${j.mbps} | ${j.peakRssMB} | ${j.rssMB.join(" ")} |`);
}
