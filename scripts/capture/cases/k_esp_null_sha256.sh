#!/bin/bash
# k_esp_null_sha256: issue-5 cipher set, ESP null-sha256 (see _cipher.sh).
NAME=k_esp_null_sha256 ESP_PROP=null-sha256
. "$(dirname "${BASH_SOURCE[0]}")/_cipher.sh"
