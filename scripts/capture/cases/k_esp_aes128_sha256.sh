#!/bin/bash
# k_esp_aes128_sha256: issue-5 cipher set, ESP aes128-sha256 (see _cipher.sh).
NAME=k_esp_aes128_sha256 ESP_PROP=aes128-sha256
. "$(dirname "${BASH_SOURCE[0]}")/_cipher.sh"
