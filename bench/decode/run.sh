#!/usr/bin/env bash
# bench/decode: vpnkit decode against tcpdump and tshark on the same real
# capture, in the same run, on the same machine.
#
#   bash bench/decode/run.sh [CAPTURE]
#   bash bench/decode/run.sh mixes     (bench/decode/mixes.sh: four real traffic
#                                       mixes, CPU time against tcpdump/tshark)
#
# CAPTURE defaults to /tmp/vpnkit-bench/bench_aes256gcm16.pcap, a 1M-packet
# real capture (iperf3 through two strongSwan peers, IKE + ESP-in-UDP), made by
#   bash scripts/capture/make_bench_capture.sh /tmp/vpnkit-bench
# A 5M-packet file is built from 5 copies (mergecap -a) to show whether memory
# stays flat. tshark -V / -T json are measured on a 200k-packet prefix (they
# run at 16–44k packets/s). Decryption (issue 5): vpnkit --keys and tshark with
# the same esp_sa / ikev2_decryption_table (a temporary Wireshark profile) on
# the 1M file. Every input is read into the page cache just before each
# timed command (not timed). Prints a markdown table (packets/s, peak RSS) per round;
# ROUNDS=n repeats the whole set (default 1). Compare rows of the same round.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `run.sh mixes`: the four traffic mixes (bulk ESP, small ESP, frequent rekeys, IKE-heavy)
if [ "${1:-}" = mixes ]; then exec bash bench/decode/mixes.sh; fi
CAP=${1:-/tmp/vpnkit-bench/bench_aes256gcm16.pcap}
WORK=${BENCH_DIR:-/tmp/vpnkit-bench}
VPNKIT=${VPNKIT:-./dist/vpnkit}
[ -f "$CAP" ] || { echo "no capture at $CAP: run scripts/capture/make_bench_capture.sh first" >&2; exit 2; }
# Output goes to /dev/null. If something has replaced it with a regular file
# (e.g. a build with --outfile=/dev/null), every tool would be timed writing a
# real file: refuse rather than publish those numbers.
[ -c /dev/null ] || { echo "/dev/null is not a character device (fix: mknod -m 666 /dev/null.new c 1 3 && mv -f /dev/null.new /dev/null)" >&2; exit 2; }
[ -x "$VPNKIT" ] || npm run build >/dev/null
mkdir -p "$WORK"
N1=$(capinfos -M -c -T "$CAP" | awk -F'\t' 'NR==2{print $2}')
BIG="$WORK/bench_x5.pcap"
[ -f "$BIG" ] || mergecap -a -F pcap -w "$BIG" "$CAP" "$CAP" "$CAP" "$CAP" "$CAP"
N5=$((N1 * 5))
SMALL="$WORK/bench_200k.pcap"
[ -f "$SMALL" ] || editcap -F pcap -r "$CAP" "$SMALL" 1-200000
NS=200000

# run LABEL PACKETS CMD...: prints "| label | packets | s | packets/s | peak MB |"
run() {
  local label=$1 n=$2; shift 2
  [ -c /dev/null ] || { echo "/dev/null stopped being a character device during the run: numbers invalid" >&2; exit 2; }
  local tf
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%e %M" "$@" > /dev/null 2>/dev/null || true
  local out s kb
  out=$(tail -1 "$tf"); rm -f "$tf"
  s=${out% *}; kb=${out#* }
  awk -v l="$label" -v n="$n" -v s="$s" -v kb="$kb" 'BEGIN{printf "| %s | %d | %.2f | %.0f | %.0f |\n", l, n, s, n/s, kb/1024}'
}

# runw FILE LABEL PACKETS CMD...: read FILE into the page cache first, then run.
# The VM reclaims cold page-cache pages (DAMON pageout), so without this the
# first tool to read a file after a while is timed reading the disk.
runw() {
  local file=$1; shift
  cat "$file" > /dev/null
  run "$@"
}

KEYDIR=$(dirname "$CAP")
PROF=$(mktemp -d /tmp/vpnkit-wsprof.XXXXXX)
trap 'rm -rf "$PROF"' EXIT
for u in esp_sa ikev2_decryption_table; do [ -f "$KEYDIR/$u" ] && cp "$KEYDIR/$u" "$PROF/"; done
printf 'esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n' > "$PROF/preferences"

echo "Machine: $(nproc) cores, $(uname -r); vpnkit $($VPNKIT --version); $(tcpdump --version 2>&1 | head -1); $(tshark -v 2>/dev/null | head -1)"
echo "Capture: $CAP ($N1 packets, $(du -h "$CAP" | cut -f1))"
echo
for round in $(seq 1 "${ROUNDS:-1}"); do
echo
echo "Round $round (load $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| tool | packets | seconds | packets/s | peak RSS MB |"
echo "|---|---|---|---|---|"
for f in "$CAP:$N1" "$BIG:$N5"; do
  file=${f%:*}; n=${f##*:}
  runw "$file" "vpnkit decode (summary), $n pkts" "$n" "$VPNKIT" decode "$file"
  runw "$file" "tcpdump -nr, $n pkts" "$n" tcpdump -nr "$file"
  runw "$file" "vpnkit decode --json, $n pkts" "$n" "$VPNKIT" decode --json "$file"
  runw "$file" "vpnkit decode -v, $n pkts" "$n" "$VPNKIT" decode -v "$file"
  runw "$file" "tshark -n -r, $n pkts" "$n" tshark -n -r "$file"
done
runw "$SMALL" "vpnkit decode -v, 200k prefix" "$NS" "$VPNKIT" decode -v "$SMALL"
runw "$SMALL" "tshark -n -V -r, 200k prefix" "$NS" tshark -n -V -r "$SMALL"
runw "$SMALL" "vpnkit decode --json, 200k prefix" "$NS" "$VPNKIT" decode --json "$SMALL"
runw "$SMALL" "tshark -n -T json -r, 200k prefix" "$NS" tshark -n -T json -r "$SMALL"
if [ -f "$KEYDIR/esp_sa" ]; then
  runw "$CAP" "vpnkit decode --keys (decrypt, summary), $N1 pkts" "$N1" "$VPNKIT" decode --keys "$KEYDIR/esp_sa" --keys "$KEYDIR/ikev2_decryption_table" "$CAP"
  runw "$CAP" "tshark -n -r with the same keys, $N1 pkts" "$N1" env WIRESHARK_CONFIG_DIR="$PROF" tshark -n -r "$CAP"
fi
done
