#!/bin/bash
# d_ikev2_rekey: IKEv2 PSK, IKE aes128gcm16-prfsha256-ecp256, ESP
# aes128gcm16-ecp256 (PFS: KE payloads in CREATE_CHILD_SA).
# vf1 (initiator) rekeys the CHILD_SA every 6 s; vf2 (the original responder)
# rekeys the IKE_SA after 15 s (CREATE_CHILD_SA with a new IKE SA proposal,
# then DELETE of the old IKE SA; later CHILD_SA rekeys run in the new IKE SA).
# Continuous pings (every 0.5 s, ~21 s) across all rekeys, then delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=d_ikev2_rekey
CONN=vfd
gen_conf() {
	local n o lts rts ike_rk child_rk
	for n in 1 2; do
		o=$((3-n))
		if [ $n = 1 ]; then lts=198.51.100.0/24; rts=203.0.113.0/24; ike_rk=300s; child_rk=6s
		else lts=203.0.113.0/24; rts=198.51.100.0/24; ike_rk=15s; child_rk=300s; fi
		cat > $D/vf$n/swanctl.conf <<EOC
connections {
	vfd {
		version = 2
		local_addrs = $(addr $n)
		remote_addrs = $(addr $o)
		proposals = aes128gcm16-prfsha256-ecp256
		rekey_time = $ike_rk
		over_time = 60s
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
				esp_proposals = aes128gcm16-ecp256
				mode = tunnel
				rekey_time = $child_rk
				life_time = 400s
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
		secret = "vpnkit-made-psk-case-d-0123456789"
	}
}
EOC
	done
}
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	ip netns exec vf1 timeout 30 ping -c 42 -i 0.5 -W 2 -I 198.51.100.1 203.0.113.1 >> $D/ping.out 2>&1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	sw vf2 --list-sas > $D/list-sas-vf2.txt 2>&1
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
