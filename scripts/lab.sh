#!/usr/bin/env bash
# vpnkit lab: two hosts and a router in network namespaces, to reproduce MTU problems
# (black holes included) on one machine. Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN).
#
#   host a  <-- link A, MTU 1500 -->  router r  <-- link B, MTU --mtu -->  host b
#   10.91.1.1   fd91:1::1             .254 / ::fe | .254 / ::fe           10.91.2.1   fd91:2::1
#
# Usage:
#   scripts/lab.sh up [--mtu 1380] [--mtu-a 1500] [--loss 1%] [--rate 100mbit] [--no-icmp]
#   scripts/lab.sh down
#   scripts/lab.sh exec a|b|r CMD [ARGS...]     run CMD inside a namespace
#   scripts/lab.sh icmp on|off                  let the router send ICMP too-big, or drop it (black hole)
#   scripts/lab.sh status
# Options anywhere: --prefix P (default $LAB_PREFIX or "vm"): namespaces P-a, P-r, P-b.
#
#   --mtu N      MTU of link B (router <-> b), where the path narrows (default 1500)
#   --mtu-a N    MTU of link A (a <-> router) (default 1500)
#   --loss P%    random loss on the router (iptables statistic, each direction, forwarded traffic)
#   --rate R     token-bucket rate limit on the router's egress on both links (tc tbf), e.g. 100mbit
#   --no-icmp    start with ICMP "fragmentation needed" / "packet too big" dropped at the router
#   Delay is not offered: this kernel has no netem, and a user-space delay line is out of scope.
#
# Example (an MTU black hole at 1380):
#   scripts/lab.sh up --mtu 1380 --no-icmp
#   scripts/lab.sh exec b vpnkit responder --secret-file /etc/vpnkit/probe.secret &
#   scripts/lab.sh exec a vpnkit mtu 10.91.2.1 --secret-file /etc/vpnkit/probe.secret
#   scripts/lab.sh down
set -eEuo pipefail

PREFIX="${LAB_PREFIX:-vm}"
MTU=1500 MTU_A=1500 LOSS="" RATE="" ICMP=on
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
set -- "${args[@]+"${args[@]}"}"

if ! [[ "$PREFIX" =~ ^[a-z][a-z0-9]{0,9}$ ]]; then
  echo "lab.sh: --prefix must be 1-10 lower-case letters/digits, starting with a letter" >&2
  exit 2
fi
NA="$PREFIX-a" NR="$PREFIX-r" NB="$PREFIX-b"

die() { echo "lab.sh: $*" >&2; exit 2; }
in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

down() {
  for ns in "$NA" "$NR" "$NB"; do ip netns del "$ns" 2>/dev/null || true; done
}

icmp() {
  local mode="$1"
  for t in iptables ip6tables; do
    in_ns "$NR" "$t" -F OUTPUT
  done
  if [ "$mode" = off ]; then
    in_ns "$NR" iptables -A OUTPUT -p icmp --icmp-type fragmentation-needed -j DROP
    in_ns "$NR" ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j DROP
  fi
}

up() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --mtu) MTU="$2"; shift 2 ;;
      --mtu-a) MTU_A="$2"; shift 2 ;;
      --loss) LOSS="$2"; shift 2 ;;
      --rate) RATE="$2"; shift 2 ;;
      --no-icmp) ICMP=off; shift ;;
      --delay) die "--delay: not supported (no netem on this kernel)" ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ "$MTU" =~ ^[0-9]+$ && "$MTU" -ge 576 && "$MTU" -le 65535 ]] || die "--mtu must be 576..65535"
  [[ "$MTU_A" =~ ^[0-9]+$ && "$MTU_A" -ge 576 && "$MTU_A" -le 65535 ]] || die "--mtu-a must be 576..65535"
  local prob=""
  if [ -n "$LOSS" ]; then
    [[ "$LOSS" =~ ^([0-9]+(\.[0-9]+)?)%?$ ]] || die "--loss must look like 1% or 0.5%"
    prob=$(awk -v p="${BASH_REMATCH[1]}" 'BEGIN { if (p < 0 || p > 100) exit 1; printf "%.4f", p / 100 }') || die "--loss must be 0..100%"
  fi
  down
  trap 'down' ERR
  ip netns add "$NA"; ip netns add "$NR"; ip netns add "$NB"
  for ns in "$NA" "$NR" "$NB"; do
    # no duplicate address detection: addresses (link-local too) are usable at once
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
  done
  ip link add "$PREFIX-a0" netns "$NA" type veth peer name "$PREFIX-ra" netns "$NR"
  ip link add "$PREFIX-b0" netns "$NB" type veth peer name "$PREFIX-rb" netns "$NR"
  for ns in "$NA" "$NR" "$NB"; do ip -n "$ns" link set lo up; done
  ip -n "$NA" link set "$PREFIX-a0" mtu "$MTU_A" up
  ip -n "$NR" link set "$PREFIX-ra" mtu "$MTU_A" up
  ip -n "$NR" link set "$PREFIX-rb" mtu "$MTU" up
  ip -n "$NB" link set "$PREFIX-b0" mtu "$MTU" up
  ip -n "$NA" addr add 10.91.1.1/24 dev "$PREFIX-a0"
  ip -n "$NR" addr add 10.91.1.254/24 dev "$PREFIX-ra"
  ip -n "$NR" addr add 10.91.2.254/24 dev "$PREFIX-rb"
  ip -n "$NB" addr add 10.91.2.1/24 dev "$PREFIX-b0"
  ip -n "$NA" -6 addr add fd91:1::1/64 dev "$PREFIX-a0" nodad
  ip -n "$NR" -6 addr add fd91:1::fe/64 dev "$PREFIX-ra" nodad
  ip -n "$NR" -6 addr add fd91:2::fe/64 dev "$PREFIX-rb" nodad
  ip -n "$NB" -6 addr add fd91:2::1/64 dev "$PREFIX-b0" nodad
  ip -n "$NA" route add default via 10.91.1.254
  ip -n "$NB" route add default via 10.91.2.254
  ip -n "$NA" -6 route add default via fd91:1::fe
  ip -n "$NB" -6 route add default via fd91:2::fe
  in_ns "$NR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  if [ -n "$prob" ]; then
    for t in iptables ip6tables; do
      in_ns "$NR" "$t" -A FORWARD -m statistic --mode random --probability "$prob" -j DROP
    done
  fi
  if [ -n "$RATE" ]; then
    for dev in "$PREFIX-ra" "$PREFIX-rb"; do
      in_ns "$NR" tc qdisc add dev "$dev" root tbf rate "$RATE" burst 64kb latency 100ms
    done
  fi
  icmp "$ICMP"
  local ok4=0 ok6=0 i
  for i in 1 2 3 4 5; do
    [ $ok4 = 1 ] || { in_ns "$NA" ping -c 1 -W 1 10.91.2.1 >/dev/null 2>&1 && ok4=1; }
    [ $ok6 = 1 ] || { in_ns "$NA" ping -6 -c 1 -W 1 fd91:2::1 >/dev/null 2>&1 && ok6=1; }
    [ $ok4$ok6 = 11 ] && break
  done
  [ $ok4 = 1 ] || { down; die "IPv4 path a -> b does not work"; }
  [ $ok6 = 1 ] || { down; die "IPv6 path a -> b does not work"; }
  trap - ERR
  echo "lab up: $NA (10.91.1.1, fd91:1::1) -- $NR -- $NB (10.91.2.1, fd91:2::1); link B MTU $MTU, link A MTU $MTU_A, loss ${LOSS:-0}, rate ${RATE:-unlimited}, ICMP too-big $ICMP"
}

status() {
  for ns in "$NA" "$NR" "$NB"; do
    ip netns list | grep -qw "$ns" || { echo "$ns: absent"; continue; }
    echo "== $ns"
    ip -n "$ns" -br addr | grep -v '^lo'
    ip -n "$ns" -o link | grep -v ': lo:' | sed -E 's/^[0-9]+: ([^:@]+).* mtu ([0-9]+).*/   \1 mtu \2/'
  done
  if ip netns list | grep -qw "$NR"; then
    echo "== router rules"
    in_ns "$NR" iptables -S | grep -E 'DROP' || true
    in_ns "$NR" ip6tables -S | grep -E 'DROP' || true
    in_ns "$NR" tc qdisc show | grep tbf || true
  fi
}

cmd="${1:-}"
[ -n "$cmd" ] && shift
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  exec)
    [ $# -ge 2 ] || die "exec a|b|r CMD [ARGS...]"
    case "$1" in a) ns="$NA" ;; b) ns="$NB" ;; r) ns="$NR" ;; *) die "exec: host must be a, b or r" ;; esac
    shift
    exec ip netns exec "$ns" "$@" ;;
  icmp)
    case "${1:-}" in on|off) icmp "$1" ;; *) die "icmp on|off" ;; esac ;;
  status) status ;;
  *) sed -n '2,/^set -eEuo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = -h ] || exit 2 ;;
esac
