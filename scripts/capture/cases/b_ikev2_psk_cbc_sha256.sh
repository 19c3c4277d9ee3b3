#!/bin/bash
# Case b: IKEv2 PSK, IKE aes128-sha256-ecp256 (CBC+HMAC), ESP aes128-sha256
# (AES-CBC + HMAC-SHA-256-128), tunnel mode, encap NOT forced.
# Written as pcapng by Wireshark's dumpcap on the veth.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=b_ikev2_psk_cbc_sha256
CAPTURE_NG=1
CONN=vfb VERSION=2 IKE_PROP=aes128-sha256-ecp256 ESP_PROP=aes128-sha256 ENCAP=no
PSK1="corpus-psk-case-b-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	ping_through 4
	sw vf1 --list-sas >> $D/list-sas-vf1.txt 2>&1
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
