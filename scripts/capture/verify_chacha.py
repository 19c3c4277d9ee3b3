#!/usr/bin/env python3
"""verify_chacha.py CAPTURE.pcap keys.json : check ChaCha20-Poly1305 ESP
(RFC 7634) packets of a capture against the keys charon logged, since
tshark 4.0 cannot decrypt this transform. ESP-in-UDP/4500 over Ethernet/IPv4,
pcap format only. Key material = 32-byte key || 4-byte salt; nonce = salt ||
8-byte IV; AAD = SPI || 32-bit sequence number; 16-byte tag."""
import json, struct, sys
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.exceptions import InvalidTag

cap, keys = sys.argv[1], json.load(open(sys.argv[2]))
sa = {e['spi']: bytes.fromhex(e['ekey']) for e in keys['esp']
      if e.get('strongswan_encr', '').startswith('CHACHA20_POLY1305')}
raw = open(cap, 'rb').read()
assert raw[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'), 'pcap only'
off, n, ok, bad = 24, 0, 0, 0
while off + 16 <= len(raw):
    _, _, incl, _ = struct.unpack_from('<IIII', raw, off)
    pkt = raw[off + 16: off + 16 + incl]; off += 16 + incl; n += 1
    if len(pkt) < 14 + 20 + 8 + 8 or pkt[12:14] != b'\x08\x00':
        continue
    ihl = (pkt[14] & 15) * 4
    if pkt[23] != 17:
        continue
    u = 14 + ihl
    sport, dport = struct.unpack_from('>HH', pkt, u)
    esp = pkt[u + 8:]
    if 4500 not in (sport, dport) or len(esp) < 8 + 8 + 16 or esp[:4] == b'\0\0\0\0':
        continue
    spi = esp[:4].hex()
    if spi not in sa:
        continue
    k = sa[spi]
    try:
        pt = ChaCha20Poly1305(k[:32]).decrypt(k[32:36] + esp[8:16], esp[16:], esp[:8])
    except InvalidTag:
        bad += 1
        print('frame %d SPI 0x%s seq %d: TAG INVALID' % (n, spi, struct.unpack_from('>I', esp, 4)[0]))
        continue
    ok += 1
    padlen, nh = pt[-2], pt[-1]
    inner = pt[:len(pt) - 2 - padlen]
    src = '.'.join(map(str, inner[12:16])); dst = '.'.join(map(str, inner[16:20]))
    print('frame %d SPI 0x%s seq %d: tag OK, next header %d, pad %d, inner IPv%d %s -> %s proto %d, %d bytes'
          % (n, spi, struct.unpack_from('>I', esp, 4)[0], nh, padlen, inner[0] >> 4, src, dst, inner[9], len(inner)))
print('ChaCha20-Poly1305 ESP packets: %d tag OK, %d tag invalid' % (ok, bad))
sys.exit(1 if bad or not ok else 0)
