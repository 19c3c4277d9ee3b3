/**
 * Known IKE Vendor ID payloads (IKEv1 and IKEv2), as a data table.
 *
 * Many vendor IDs are MD5 hashes of a string (`md5Of` records the string so
 * the tests can recompute every such entry); some are a fixed prefix followed
 * by version or capability bytes (`prefix: true`). The other entries are
 * values seen in real captures in fixtures/ or listed by Wireshark's ISAKMP
 * dissector. {@link knownVendorId} returns the name or undefined.
 * @module
 */
import { toHex } from "../core/bytes.ts";

/** One table entry. */
export interface VendorIdEntry {
  /** Lower-case hex of the vendor ID (or of its fixed prefix). */
  hex: string;
  name: string;
  /** Matches any vendor ID starting with `hex` (version/flags suffix follows). */
  prefix?: boolean;
  /** Only vendor IDs of exactly this many bytes match. */
  length?: number;
  /** The string whose MD5 `hex` is (or starts with, for truncated/prefix entries). */
  md5Of?: string;
}

/** The vendor ID table. Exact entries win over prefix entries; longer prefixes win. */
export const VENDOR_IDS: readonly VendorIdEntry[] = [
  // NAT traversal (RFC 3947 and its drafts)
  { hex: "4a131c81070358455c5728f20e95452f", name: "RFC 3947 (NAT-T)", md5Of: "RFC 3947" },
  { hex: "4df37928e9fc4fd1b3262170d515c662", name: "draft-ietf-ipsec-nat-t-ike", md5Of: "draft-ietf-ipsec-nat-t-ike" },
  { hex: "4485152d18b6bbcd0be8a8469579ddcc", name: "draft-ietf-ipsec-nat-t-ike-00", md5Of: "draft-ietf-ipsec-nat-t-ike-00" },
  { hex: "16f6ca16e4a4066d83821a0f0aeaa862", name: "draft-ietf-ipsec-nat-t-ike-01", md5Of: "draft-ietf-ipsec-nat-t-ike-01" },
  { hex: "cd60464335df21f87cfdb2fc68b6a448", name: "draft-ietf-ipsec-nat-t-ike-02", md5Of: "draft-ietf-ipsec-nat-t-ike-02" },
  { hex: "90cb80913ebb696e086381b5ec427b1f", name: "draft-ietf-ipsec-nat-t-ike-02\\n", md5Of: "draft-ietf-ipsec-nat-t-ike-02\n" },
  { hex: "7d9419a65310ca6f2c179d9215529d56", name: "draft-ietf-ipsec-nat-t-ike-03", md5Of: "draft-ietf-ipsec-nat-t-ike-03" },
  { hex: "9909b64eed937c6573de52ace952fa6b", name: "draft-ietf-ipsec-nat-t-ike-04", md5Of: "draft-ietf-ipsec-nat-t-ike-04" },
  { hex: "80d0bb3def54565ee84645d4c85ce3ee", name: "draft-ietf-ipsec-nat-t-ike-05", md5Of: "draft-ietf-ipsec-nat-t-ike-05" },
  { hex: "4d1e0e136deafa34c4f3ea9f02ec7285", name: "draft-ietf-ipsec-nat-t-ike-06", md5Of: "draft-ietf-ipsec-nat-t-ike-06" },
  { hex: "439b59f8ba676c4c7737ae22eab8f582", name: "draft-ietf-ipsec-nat-t-ike-07", md5Of: "draft-ietf-ipsec-nat-t-ike-07" },
  { hex: "8f8d83826d246b6fc7a8a6a428c11de8", name: "draft-ietf-ipsec-nat-t-ike-08", md5Of: "draft-ietf-ipsec-nat-t-ike-08" },
  { hex: "42ea5b6f898d9773a575df26e7dd19e1", name: "draft-ietf-ipsec-nat-t-ike-09", md5Of: "draft-ietf-ipsec-nat-t-ike-09" },
  { hex: "50760f624c63e5c53eea386c685ca083", name: "draft-huttunen-ipsec-esp-in-udp-01 (ESPThruNAT)", md5Of: "ESPThruNAT" },
  // Dead peer detection, XAUTH
  { hex: "afcad71368a1f1c96b8696fc77570100", name: "draft-ietf-ipsec-dpd (RFC 3706 DPD)" },
  { hex: "09002689dfd6b712", name: "XAUTH", md5Of: "draft-ietf-ipsra-isakmp-xauth-06.txt" },
  { hex: "09002689dfd6b71280a224dec33b81e5", name: "XAUTH (draft-ietf-ipsra-isakmp-xauth-06, full hash)", md5Of: "draft-ietf-ipsra-isakmp-xauth-06.txt" },
  { hex: "8db7a41811221660", name: "draft-ietf-ipsec-heartbeats-00" },
  // Fragmentation: MD5("FRAGMENTATION") followed by 4 capability bytes
  { hex: "4048b7d56ebce88525e7de7f00d6c2d3", name: "FRAGMENTATION", prefix: true, md5Of: "FRAGMENTATION" },
  // Cisco
  { hex: "12f5f28c457168a9702d9fe274cc", name: "Cisco Unity", prefix: true, md5Of: "CISCO-UNITY" },
  { hex: "1f07f70eaa6514d3b0fa96542a500100", name: "Cisco VPN Concentrator (CISCO-CONCENTRATOR)" },
  // Microsoft (MS-IKEE): MD5("MS NT5 ISAKMPOAKLEY") + 4-byte Windows version
  // Version values as Wireshark names them (ms_nt5_isakmpoakley_type); later versions match the prefix.
  { hex: "1e2b516905991c7d7c96fcbfb587e46100000002", name: "Microsoft Windows 2000" },
  { hex: "1e2b516905991c7d7c96fcbfb587e46100000003", name: "Microsoft Windows XP SP1" },
  { hex: "1e2b516905991c7d7c96fcbfb587e46100000004", name: "Microsoft Windows Server 2003 / XP SP2" },
  { hex: "1e2b516905991c7d7c96fcbfb587e46100000005", name: "Microsoft Windows Vista" },
  { hex: "1e2b516905991c7d7c96fcbfb587e461", name: "Microsoft (MS NT5 ISAKMPOAKLEY)", prefix: true, md5Of: "MS NT5 ISAKMPOAKLEY" },
  { hex: "fb1de3cdf341b7ea16b7e5be0855f120", name: "MS-Negotiation Discovery Capable", md5Of: "MS-Negotiation Discovery Capable" },
  { hex: "26244d38eddb61b3172a36e3d0cfb819", name: "Microsoft Vid-Initial-Contact", md5Of: "Vid-Initial-Contact" },
  { hex: "e3a5966a76379fe707228231e5ce8652", name: "IKE CGA version 1", md5Of: "IKE CGA version 1" },
  { hex: "214ca4faffa7f32d6748e5303395ae83", name: "MS-MamieExists", md5Of: "MS-MamieExists" },
  // Open source implementations
  { hex: "882fe56d6fd20dbc2251613b2ebe5beb", name: "strongSwan", md5Of: "strongSwan" },
  { hex: "7003cbc1097dbe9c2600ba6983bc8b35", name: "KAME/racoon", md5Of: "KAME/racoon" },
  { hex: "20a3622c1cea7ce37bee3ca484425276", name: "IPsec-Tools" },
  { hex: "f14b94b7bff1fef02773b8c49feded26", name: "Shrew Soft" },
  // Check Point: 20-byte prefix + product/version/timestamp/features
  { hex: "f4ed19e0c114eb516faaac0ee37daf2807b4381f", name: "Check Point", prefix: true },
  // Juniper / NetScreen (Wireshark's table)
  { hex: "299ee8289f40a8973bc78687e2e7226b532c3b76", name: "NetScreen-1" },
  { hex: "3a15e1f3cf2a63582e3ac82d1c64cbe3b6d779e7", name: "NetScreen-2" },
  { hex: "47d2b126bfcd83489760e2cf8c5d4d5a03497c15", name: "NetScreen-3" },
  { hex: "4a4340b543e02b84c88a8b96a8af9ebe77d9accc", name: "NetScreen-4" },
  { hex: "64405f46f03b7660a23be116a1975058e69e8387", name: "NetScreen-5" },
  { hex: "8c0dc6cf62a0ef1b5c6eabd1b67ba69866adf16a", name: "NetScreen-7" },
  { hex: "92d27a9ecb31d99246986d3453d0c3d57a222a61", name: "NetScreen-8" },
  { hex: "9b096d9ac3275a7d6fe8b91c583111b09efed1a0", name: "NetScreen-9" },
  { hex: "bf03746108d746c904f1f3547de24f78479fed12", name: "NetScreen-10" },
  { hex: "c2e80500f4cc5fbf5daaeed3bb59abaeee56c652", name: "NetScreen-11" },
  { hex: "c8660a62b03b1b6130bf781608d32a6a8d0fb89f", name: "NetScreen-12" },
  { hex: "f885da40b1e7a9abd17655ec5bbec0f21f0ed52e", name: "NetScreen-13" },
  { hex: "2a2bcac19b8e91b426107807e02e7249569d6fd3", name: "NetScreen-14" },
  { hex: "166f932d55eb64d8e4df4fd37e2313f0d0fd8451", name: "NetScreen-15" },
  { hex: "a35bfd05ca1ac0b3d2f24e9e82bfcbff9c9e52b5", name: "NetScreen-16" },
  { hex: "404bf439522ca3f6", name: "SonicWall", prefix: true },
  // Openswan / Libreswan send "OE" + 10 printable characters (12 bytes); seen in
  // tcpdump's isakmp4500.pcap (Openswan test network 192.1.2.0/24).
  { hex: "4f45", name: "Openswan/Libreswan (OE…)", prefix: true, length: 12 },
];

const EXACT = new Map<string, string>();
const PREFIX: [string, string, number][] = [];
for (const e of VENDOR_IDS) {
  if (e.prefix) PREFIX.push([e.hex, e.name, e.length ?? -1]);
  else if (!EXACT.has(e.hex)) EXACT.set(e.hex, e.name);
}
PREFIX.sort((a, b) => b[0].length - a[0].length);

/** Name of a known vendor ID, or undefined. */
export function knownVendorId(vid: Uint8Array): string | undefined {
  const h = toHex(vid);
  const e = EXACT.get(h);
  if (e !== undefined) return e;
  for (const [p, name, len] of PREFIX) if (h.startsWith(p) && (len < 0 || len === vid.length)) return name;
  return undefined;
}
