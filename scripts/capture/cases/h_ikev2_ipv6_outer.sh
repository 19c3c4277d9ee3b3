#!/bin/bash
# h_ikev2_ipv6_outer: IKEv2 PSK over IPv6 outer addresses (vf1e 2001:db8::1,
# vf2e 2001:db8::2, RFC 3849 documentation prefix; IPv6 only on the veth,
# no RA, no DAD, no link-local address), inner IPv4 198.51.100.0/24 <->
# 203.0.113.0/24. IKE aes256gcm16-prfsha384-ecp384, ESP aes256gcm16,
# encap=yes: ESP in UDP/4500 over IPv6. 4 pings, delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=h_ikev2_ipv6_outer
OUTER_V6=1
CONN=vfh VERSION=2 IKE_PROP=aes256gcm16-prfsha384-ecp384 ESP_PROP=aes256gcm16 ENCAP=yes
PSK1="vpnkit-made-psk-case-h-0123456789"
gen_conf() { gen_psk_pair; }
scenario() { std_scenario; }
run_std
