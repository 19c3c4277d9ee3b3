#!/bin/bash
# Case f2: IKEv2 IKE proposal mismatch. vf1 offers aes256gcm16-prfsha256-x25519,
# vf2 only accepts aes128-sha256-modp2048 -> IKE_SA_INIT response with
# NO_PROPOSAL_CHOSEN (cleartext, no keys derived).
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f2_ikev2_ike_no_proposal
CONN=vff2 VERSION=2 IKE_PROP=aes256gcm16-prfsha256-x25519 ESP_PROP=aes256gcm16 ENCAP=no
IKE_PROP2=aes128-sha256-modp2048
PSK1="corpus-psk-case-f2-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	sleep 1
}
run_std
