#!/bin/bash
# bench/tunnel/run.sh: vpnkit (each cipher) against wireguard-go, OpenVPN UDP AES-256-GCM and
# strongSwan kernel-libipsec, in the same run, with the anchors' method (/work/shared/anchors-perf,
# see its RESULTS.md): iperf3 TCP 1 and 4 streams (+ reverse), tunnel CPU% of both ends, idle
# ping RTT, inner MTU, max DF payload, per-packet overhead.
#
# The anchor scripts are copied to a temp dir and their namespace/link names renamed pa* -> vtpa*
# (this repo's tests only use "vt" names). Results: bench/tunnel/results/<stamp>/*.txt + summary.md.
#
#   sudo bench/tunnel/run.sh                  # all cases, DUR=5 s per iperf3 run
#   CASES="vpnkit:aes256gcm16" DUR=10 REPEAT=3 bench/tunnel/run.sh
# Cases: vpnkit:<cipher>, vpnkit-main:<cipher> (packet path on the main thread, the design before the
# data-plane worker), vpnkit-nowarm:<cipher>
# (no loopback JIT warm-up, no keep-warm), vpnkit-nokeepwarm:<cipher> (start-up warm-up only), vpnkit-kw1:<cipher> (keep-warm every 1 ms), vpnkit-dgram:<cipher> (node:dgram socket, main thread), vpnkit-poll:<cipher> (poll reader),
# vpnkit-plain:<cipher> (TUN without IFF_VNET_HDR offload, default UDP socket buffers),
# vpnkit-offload:<cipher> (offload, default UDP socket buffers), vpnkit-nogso:<cipher> (no UDP GSO: sendMany),
# vpnkit-nodeaead:<cipher> (lib/esp's default AEAD: node:crypto GCM / noble ChaCha, instead of libcrypto via ffi),
# vpnkit-base:<cipher> (the tree at $VPNKIT_BASE_ROOT, e.g. an older commit, for before/after in one run),
# vpnkit-ike:<cipher> (two vpnkit peers negotiating with IKEv2 PSK; vpnkit-ike-main: engine on the main thread),
# wireguard, openvpn:udp, strongswan:aes|chacha, baseline. REPEAT runs all cases in interleaved rounds.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
export VPNKIT_ROOT=$(cd "$HERE/../.." && pwd)
SRC=${ANCHORS_SRC:-/work/shared/anchors-perf}
export ANCHORS_DIR=$(mktemp -d /tmp/vt-anchors.XXXXXX)
cp "$SRC"/*.sh "$ANCHORS_DIR"/
[ -d "$SRC/src" ] && cp -r "$SRC/src" "$ANCHORS_DIR"/
perl -pi -e 's/\bpa(?=[12\$]|r\b|r[AB]\b|wg|sec|tun)/vtpa/g' "$ANCHORS_DIR"/*.sh
# Same ping as the anchors (-c 20 -i 0.2), also reporting the median of the 20 per-packet
# RTTs ("med"), for every case alike: the avg is dominated by one or two slow replies on this VM.
# PING_COUNT=N pings N times instead of 20 (a tighter median; not the anchors' method).
cat >> "$ANCHORS_DIR/lib.sh" <<'PINGEOF'
ping_rtt() {
    local dst=$1 c=${PING_COUNT:-${2:-20}} out s m
    out=$($NS1 ping -c $c -i 0.2 $dst 2>/dev/null)
    s=$(echo "$out" | awk -F'= ' '/rtt/{print $2}' | awk '{print $1}')
    m=$(echo "$out" | grep -o 'time=[0-9.]*' | cut -d= -f2 | sort -g | awk '{a[NR]=$1} END{if (NR) printf "%.3f", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
    echo "$s med $m"
}
PINGEOF
cp "$HERE/run_vpnkit.sh" "$HERE/run_vpnkit_ike.sh" "$ANCHORS_DIR"/
chmod +x "$ANCHORS_DIR"/*.sh
if grep -nE '\bpa[0-9]|netns (add|del|exec) pa' "$ANCHORS_DIR"/*.sh; then echo "rename incomplete" >&2; exit 1; fi
export DUR=${DUR:-5}
REPEAT=${REPEAT:-1}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$HERE/results/$STAMP; mkdir -p "$OUT"
CASES=${CASES:-"vpnkit:aes128gcm16 vpnkit:aes256gcm16 vpnkit:chacha20poly1305 wireguard openvpn:udp strongswan:aes strongswan:chacha"}
{
  echo "# bench/tunnel/run.sh $STAMP"
  echo "host: $(uname -r), $(nproc) vCPU, load before: $(cut -d' ' -f1-3 /proc/loadavg), DUR=$DUR s"
  echo "bun $("$VPNKIT_ROOT/node_modules/.bin/bun" --version), vpnkit $(git -C "$VPNKIT_ROOT" rev-parse --short HEAD)"
} > "$OUT/summary.md"
cd "$ANCHORS_DIR"
exec 2> >(tee "$OUT/run.log" >&2)
for round in $(seq 1 $REPEAT); do
export RUNTAG=r$round
for c in $CASES; do
  name=${c%%:*}; arg=${c#*:}; [ "$arg" = "$c" ] && arg=""
  echo "== $c (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  case $name in
    vpnkit) timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-ike) timeout 300 ./run_vpnkit_ike.sh "$arg" ;;
    vpnkit-ike-main) VPNKIT_DATAPLANE=main VK_TAG=main timeout 300 ./run_vpnkit_ike.sh "$arg" ;;
    vpnkit-main) VPNKIT_DATAPLANE=main VK_TAG=main timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-nowarm) VPNKIT_WARMUP=0 VPNKIT_KEEP_WARM_MS=0 VK_TAG=nowarm timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-kw1) VPNKIT_KEEP_WARM_MS=1 VK_TAG=kw1 timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-nokeepwarm) VPNKIT_KEEP_WARM_MS=0 VK_TAG=nokeepwarm timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-dgram) VPNKIT_DATAPLANE=main VPNKIT_UDP_IMPL=dgram VK_TAG=dgram timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-poll) VPNKIT_DATAPLANE=main VPNKIT_TUN_READER=poll VK_TAG=poll timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-plain) VPNKIT_TUN_OFFLOAD=0 VPNKIT_UDP_BUF=0 VK_TAG=plain timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-offload) VPNKIT_UDP_BUF=0 VK_TAG=offload timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-nogso) VPNKIT_UDP_GSO=0 VK_TAG=nogso timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-nodeaead) VPNKIT_AEAD=default VK_TAG=nodeaead timeout 300 ./run_vpnkit.sh "$arg" ;;
    vpnkit-base) VPNKIT_ROOT=${VPNKIT_BASE_ROOT:?set VPNKIT_BASE_ROOT} VK_TAG=base timeout 300 ./run_vpnkit.sh "$arg" ;;
    wireguard) command -v wireguard-go >/dev/null && timeout 300 ./run_wireguard.sh || echo "wireguard-go missing" >&2 ;;
    openvpn) command -v openvpn >/dev/null && timeout 300 ./run_openvpn.sh "$arg" || echo "openvpn missing" >&2 ;;
    strongswan) timeout 300 ./run_strongswan.sh "$arg" ;;
    baseline) timeout 300 ./run_baseline.sh ;;
  esac
done
done
# leave nothing behind
for n in vtpa1 vtpa2 vtpar; do ip netns del $n 2>/dev/null; done
cp "$ANCHORS_DIR"/results/*.txt "$OUT"/ 2>/dev/null
cp "$ANCHORS_DIR"/logs/vk_status_*.json "$OUT"/ 2>/dev/null
{
  echo
  echo "| case | cipher | 1-stream Mbit/s | retr | CPU% (both ends, of one core) | 4-stream Mbit/s | CPU% | 1-stream reverse Mbit/s | idle RTT min/avg/max/mdev ms, med = median of the ${PING_COUNT:-20} | inner MTU | max DF payload | overhead |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for f in "$OUT"/*.r*.txt; do
    g() { grep "^$1=" "$f" | head -1 | cut -d= -f2-; }
    run=${f%.txt}; run=${run##*.}
    p1=($(g p1)); p4=($(g p4)); pr=($(g p1_reverse))
    echo "| $(g name) ($run) | $(g cipher) | ${p1[0]:-} | ${p1[1]:-} | ${p1[2]:-} | ${p4[0]:-} | ${p4[2]:-} | ${pr[0]:-} | $(g rtt_idle_ms) | $(g inner_mtu) | $(g max_df_payload) | $(g overhead | cut -d' ' -f1) |"
  done
  echo
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} >> "$OUT/summary.md"
cat "$OUT/summary.md"
rm -rf "$ANCHORS_DIR"
