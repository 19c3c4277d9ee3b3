/**
 * Regenerates the golden ISAKMP datagrams in this folder from the real captures in fixtures/
 * (strongSwan: fixtures/strongswan, fixtures/made; tcpdump's regression captures: fixtures/tcpdump).
 *
 *   cd /work/main && node_modules/.bin/bun test/ike/v1/golden/make-golden.ts
 *
 * Each JSON file holds the UDP payloads of one capture as printed by
 * `tshark -r <pcap> -T fields -e frame.number -e udp.srcport -e udp.dstport -e udp.payload`
 * (tshark 4.0, Debian). Frames without a UDP payload are skipped. On port 4500 the
 * 4-byte non-ESP marker is stripped; datagrams that are ESP (non-zero marker) or
 * NAT keepalives (0xff) are skipped. Nothing else is changed: truncated/malformed
 * frames keep exactly the bytes tshark reports as captured.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const ROOT = new URL("../../../../", import.meta.url).pathname;
const CAPTURES: [string, string][] = [
  ["e1_ikev1_main_psk", "fixtures/strongswan/e1_ikev1_main_psk/e1_ikev1_main_psk.pcap"],
  ["e2_ikev1_aggressive_psk", "fixtures/made/e2_ikev1_aggressive_psk/e2_ikev1_aggressive_psk.pcap"],
  ["isakmp_sa_setup", "fixtures/tcpdump/ISAKMP_sa_setup.pcap"],
  ["isakmp4500", "fixtures/tcpdump/isakmp4500.pcap"],
  ["isakmp-delete-segfault", "fixtures/tcpdump/isakmp-delete-segfault.pcap"],
  ["isakmp-pointer-loop", "fixtures/tcpdump/isakmp-pointer-loop.pcap"],
  ["isakmp-identification-segfault", "fixtures/tcpdump/isakmp-identification-segfault.pcap"],
  ["isakmpv1-attr-oobr", "fixtures/tcpdump/isakmpv1-attr-oobr.pcap"],
  ["ikev1_id_ipv6_addr_subnet-oobr", "fixtures/tcpdump/ikev1_id_ipv6_addr_subnet-oobr.pcap"],
  ["isakmp-ikev1_n_print-oobr", "fixtures/tcpdump/isakmp-ikev1_n_print-oobr.pcap"],
  ["isakmp-various-oobr", "fixtures/tcpdump/isakmp-various-oobr.pcap"],
  ["isakmp-no-none-np", "fixtures/tcpdump/isakmp-no-none-np.pcapng"],
];

for (const [name, rel] of CAPTURES) {
  const out = execFileSync("tshark", ["-r", ROOT + rel, "-T", "fields", "-e", "frame.number", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.payload"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  const packets: { frame: number; sport: number; dport: number; hex: string; nonEspMarker?: boolean }[] = [];
  for (const line of out.split("\n")) {
    const [fr, sp, dp, hex] = line.split("\t");
    if (!hex) continue;
    const sport = Number(sp), dport = Number(dp);
    let h = hex.replace(/:/g, "");
    let marker = false;
    if (sport === 4500 || dport === 4500) {
      if (h === "ff") continue; // NAT-T keepalive
      if (!h.startsWith("00000000")) continue; // ESP in UDP
      h = h.slice(8);
      marker = true;
    }
    packets.push({ frame: Number(fr), sport, dport, hex: h, ...(marker ? { nonEspMarker: true } : {}) });
  }
  const doc = {
    source: rel,
    made: "test/ike/v1/golden/make-golden.ts (tshark -T fields -e udp.payload; non-ESP marker stripped on 4500)",
    packets,
  };
  writeFileSync(new URL(`./${name}.json`, import.meta.url), JSON.stringify(doc, null, 1) + "\n");
  console.log(name, packets.length);
}
