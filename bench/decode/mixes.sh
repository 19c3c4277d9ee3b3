#!/usr/bin/env bash
# bench/decode/mixes.sh: vpnkit decode against tcpdump and tshark on four real
# traffic mixes, CPU time (user+sys) and wall time of each tool, in the same run.
#
#   ROUNDS=3 bash bench/decode/mixes.sh        (or: bash bench/decode/run.sh mixes)
#
# Captures (made if missing, by scripts/capture/make_mix_capture.sh: two
# strongSwan peers in namespaces vks1/vks2, AES-CBC-256/HMAC-SHA2-256 IKE and
# ESP in UDP/4500; needs root; about 6 minutes for all four):
#   a  bulk ESP (iperf3 TCP, 60 s, 295k packets)        mix-a/mix_a.pcap
#   b  small-packet ESP (160-byte UDP both ways, 60 s)  mix-b/mix_b.pcap (187k)
#   c  a tunnel that rekeys often (~28 % IKE, 120 s)    mix-c/mix_c.pcap (8.7k)
#   d  IKE-heavy (~65 % IKE, 120 s)                     mix-d/mix_d.pcap (28k)
# Files: summary runs on ~0.9M packets (a x3, b x5, c x100, d x30): vpnkit has a
# fixed cost of start-up and JIT warm-up (0.1-0.4 s of CPU on the loaded VM) that
# short files would measure instead of decoding; -v and --json on ~0.2-0.3M
# (a, b as captured, c x30, d x10), --keys on one copy (a: first 100k packets).
# The copies are appended one after the other with editcap -t
# (each copy shifted past the end of the previous one, so time runs forward)
# and mergecap -a. The copies reuse SPIs and message IDs, which every tool sees
# alike (vpnkit flags the replayed ESP sequence numbers). --keys is measured
# on ONE copy of c and d (no replays; tshark with these keys runs at ~300-1000
# packets/s because it searches its esp_sa table, 894 and 3714 SAs, per packet).
# Modes and peers: summary vs `tcpdump -n -r`, `-v` vs `tshark -n -V -r`,
# `--json` vs `tshark -n -T json -r`, `--keys` (summary, decrypting) vs
# `tshark -n -r` with the same keys (esp_sa + ikev2_decryption_table in a
# temporary Wireshark profile, ESP decryption and ICV check on).
# Output to /dev/null; each input is read into the page cache before every
# timed command. Prints one markdown table per round, then the medians.
# Env: ROUNDS (default 3), VPNKIT (default ./dist/vpnkit-release, the release build
# users get: `bun scripts/build.ts --release`, minified with bytecode; built if missing),
# BENCH_DIR (default /tmp/vpnkit-bench), MIXES (default "a b c d"), MODES (default
# "summary -v --json --keys"; e.g. MODES="summary" MIXES="a b"),
# BASELINE (optional: an older vpnkit binary, timed in the same rounds, last column).
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${BENCH_DIR:-/tmp/vpnkit-bench}
VPNKIT=${VPNKIT:-./dist/vpnkit-release}
ROUNDS=${ROUNDS:-3}
MIXES=${MIXES:-a b c d}
MODES=${MODES:-summary -v --json --keys}
[ -c /dev/null ] || { echo "/dev/null is not a character device" >&2; exit 2; }
[ -x "$VPNKIT" ] || bun scripts/build.ts --release --outfile "$VPNKIT" >/dev/null

declare -A BIGN=([a]=3 [b]=5 [c]=100 [d]=30)
declare -A COPIES=([a]=1 [b]=1 [c]=30 [d]=10)
declare -A DUR=([a]=60 [b]=60 [c]=120 [d]=120)

# replicate IN N OUT: N copies of IN, each shifted by the capture's duration + 1 s
replicate() {
  local in=$1 n=$2 out=$3 d tmp i parts=()
  d=$(capinfos -M -u -T "$in" | awk -F'\t' 'NR==2{printf "%d", $2 + 1}')
  tmp=$(mktemp -d /tmp/vks-rep.XXXXXX)
  for i in $(seq 0 $((n - 1))); do
    editcap -F pcap -t $((i * d)) "$in" "$tmp/$i.pcap"
    parts+=("$tmp/$i.pcap")
  done
  mergecap -a -F pcap -w "$out" "${parts[@]}"
  rm -rf "$tmp"
}

declare -A FILE KFILE BFILE
for m in $MIXES; do
  dir=$WORK/mix-$m
  src=$dir/mix_$m.pcap
  if [ ! -f "$src" ]; then
    echo "making mix $m: bash scripts/capture/make_mix_capture.sh $m $src ${DUR[$m]}" >&2
    bash scripts/capture/make_mix_capture.sh "$m" "$src" "${DUR[$m]}" >&2 || { echo "capture of mix $m failed" >&2; exit 1; }
  fi
  if [ "${COPIES[$m]}" -gt 1 ]; then
    FILE[$m]=$dir/mix_${m}_x${COPIES[$m]}.pcap
    [ -f "${FILE[$m]}" ] || replicate "$src" "${COPIES[$m]}" "${FILE[$m]}"
  else
    FILE[$m]=$src
  fi
  BFILE[$m]=$dir/mix_${m}_x${BIGN[$m]}.pcap
  [ -f "${BFILE[$m]}" ] || replicate "$src" "${BIGN[$m]}" "${BFILE[$m]}"
  if [ "$m" = a ]; then
    KFILE[$m]=$dir/mix_a_100000.pcap
    [ -f "${KFILE[$m]}" ] || editcap -F pcap -r "$src" "${KFILE[$m]}" 1-100000
  else
    KFILE[$m]=$src
  fi
done

PROFS=()
cleanup() { for p in "${PROFS[@]}"; do rm -rf "$p"; done; }
trap cleanup EXIT
declare -A PROF
for m in $MIXES; do
  p=$(mktemp -d /tmp/vks-wsprof.XXXXXX)
  PROFS+=("$p")
  for u in esp_sa ikev2_decryption_table; do [ -f "$WORK/mix-$m/$u" ] && cp "$WORK/mix-$m/$u" "$p/"; done
  printf 'esp.enable_encryption_decode: TRUE\nesp.enable_authentication_check: TRUE\n' > "$p/preferences"
  PROF[$m]=$p
done

# timed CMD...: prints "cpu wall" (user+sys seconds, elapsed seconds)
timed() {
  [ -c /dev/null ] || { echo "/dev/null stopped being a character device" >&2; exit 2; }
  local tf out
  tf=$(mktemp)
  /usr/bin/time -o "$tf" -f "%U %S %e" "$@" > /dev/null 2> /dev/null || true
  out=$(tail -1 "$tf"); rm -f "$tf"
  awk -v o="$out" 'BEGIN{split(o, a, " "); printf "%.2f %.2f\n", a[1] + a[2], a[3]}'
}

RAW=$(mktemp /tmp/vks-mixes.XXXXXX)
echo "Machine: $(nproc) cores, $(uname -r); vpnkit $($VPNKIT --version); $(tcpdump --version 2>&1 | head -1); $(tshark -v 2>/dev/null | head -1)"
for m in $MIXES; do
  f=${FILE[$m]}
  for g in "${BFILE[$m]}" "$f" "${KFILE[$m]}"; do
    echo "Mix $m: $g ($(capinfos -M -c -T "$g" | awk -F'\t' 'NR==2{print $2}') packets, $(du -h "$g" | cut -f1)); IKE packets: $(tcpdump -nr "$g" 'udp port 500 or (udp port 4500 and udp[8:4] = 0)' 2>/dev/null | wc -l)"
  done
done
for round in $(seq 1 "$ROUNDS"); do
  echo
  echo "Round $round (load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| mix | mode | vpnkit CPU s | vpnkit wall s | peer | peer CPU s | peer wall s | peer CPU / vpnkit CPU | baseline CPU s |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for m in $MIXES; do
    keys=()
    for u in esp_sa ikev2_decryption_table; do [ -f "$WORK/mix-$m/$u" ] && keys+=(--keys "$WORK/mix-$m/$u"); done
    for mode in $MODES; do
      f=${FILE[$m]}
      [ "$mode" = --keys ] && f=${KFILE[$m]}
      [ "$mode" = summary ] && f=${BFILE[$m]}
      case $mode in
        summary) vk=("$VPNKIT" decode "$f"); peer="tcpdump -n -r"; pc=(tcpdump -n -r "$f") ;;
        -v) vk=("$VPNKIT" decode -v "$f"); peer="tshark -n -V -r"; pc=(tshark -n -V -r "$f") ;;
        --json) vk=("$VPNKIT" decode --json "$f"); peer="tshark -n -T json -r"; pc=(tshark -n -T json -r "$f") ;;
        --keys) vk=("$VPNKIT" decode "${keys[@]}" "$f"); peer="tshark -n -r (same keys)"; pc=(env WIRESHARK_CONFIG_DIR="${PROF[$m]}" tshark -n -r "$f") ;;
      esac
      cat "$f" > /dev/null
      read -r vc vw < <(timed "${vk[@]}")
      cat "$f" > /dev/null
      read -r pcpu pw < <(timed "${pc[@]}")
      ratio=$(awk -v a="$pcpu" -v b="$vc" 'BEGIN{printf "%.2f", (b > 0 ? a / b : 0)}')
      bc=-
      if [ -n "${BASELINE:-}" ]; then
        cat "$f" > /dev/null
        read -r bc bw < <(timed "$BASELINE" "${vk[@]:1}")
      fi
      echo "| $m | $mode | $vc | $vw | $peer | $pcpu | $pw | $ratio | $bc |"
      echo "$m $mode $vc $vw $pcpu $pw $ratio $bc" >> "$RAW"
    done
  done
done
echo
echo "Medians over $ROUNDS rounds (target: summary ratio >= 2, -v >= 10, --json >= 10, --keys >= 2)"
echo
echo "| mix | mode | vpnkit CPU s | vpnkit wall s | peer CPU s | peer wall s | ratio (median) | target | met | baseline CPU s |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in $MIXES; do
  for mode in $MODES; do
    awk -v m="$m" -v mode="$mode" '
      function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t } return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      $1 == m && $2 == mode { n++; vc[n] = $3; vw[n] = $4; pc[n] = $5; pw[n] = $6; r[n] = $7; bl[n] = $8 }
      END {
        if (!n) exit
        t = (mode == "-v" || mode == "--json") ? 10 : 2
        rm = med(r, n)
        printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %s | %s |\n", m, mode, med(vc, n), med(vw, n), med(pc, n), med(pw, n), rm, t, (rm >= t ? "yes" : "NO"), (bl[1] == "-" ? "-" : sprintf("%.2f", med(bl, n)))
      }' "$RAW"
  done
done
rm -f "$RAW"
