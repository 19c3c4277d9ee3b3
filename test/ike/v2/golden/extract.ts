/**
 * Regenerates test/ike/v2/golden/*.json from the real captures in fixtures/.
 *
 *   cd /work/main && bun test/ike/v2/golden/extract.ts
 *
 * For every frame of each capture that tshark shows as UDP to or from port 500
 * or 4500 it runs
 *   tshark -r <capture> -Y "udp.port==500 || udp.port==4500" \
 *          -T fields -e frame.number -e udp.srcport -e udp.dstport -e udp.length -e udp.payload
 * and keeps the UDP payload when it is an IKE message: on port 4500 the
 * 4-byte RFC 3948 non-ESP marker (00000000) is stripped and frames without it
 * (ESP-in-UDP, NAT-T keepalives) are skipped; on port 500 the payload is taken
 * as is. Only messages whose version octet (offset 17) says major version 2
 * are kept. IP fragments are reassembled by tshark (udp.payload appears on the
 * frame that completes the datagram). `captured` < `udpLength - 8` marks a
 * capture truncated by its snap length (tcpdump's malformed-input cases).
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";

const SOURCES: [string, string][] = [
  ["strongswan_a_psk_gcm_natt", "fixtures/strongswan/a_ikev2_psk_gcm_natt/a_ikev2_psk_gcm_natt.pcap"],
  ["strongswan_b_psk_cbc_sha256", "fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng"],
  ["strongswan_f1_auth_failed", "fixtures/strongswan/f1_ikev2_auth_failed/f1_ikev2_auth_failed.pcap"],
  ["strongswan_f2_ike_no_proposal", "fixtures/strongswan/f2_ikev2_ike_no_proposal/f2_ikev2_ike_no_proposal.pcap"],
  ["made_c_cert_frag", "fixtures/made/c_ikev2_cert_frag/c_ikev2_cert_frag.pcap"],
  ["made_d_rekey", "fixtures/made/d_ikev2_rekey/d_ikev2_rekey.pcap"],
  ["made_h_ipv6_outer", "fixtures/made/h_ikev2_ipv6_outer/h_ikev2_ipv6_outer.pcap"],
  ["made_i_ipfrag", "fixtures/made/i_ikev2_ipfrag/i_ikev2_ipfrag.pcap"],
  ["tcpdump_ikev2four", "fixtures/tcpdump/ikev2four.pcap"],
  ["tcpdump_ikev2-id-normal", "fixtures/tcpdump/ikev2-id-normal.pcap"],
  ["tcpdump_ikev2-id-short", "fixtures/tcpdump/ikev2-id-short.pcap"],
  ["tcpdump_ikev2pI2", "fixtures/tcpdump/ikev2pI2.pcap"],
  ["tcpdump_ikev2pI2-segfault", "fixtures/tcpdump/ikev2pI2-segfault.pcapng"],
];

for (const [name, src] of SOURCES) {
  const args = ["-r", src, "-Y", "udp.port==500 || udp.port==4500", "-T", "fields",
    "-e", "frame.number", "-e", "udp.srcport", "-e", "udp.dstport", "-e", "udp.length", "-e", "udp.payload"];
  const r = spawnSync("tshark", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tshark failed on ${src}: ${r.stderr}`);
  const messages = [];
  for (const line of r.stdout.split("\n")) {
    if (!line.trim()) continue;
    const [frame, sport, dport, ulen, payload] = line.split("\t");
    if (!payload) continue;
    let hex = payload.toLowerCase();
    const natt = sport === "4500" || dport === "4500";
    if (natt) {
      if (!hex.startsWith("00000000") || hex.length < 8 + 56) continue; // ESP-in-UDP or keepalive
      hex = hex.slice(8);
    }
    if (hex.length < 36 || hex.slice(34, 36) !== "20") continue; // not IKEv2
    messages.push({
      frame: Number(frame), srcPort: Number(sport), dstPort: Number(dport), nonEspMarker: natt,
      udpLength: Number(ulen), captured: payload.length / 2, hex,
    });
  }
  const out = {
    source: src,
    extractedWith: `tshark ${args.map((a) => (/[ |=]/.test(a) ? JSON.stringify(a) : a)).join(" ")}`,
    tshark: spawnSync("tshark", ["--version"], { encoding: "utf8" }).stdout.split("\n")[0],
    note: "UDP payloads of IKEv2 messages; non-ESP marker stripped on port 4500 (nonEspMarker=true). See extract.ts.",
    messages,
  };
  writeFileSync(`test/ike/v2/golden/${name}.json`, JSON.stringify(out, null, 1) + "\n");
  console.log(name, messages.length);
}
