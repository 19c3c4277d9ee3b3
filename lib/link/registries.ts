/**
 * Link-layer registries as data: LINKTYPE values, EtherTypes, Linux cooked
 * capture packet types, ARPHRD hardware types, BSD loopback address families.
 * @module
 */
import { Registry } from "../core/registry.ts";

/** tcpdump.org LINKTYPE_* values (plus the DLT_RAW aliases 12 and 14). */
export const LINKTYPES = new Registry("LINKTYPE", {
  0: "NULL", 1: "ETHERNET", 3: "AX25", 6: "IEEE802_5", 7: "ARCNET_BSD", 8: "SLIP", 9: "PPP", 10: "FDDI",
  12: "RAW (DLT 12)", 14: "RAW (DLT 14)", 50: "PPP_HDLC", 51: "PPP_ETHER", 100: "ATM_RFC1483", 101: "RAW",
  104: "C_HDLC", 105: "IEEE802_11", 107: "FRELAY", 108: "LOOP", 113: "LINUX_SLL", 114: "LTALK", 117: "PFLOG",
  119: "IEEE802_11_PRISM", 122: "IP_OVER_FC", 123: "SUNATM", 127: "IEEE802_11_RADIOTAP", 129: "ARCNET_LINUX",
  138: "APPLE_IP_OVER_IEEE1394", 139: "MTP2_WITH_PHDR", 140: "MTP2", 141: "MTP3", 142: "SCCP", 143: "DOCSIS",
  144: "LINUX_IRDA", 147: "USER0", 162: "USER15", 163: "IEEE802_11_AVS", 165: "BACNET_MS_TP", 166: "PPP_PPPD",
  169: "GPRS_LLC", 170: "GPF_T", 171: "GPF_F", 177: "LINUX_LAPD", 187: "BLUETOOTH_HCI_H4", 189: "USB_LINUX",
  192: "PPI", 195: "IEEE802_15_4_WITHFCS", 196: "SITA", 197: "ERF", 201: "BLUETOOTH_HCI_H4_WITH_PHDR",
  202: "AX25_KISS", 203: "LAPD", 204: "PPP_WITH_DIR", 205: "C_HDLC_WITH_DIR", 206: "FRELAY_WITH_DIR",
  209: "IPMB_LINUX", 215: "IEEE802_15_4_NONASK_PHY", 220: "USB_LINUX_MMAPPED", 224: "FC_2",
  225: "FC_2_WITH_FRAME_DELIMS", 226: "IPNET", 227: "CAN_SOCKETCAN", 228: "IPV4", 229: "IPV6",
  230: "IEEE802_15_4_NOFCS", 231: "DBUS", 235: "DVB_CI", 236: "MUX27010", 237: "STANAG_5066_D_PDU",
  239: "NFLOG", 240: "NETANALYZER", 241: "NETANALYZER_TRANSPARENT", 242: "IPOIB", 243: "MPEG_2_TS",
  244: "NG40", 245: "NFC_LLCP", 247: "INFINIBAND", 248: "SCTP", 249: "USBPCAP", 250: "RTAC_SERIAL",
  251: "BLUETOOTH_LE_LL", 253: "NETLINK", 254: "BLUETOOTH_LINUX_MONITOR", 255: "BLUETOOTH_BREDR_BB",
  256: "BLUETOOTH_LE_LL_WITH_PHDR", 257: "PROFIBUS_DL", 258: "PKTAP", 259: "EPON", 260: "IPMI_HPM_2",
  261: "ZWAVE_R1_R2", 262: "ZWAVE_R3", 263: "WATTSTOPPER_DLM", 264: "ISO_14443", 265: "RDS",
  266: "USB_DARWIN", 268: "SDLC", 270: "LORATAP", 271: "VSOCK", 272: "NORDIC_BLE", 273: "DOCSIS31_XRA31",
  274: "ETHERNET_MPACKET", 275: "DISPLAYPORT_AUX", 276: "LINUX_SLL2", 278: "OPENVIZSLA", 279: "EBHSCR",
  280: "VPP_DISPATCH", 281: "DSA_TAG_BRCM", 282: "DSA_TAG_BRCM_PREPEND", 283: "IEEE802_15_4_TAP",
  284: "DSA_TAG_DSA", 285: "DSA_TAG_EDSA", 286: "ELEE", 287: "Z_WAVE_SERIAL", 288: "USB_2_0",
  289: "ATSC_ALP", 290: "ETW", 292: "ZBOSS_NCP", 293: "USB_2_0_LOW_SPEED", 294: "USB_2_0_FULL_SPEED",
  295: "USB_2_0_HIGH_SPEED", 296: "AUERSWALD_LOG", 297: "ZWAVE_TAP", 298: "SILABS_DEBUG_CHANNEL",
  299: "FIRA_UCI", 300: "MDB", 301: "DECT_NR",
});

/** EtherType values (IEEE 802 numbers, common subset). */
export const ETHERTYPES = new Registry("EtherType", {
  0x0800: "IPv4", 0x0806: "ARP", 0x0842: "Wake-on-LAN", 0x22f0: "AVTP", 0x22f3: "TRILL", 0x6002: "DEC MOP RC",
  0x6003: "DECnet", 0x6004: "DEC LAT", 0x8035: "RARP", 0x809b: "AppleTalk", 0x80f3: "AARP",
  0x8100: "802.1Q", 0x8137: "IPX", 0x8204: "QNX Qnet", 0x86dd: "IPv6", 0x8808: "Ethernet flow control",
  0x8809: "Slow Protocols (LACP)", 0x8819: "CobraNet", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast",
  0x8863: "PPPoE Discovery", 0x8864: "PPPoE Session", 0x887b: "HomePlug", 0x888e: "EAPOL (802.1X)",
  0x8892: "PROFINET", 0x889a: "HyperSCSI", 0x88a2: "ATA over Ethernet", 0x88a4: "EtherCAT",
  0x88a8: "802.1ad", 0x88ab: "Ethernet Powerlink", 0x88b8: "GOOSE", 0x88b9: "GSE", 0x88ba: "SV",
  0x88bf: "MikroTik RoMON", 0x88cc: "LLDP", 0x88cd: "SERCOS III", 0x88e1: "HomePlug Green PHY",
  0x88e3: "MRP", 0x88e5: "MACsec", 0x88e7: "PBB", 0x88f7: "PTP", 0x88f8: "NC-SI", 0x88fb: "PRP",
  0x8902: "CFM", 0x8906: "FCoE", 0x8914: "FCoE Initialization", 0x8915: "RoCE", 0x891d: "TTE",
  0x893a: "IEEE 1905.1", 0x892f: "HSR", 0x9000: "Loopback", 0x9100: "VLAN double tagging (0x9100)",
  0x9200: "VLAN double tagging (0x9200)", 0xcafe: "Veritas LLT",
});

/** Linux cooked capture packet types (sll_pkttype). */
export const SLL_PACKET_TYPES = new Registry("SLL packet type", {
  0: "Unicast to us", 1: "Broadcast", 2: "Multicast", 3: "Unicast to another host", 4: "Sent by us",
  5: "Loopback", 6: "User", 7: "Kernel",
});

/** Linux ARPHRD_* hardware types (sll_hatype). */
export const ARPHRD = new Registry("ARPHRD", {
  0: "NETROM", 1: "ETHER", 2: "EETHER", 3: "AX25", 4: "PRONET", 5: "CHAOS", 6: "IEEE802", 7: "ARCNET",
  8: "APPLETLK", 15: "DLCI", 19: "ATM", 23: "METRICOM", 24: "IEEE1394", 27: "EUI64", 32: "INFINIBAND",
  256: "SLIP", 257: "CSLIP", 258: "SLIP6", 259: "CSLIP6", 260: "RSRVD", 264: "ADAPT", 270: "ROSE",
  271: "X25", 272: "HWX25", 280: "CAN", 281: "MCTP", 512: "PPP", 513: "CISCO", 516: "LAPB", 517: "DDCMP",
  518: "RAWHDLC", 519: "RAWIP", 768: "TUNNEL", 769: "TUNNEL6", 770: "FRAD", 771: "SKIP", 772: "LOOPBACK",
  773: "LOCALTLK", 774: "FDDI", 775: "BIF", 776: "SIT", 777: "IPDDP", 778: "IPGRE", 779: "PIMREG",
  780: "HIPPI", 781: "ASH", 782: "ECONET", 783: "IRDA", 784: "FCPP", 785: "FCAL", 786: "FCPL",
  787: "FCFABRIC", 800: "IEEE802_TR", 801: "IEEE80211", 802: "IEEE80211_PRISM", 803: "IEEE80211_RADIOTAP",
  804: "IEEE802154", 805: "IEEE802154_MONITOR", 820: "PHONET", 821: "PHONET_PIPE", 822: "CAIF",
  823: "IP6GRE", 824: "NETLINK", 825: "6LOWPAN", 826: "VSOCKMON", 0xfffe: "NONE", 0xffff: "VOID",
});

/**
 * Linux cooked capture "protocol" values that are not EtherTypes
 * (values below 0x0600, see libpcap's sll.h).
 */
export const SLL_PROTOCOLS = new Registry("SLL protocol (non-EtherType)", {
  0x0001: "802.3 (Novell raw)", 0x0002: "AX.25", 0x0003: "all", 0x0004: "802.2 LLC", 0x0005: "SNAP",
  0x0006: "DDCMP", 0x0007: "WAN PPP", 0x0008: "PPP MP", 0x0009: "LocalTalk", 0x000c: "CAN", 0x000d: "CAN FD",
  0x0010: "PPPTALK", 0x0011: "802.2 TR", 0x0015: "Mobitex", 0x0016: "Control", 0x0017: "IrDA",
  0x0018: "Econet", 0x0019: "HDLC", 0x001a: "ARCnet",
});

/** BSD loopback (NULL/LOOP) address families. */
export const BSD_AF = new Registry("BSD address family", {
  2: "AF_INET", 7: "AF_ISO (OSI)", 23: "AF_IPX", 24: "AF_INET6 (NetBSD/OpenBSD/BSD/OS)",
  28: "AF_INET6 (FreeBSD/DragonFly)", 30: "AF_INET6 (Darwin)",
});
