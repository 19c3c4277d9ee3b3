#!/usr/bin/env python3
"""Independent ESP-in-UDP decryption oracle (Python `cryptography`), for the namespace tests.

    esp-oracle.py CAPTURE.pcap KEYLOG

KEYLOG is vpnkit's key log format (lib/tunnel/keylog.ts):
    ESP <src> <dst> 0x<spi> <cipher> 0x<key||salt> esn=<0|1>
Every UDP/4500 datagram whose first 4 bytes are a logged SPI is opened (RFC 4106 / RFC 7634:
nonce = salt || IV, AAD = SPI || seq, 16-byte ICV; ESN SAs are skipped: the high half is not
on the wire). Prints JSON: {"total": n, "good": n, "bad": n, "next_headers": {...}}.
"""
import json
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

pcap_path, keylog_path = sys.argv[1], sys.argv[2]
sas = {}
for line in open(keylog_path):
    f = line.split()
    if len(f) != 7 or f[0] != "ESP":
        continue
    km = bytes.fromhex(f[5][2:])
    sas[int(f[3], 16)] = (f[4], km[:-4], km[-4:], f[6] == "esn=1")

data = open(pcap_path, "rb").read()
magic = struct.unpack("<I", data[:4])[0]
end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
linktype = struct.unpack(end + "I", data[20:24])[0]
assert linktype == 1, f"link type {linktype}"
off = 24
total = good = bad = 0
nh = {}
while off + 16 <= len(data):
    incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
    pkt = data[off + 16:off + 16 + incl]
    off += 16 + incl
    et = struct.unpack(">H", pkt[12:14])[0]
    if et == 0x0800:
        proto, l4 = pkt[23], 14 + (pkt[14] & 15) * 4
    elif et == 0x86DD:
        proto, l4 = pkt[20], 54
    else:
        continue
    if proto != 17 or struct.unpack(">H", pkt[l4 + 2:l4 + 4])[0] != 4500:
        continue
    esp = pkt[l4 + 8:]
    if len(esp) < 8:
        continue
    spi = struct.unpack(">I", esp[:4])[0]
    if spi not in sas or sas[spi][3]:
        continue
    cipher, key, salt, _ = sas[spi]
    total += 1
    aead = ChaCha20Poly1305(key) if cipher == "chacha20poly1305" else AESGCM(key)
    try:
        pt = aead.decrypt(salt + esp[8:16], esp[16:], esp[:8])
    except InvalidTag:
        bad += 1
        continue
    good += 1
    nh[str(pt[-1])] = nh.get(str(pt[-1]), 0) + 1
print(json.dumps({"total": total, "good": good, "bad": bad, "next_headers": nh}))
