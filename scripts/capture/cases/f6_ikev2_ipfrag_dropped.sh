#!/bin/bash
# f6_ikev2_ipfrag_dropped: case i (IKE_AUTH with a certificate chain,
# fragmentation = no, IP-fragmented into 3 fragments) but the non-first IP
# fragments are dropped on vf1e's egress by an nftables netdev egress rule
# (`ip frag-off & 0x1fff != 0 drop`; runs before the capture tap, so the
# capture on vf1e shows only what reached the wire: the first fragment of
# each IKE_AUTH transmission). vf1 retransmits IKE_AUTH (retransmit_tries 3)
# and gives up; vf2 (ipfrag_time = 5 s) answers the incomplete datagrams with
# ICMP time exceeded / fragment reassembly time exceeded.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=f6_ikev2_ipfrag_dropped
bash $SCRIPTS/make_pki.sh > /dev/null 2>&1
CONN=vff6 IKE_PROP=aes256-sha384-modp3072 ESP_PROP=aes256gcm16 FRAG=no
RETRANSMIT_TRIES=3
gen_conf() { gen_cert_pair; }
pre_charon() {
	ip netns exec vf2 sysctl -qw net.ipv4.ipfrag_time=5
	ip netns exec vf1 nft add table netdev vff6
	ip netns exec vf1 nft add chain netdev vff6 egress "{ type filter hook egress device vf1e priority 0; }"
	ip netns exec vf1 nft add rule netdev vff6 egress "ip frag-off & 0x1fff != 0 counter drop"
	ip netns exec vf1 nft list ruleset > $D/iptables.txt
}
scenario() {
	sw vf1 --initiate --child net --timeout 40 > $D/initiate.out 2>&1
	sleep 6
	ip netns exec vf1 nft list ruleset >> $D/iptables.txt
}
run_std
