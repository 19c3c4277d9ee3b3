#!/bin/bash
# Make fixtures/made/g_vpnkit_udp_gso: a real capture of two `vpnkit up` peers (manual keys,
# aes256gcm16) carrying iperf3, taken on a veth whose UDP segmentation offload is ON, so the
# UDP GSO runs vpnkit sends appear as single oversized records (what tcpdump shows on a host
# whose interface offloads UDP segmentation). Keys: the key log vpnkit wrote. Root; uses
# namespaces vg1/vg2 (deleted afterwards).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${1:-$ROOT/fixtures/made/g_vpnkit_udp_gso}
BUN=$ROOT/node_modules/.bin/bun
W=$(mktemp -d /tmp/vg.XXXXXX)
cleanup() { kill $(jobs -p) 2>/dev/null || true; sleep 0.5; ip netns del vg1 2>/dev/null || true; ip netns del vg2 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT
ip netns add vg1; ip netns add vg2
ip link add vg1a netns vg1 type veth peer name vg2a netns vg2
for n in 1 2; do ip -n vg$n link set lo up; ip -n vg$n addr add 192.0.2.$n/24 dev vg${n}a; ip -n vg$n link set vg${n}a up; done
head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n' > $W/k12
head -c 36 /dev/urandom | od -An -tx1 | tr -d ' \n' > $W/k21
ip netns exec vg1 $BUN $ROOT/cli/main.ts up --local 192.0.2.1 --remote 192.0.2.2 --cipher aes256gcm16 --spi-out 0xc0de0001 --spi-in 0xc0de0002 \
  --key-out-file $W/k12 --key-in-file $W/k21 --tun-name vgtun --tun-addr 10.8.0.1/24 --route 10.8.0.2/32 --control $W/c1.sock --keylog $W/keys.log 2>$W/v1.log &
ip netns exec vg2 $BUN $ROOT/cli/main.ts up --local 192.0.2.2 --remote 192.0.2.1 --cipher aes256gcm16 --spi-out 0xc0de0002 --spi-in 0xc0de0001 \
  --key-out-file $W/k21 --key-in-file $W/k12 --tun-name vgtun --tun-addr 10.8.0.2/24 --route 10.8.0.1/32 --control $W/c2.sock 2>$W/v2.log &
for i in $(seq 1 50); do [ -S $W/c1.sock ] && [ -S $W/c2.sock ] && break; sleep 0.2; done
ip netns exec vg1 ping -c 2 -W 2 10.8.0.2 >/dev/null
ip netns exec vg2 timeout 20 iperf3 -s -1 -p 5399 >/dev/null 2>&1 &
sleep 0.3
ip netns exec vg1 tcpdump -i vg1a -U -n -s 0 -c 60 -w $W/gso.pcap udp port 4500 2>/dev/null &
TD=$!
sleep 0.5
ip netns exec vg1 timeout 15 iperf3 -c 10.8.0.2 -p 5399 -t 1 -b 200M >/dev/null
wait $TD || true
mkdir -p "$OUT"
cp $W/gso.pcap "$OUT/g_vpnkit_udp_gso.pcap"
cp $W/keys.log "$OUT/keys.log"
cp $W/keys.log.esp_sa "$OUT/esp_sa"
echo "wrote $OUT ($(stat -c %s "$OUT/g_vpnkit_udp_gso.pcap") bytes)"
