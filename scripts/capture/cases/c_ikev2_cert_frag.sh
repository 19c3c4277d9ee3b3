#!/bin/bash
# c_ikev2_cert_frag: IKEv2 certificate authentication (vf1: RSA-4096 cert
# from an RSA-4096 intermediate CA, vf2: ECDSA P-384 cert from the RSA-3072
# root; see make_pki.sh), IKE aes256-sha384-modp3072, ESP aes256gcm16,
# IKEv2 fragmentation (RFC 7383) with charon.fragment_size = 512 on both ends:
# both IKE_AUTH messages travel as Encrypted Fragment payloads (SKF).
# 4 pings through the tunnel, then delete.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
NAME=c_ikev2_cert_frag
bash $SCRIPTS/make_pki.sh > /dev/null 2>&1
CONN=vfc IKE_PROP=aes256-sha384-modp3072 ESP_PROP=aes256gcm16 FRAG=yes
SS_EXTRA_vf1="fragment_size = 512"
SS_EXTRA_vf2="fragment_size = 512"
gen_conf() { gen_cert_pair; }
scenario() { std_scenario; }
run_std
