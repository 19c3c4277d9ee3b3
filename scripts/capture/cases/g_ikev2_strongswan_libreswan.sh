#!/bin/bash
# Case g: interop strongSwan (vf1, initiator, charon + kernel-libipsec) <->
# Libreswan 4.10 pluto (vf2, responder, Debian package extracted with
# dpkg -x since it conflicts with strongswan-libcharon). IKEv2 PSK,
# IKE aes256-sha2_256-modp2048, ESP aes256-sha2_256, encapsulation=yes.
# Libreswan needs kernel XFRM ESP to install the CHILD_SA, which this kernel
# lacks, so whatever happens after IKE_AUTH is part of the capture.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=g_ikev2_strongswan_libreswan
LS=${LIBRESWAN_ROOT:-$WORK/libreswan/root}
PLUTO=$LS/usr/libexec/ipsec/pluto
PLUTO_PID=
gen_conf() {
	cat > $D/vf1/swanctl.conf <<EOC
connections {
	vfg {
		version = 2
		local_addrs = 192.0.2.1
		remote_addrs = 192.0.2.2
		proposals = aes256-sha256-modp2048
		encap = yes
		local {
			auth = psk
			id = vf1.example.org
		}
		remote {
			auth = psk
			id = vf2.example.org
		}
		children {
			net {
				local_ts = 198.51.100.0/24
				remote_ts = 203.0.113.0/24
				esp_proposals = aes256-sha256
				mode = tunnel
				start_action = none
			}
		}
	}
}
secrets {
	ike-vf {
		id-1 = vf1.example.org
		id-2 = vf2.example.org
		secret = "corpus-psk-case-g-0123456789"
	}
}
EOC
	mkdir -p $D/vf2/nss
	cat > $D/vf2/ipsec.conf <<EOC
# Libreswan 4.10 configuration for vf2 (responder)
config setup
	logfile=$D/pluto-vf2.log
	logappend=no
	plutodebug="all,private"

conn vfg
	ikev2=insist
	authby=secret
	left=192.0.2.2
	leftid=@vf2.example.org
	leftsubnet=203.0.113.0/24
	right=192.0.2.1
	rightid=@vf1.example.org
	rightsubnet=198.51.100.0/24
	ike=aes256-sha2_256-modp2048
	esp=aes256-sha2_256
	encapsulation=yes
	fragmentation=yes
	auto=add
EOC
	cat > $D/vf2/ipsec.secrets <<EOC
@vf1.example.org @vf2.example.org : PSK "corpus-psk-case-g-0123456789"
EOC
	certutil -N -d sql:$D/vf2/nss --empty-password > /dev/null 2>&1
}
run_g() {
	D=$WORK/$NAME; build_shim || return 1
	rm -rf $D; mkdir -p $D/vf1 $D/vf2
	for sub in x509 x509ca private; do mkdir -p $D/vf1/$sub; done
	gen_conf
	write_ss_conf vf1 $D
	trap 'cleanup_all; [ -n "$PLUTO_PID" ] && kill $PLUTO_PID 2>/dev/null' EXIT
	setup_net
	start_capture veth vf1 vf1e $D/$NAME.pcap
	start_charon vf1 $D
	sw vf1 --load-all --file $D/vf1/swanctl.conf > $D/load-vf1.out 2>&1
	mkdir -p $RUN/vf2pl
	rm -f $RUN/vf2pl/*
	# pluto execs /usr/libexec/ipsec/addconn at startup (compiled-in path):
	# bind the extracted /usr/libexec over the real one, only inside pluto's
	# private mount namespace, plus a private /run (core dump dir /run/pluto)
	ip netns exec vf2 unshare -m --propagation private sh -c "mount --bind $LS/usr/libexec /usr/libexec && \
		mount -t tmpfs vfrun /run && mkdir -p /run/pluto && exec $PLUTO --nofork --config $D/vf2/ipsec.conf --rundir $RUN/vf2pl \
		--nssdir $D/vf2/nss --secretsfile $D/vf2/ipsec.secrets --ipsecdir $D/vf2 \
		--no-dnssec --logfile $D/pluto-vf2.log" > $D/pluto-vf2.stdout 2>&1 &
	PLUTO_PID=$!
	local i
	for i in $(seq 1 50); do [ -S $RUN/vf2pl/pluto.ctl ] && break; sleep 0.2; done
	ip netns exec vf2 $LS/usr/libexec/ipsec/addconn --ctlsocket $RUN/vf2pl/pluto.ctl \
		--config $D/vf2/ipsec.conf vfg > $D/addconn-vf2.out 2>&1
	ip netns exec vf2 $LS/usr/libexec/ipsec/whack --ctlsocket $RUN/vf2pl/pluto.ctl --listen >> $D/addconn-vf2.out 2>&1
	sleep 1
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	ip netns exec vf2 $LS/usr/libexec/ipsec/whack --ctlsocket $RUN/vf2pl/pluto.ctl --trafficstatus > $D/whack-status-vf2.txt 2>&1
	ip netns exec vf2 $LS/usr/libexec/ipsec/whack --ctlsocket $RUN/vf2pl/pluto.ctl --status >> $D/whack-status-vf2.txt 2>&1
	ping_through 3
	sw vf1 --terminate --ike vfg --timeout 10 > $D/terminate.out 2>&1
	sleep 1
	stop_capture veth
	stop_charon vf1
	kill -TERM $PLUTO_PID 2>/dev/null
	for i in $(seq 1 25); do kill -0 $PLUTO_PID 2>/dev/null || break; sleep 0.2; done
	kill -KILL $PLUTO_PID 2>/dev/null; wait $PLUTO_PID 2>/dev/null; PLUTO_PID=
	teardown_net
	trap - EXIT
	python3 $SCRIPTS/keys.py $D vf1=$D/charon-vf1.log > $D/keys.out 2>&1; cat $D/keys.out
	$SCRIPTS/decode.sh $D $D/$NAME.pcap
	(cd $D && capinfos -t -E -F -c $NAME.pcap) > $D/$NAME.capinfos.txt 2>&1
	publish
	cp $D/pluto-vf2.log $CAP/$NAME/ 2>/dev/null
	log "done $NAME"
}
run_g
