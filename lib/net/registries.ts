/**
 * Network/transport registries as data: IP protocol numbers, IPv4 options,
 * IPv6 extension-header option types, TCP options, ICMP and ICMPv6 types/codes.
 * @module
 */
import { Registry } from "../core/registry.ts";

/** IANA "Assigned Internet Protocol Numbers" (also the IPv6 Next Header values). */
export const IP_PROTOCOLS = new Registry("IP protocol numbers", {
  0: "HOPOPT", 1: "ICMP", 2: "IGMP", 3: "GGP", 4: "IPv4", 5: "ST", 6: "TCP", 7: "CBT", 8: "EGP",
  9: "IGP", 10: "BBN-RCC-MON", 11: "NVP-II", 12: "PUP", 13: "ARGUS", 14: "EMCON", 15: "XNET",
  16: "CHAOS", 17: "UDP", 18: "MUX", 19: "DCN-MEAS", 20: "HMP", 21: "PRM", 22: "XNS-IDP",
  23: "TRUNK-1", 24: "TRUNK-2", 25: "LEAF-1", 26: "LEAF-2", 27: "RDP", 28: "IRTP", 29: "ISO-TP4",
  30: "NETBLT", 31: "MFE-NSP", 32: "MERIT-INP", 33: "DCCP", 34: "3PC", 35: "IDPR", 36: "XTP",
  37: "DDP", 38: "IDPR-CMTP", 39: "TP++", 40: "IL", 41: "IPv6", 42: "SDRP", 43: "IPv6-Route",
  44: "IPv6-Frag", 45: "IDRP", 46: "RSVP", 47: "GRE", 48: "DSR", 49: "BNA", 50: "ESP", 51: "AH",
  52: "I-NLSP", 53: "SWIPE", 54: "NARP", 55: "Min-IPv4", 56: "TLSP", 57: "SKIP", 58: "IPv6-ICMP",
  59: "IPv6-NoNxt", 60: "IPv6-Opts", 61: "any host internal protocol", 62: "CFTP", 63: "any local network",
  64: "SAT-EXPAK", 65: "KRYPTOLAN", 66: "RVD", 67: "IPPC", 68: "any distributed file system",
  69: "SAT-MON", 70: "VISA", 71: "IPCV", 72: "CPNX", 73: "CPHB", 74: "WSN", 75: "PVP",
  76: "BR-SAT-MON", 77: "SUN-ND", 78: "WB-MON", 79: "WB-EXPAK", 80: "ISO-IP", 81: "VMTP",
  82: "SECURE-VMTP", 83: "VINES", 84: "IPTM", 85: "NSFNET-IGP", 86: "DGP", 87: "TCF", 88: "EIGRP",
  89: "OSPFIGP", 90: "Sprite-RPC", 91: "LARP", 92: "MTP", 93: "AX.25", 94: "IPIP", 95: "MICP",
  96: "SCC-SP", 97: "ETHERIP", 98: "ENCAP", 99: "any private encryption scheme", 100: "GMTP",
  101: "IFMP", 102: "PNNI", 103: "PIM", 104: "ARIS", 105: "SCPS", 106: "QNX", 107: "A/N",
  108: "IPComp", 109: "SNP", 110: "Compaq-Peer", 111: "IPX-in-IP", 112: "VRRP", 113: "PGM",
  114: "any 0-hop protocol", 115: "L2TP", 116: "DDX", 117: "IATP", 118: "STP", 119: "SRP",
  120: "UTI", 121: "SMP", 122: "SM", 123: "PTP", 124: "ISIS over IPv4", 125: "FIRE", 126: "CRTP",
  127: "CRUDP", 128: "SSCOPMCE", 129: "IPLT", 130: "SPS", 131: "PIPE", 132: "SCTP", 133: "FC",
  134: "RSVP-E2E-IGNORE", 135: "Mobility Header", 136: "UDPLite", 137: "MPLS-in-IP", 138: "manet",
  139: "HIP", 140: "Shim6", 141: "WESP", 142: "ROHC", 143: "Ethernet", 144: "AGGFRAG", 145: "NSH",
  146: "Homa", 255: "Reserved",
}, [{ from: 147, to: 252, label: "UNASSIGNED" }, { from: 253, to: 254, label: "EXPERIMENTAL" }]);

/** IPv4 option numbers (the whole type byte: copied flag, class, number). */
export const IPV4_OPTIONS = new Registry("IPv4 options", {
  0: "EOL", 1: "NOP", 7: "RR", 68: "TS", 130: "SEC", 131: "LSRR", 133: "E-SEC", 134: "CIPSO",
  136: "SID", 137: "SSRR", 82: "TR", 148: "RTRALT", 149: "SDB", 145: "EIP", 10: "ZSU", 11: "MTUP",
  12: "MTUR", 15: "ENCODE", 25: "QS", 30: "EXP", 94: "EXP", 142: "VISA", 144: "IMITD", 147: "ADDEXT",
  150: "UNASSIGNED", 151: "DPS", 152: "UMP", 158: "EXP", 205: "FINN", 222: "EXP",
});

/** IPv6 Hop-by-Hop / Destination option types. */
export const IPV6_OPTIONS = new Registry("IPv6 option types", {
  0x00: "Pad1", 0x01: "PadN", 0xc2: "Jumbo Payload", 0x05: "Router Alert", 0x04: "Tunnel Encapsulation Limit",
  0x07: "CALIPSO", 0x08: "SMF_DPD", 0x0f: "PDM", 0x26: "Quick-Start", 0x63: "RPL Option (0x63)",
  0x23: "RPL Option (0x23)", 0x6d: "MPL Option", 0x8b: "ILNP Nonce", 0x8c: "Line-Identification",
  0xc9: "Home Address", 0xee: "IP_DFF", 0x30: "IOAM", 0x31: "IOAM", 0x11: "Minimum Path MTU",
  0x1e: "EXPERIMENT", 0x3e: "EXPERIMENT", 0x5e: "EXPERIMENT", 0x7e: "EXPERIMENT",
  0x9e: "EXPERIMENT", 0xbe: "EXPERIMENT", 0xde: "EXPERIMENT", 0xfe: "EXPERIMENT",
});

/** IPv6 Routing header types. */
export const IPV6_ROUTING_TYPES = new Registry("IPv6 routing types", {
  0: "Source Route (deprecated)", 1: "Nimrod", 2: "Type 2 Routing Header", 3: "RPL Source Route Header",
  4: "Segment Routing Header", 5: "CRH-16", 6: "CRH-32", 253: "EXPERIMENT1", 254: "EXPERIMENT2",
});

/** TCP option kinds. */
export const TCP_OPTIONS = new Registry("TCP option kinds", {
  0: "EOL", 1: "NOP", 2: "MSS", 3: "WS", 4: "SACK_PERM", 5: "SACK", 6: "ECHO", 7: "ECHO_REPLY",
  8: "TS", 9: "POC_PERM", 10: "POC_SP", 11: "CC", 12: "CC.NEW", 13: "CC.ECHO", 14: "ALT_CHK_REQ",
  15: "ALT_CHK_DATA", 16: "SKEETER", 17: "BUBBA", 18: "TRAILER_CHK", 19: "MD5SIG", 20: "SCPS",
  21: "SNACK", 22: "REC_BOUND", 23: "CORRUPTION", 24: "SNAP", 25: "UNASSIGNED", 26: "COMPRESSION",
  27: "QUICK_START", 28: "USER_TIMEOUT", 29: "TCP_AO", 30: "MPTCP", 34: "TFO", 69: "ENCOPT",
  172: "ACCECN0", 174: "ACCECN1", 253: "EXP1", 254: "EXP2",
});

/** ICMP (v4) message types. */
export const ICMP_TYPES = new Registry("ICMP types", {
  0: "Echo Reply", 3: "Destination Unreachable", 4: "Source Quench", 5: "Redirect",
  6: "Alternate Host Address", 8: "Echo Request", 9: "Router Advertisement", 10: "Router Solicitation",
  11: "Time Exceeded", 12: "Parameter Problem", 13: "Timestamp", 14: "Timestamp Reply",
  15: "Information Request", 16: "Information Reply", 17: "Address Mask Request",
  18: "Address Mask Reply", 30: "Traceroute", 31: "Datagram Conversion Error",
  32: "Mobile Host Redirect", 33: "IPv6 Where-Are-You", 34: "IPv6 I-Am-Here",
  35: "Mobile Registration Request", 36: "Mobile Registration Reply", 37: "Domain Name Request",
  38: "Domain Name Reply", 39: "SKIP", 40: "Photuris", 41: "Experimental Mobility", 42: "Extended Echo Request",
  43: "Extended Echo Reply", 253: "RFC3692-style Experiment 1", 254: "RFC3692-style Experiment 2",
});

const NO_CODE = new Registry("ICMP code", { 0: "No Code" });

/** ICMP codes per type (types without a table use {@link icmpCodeName}'s fallback). */
export const ICMP_CODES: ReadonlyMap<number, Registry> = new Map([
  [0, NO_CODE], [8, NO_CODE], [13, NO_CODE], [14, NO_CODE], [15, NO_CODE], [16, NO_CODE], [17, NO_CODE], [18, NO_CODE],
  [3, new Registry("ICMP Destination Unreachable codes", {
    0: "Net Unreachable", 1: "Host Unreachable", 2: "Protocol Unreachable", 3: "Port Unreachable",
    4: "Fragmentation Needed and Don't Fragment was Set", 5: "Source Route Failed",
    6: "Destination Network Unknown", 7: "Destination Host Unknown", 8: "Source Host Isolated",
    9: "Communication with Destination Network is Administratively Prohibited",
    10: "Communication with Destination Host is Administratively Prohibited",
    11: "Destination Network Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service", 13: "Communication Administratively Prohibited",
    14: "Host Precedence Violation", 15: "Precedence cutoff in effect",
  })],
  [4, NO_CODE],
  [5, new Registry("ICMP Redirect codes", {
    0: "Redirect Datagram for the Network", 1: "Redirect Datagram for the Host",
    2: "Redirect Datagram for the Type of Service and Network",
    3: "Redirect Datagram for the Type of Service and Host",
  })],
  [9, new Registry("ICMP Router Advertisement codes", { 0: "Normal router advertisement", 16: "Does not route common traffic" })],
  [10, NO_CODE],
  [11, new Registry("ICMP Time Exceeded codes", { 0: "Time to Live exceeded in Transit", 1: "Fragment Reassembly Time Exceeded" })],
  [12, new Registry("ICMP Parameter Problem codes", { 0: "Pointer indicates the error", 1: "Missing a Required Option", 2: "Bad Length" })],
  [40, new Registry("Photuris codes", {
    0: "Bad SPI", 1: "Authentication Failed", 2: "Decompression Failed", 3: "Decryption Failed",
    4: "Need Authentication", 5: "Need Authorization",
  })],
  [42, new Registry("Extended Echo Request codes", { 0: "No Error" })],
  [43, new Registry("Extended Echo Reply codes", {
    0: "No Error", 1: "Malformed Query", 2: "No Such Interface", 3: "No Such Table Entry",
    4: "Multiple Interfaces Satisfy Query",
  })],
]);

/** ICMPv6 message types. */
export const ICMPV6_TYPES = new Registry("ICMPv6 types", {
  1: "Destination Unreachable", 2: "Packet Too Big", 3: "Time Exceeded", 4: "Parameter Problem",
  100: "Private experimentation", 101: "Private experimentation", 127: "Reserved for expansion of ICMPv6 error messages",
  128: "Echo Request", 129: "Echo Reply", 130: "Multicast Listener Query", 131: "Multicast Listener Report",
  132: "Multicast Listener Done", 133: "Router Solicitation", 134: "Router Advertisement",
  135: "Neighbor Solicitation", 136: "Neighbor Advertisement", 137: "Redirect Message",
  138: "Router Renumbering", 139: "ICMP Node Information Query", 140: "ICMP Node Information Response",
  141: "Inverse Neighbor Discovery Solicitation Message", 142: "Inverse Neighbor Discovery Advertisement Message",
  143: "Version 2 Multicast Listener Report", 144: "Home Agent Address Discovery Request Message",
  145: "Home Agent Address Discovery Reply Message", 146: "Mobile Prefix Solicitation",
  147: "Mobile Prefix Advertisement", 148: "Certification Path Solicitation Message",
  149: "Certification Path Advertisement Message", 151: "Multicast Router Advertisement",
  152: "Multicast Router Solicitation", 153: "Multicast Router Termination", 154: "FMIPv6 Messages",
  155: "RPL Control Message", 156: "ILNPv6 Locator Update Message", 157: "Duplicate Address Request",
  158: "Duplicate Address Confirmation", 159: "MPL Control Message", 160: "Extended Echo Request",
  161: "Extended Echo Reply", 200: "Private experimentation", 201: "Private experimentation",
  255: "Reserved for expansion of ICMPv6 informational messages",
});

/** ICMPv6 codes per type. */
export const ICMPV6_CODES: ReadonlyMap<number, Registry> = new Map([
  [1, new Registry("ICMPv6 Destination Unreachable codes", {
    0: "no route to destination", 1: "communication with destination administratively prohibited",
    2: "beyond scope of source address", 3: "address unreachable", 4: "port unreachable",
    5: "source address failed ingress/egress policy", 6: "reject route to destination",
    7: "Error in Source Routing Header", 8: "Headers too long",
  })],
  [2, new Registry("ICMPv6 Packet Too Big codes", { 0: "No Code" })],
  [3, new Registry("ICMPv6 Time Exceeded codes", { 0: "hop limit exceeded in transit", 1: "fragment reassembly time exceeded" })],
  [4, new Registry("ICMPv6 Parameter Problem codes", {
    0: "erroneous header field encountered", 1: "unrecognized Next Header type encountered",
    2: "unrecognized IPv6 option encountered", 3: "IPv6 First Fragment has incomplete IPv6 Header Chain",
    4: "SR Upper-layer Header Error", 5: "Unrecognized Next Header type encountered by intermediate node",
    6: "Extension header too big", 7: "Extension header chain too long", 8: "Too many extension headers",
    9: "Too many options in extension header", 10: "Option too big",
  })],
  [128, new Registry("ICMPv6 Echo codes", { 0: "No Code" })],
  [129, new Registry("ICMPv6 Echo codes", { 0: "No Code" })],
  [138, new Registry("ICMPv6 Router Renumbering codes", { 0: "Router Renumbering Command", 1: "Router Renumbering Result", 255: "Sequence Number Reset" })],
]);

/** Name of an ICMP code for a type (`UNKNOWN(n)` when the type has no code table or code is unknown). */
export function icmpCodeName(type: number, code: number): string {
  const r = ICMP_CODES.get(type);
  return r ? r.name(code) : code === 0 ? "No Code" : `UNKNOWN(${code})`;
}

/** Name of an ICMPv6 code for a type. */
export function icmpv6CodeName(type: number, code: number): string {
  const r = ICMPV6_CODES.get(type);
  return r ? r.name(code) : code === 0 ? "No Code" : `UNKNOWN(${code})`;
}
