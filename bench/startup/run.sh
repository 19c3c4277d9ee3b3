#!/usr/bin/env bash
# Start-up time and size of the vpnkit executable: the plain build (scripts/build.ts)
# against the release build (scripts/build.ts --release: --bytecode --minify), plus
# Bun's own floor (an empty program compiled the same two ways), and the release flags
# with --format=esm (build.ts's --bytecode output is CommonJS).
#
#   bash bench/startup/run.sh [runs] [rounds]   (default 100 runs per command, in 5 rounds)
#
# Needs hyperfine and editcap (apt-get install -y hyperfine tshark). Medians are what
# count; on a shared machine the minimum and the CPU time (user+sys, which other
# processes disturb less than wall time) say more. The load average is printed too.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-100}
rounds=${2:-5}
out=bench/out/startup
bun=node_modules/.bin/bun
mkdir -p "$out"
rm -f "$out"/startup.*.json

# the capture: the first 10 packets of a real strongSwan exchange
editcap -r fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap "$out/10.pcap" 1-10

"$bun" scripts/build.ts --outfile "$out/vpnkit-plain" >/dev/null
"$bun" scripts/build.ts --release --outfile "$out/vpnkit-release" >/dev/null
# the same release flags with ESM output instead of Bun's default CommonJS for --bytecode
"$bun" build cli/main.ts --compile --bytecode --minify --format=esm --outfile "$out/vpnkit-release-esm" >/dev/null
echo 'console.log("0")' > "$out/empty.ts"
"$bun" build "$out/empty.ts" --compile --outfile "$out/empty-plain" >/dev/null
"$bun" build "$out/empty.ts" --compile --bytecode --minify --format=esm --outfile "$out/empty-release" >/dev/null

cmds=()
for v in plain release release-esm; do
  cmds+=("$out/vpnkit-$v --version" "$out/vpnkit-$v decode $out/10.pcap")
done
cmds+=("$out/empty-plain" "$out/empty-release")
# Rounds: every command gets runs/rounds runs per round, so a burst of load from other
# processes spreads over all commands instead of spoiling one.
per=$(( (runs + rounds - 1) / rounds ))
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  hyperfine -N --warmup 5 --runs "$per" --export-json "$out/startup.$r.json" "${cmds[@]}" >/dev/null 2>&1
done

echo "## $(date -u +%F) $(git describe --always --dirty), bun $("$bun" --version), $(nproc) cores, load $load0 -> $(cut -d' ' -f1-3 /proc/loadavg), $rounds x $per runs"
echo
"$bun" -e '
const fs = require("fs");
const files = process.argv.slice(1);
const rounds = files.map((f) => JSON.parse(fs.readFileSync(f, "utf8")).results);
const ms = (s) => (s * 1000).toFixed(1);
const median = (a) => { const b = [...a].sort((x, y) => x - y); const m = b.length >> 1; return b.length % 2 ? b[m] : (b[m - 1] + b[m]) / 2; };
console.log("| command | median | min | CPU (user+sys, mean) | size |");
console.log("|---|---:|---:|---:|---:|");
rounds[0].forEach((r0, i) => {
  const rs = rounds.map((rr) => rr[i]);
  const times = rs.flatMap((r) => r.times);
  const cpu = rs.reduce((a, r) => a + r.user + r.system, 0) / rs.length;
  const mib = (fs.statSync(r0.command.split(" ")[0]).size / 2 ** 20).toFixed(1);
  console.log(`| \`${r0.command.replace(/bench\/out\/startup\//g, "")}\` | ${ms(median(times))} ms | ${ms(Math.min(...times))} ms | ${ms(cpu)} ms | ${mib} MiB |`);
});' "$out"/startup.*.json
