#!/bin/bash
# k_esp_aes128gcm16: issue-5 cipher set, ESP aes128gcm16 (see _cipher.sh).
NAME=k_esp_aes128gcm16 ESP_PROP=aes128gcm16
. "$(dirname "${BASH_SOURCE[0]}")/_cipher.sh"
