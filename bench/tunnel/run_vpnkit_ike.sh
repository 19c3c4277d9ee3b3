#!/bin/bash
# vpnkit up with IKEv2 (PSK) between vtpa1 (initiator) and vtpa2 (responder): the same packet
# path as manual keys (data-plane worker), SAs negotiated and installed through the driver's
# sink. Measured with the anchors' measure_case (lib.sh). Run through bench/tunnel/run.sh.
# Usage: run_vpnkit_ike.sh aes128gcm16|aes256gcm16|chacha20poly1305
# Env: VPNKIT_DATAPLANE=main (the engine on the main thread), VK_TAG (suffix of the case name)
source ${ANCHORS_DIR:-.}/lib.sh
cipher=${1:-aes256gcm16}
ROOT=${VPNKIT_ROOT:?set VPNKIT_ROOT}
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
D=$BASE/vki; mkdir -p $D
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done
    for p in "${PIDS[@]}"; do for i in $(seq 1 15); do kill -0 $p 2>/dev/null || break; sleep 0.2; done; kill -9 $p 2>/dev/null; done
    rm -f $D/psk
    topo_down
}
trap cleanup EXIT
topo_up || exit 1
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > $D/psk
rm -f $D/c1.sock $D/c2.sock
common=(--psk-file $D/psk --ike-proposal aes256gcm16-prfsha256-x25519 --esp-proposal $cipher --rekey 0 --ike-rekey 0 --dpd 0)
$NS2 $BUN $ROOT/cli/main.ts up --local $OUT2 --peer $OUT1 --responder "${common[@]}" \
    --local-ts $IN2/32 --remote-ts $IN1/32 --local-id vk2 --remote-id vk1 \
    --tun-name vtpavk2 --tun-addr $IN2/24 --control $D/c2.sock > $LOGS/vki2.log 2>&1 & PIDS+=($!)
for i in $(seq 1 50); do [ -S $D/c2.sock ] && break; sleep 0.2; done
$NS1 $BUN $ROOT/cli/main.ts up --local $OUT1 --peer $OUT2 "${common[@]}" \
    --local-ts $IN1/32 --remote-ts $IN2/32 --local-id vk1 --remote-id vk2 \
    --tun-name vtpavk1 --tun-addr $IN1/24 --control $D/c1.sock > $LOGS/vki1.log 2>&1 & PIDS+=($!)
for i in $(seq 1 75); do grep -q "Child SA installed" $LOGS/vki1.log 2>/dev/null && break; sleep 0.2; done
$NS1 ping -c 3 -W 2 $IN2 >/dev/null || { log "vpnkit IKEv2 tunnel ping failed"; cat $LOGS/vki1.log $LOGS/vki2.log >&2; exit 1; }
TUN_PIDS="${PIDS[*]}"
for p in $TUN_PIDS; do log "pid $p: $(cat /proc/$p/comm)"; done
measure_case vpnkit-ike-$cipher${VK_TAG:+-$VK_TAG} "$cipher (ESP, IKEv2 PSK)" "UDP 4500 (IKEv2 + ESP-in-UDP)" vtpavk1 "udp port 4500"
$BUN $ROOT/cli/main.ts status --socket $D/c1.sock --json > $LOGS/vk_status_ike_${cipher}${VK_TAG:+_$VK_TAG}.json 2>&1
