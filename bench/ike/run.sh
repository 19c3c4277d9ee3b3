#!/bin/sh
# IKEv2 benchmarks (issue 4), as root, in namespaces vk7 (initiators, 192.0.2.1) and vk8
# (responder, 192.0.2.2), joined by a veth pair; both deleted on exit.
#  (a) handshakes/s completed by a responder (PSK, aes256gcm16-prfsha256-x25519, first Child
#      SA aes256gcm16) under N concurrent initiators from bench/ike/loadgen.ts (the IkeSa core
#      over UDP/4500): vpnkit `up --responder` and strongSwan charon, same run, RUNS each, alternating.
#  (b) time from `vpnkit up` (initiator) to the first ping answered through the tunnel, against
#      charon (bench/ike/first-packet.ts), FP_RUNS times.
# usage: sudo bench/ike/run.sh         env: N=32 TIME=15 RUNS=3 FP_RUNS=7
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
N=${N:-32}; TIME=${TIME:-15}; RUNS=${RUNS:-3}; FP_RUNS=${FP_RUNS:-7}
OUT=$ROOT/bench/ike/out/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
A=vk7; B=vk8
PIDS=""
cleanup() {
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
}
trap cleanup EXIT INT TERM
ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true
ip netns add $A; ip netns add $B
ip link add ${A}e netns $A type veth peer name ${B}e netns $B
ip -n $A addr add 192.0.2.1/24 dev ${A}e; ip -n $B addr add 192.0.2.2/24 dev ${B}e
for ns in $A $B; do ip -n $ns link set lo up; ip -n $ns link set ${ns}e up; done
# charon's inner address (kernel-libipsec needs a local address inside its selector)
ip -n $B link add ${B}d type veth peer name ${B}dp
ip -n $B link set ${B}d up; ip -n $B link set ${B}dp up
ip -n $B addr add 10.2.0.1/24 dev ${B}d
PSK=$OUT/psk; printf 'vpnkit-bench-psk-0123456789\n' > "$PSK"; chmod 600 "$PSK"
# the load generator is one address with many half-open SAs: lift vpnkit's flood limits as charon's below
printf '[ike.limits]\nblock_threshold = 100000\ncookie_threshold = 100000\nhalf_open_max = 100000\nmax_sas = 1000000\ninit_rate = 0\n' > "$OUT/limits.toml"
{ echo "commit $(git -C "$ROOT" rev-parse --short HEAD) $(date -u +%FT%TZ) N=$N TIME=$TIME RUNS=$RUNS FP_RUNS=$FP_RUNS"; nproc; uptime; } > "$OUT/env.txt"

start_charon() { # $1 = install_routes yes|no ; leaves CPID, waits for vici
  d=$OUT/charon-$2; mkdir -p "$d"
  cat > "$d/strongswan.conf" <<EOC
charon {
  load = random nonce openssl aes sha1 sha2 hmac gcm chapoly curve25519 kdf pem pkcs1 pkcs8 x509 pubkey kernel-libipsec kernel-netlink socket-default vici
  port = 500
  port_nat_t = 4500
  install_routes = $1
  # the load generator is one address with many half-open SAs: lift the DoS limits
  block_threshold = 100000
  cookie_threshold = 100000
  init_limit_half_open = 0
  plugins { vici { socket = unix://$d/vici } }
  filelog { b { path = $d/charon.log
    default = ${CHARON_LOG:-0} } }
  syslog { daemon { default = -1 } }
}
EOC
  cat > "$d/swanctl.conf" <<EOC
connections { bench {
  local_addrs = 192.0.2.2
  remote_addrs = 192.0.2.1
  local_port = 4500
  remote_port = 4500
  encap = yes
  version = 2
  proposals = aes256gcm16-prfsha256-x25519
  local { auth = psk
    id = sw@example.org }
  remote { auth = psk
    id = vk@example.org }
  children { c { local_ts = 10.2.0.0/24
    remote_ts = 10.1.0.0/24
    esp_proposals = aes256gcm16
    rekey_time = 0 } }
} }
secrets { ike-b { id-1 = sw@example.org
  id-2 = vk@example.org
  secret = "vpnkit-bench-psk-0123456789" } }
EOC
  ip netns exec $B unshare -m --propagation private sh -c "mount -t tmpfs vkrun /run && exec env STRONGSWAN_CONF=$d/strongswan.conf $CHARON" &
  CPID=$!; PIDS="$PIDS $CPID"
  i=0; while [ ! -S "$d/vici" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
  ip netns exec $B swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/vici" > "$d/load.txt"
}
stop_pid() { kill "$1" 2>/dev/null || true; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$1" 2>/dev/null || true; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
loadgen() { # $1 = label, $2 = responder pid (its CPU time over the run is recorded)
  c0=$(cpu_ticks "$2")
  ip netns exec $A "$BUN" "$ROOT/bench/ike/loadgen.ts" --target 192.0.2.2 --local 192.0.2.1 --psk-file "$PSK" -n "$N" --time "$TIME" --count 1000000 \
    --id vk@example.org --remote-id sw@example.org > "$OUT/lg.json"
  c1=$(cpu_ticks "$2")
  cpu=$(echo "$c0 $c1 $(getconf CLK_TCK)" | awk '{printf "%.2f", ($2 - $1) / $3}')
  sed "s/^{/{\"responder\":\"$1\",\"responderCpuSec\":$cpu,/" "$OUT/lg.json" | tee -a "$OUT/handshakes.jsonl"
}

echo "== (a) handshakes/s, N=$N concurrent initiators, ${TIME} s per run (first 2 s not counted)"
r=1
while [ $r -le "$RUNS" ]; do
  # vpnkit responder (node:dgram adapter: Bun.udpSocket in udp.ts has no error handler yet)
  VPNKIT_UDP_IMPL=dgram ip netns exec $B "$BUN" "$ROOT/cli/main.ts" up --config "$OUT/limits.toml" --responder --local 192.0.2.2 --peer 192.0.2.1 --psk-file "$PSK" \
    --local-ts 10.2.0.0/24 --remote-ts 10.1.0.0/24 --tun-addr 10.2.0.254/32 --tun-name vkbtun --local-id sw@example.org --remote-id vk@example.org \
    --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal aes256gcm16 --dpd 0 --rekey 0 --ike-rekey 0 --control "$OUT/vk.sock" 2> "$OUT/vpnkit-a$r.log" &
  VPID=$!; PIDS="$PIDS $VPID"
  i=0; while ! grep -q "IKEv2 responder: waiting" "$OUT/vpnkit-a$r.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  loadgen vpnkit $VPID
  stop_pid $VPID
  start_charon no a$r
  loadgen strongswan $CPID
  stop_pid $CPID
  r=$((r+1))
done

echo "== (b) vpnkit up (initiator) -> first packet through the tunnel, against charon"
start_charon yes b
r=1
while [ $r -le "$FP_RUNS" ]; do
  ip netns exec $A "$BUN" "$ROOT/bench/ike/first-packet.ts" 10.2.0.1 -- up --local 192.0.2.1 --peer 192.0.2.2 --psk-file "$PSK" \
    --local-ts 10.1.0.0/24 --remote-ts 10.2.0.0/24 --tun-addr 10.1.0.1/24 --tun-name vkbtun --local-id vk@example.org --remote-id sw@example.org \
    --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal aes256gcm16 --control "$OUT/vkb.sock" | tee -a "$OUT/first-packet.jsonl"
  sleep 1
  r=$((r+1))
done
stop_pid $CPID
echo "results in $OUT"
"$BUN" -e '
const fs = require("fs"); const d = process.argv[1];
const hs = fs.readFileSync(d + "/handshakes.jsonl", "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
for (const who of ["vpnkit", "strongswan"]) { const r = hs.filter((x) => x.responder === who); console.log(`${who}: handshakes/s ${r.map((x) => x.handshakesPerSec).join(" ")} (median ${med(r.map((x) => x.handshakesPerSec))}), failed ${r.map((x) => x.failed).join(" ")}, p50 latency ms ${r.map((x) => x.latencyMs.p50).join(" ")}, responder CPU s ${r.map((x) => x.responderCpuSec).join(" ")}, load generator CPU s ${r.map((x) => x.loadgenCpuSec).join(" ")}, completed ${r.map((x) => x.completed).join(" ")}`); }
const fp = fs.readFileSync(d + "/first-packet.jsonl", "utf8").trim().split("\n").map(JSON.parse);
console.log(`first packet ms: ${fp.map((x) => x.msToFirstPacket).join(" ")} (median ${med(fp.map((x) => x.msToFirstPacket ?? Infinity))}); Child SA installed (vpnkit log) ms: ${fp.map((x) => x.msChildInstalled).join(" ")} (median ${med(fp.map((x) => x.msChildInstalled ?? Infinity))})`);
' "$OUT" | tee "$OUT/summary.txt"
