#!/bin/bash
# vpnkit up (manual keys, ESP-in-UDP/4500) between vtpa1 and vtpa2, measured with the anchors'
# measure_case (lib.sh). Run through bench/tunnel/run.sh (which provides the vt-renamed lib.sh).
# Usage: run_vpnkit.sh aes128gcm16|aes256gcm16|chacha20poly1305
# Env: VPNKIT_TUN_READER=poll|epoll, VPNKIT_UDP_IMPL=bun|dgram (variants), VK_TAG (suffix of the case name)
source ${ANCHORS_DIR:-.}/lib.sh
cipher=${1:-aes256gcm16}
ROOT=${VPNKIT_ROOT:?set VPNKIT_ROOT}
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
D=$BASE/vk; mkdir -p $D
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done
    for p in "${PIDS[@]}"; do for i in $(seq 1 15); do kill -0 $p 2>/dev/null || break; sleep 0.2; done; kill -9 $p 2>/dev/null; done
    rm -f $D/k12 $D/k21
    topo_down
}
trap cleanup EXIT
topo_up || exit 1
umask 077
klen=36; [ "$cipher" = aes128gcm16 ] && klen=20
head -c $klen /dev/urandom | od -An -tx1 | tr -d ' \n' > $D/k12
head -c $klen /dev/urandom | od -An -tx1 | tr -d ' \n' > $D/k21
rm -f $D/c1.sock $D/c2.sock
$NS1 $BUN $ROOT/test/tunnel/run-cli.ts up --local $OUT1 --remote $OUT2 --cipher $cipher \
    --spi-out 0xc0de0001 --spi-in 0xc0de0002 --key-out-file $D/k12 --key-in-file $D/k21 \
    --tun-name vtpavk1 --tun-addr $IN1/24 --route $IN2/32 --control $D/c1.sock > $LOGS/vk1.log 2>&1 & PIDS+=($!)
$NS2 $BUN $ROOT/test/tunnel/run-cli.ts up --local $OUT2 --remote $OUT1 --cipher $cipher \
    --spi-out 0xc0de0002 --spi-in 0xc0de0001 --key-out-file $D/k21 --key-in-file $D/k12 \
    --tun-name vtpavk2 --tun-addr $IN2/24 --route $IN1/32 --control $D/c2.sock > $LOGS/vk2.log 2>&1 & PIDS+=($!)
for i in $(seq 1 50); do [ -S $D/c1.sock ] && [ -S $D/c2.sock ] && break; sleep 0.2; done
$NS1 ping -c 3 -W 2 $IN2 >/dev/null || { log "vpnkit tunnel ping failed"; cat $LOGS/vk1.log $LOGS/vk2.log >&2; exit 1; }
TUN_PIDS="${PIDS[*]}"
for p in $TUN_PIDS; do log "pid $p: $(cat /proc/$p/comm)"; done
measure_case vpnkit-$cipher${VK_TAG:+-$VK_TAG} "$cipher (ESP)" "UDP 4500 (ESP-in-UDP)" vtpavk1 "udp port 4500"
$BUN $ROOT/test/tunnel/run-cli.ts status --socket $D/c1.sock --json > $LOGS/vk_status_${cipher}.json 2>&1
