#!/bin/bash
# f5_ikev2_no_response: the responder never answers. iptables in vf2 drops
# every incoming UDP datagram to port 500 and 4500 (INPUT chain, after the
# capture point, so the requests are on the wire). vf1 sends IKE_SA_INIT and
# retransmits it (retransmit_tries = 3, retransmit_timeout = 2 s,
# retransmit_base 1.8: at ~0, 2, 5.6, 12.1 s), then gives up at ~23.7 s.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f5_ikev2_no_response
CONN=vff5 VERSION=2 IKE_PROP=aes256gcm16-prfsha256-x25519 ESP_PROP=aes256gcm16 ENCAP=no
PSK1="vpnkit-made-psk-case-f5-0123456789"
RETRANSMIT_TRIES=3
gen_conf() { gen_psk_pair; }
pre_charon() {
	ip netns exec vf2 iptables -A INPUT -p udp --dport 500 -j DROP
	ip netns exec vf2 iptables -A INPUT -p udp --dport 4500 -j DROP
	ip netns exec vf2 iptables -S > $D/iptables.txt
}
scenario() {
	sw vf1 --initiate --child net --timeout 40 > $D/initiate.out 2>&1
	ip netns exec vf2 iptables -L -v -n >> $D/iptables.txt
}
run_std
