#!/usr/bin/env bash
# Start-up time and size of the vpnkit executable: the plain build (scripts/build.ts)
# against the release build (scripts/build.ts --release: --bytecode --minify), plus
# Bun's own floor (an empty program compiled the same two ways).
#
#   bash bench/startup/run.sh [runs]        (default 100 runs per command)
#
# Needs hyperfine and editcap (apt-get install -y hyperfine tshark). Medians are what
# count; on a shared machine the minimum and the CPU time (user+sys, which other
# processes disturb less than wall time) say more. The load average is printed too.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-100}
out=bench/out/startup
bun=node_modules/.bin/bun
mkdir -p "$out"

# the capture: the first 10 packets of a real strongSwan exchange
editcap -r fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap "$out/10.pcap" 1-10

"$bun" scripts/build.ts --outfile "$out/vpnkit-plain" >/dev/null
"$bun" scripts/build.ts --release --outfile "$out/vpnkit-release" >/dev/null
echo 'console.log("0")' > "$out/empty.ts"
"$bun" build "$out/empty.ts" --compile --outfile "$out/empty-plain" >/dev/null
"$bun" build "$out/empty.ts" --compile --bytecode --minify --format=esm --outfile "$out/empty-release" >/dev/null

cmds=()
for v in plain release; do
  cmds+=("$out/vpnkit-$v --version" "$out/vpnkit-$v decode $out/10.pcap")
done
cmds+=("$out/empty-plain" "$out/empty-release")
hyperfine -N --warmup 10 --runs "$runs" --export-json "$out/startup.json" "${cmds[@]}" >/dev/null

echo "## $(date -u +%F) $(git describe --always --dirty), bun $("$bun" --version), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $runs runs"
echo
"$bun" -e '
const { results } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const { statSync } = require("fs");
console.log("| command | median | mean ± σ | min | CPU (user+sys) | size |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const r of results) {
  const ms = (s) => (s * 1000).toFixed(1);
  const bin = r.command.split(" ")[0];
  const mib = (statSync(bin).size / 2 ** 20).toFixed(1);
  console.log(`| \`${r.command.replace(/bench\/out\/startup\//g, "")}\` | ${ms(r.median)} ms | ${ms(r.mean)} ± ${ms(r.stddev)} ms | ${ms(r.min)} ms | ${ms(r.user + r.system)} ms | ${mib} MiB |`);
}' "$out/startup.json"
