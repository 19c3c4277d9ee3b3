#!/bin/bash
# Shared body of the issue-5 cipher cases (k_esp_*): IKEv2 PSK,
# IKE aes256-sha256-x25519 (AES-CBC + HMAC, decryptable by tshark 4.0), the
# ESP proposal under test, tunnel, ESP-in-UDP (kernel-libipsec), 4 pings,
# delete. The case script sets NAME and ESP_PROP, then sources this file.
. "$(dirname "${BASH_SOURCE[0]}")/../common.sh"
CONN=vfk VERSION=2 IKE_PROP=aes256-sha256-x25519 ENCAP=no
PSK1="vpnkit-made-psk-$NAME"
gen_conf() { gen_psk_pair; }
scenario() {
	std_scenario
	# record the negotiated ESP transform and any refusal for the README
	grep -hE 'selected proposal|no acceptable|failed|not supported|unable|proposal' \
		$D/charon-vf1.log $D/charon-vf2.log > $D/notes.txt 2>/dev/null
}
run_std
# tshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP: check it with the keys
if [ "$ESP_PROP" = chacha20poly1305 ]; then
	python3 $SCRIPTS/verify_chacha.py $CAP/$NAME/$NAME.pcap $CAP/$NAME/keys.json > $CAP/$NAME/chacha_check.txt 2>&1
	tail -1 $CAP/$NAME/chacha_check.txt
fi
