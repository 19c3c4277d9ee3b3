#!/bin/bash
# i_ikev2_ipfrag: IKEv2 certificate authentication with IKE fragmentation
# disabled (fragmentation = no on both ends): the IKE_AUTH request carries the
# vf1 RSA-4096 cert (12 extra SANs) + the RSA-4096 intermediate CA cert + a
# 512-byte RSA signature (> 3.5 kB), so the single UDP datagram is
# fragmented at the IP layer on the 1500-byte-MTU veth. Same PKI as case c
# (make_pki.sh). IKE aes256-sha384-modp3072, ESP aes256gcm16. 4 pings, delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=i_ikev2_ipfrag
bash $SCRIPTS/make_pki.sh > /dev/null 2>&1
CONN=vfi IKE_PROP=aes256-sha384-modp3072 ESP_PROP=aes256gcm16 FRAG=no
gen_conf() { gen_cert_pair; }
scenario() { std_scenario; }
run_std
