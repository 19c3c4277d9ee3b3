#!/bin/bash
# make_mix_capture.sh MIX OUT.pcap [SECONDS] : real capture of one traffic mix
# for the decode benchmark (NOT for git). Two strongSwan 5.9 peers in network
# namespaces vks1/vks2 (names start with "vks", so it never collides with the
# fixture scripts' vf1/vf2 or the interop tests' vk1/vk2), IKEv2 PSK
# aes256-sha256-x25519, ESP aes256-sha256 in UDP/4500 (kernel-libipsec),
# tcpdump -w OUT.pcap on vks1e. MIX is one of
#   a  bulk ESP: iperf3 TCP through one tunnel (as make_bench_capture.sh)
#   b  small-packet ESP: iperf3 UDP, 160-byte datagrams (VoIP-sized), both ways
#   c  a tunnel that rekeys often: pings every 30 ms through tunnel 1 while
#      CONNS tunnels rekey their Child SA every 2 s and IKE SA every 6 s
#      (about 20 % of the packets are IKE)
#   d  IKE-heavy (most packets IKE): CONNS tunnels with Child SA rekeys every
#      2 s, IKE SA rekeys every 5 s, DPD every 1 s, pings every 20 ms through
#      tunnel 1; a second connection with a wrong PSK re-initiated by this
#      script every 0.5 s (AUTHENTICATION_FAILED each time), and a third whose
#      responder address drops IKE (iptables in vks2), so the initiator
#      retransmits (retransmit_timeout 0.5 s) and retries forever
#      (keyingtries = 0).
# Keys (esp_sa, ikev2_decryption_table, keys.json: keys.py from the charon
# logs at ike=4/chd=4) are written next to OUT, plus OUT.info.txt.
# Bounded: traffic runs SECONDS (default 60, at most 600); everything
# (charons, iperf3, tcpdump, namespaces) is removed on exit.
set -u
MIX=${1:?usage: make_mix_capture.sh a|b|c|d OUT.pcap [SECONDS]}
OUTF=${2:?usage: make_mix_capture.sh a|b|c|d OUT.pcap [SECONDS]}
DUR=${3:-60}
[ "$DUR" -le 600 ] 2>/dev/null || { echo "SECONDS must be a number <= 600" >&2; exit 2; }
case $MIX in a|b|c|d) ;; *) echo "MIX must be a, b, c or d" >&2; exit 2;; esac
CONNS=${CONNS:-$([ $MIX = d ] && echo 30 || echo 8)}
# This VM's strongSwan has no openssl/gcm plugins (no AES-GCM): AES-CBC-256 +
# HMAC-SHA2-256-128 for IKE and ESP (strongSwan's own default family).
IKE_PROP=${IKE_PROP:-aes256-sha256-x25519}
ESP_PROP=${ESP_PROP:-aes256-sha256}
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUTD=$(mkdir -p "$(dirname "$OUTF")" && cd "$(dirname "$OUTF")" && pwd)
OUTF=$OUTD/$(basename "$OUTF")
P=vks
NODES="${P}1 ${P}2"
LOG_NET=1  # net=2 would log every ESP packet
D=$WORK/mix-$MIX
BG_PIDS=
EXTRA_CLEANUP='for p in $BG_PIDS; do kill $p 2>/dev/null; done; wait $BG_PIDS 2>/dev/null'

# namespaces vks1/vks2 (common.sh's setup_net hard-codes vf1/vf2)
teardown_net() {
	ip netns del ${P}1 2>/dev/null
	ip netns del ${P}2 2>/dev/null
	return 0
}
setup_net() {
	teardown_net
	ip netns add ${P}1 && ip netns add ${P}2 || return 1
	ip link add ${P}1e type veth peer name ${P}2e
	ip link set ${P}1e netns ${P}1
	ip link set ${P}2e netns ${P}2
	local n
	for n in 1 2; do
		ip -n $P$n link set lo up
		ip -n $P$n link add ${P}d$n type veth peer name ${P}d${n}p
		ip -n $P$n link set ${P}d$n up
		ip -n $P$n link set ${P}d${n}p up
		ip -n $P$n link set $P${n}e up
		ip -n $P$n addr add 192.0.2.$n/24 dev $P${n}e
		ip netns exec $P$n sysctl -qw net.ipv4.ip_forward=1
		ip netns exec $P$n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	done
	# vks2 also answers on 192.0.2.3 (the "dropping" responder address)
	ip -n ${P}2 addr add 192.0.2.3/24 dev ${P}2e
	ip -n ${P}1 addr add 198.51.100.1/24 dev ${P}d1
	ip -n ${P}2 addr add 203.0.113.1/24 dev ${P}d2
}

case $MIX in
	a|b) CONNS=1; CHILD_RK=20s; IKE_RK=45s; DPD=0s ;;
	c) CHILD_RK=2s; IKE_RK=6s; DPD=0s ;;
	d) CHILD_RK=2s; IKE_RK=5s; DPD=1s ;;
esac

# conn K (1..CONNS): inner 198.51.100.K/32 <-> 203.0.113.K/32, own IDs
gen_conf() { # gen_conf N (1 = initiator side vks1)
	local n=$1 o=$((3-$1)) k lts rts ikerk childrk
	{
	echo "connections {"
	for k in $(seq 1 $CONNS); do
		if [ $n = 1 ]; then lts=198.51.100.$k/32; rts=203.0.113.$k/32; else lts=203.0.113.$k/32; rts=198.51.100.$k/32; fi
		[ $k = 1 ] && [ $MIX = a -o $MIX = b ] && { if [ $n = 1 ]; then lts=198.51.100.0/24; rts=203.0.113.0/24; else lts=203.0.113.0/24; rts=198.51.100.0/24; fi; }
		# initiator side rekeys the Child SAs, responder side the IKE SA (as make_bench_capture.sh)
		if [ $n = 1 ]; then ikerk=300s; childrk=$CHILD_RK; else ikerk=$IKE_RK; childrk=300s; fi
		cat <<EOC
	c$k {
		version = 2
		local_addrs = 192.0.2.$n
		remote_addrs = 192.0.2.$o
		proposals = $IKE_PROP
		encap = yes
		unique = never
		rekey_time = $ikerk
		over_time = 600s
		rand_time = 0s
		dpd_delay = $DPD
		local {
			auth = psk
			id = $P$n-$k@example.org
		}
		remote {
			auth = psk
			id = $P$o-$k@example.org
		}
		children {
			net$k {
				local_ts = $lts
				remote_ts = $rts
				esp_proposals = $ESP_PROP
				mode = tunnel
				rekey_time = $childrk
				life_time = 1200s
				rand_time = 0s
				start_action = none
			}
		}
	}
EOC
	done
	if [ $MIX = d ] && [ $n = 1 ]; then
		# wrong PSK: IKE_AUTH fails (re-initiated by the script)
		cat <<EOC
	badpsk {
		version = 2
		local_addrs = 192.0.2.1
		remote_addrs = 192.0.2.2
		proposals = $IKE_PROP
		encap = yes
		unique = never
		keyingtries = 1
		local {
			auth = psk
			id = ${P}1-bad@example.org
		}
		remote {
			auth = psk
			id = ${P}2-bad@example.org
		}
		children {
			bad {
				local_ts = 198.51.100.200/32
				remote_ts = 203.0.113.200/32
				esp_proposals = $ESP_PROP
				start_action = none
			}
		}
	}
	deadpeer {
		version = 2
		local_addrs = 192.0.2.1
		remote_addrs = 192.0.2.3
		proposals = $IKE_PROP
		keyingtries = 0
		local {
			auth = psk
			id = ${P}1-dead@example.org
		}
		remote {
			auth = psk
			id = ${P}2-dead@example.org
		}
		children {
			dead {
				local_ts = 198.51.100.201/32
				remote_ts = 203.0.113.201/32
				esp_proposals = $ESP_PROP
				start_action = start
			}
		}
	}
EOC
	elif [ $MIX = d ]; then
		cat <<EOC
	badpsk {
		version = 2
		local_addrs = 192.0.2.2
		remote_addrs = 192.0.2.1
		proposals = $IKE_PROP
		unique = never
		local {
			auth = psk
			id = ${P}2-bad@example.org
		}
		remote {
			auth = psk
			id = ${P}1-bad@example.org
		}
		children {
			bad {
				local_ts = 203.0.113.200/32
				remote_ts = 198.51.100.200/32
				esp_proposals = $ESP_PROP
			}
		}
	}
EOC
	fi
	echo "}"
	echo "secrets {"
	for k in $(seq 1 $CONNS); do
		echo "	ike-$k { id-1 = ${P}1-$k@example.org
		id-2 = ${P}2-$k@example.org
		secret = \"vpnkit-mix-psk-$k-0123456789\" }"
	done
	if [ $MIX = d ]; then
		echo "	ike-bad { id-1 = ${P}1-bad@example.org
		id-2 = ${P}2-bad@example.org
		secret = \"vpnkit-mix-psk-node$n\" }"
		echo "	ike-dead { id-1 = ${P}1-dead@example.org
		secret = \"vpnkit-mix-psk-dead\" }"
	fi
	echo "}"
	} > $D/$P$n/swanctl.conf
}

build_shim || exit 1
rm -rf $D; mkdir -p $D/${P}1 $D/${P}2
for n in 1 2; do gen_conf $n; done
if [ $MIX = d ]; then
	RETRANSMIT_TIMEOUT=0.5 RETRANSMIT_TRIES=3
	for n in 1 2; do write_ss_conf $P$n $D "retransmit_base = 1.4"; done
else
	for n in 1 2; do write_ss_conf $P$n $D; done
fi
trap cleanup_all EXIT
trap 'exit 130' INT TERM
setup_net || exit 1
# the "dead peer" address: vks2 drops IKE sent to it (captured on vks1e before the drop)
[ $MIX = d ] && ip netns exec ${P}2 iptables -A INPUT -d 192.0.2.3 -p udp -j DROP
t0=$(date +%s.%N)
ip netns exec ${P}1 tcpdump -Z root -n -s 0 -B 32768 -i ${P}1e -w $OUTF 2> $D/tcpdump.log &
TCPDUMP_PID[veth]=$!
sleep 1
for n in 1 2; do start_charon $P$n $D || exit 1; done
for n in 2 1; do sw $P$n --load-all --file $D/$P$n/swanctl.conf > $D/load-$P$n.out 2>&1; done
# inner address K on both sides for tunnel K's /32 selectors
for k in $(seq 2 $CONNS) 200 201; do
	ip -n ${P}1 addr add 198.51.100.$k/24 dev ${P}d1
	ip -n ${P}2 addr add 203.0.113.$k/24 dev ${P}d2
done
for k in $(seq 1 $CONNS); do
	sw ${P}1 --initiate --child net$k --timeout 20 >> $D/initiate.out 2>&1 || { log "initiate c$k failed"; tail $D/initiate.out; exit 1; }
done
end=$((SECONDS + DUR))
case $MIX in
	a)
		ip netns exec ${P}2 timeout $((DUR + 10)) iperf3 -s -B 203.0.113.1 -1 > $D/iperf3-server.out 2>&1 &
		BG_PIDS="$BG_PIDS $!"; sleep 1
		ip netns exec ${P}1 timeout $((DUR + 5)) iperf3 -c 203.0.113.1 -B 198.51.100.1 -t $DUR -b ${RATE:-40M} -M 1200 -i 10 > $D/iperf3-client.out 2>&1 &
		BG_PIDS="$BG_PIDS $!" ;;
	b)
		ip netns exec ${P}2 timeout $((DUR + 10)) iperf3 -s -B 203.0.113.1 -1 > $D/iperf3-server.out 2>&1 &
		BG_PIDS="$BG_PIDS $!"; sleep 1
		# 160-byte datagrams (G.711 20 ms payload) at RATE, both directions
		ip netns exec ${P}1 timeout $((DUR + 5)) iperf3 -c 203.0.113.1 -B 198.51.100.1 -u -l 160 -b ${RATE:-2M} --bidir -t $DUR -i 10 > $D/iperf3-client.out 2>&1 &
		BG_PIDS="$BG_PIDS $!" ;;
	c)
		ip netns exec ${P}1 timeout $((DUR + 5)) ping -q -i 0.03 -w $DUR -I 198.51.100.1 203.0.113.1 > $D/ping.out 2>&1 &
		BG_PIDS="$BG_PIDS $!" ;;
	d)
		ip netns exec ${P}1 timeout $((DUR + 5)) ping -q -i 0.02 -w $DUR -I 198.51.100.1 203.0.113.1 > $D/ping.out 2>&1 &
		BG_PIDS="$BG_PIDS $!"
		( while [ $SECONDS -lt $end ]; do
			sw ${P}1 --initiate --child bad --timeout 5 >> $D/badpsk.out 2>&1
			sleep 0.5
		done ) &
		BG_PIDS="$BG_PIDS $!" ;;
esac
while [ $SECONDS -lt $end ]; do sleep 1; done
sleep 1
sw ${P}1 --list-sas > $D/list-sas-${P}1.txt 2>&1
stop_capture veth
t1=$(date +%s.%N)
cleanup_all
trap - EXIT
python3 $SCRIPTS/keys.py $OUTD ${P}1=$D/charon-${P}1.log ${P}2=$D/charon-${P}2.log > $D/keys.out 2>&1
{
	echo "capture: $OUTF (mix $MIX, $CONNS tunnels, $DUR s of traffic)"
	echo "wall time (capture start to stop): $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
	echo "size: $(stat -c %s $OUTF) bytes"
	cat $D/tcpdump.log
	capinfos -c -d -u -y -i "$OUTF" 2>&1 | tail -n +2
	echo "IKE packets (udp port 500, or 4500 with a zero non-ESP marker): $(tcpdump -nr $OUTF 'udp port 500 or (udp port 4500 and udp[8:4] = 0)' 2>/dev/null | wc -l)"
	tail -3 $D/keys.out
	grep -E 'sender|receiver' $D/iperf3-client.out 2>/dev/null
	tail -2 $D/ping.out 2>/dev/null
} > $OUTF.info.txt
cat $OUTF.info.txt
