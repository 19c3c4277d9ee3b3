#!/bin/bash
# f3_ikev2_child_no_proposal: IKEv2 CHILD_SA (ESP) proposal mismatch. The IKE
# SA negotiates fine (aes128-sha256-x25519, CBC+HMAC), but vf1 offers ESP
# aes256gcm16 while vf2 only accepts aes128-sha1 -> the IKE_AUTH response
# carries an encrypted NO_PROPOSAL_CHOSEN notify (IKE SA established without
# CHILD_SA), then vf1 deletes the IKE SA.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f3_ikev2_child_no_proposal
CONN=vff3 VERSION=2 IKE_PROP=aes128-sha256-x25519 ESP_PROP=aes256gcm16 ENCAP=no
ESP_PROP2=aes128-sha1
PSK1="vpnkit-made-psk-case-f3-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sleep 1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
