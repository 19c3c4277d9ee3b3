#!/bin/bash
# Case e1: IKEv1 Main Mode, PSK, IKE aes128-sha256-modp2048, Quick Mode ESP
# aes128-sha1 (AES-CBC + HMAC-SHA1-96, PFS modp2048), tunnel, ESP-in-UDP
# (kernel-libipsec forces UDP encapsulation), pings, delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=e1_ikev1_main_psk
CONN=vfe1 VERSION=1 IKE_PROP=aes128-sha256-modp2048 ESP_PROP=aes128-sha1-modp2048 ENCAP=no
PSK1="corpus-psk-case-e1-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	ping_through 4
	sw vf1 --list-sas >> $D/list-sas-vf1.txt 2>&1
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
