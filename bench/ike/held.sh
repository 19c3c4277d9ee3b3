#!/bin/sh
# IKEv2 responder with 1,000 IKE SAs held (issue 12), as root, in namespaces vkb1 (initiators,
# 192.0.2.1) and vkb2 (responder, 192.0.2.2), joined by a veth pair; both deleted on exit.
# bench/ike/loadgen.ts --hold HOLD first establishes HOLD IKE SAs + 1 Child SA each (own
# identity h<i>@example.org and selector 10.1.x.y/32 each, no Delete), reads the responder's
# VmRSS before and after them, checks the responder's own count of SAs, then measures
# handshakes/s and responder CPU per handshake of N concurrent further handshakes
# (establish + Delete, own identities too) for TIME s while the HOLD are kept.
# Responders, alternating, same load: `vpnkit up --responder` (no --peer: the server driver,
# any peer, any identity proving the PSK) and charon (kernel-libipsec; remote id %any).
# WARM=K (default 0): K handshakes established and deleted before the baseline RSS is read (one-time
# costs such as JIT-compiled code and grown tables then count in the baseline, not per SA), both responders.
# usage: sudo bench/ike/held.sh      env: HOLD=1000 N=32 TIME=15 RUNS=3 WARM=0 NS=vkb
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
CHARON=${CHARON:-/usr/lib/ipsec/charon}
HOLD=${HOLD:-1000}; N=${N:-32}; TIME=${TIME:-15}; RUNS=${RUNS:-3}; WARM=${WARM:-0}
OUT=$ROOT/bench/ike/out/held-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
NS=${NS:-vkb}; A=${NS}1; B=${NS}2   # NS=...: another prefix, so two runs (or a test using vkb*) do not collide
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
{ echo "commit $(git -C "$ROOT" rev-parse --short HEAD) $(date -u +%FT%TZ) HOLD=$HOLD N=$N TIME=$TIME RUNS=$RUNS WARM=$WARM"; nproc; uptime; } > "$OUT/env.txt"

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
  local_port = 4500
  remote_port = 4500
  encap = yes
  version = 2
  proposals = aes256gcm16-prfsha256-x25519
  local { auth = psk
    id = sw@example.org }
  remote { auth = psk }
  children { c { local_ts = 10.2.0.0/24
    remote_ts = 10.1.0.0/16
    esp_proposals = aes256gcm16
    rekey_time = 0 } }
} }
secrets { ike-b { id-1 = sw@example.org
  secret = "vpnkit-bench-psk-0123456789" } }
EOC
  ip netns exec $B unshare -m --propagation private sh -c "mount -t tmpfs vkrun /run && exec env STRONGSWAN_CONF=$d/strongswan.conf $CHARON" &
  CPID=$!; PIDS="$PIDS $CPID"
  i=0; while [ ! -S "$d/vici" ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
  ip netns exec $B swanctl --load-all --file "$d/swanctl.conf" --uri "unix://$d/vici" > "$d/load.txt" 2>&1
}
stop_pid() { kill "$1" 2>/dev/null || true; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$1" 2>/dev/null || true; }

stop_pid() { kill "$1" 2>/dev/null || true; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -9 "$1" 2>/dev/null || true; }

loadgen() { # $1 = label, $2 = responder pid, $3 = command printing the responder's SA count
  echo "load $(cut -d' ' -f1-3 /proc/loadavg) before $1" >> "$OUT/env.txt"
  ip netns exec $A "$BUN" "$ROOT/bench/ike/loadgen.ts" --target 192.0.2.2 --local 192.0.2.1 --psk-file "$PSK" -n "$N" --time "$TIME" --count 1000000 \
    --remote-id sw@example.org --hold "$HOLD" --warm "$WARM" --responder-pid "$2" --check-cmd "$3" > "$OUT/lg.json"
  la=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' ',')
  sed "s/^{/{\"responder\":\"$1\",\"loadavg\":\"$la\",/" "$OUT/lg.json" | tee -a "$OUT/held.jsonl"
}

echo "== HOLD=$HOLD IKE SAs held, then N=$N concurrent handshakes for ${TIME} s (first 2 s not counted)"
r=1
while [ $r -le "$RUNS" ]; do
  VPNKIT_UDP_IMPL=dgram ip netns exec $B "$BUN" "$ROOT/cli/main.ts" up --config "$OUT/limits.toml" --responder --local 192.0.2.2 --psk-file "$PSK" \
    --local-ts 10.2.0.0/24 --remote-ts 10.1.0.0/16 --tun-addr 10.2.0.254/32 --tun-name vkbtun --local-id sw@example.org \
    --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal aes256gcm16 --dpd 0 --rekey 0 --ike-rekey 0 --control "$OUT/vk.sock" 2> "$OUT/vpnkit-$r.log" &
  VPID=$!; PIDS="$PIDS $VPID"
  i=0; while ! grep -q "IKEv2 responder: waiting" "$OUT/vpnkit-$r.log" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  sleep 1
  loadgen vpnkit $VPID "$BUN $ROOT/cli/main.ts status --json --socket $OUT/vk.sock | $BUN -e 'const s=JSON.parse(await Bun.stdin.text()); const k=s.ike; console.log(JSON.stringify({sas:k.manager.sas, established:k.ikeSas.filter((x)=>x.state===\"established\").length, childSas:k.ikeSas.reduce((n,x)=>n+x.childSas.length,0)}))'"
  stop_pid $VPID
  start_charon no $r
  sleep 1
  loadgen strongswan $CPID "ip netns exec $B swanctl --stats --uri unix://$OUT/charon-$r/vici | grep -i -E 'IKE_SAs|half' | tr -s ' ' | tr '\\n' ';'; ip netns exec $B swanctl --list-sas --uri unix://$OUT/charon-$r/vici | grep -c INSTALLED"
  stop_pid $CPID
  r=$((r+1))
done
echo "results in $OUT"
"$BUN" -e '
const fs = require("fs"); const d = process.argv[1];
const hs = fs.readFileSync(d + "/held.jsonl", "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const m = {};
for (const who of ["vpnkit", "strongswan"]) { const r = hs.filter((x) => x.responder === who);
  m[who] = { hs: med(r.map((x) => x.handshakesPerSec)), cpu: med(r.map((x) => x.responderCpuMsPerHandshake)), rss: med(r.map((x) => x.rssPerSaKb)) };
  console.log(`${who}: held ${r.map((x) => x.held).join(" ")} (responder says ${r.map((x) => x.responderCheck).join(" | ")}); RSS KiB ${r[0]?.rssColdKb ? "cold/" : ""}before/held ${r.map((x) => (x.rssColdKb ? x.rssColdKb + "/" : "") + x.rssBeforeKb + "/" + x.rssHeldKb).join(" ")}, per SA ${r.map((x) => x.rssPerSaKb).join(" ")} (median ${m[who].rss}); handshakes/s ${r.map((x) => x.handshakesPerSec).join(" ")} (median ${m[who].hs}), failed ${r.map((x) => x.failed).join(" ")}; responder CPU ms/handshake ${r.map((x) => x.responderCpuMsPerHandshake).join(" ")} (median ${m[who].cpu}); load ${r.map((x) => x.loadavg).join(" ")}`); }
console.log(`ratios vpnkit/charon: handshakes/s ${(m.vpnkit.hs / m.strongswan.hs).toFixed(2)} (target >= 1.5), CPU/handshake ${(m.vpnkit.cpu / m.strongswan.cpu).toFixed(2)}, RSS/SA ${(m.vpnkit.rss / m.strongswan.rss).toFixed(2)} (target <= 1)`);
' "$OUT" | tee "$OUT/summary.txt"
