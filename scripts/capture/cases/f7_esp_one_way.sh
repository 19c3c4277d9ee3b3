#!/bin/bash
# f7_esp_one_way: one-way ESP. IKEv2 PSK (aes256gcm16-prfsha256-x25519),
# ESP aes256gcm16 in UDP/4500, CHILD_SA established; then iptables in vf2
# drops vf2's outgoing ESP (OUTPUT, UDP source port 4500, first 4 payload
# bytes non-zero = not an IKE non-ESP marker) so only vf1 -> vf2 ESP is on
# the wire: 6 pings, 0 replies. IKE keeps working (DELETE at the end).
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f7_esp_one_way
CONN=vff7 VERSION=2 IKE_PROP=aes256gcm16-prfsha256-x25519 ESP_PROP=aes256gcm16 ENCAP=yes
PSK1="vpnkit-made-psk-case-f7-0123456789"
gen_conf() { gen_psk_pair; }
scenario() {
	sw vf1 --initiate --child net --timeout 20 > $D/initiate.out 2>&1
	ip netns exec vf2 iptables -A OUTPUT -p udp --sport 4500 -m u32 --u32 "0>>22&0x3C@8=1:0xFFFFFFFF" -j DROP
	ip netns exec vf2 iptables -S > $D/iptables.txt
	ip netns exec vf1 timeout 20 ping -c 6 -i 0.3 -W 1 -I 198.51.100.1 203.0.113.1 >> $D/ping.out 2>&1
	sw vf1 --list-sas > $D/list-sas-vf1.txt 2>&1
	sw vf2 --list-sas > $D/list-sas-vf2.txt 2>&1
	ip netns exec vf2 iptables -L -v -n >> $D/iptables.txt
	sw vf1 --terminate --ike $CONN --timeout 10 > $D/terminate.out 2>&1
}
run_std
