#!/usr/bin/env python3
"""Regenerate the ESP golden files from the strongSwan fixtures (needs tshark 4.x).

  python3 test/esp/golden/extract.py      (run from the repository root)

How the bytes are taken:
- a (ESP in UDP/4500, NAT-T): `tshark -r a_ikev2_psk_gcm_natt.pcap -Y "udp.port==4500" -T fields
  -e frame.number -e udp.payload`; UDP payloads starting with the 4-byte non-ESP marker
  00000000 are IKE and skipped, the rest are ESP packets (SPI first).
- a cleartext: `tshark -r a_ikev2_psk_gcm_natt_any_sll2.pcap -T json -x`; frames whose
  protocols are sll:ethertype:ip:icmp:data are the inner packets on the TUN devices; the inner
  IP packet is frame_raw without the 20-byte SLL2 header (checked against ip.len). The ESP
  packets of that capture (taken at the same time as the Ethernet pcap, with -i any; a test
  checks its ESP bytes equal the Ethernet pcap's) are frame_raw after SLL2 + IP header +
  8-byte UDP header, up to ip.len, so inner and ESP packets come from one capture.
- b (also ESP in UDP/4500): `tshark -r b_ikev2_psk_cbc_sha256.pcapng -Y esp -T json -x`;
  the ESP packet is frame_raw after Ethernet (14) + IP header + UDP header (8), up to ip.len.
- fixtures/made/k_esp_* (same method as b, capture on vf1e): one file per transform
  (aes128gcm16, aes256gcm16, aes128-sha256, chacha20poly1305, 3des-sha1, null-sha256);
  d_ikev2_rekey (4 CHILD_SAs = 8 ESP SAs, 84 packets, with frame times for the rekey test);
  h_ikev2_ipv6_outer (ESP in UDP over IPv6: 40-byte IPv6 header, payload length from ipv6.plen).
Keys come from each fixture's keys.json ("esp" list), copied as hex.
"""
import json, subprocess, os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FX = os.path.join(ROOT, "fixtures", "strongswan")
OUT = os.path.dirname(os.path.abspath(__file__))


def tshark_json(path, filt=None):
    cmd = ["tshark", "-r", path, "-T", "json", "-x"] + (["-Y", filt] if filt else [])
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def raw(layer):
    return layer[0] if isinstance(layer, list) else layer


def esp_in_udp(fr, link_len, l):
    """ESP bytes of an ESP-in-UDP frame: after link header, IP header and 8-byte UDP header,
    up to the IP length (IPv4 total length, or IPv6 40 + payload length, no extension headers)."""
    if "ip" in l:
        hl = int(l["ip"]["ip.hdr_len"])
        tl = int(l["ip"]["ip.len"])
        assert l["ip"]["ip.proto"] == "17"
    else:
        hl = 40
        tl = 40 + int(l["ipv6"]["ipv6.plen"])
        assert l["ipv6"]["ipv6.nxt"] == "17"
    pkt = fr[2 * (link_len + hl + 8): 2 * (link_len + tl)]
    assert len(pkt) // 2 == tl - hl - 8 == int(l["udp"]["udp.length"]) - 8
    return pkt


def outer_addrs(l):
    ip = l.get("ip") or l.get("ipv6")
    return (ip.get("ip.src") or ip.get("ipv6.src"), ip.get("ip.dst") or ip.get("ipv6.dst"))


def esp_keys(d, base=None):
    with open(os.path.join(base or FX, d, "keys.json")) as f:
        k = json.load(f)
    return [{"spi": e["spi"], "src": e["src"], "dst": e["dst"], "encr": e["encr"],
             "strongswan_encr": e.get("strongswan_encr"), "ekey": e["ekey"],
             "integ": e["integ"], "ikey": e["ikey"]} for e in k["esp"]]


def fixture_made(d):
    """fixtures/made/k_esp_*: Ethernet pcap on vf1e, ESP in UDP/4500 over IPv4."""
    base = os.path.join(ROOT, "fixtures", "made")
    pcap = os.path.join(base, d, d + ".pcap")
    esp = []
    for p in tshark_json(pcap, "esp"):
        l = p["_source"]["layers"]
        pkt = esp_in_udp(raw(l["frame_raw"]), 14, l)
        src, dst = outer_addrs(l)
        esp.append({"frame": int(l["frame"]["frame.number"]), "time": float(l["frame"]["frame.time_relative"]),
                    "src": src, "dst": dst, "spi": pkt[:8], "hex": pkt})
    return {"fixture": f"fixtures/made/{d}", "how": "see test/esp/golden/extract.py",
            "keys": esp_keys(d, base), "esp": esp}


def fixture_a():
    d = "a_ikev2_psk_gcm_natt"
    pcap = os.path.join(FX, d, d + ".pcap")
    r = subprocess.run(["tshark", "-r", pcap, "-Y", "udp.port==4500", "-T", "fields",
                        "-e", "frame.number", "-e", "udp.payload"], capture_output=True, text=True, check=True)
    esp = []
    for line in r.stdout.strip().splitlines():
        num, payload = line.split("\t")
        if payload.startswith("00000000"):
            continue  # non-ESP marker: IKE
        esp.append({"frame": int(num), "spi": payload[:8], "hex": payload})
    sll = os.path.join(FX, d, d + "_any_sll2.pcap")
    sll_esp, inner = [], []
    for p in tshark_json(sll):
        l = p["_source"]["layers"]
        protos = l["frame"]["frame.protocols"]
        fr = raw(l["frame_raw"])
        num = int(l["frame"]["frame.number"])
        if protos == "sll:ethertype:ip:icmp:data":
            ip = fr[40:]  # 20-byte SLL2 header = 40 hex chars
            assert len(ip) // 2 == int(l["ip"]["ip.len"]), num
            inner.append({"frame": num, "src": l["ip"]["ip.src"], "dst": l["ip"]["ip.dst"], "hex": ip})
        elif protos.endswith("udpencap:esp"):
            pkt = esp_in_udp(fr, 20, l)
            sll_esp.append({"frame": num, "spi": pkt[:8], "hex": pkt})
    return {
        "fixture": f"fixtures/strongswan/{d}",
        "how": "see test/esp/golden/extract.py",
        "keys": esp_keys(d),
        "esp": esp,
        "sll2": {"esp": sll_esp, "inner": inner},
    }


def fixture_b():
    d = "b_ikev2_psk_cbc_sha256"
    pcap = os.path.join(FX, d, d + ".pcapng")
    esp = []
    for p in tshark_json(pcap, "esp"):
        l = p["_source"]["layers"]
        pkt = esp_in_udp(raw(l["frame_raw"]), 14, l)  # Ethernet
        esp.append({"frame": int(l["frame"]["frame.number"]), "spi": pkt[:8], "hex": pkt})
    return {"fixture": f"fixtures/strongswan/{d}", "how": "see test/esp/golden/extract.py",
            "keys": esp_keys(d), "esp": esp}


MADE = ["d_ikev2_rekey", "h_ikev2_ipv6_outer", "k_esp_aes128gcm16", "k_esp_aes256gcm16", "k_esp_aes128_sha256", "k_esp_chacha20poly1305",
        "k_esp_3des_sha1", "k_esp_null_sha256"]
jobs = [("a_gcm_natt.json", fixture_a), ("b_cbc_sha256.json", fixture_b)]
jobs += [(d + ".json", (lambda d=d: fixture_made(d))) for d in MADE]
for name, fn in jobs:
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(fn(), f, indent=1)
        f.write("\n")
    print("wrote", name)
