#!/bin/bash
# e2_ikev1_aggressive_psk: IKEv1 Aggressive Mode, PSK (needs
# charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes on both
# ends), IKE aes256-sha1-modp2048, Quick Mode ESP aes256-sha256 (no PFS),
# tunnel, ESP-in-UDP (kernel-libipsec), 4 pings, delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=e2_ikev1_aggressive_psk
CONN=vfe2 VERSION=1 IKE_PROP=aes256-sha1-modp2048 ESP_PROP=aes256-sha256 ENCAP=no
CONN_EXTRA="aggressive = yes"
PSK1="vpnkit-made-psk-case-e2-0123456789"
SS_EXTRA_vf1="i_dont_care_about_security_and_use_aggressive_mode_psk = yes"
SS_EXTRA_vf2="i_dont_care_about_security_and_use_aggressive_mode_psk = yes"
gen_conf() { gen_psk_pair; }
scenario() { std_scenario; }
run_std
