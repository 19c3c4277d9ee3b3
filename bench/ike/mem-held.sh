#!/bin/sh
# Where the RSS of 1,000 held IKE SAs goes (issue 12), vpnkit only, as root, in namespaces
# vkm1 (initiators, 192.0.2.1) and vkm2 (responder, 192.0.2.2), deleted on exit. The
# responder runs as in held.sh, with bench/ike/mem-probe.ts preloaded: SIGUSR2 records VmRSS,
# RssAnon and the main thread's JS heap before and after a forced full GC. Samples: before the
# SAs, after HOLD SAs (loadgen.ts --hold, no churn), and (SECOND=1) after HOLD more.
# usage: sudo bench/ike/mem-held.sh   env: HOLD=1000 DP=worker|main EXTRA_ENV="..."
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
HOLD=${HOLD:-1000}; DP=${DP:-worker}
OUT=$ROOT/bench/ike/out/mem-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
A=vkm1; B=vkm2
VPID=""
cleanup() {
  [ -n "$VPID" ] && kill "$VPID" 2>/dev/null || true
  sleep 0.5
  [ -n "$VPID" ] && kill -9 "$VPID" 2>/dev/null || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
ip netns add $A; ip netns add $B
ip link add ${A}e netns $A type veth peer name ${B}e netns $B
ip -n $A addr add 192.0.2.1/24 dev ${A}e; ip -n $B addr add 192.0.2.2/24 dev ${B}e
for ns in $A $B; do ip -n $ns link set lo up; ip -n $ns link set ${ns}e up; done
PSK=$OUT/psk; printf 'vpnkit-bench-psk-0123456789\n' > "$PSK"; chmod 600 "$PSK"
printf '[ike.limits]\nblock_threshold = 100000\ncookie_threshold = 100000\nhalf_open_max = 100000\nmax_sas = 1000000\ninit_rate = 0\n' > "$OUT/limits.toml"
PROBE=$OUT/probe.jsonl
sample() { echo "$1" > "$PROBE.label"; kill -USR2 "$VPID"; sleep 2.5; cat /proc/$VPID/smaps > "$OUT/smaps-$1"; }
[ "$DP" = main ] && DPENV="VPNKIT_DATAPLANE=main" || DPENV=""
env VKM_PROBE_OUT="$PROBE" VPNKIT_UDP_IMPL=dgram $DPENV ${EXTRA_ENV:-} ip netns exec $B "$BUN" ${BUNFLAGS:-} --preload "$ROOT/bench/ike/mem-probe.ts" "$ROOT/cli/main.ts" up --config "$OUT/limits.toml" --responder --local 192.0.2.2 --psk-file "$PSK" \
  --local-ts 10.2.0.0/24 --remote-ts 10.1.0.0/16 --tun-addr 10.2.0.254/32 --tun-name vkmtun --local-id sw@example.org \
  --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal aes256gcm16 --dpd 0 --rekey 0 --ike-rekey 0 --control "$OUT/vk.sock" 2> "$OUT/vpnkit.log" &
VPID=$!
i=0; while ! grep -q "IKEv2 responder: waiting" "$OUT/vpnkit.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
sleep 1
if [ "${WARM:-0}" -gt 0 ]; then
  # warm-up (WARM=N): N handshakes established and deleted first, so that one-time costs (JIT
  # code, code pages, pools) land before the baseline; the Deletes are answered, nothing is held
  ip netns exec $A "$BUN" "$ROOT/bench/ike/loadgen.ts" --target 192.0.2.2 --local 192.0.2.1 --psk-file "$PSK" -n "${N:-32}" --time 60 --count "$WARM" \
    --remote-id sw@example.org --warmup 0 > "$OUT/warm.json"
  sleep 3
fi
sample before
ip netns exec $A "$BUN" "$ROOT/bench/ike/loadgen.ts" --target 192.0.2.2 --local 192.0.2.1 --psk-file "$PSK" -n "${N:-32}" --time 0 --count 0 \
  --remote-id sw@example.org --hold "$HOLD" --responder-pid "$VPID" > "$OUT/lg.json"
# the generator exits without a Delete: the responder keeps the SAs (no DPD)
cat "$OUT/lg.json"
sample held
"$BUN" -e '
const ls = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const K = Number(process.argv[2]);
const by = Object.fromEntries(ls.map((l) => [l.label, l]));
const b = by.before, h = by.held;
const d = (f) => ((f(h) - f(b)) / K).toFixed(1);
console.log(`per SA (K=${K}): VmRSS ${d((x) => x.before.VmRSS)} KiB raw, ${d((x) => x.after.VmRSS)} KiB after a full GC, ${d((x) => x.later.VmRSS)} KiB 1.5 s later, ${h.trimmed ? d((x) => x.trimmed.VmRSS) : "-"} KiB after malloc_trim; RssAnon ${d((x) => x.before.RssAnon)} -> ${d((x) => x.later.RssAnon)} KiB`);
console.log(`main-thread JS heap per SA: ${((h.before.heapSize - b.before.heapSize) / K).toFixed(0)} B before GC, ${((h.after.heapSize - b.after.heapSize) / K).toFixed(0)} B after (objects ${((h.after.objects - b.after.objects) / K).toFixed(1)}), extra ${((h.after.extra - b.after.extra) / K).toFixed(0)} B; heapCapacity ${((h.after.heapCapacity - b.after.heapCapacity) / K).toFixed(0)} B`);
for (const l of ls) console.log(l.label, JSON.stringify({ before: { rss: l.before.VmRSS, anon: l.before.RssAnon, heap: l.before.heapSize, cap: l.before.heapCapacity }, after: { rss: l.after.VmRSS, anon: l.after.RssAnon, heap: l.after.heapSize, cap: l.after.heapCapacity }, later: l.later }));
' "$PROBE" "$HOLD" | tee "$OUT/summary.txt"
[ -n "${VKM_CLASSES:-}" ] && "$BUN" -e '
const ls = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const K = Number(process.argv[2]);
const by = Object.fromEntries(ls.map((l) => [l.label, l]));
const a = by.before.classes ?? {}, b = by.held.classes ?? {};
const rows = Object.keys({ ...a, ...b }).map((k) => [k, ((b[k]?.[0] ?? 0) - (a[k]?.[0] ?? 0)) / K, ((b[k]?.[1] ?? 0) - (a[k]?.[1] ?? 0)) / K]).sort((x, y) => y[2] - x[2]);
console.log("heap snapshot per SA (count, bytes) by class, held - before:");
for (const [k, n, bytes] of rows.slice(0, 40)) console.log(`  ${n.toFixed(2).padStart(8)} ${bytes.toFixed(0).padStart(7)} B  ${k}`);
' "$PROBE" "$HOLD" | tee -a "$OUT/summary.txt" || true
