#!/bin/bash
# f4_ikev2_ts_unacceptable: IKEv2 traffic-selector mismatch. vf1 proposes
# TSi 198.51.100.0/24 TSr 203.0.113.0/24; vf2's only child accepts remote
# 192.0.2.128/25 -> no overlap: the IKE_AUTH response carries an encrypted
# TS_UNACCEPTABLE notify (IKE SA up, no CHILD_SA), then vf1 deletes the IKE SA.
# IKE aes256gcm16-prfsha256-x25519, ESP aes256gcm16.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f4_ikev2_ts_unacceptable
CONN=vff4 VERSION=2 IKE_PROP=aes256gcm16-prfsha256-x25519 ESP_PROP=aes256gcm16 ENCAP=no
RTS2=192.0.2.128/25
PSK1="vpnkit-made-psk-case-f4-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sleep 1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
