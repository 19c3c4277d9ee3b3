#!/bin/bash
# k_esp_chacha20poly1305: issue-5 cipher set, ESP chacha20poly1305 (see _cipher.sh).
NAME=k_esp_chacha20poly1305 ESP_PROP=chacha20poly1305
. "$(dirname "${BASH_SOURCE[0]}")/_cipher.sh"
