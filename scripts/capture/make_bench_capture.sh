#!/bin/bash
# make_bench_capture.sh OUT.pcap [N] : large real capture for the decode
# benchmark (NOT for git). Two strongSwan peers (vf1/vf2 namespaces, see
# common.sh), IKEv2 PSK aes256gcm16-prfsha256-x25519, ESP aes256gcm16 in
# UDP/4500 (kernel-libipsec), an iperf3 TCP stream (vf1 -> vf2 through the
# tunnel, paced with -b) and tcpdump -c N -w OUT.pcap on vf1e.
# IKE exchanges in the capture: IKE_SA_INIT, IKE_AUTH, CHILD_SA rekeys every
# CHILD_REKEY seconds (CREATE_CHILD_SA + INFORMATIONAL DELETE) and an IKE SA
# rekey after IKE_REKEY seconds.
# Keys (esp_sa, ikev2_decryption_table, keys.json) are written next to OUT,
# plus OUT.info.txt (time, size, packet count, drops).
# Bounded: stops after N packets (default 1000000) or MAX_SECONDS (default
# 900) whichever comes first; everything is cleaned up on exit.
# Tunables (environment): RATE (iperf3 -b, default 40M), MSS (default 1200),
# CHILD_REKEY (default 20), IKE_REKEY (default 45), MAX_SECONDS.
set -u
OUTF=${1:?usage: make_bench_capture.sh OUT.pcap [N]}
N=${2:-1000000}
MAX_SECONDS=${MAX_SECONDS:-900}
RATE=${RATE:-40M}
MSS=${MSS:-1200}
CHILD_REKEY=${CHILD_REKEY:-20}
IKE_REKEY=${IKE_REKEY:-45}
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
OUTD=$(cd "$(dirname "$OUTF")" 2>/dev/null && pwd) || { mkdir -p "$(dirname "$OUTF")"; OUTD=$(cd "$(dirname "$OUTF")" && pwd); }
OUTF=$OUTD/$(basename "$OUTF")
NAME=bench
LOG_NET=1  # net=2 would log every ESP packet (charon logs of 100+ MB)
D=$WORK/bench
IPERF_S= IPERF_C=
EXTRA_CLEANUP='for p in $IPERF_C $IPERF_S; do kill $p 2>/dev/null; done; wait $IPERF_C $IPERF_S 2>/dev/null'
build_shim || exit 1
rm -rf $D; mkdir -p $D/vf1 $D/vf2
for n in 1 2; do
	o=$((3-n))
	if [ $n = 1 ]; then lts=198.51.100.0/24; rts=203.0.113.0/24; ike_rk=300s; child_rk=${CHILD_REKEY}s
	else lts=203.0.113.0/24; rts=198.51.100.0/24; ike_rk=${IKE_REKEY}s; child_rk=300s; fi
	cat > $D/vf$n/swanctl.conf <<EOC
connections {
	vfbench {
		version = 2
		local_addrs = 192.0.2.$n
		remote_addrs = 192.0.2.$o
		proposals = aes256gcm16-prfsha256-x25519
		encap = yes
		rekey_time = $ike_rk
		over_time = 600s
		rand_time = 0s
		local {
			auth = psk
			id = vf$n@example.org
		}
		remote {
			auth = psk
			id = vf$o@example.org
		}
		children {
			net {
				local_ts = $lts
				remote_ts = $rts
				esp_proposals = aes256gcm16
				mode = tunnel
				rekey_time = $child_rk
				life_time = 1200s
				rand_time = 0s
				start_action = none
			}
		}
	}
}
secrets {
	ike-vf {
		id-1 = vf1@example.org
		id-2 = vf2@example.org
		secret = "vpnkit-bench-psk-0123456789"
	}
}
EOC
	write_ss_conf vf$n $D
done
trap cleanup_all EXIT
trap 'exit 130' INT TERM
setup_net
t0=$(date +%s.%N)
ip netns exec vf1 tcpdump -Z root -n -s 0 -B 32768 -i vf1e -c $N -w $OUTF 2> $D/tcpdump.log &
TCPDUMP_PID[veth]=$!
sleep 1
for n in 1 2; do start_charon vf$n $D || exit 1; done
for n in 1 2; do sw vf$n --load-all --file $D/vf$n/swanctl.conf > $D/load-vf$n.out 2>&1; done
sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1 || { log "initiate failed"; cat $D/initiate.out; exit 1; }
ip netns exec vf2 iperf3 -s -B 203.0.113.1 -1 > $D/iperf3-server.out 2>&1 &
IPERF_S=$!
sleep 1
ip netns exec vf1 iperf3 -c 203.0.113.1 -B 198.51.100.1 -t $MAX_SECONDS -b $RATE -M $MSS -i 10 > $D/iperf3-client.out 2>&1 &
IPERF_C=$!
# wait for N packets (tcpdump exits) or the deadline
end=$((SECONDS + MAX_SECONDS))
while [ $SECONDS -lt $end ] && kill -0 ${TCPDUMP_PID[veth]} 2>/dev/null; do
	sleep 2
done
kill -INT ${TCPDUMP_PID[veth]} 2>/dev/null
wait ${TCPDUMP_PID[veth]} 2>/dev/null; TCPDUMP_PID[veth]=
t1=$(date +%s.%N)
sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
cleanup_all
trap - EXIT
python3 $SCRIPTS/keys.py $OUTD vf1=$D/charon-vf1.log vf2=$D/charon-vf2.log | tee $D/keys.out
{
	echo "capture: $OUTF"
	echo "requested packets: $N, max seconds: $MAX_SECONDS, iperf3 TCP -b $RATE -M $MSS"
	echo "wall time (capture start to stop): $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"
	echo "size: $(stat -c %s $OUTF) bytes"
	cat $D/tcpdump.log
	capinfos -c -d -u -y -i "$OUTF" 2>&1 | tail -n +2
	cat $D/keys.out
	grep -E 'sender|receiver' $D/iperf3-client.out
} > $OUTF.info.txt
cat $OUTF.info.txt
