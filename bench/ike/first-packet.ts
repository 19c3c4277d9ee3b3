/**
 * Time from `vpnkit up` (process spawn) to the first ping answered through the tunnel,
 * run inside the initiator's namespace: spawns vpnkit with the given arguments, pings the
 * peer's inner address (ping -c 1 -W 0.02, back to back) until one answer, stops vpnkit.
 * Prints one JSON line: msToFirstPacket, msChildInstalled (vpnkit's own log stamp).
 *
 *   bun bench/ike/first-packet.ts 10.2.0.1 -- up --peer ... (vpnkit up arguments)
 */
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

const dst = process.argv[2];
const args = process.argv.slice(process.argv.indexOf("--") + 1);
const root = join(import.meta.dir, "../..");
const t0 = performance.now();
const wall0 = Date.now();
const p = spawn(process.execPath, [join(root, "cli/main.ts"), ...args], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env } });
let log = "";
p.stderr!.on("data", (b: Buffer) => (log += b.toString()));
let first: number | null = null;
let tries = 0;
while (performance.now() - t0 < 20000 && p.exitCode === null) {
  tries++;
  const r = spawnSync("ping", ["-n", "-c", "1", "-W", "0.02", dst], { encoding: "utf8" });
  if (r.status === 0) {
    first = performance.now() - t0;
    break;
  }
  await new Promise((r) => setTimeout(r, 2));
}
await new Promise((r) => setTimeout(r, 200)); // let the last stderr chunk arrive (the ping loop blocks)
// log lines start with an ISO time stamp ("2026-12-07T00:45:41.942Z info: [ike] Child SA installed: ...")
const installed = /^(\d{4}-\d\d-\d\dT[\d:.]+Z) \w+: .*Child SA installed/m.exec(log);
p.kill("SIGTERM");
await new Promise((r) => setTimeout(r, 1500));
if (p.exitCode === null) p.kill("SIGKILL");
console.log(JSON.stringify({ msToFirstPacket: first === null ? null : Number(first.toFixed(1)), msChildInstalled: installed ? Date.parse(installed[1]) - wall0 : null, pings: tries }));
if (first === null) process.stderr.write(log);
