#!/bin/bash
# k_esp_3des_sha1: issue-5 cipher set, ESP 3des-sha1 (see _cipher.sh).
NAME=k_esp_3des_sha1 ESP_PROP=3des-sha1
. "$(dirname "${BASH_SOURCE[0]}")/_cipher.sh"
