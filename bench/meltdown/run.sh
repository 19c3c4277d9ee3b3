#!/usr/bin/env bash
# TCP-over-TCP ("meltdown") benchmark: vpnkit over UDP vs over TCP (RFC 9329), and OpenVPN 2.6
# over UDP vs TCP, in the vpnkit meltdown lab (namespaces vxm*: a - [padelay] - router - b),
# 100 Mbit/s tbf on the router, outer loss per direction by iptables statistic on the tunnel's
# outer port (4500 / 1194) in the router. Three series: RTT 40 ms (padelay 20 ms each way) with
# cubic inner+outer, RTT 40 ms with bbr (host default), no added delay with cubic.
# Builds padelay and the TCP_CONGESTION shim from /work/shared/anchors-perf/src into a temp dir
# (never committed). Needs root, iperf3, openvpn, iptables, tc, ethtool, gcc.
#
# Usage: bench/meltdown/run.sh [OUTDIR]   (env: DUR=10 LOSSES=0,0.5,1,2,5 SERIES="cubic40 bbr40 cubic0")
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUN=${BUN:-$ROOT/node_modules/.bin/bun}
SRC=${ANCHORS_SRC:-/work/shared/anchors-perf/src}
OUT=${1:-$ROOT/bench/meltdown/results/$(date -u +%Y%m%dT%H%M%SZ)}
DUR=${DUR:-10}
LOSSES=${LOSSES:-0,0.5,1,2,5}
SERIES=${SERIES:-cubic40 bbr40 cubic0}
TMP=$(mktemp -d /tmp/vxbench-XXXXXX)
trap 'for n in vxma vxmr vxmb vxmd; do ip netns del $n 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
mkdir -p "$OUT"
gcc -O2 -o "$TMP/padelay" "$SRC/padelay.c"
gcc -O2 -shared -fPIC -o "$TMP/tcpcc.so" "$SRC/pa_tcpcc.c" -ldl
{
  echo "date: $(date -u +%FT%TZ)"; echo "kernel: $(uname -r), $(nproc) vCPU, loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"; echo "iperf3: $(iperf3 --version | head -1)"; echo "openvpn: $(openvpn --version | head -1)"
  echo "host default cc: $(sysctl -n net.ipv4.tcp_congestion_control)"; echo "DUR=$DUR LOSSES=$LOSSES SERIES=$SERIES"
} > "$OUT/env.txt"
for s in $SERIES; do
  case $s in
    cubic40) args=(--delay 20 --padelay "$TMP/padelay" --cc cubic --outer-cc-shim "$TMP/tcpcc.so") ;;
    bbr40) args=(--delay 20 --padelay "$TMP/padelay" --cc bbr --outer-cc-shim "$TMP/tcpcc.so") ;;
    cubic0) args=(--cc cubic --outer-cc-shim "$TMP/tcpcc.so") ;;
    *) echo "unknown series $s" >&2; exit 2 ;;
  esac
  echo "[$(date -u +%T)] series $s" >&2
  cmd=("$BUN" "$ROOT/cli/main.ts" meltdown --lab --rate 100 --loss "$LOSSES" -t "$DUR" --openvpn "${args[@]}")
  echo "${cmd[*]}" | sed "s|$TMP|\$TMP|g; s|$ROOT/||g" > "$OUT/$s.cmd"
  timeout $((DUR * 40 + 120)) "${cmd[@]}" --json > "$OUT/$s.json" 2> "$OUT/$s.log" || echo "series $s failed (see $OUT/$s.log)" >&2
  timeout 60 "$BUN" "$ROOT/bench/meltdown/render.ts" "$OUT/$s.json" "$OUT/$s.html" > "$OUT/$s.md" || true
  cat "$OUT/$s.md"
done
