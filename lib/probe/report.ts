/**
 * What a measured path MTU means for a tunnel: the largest inner packet per cipher and
 * encapsulation (lib/esp/mtu.ts arithmetic) and the TCP MSS to clamp inner flows to.
 * No I/O.
 * @module
 */
import { tunnelMtu } from "../esp/mtu.ts";
import type { EspCipherName } from "../esp/types.ts";

export const REPORT_CIPHERS: EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"];

export type Encapsulation = "udp" | "tcp";

export interface MtuReportRow {
  /** Outer IP version. */
  outer: 4 | 6;
  /** True for the family that was probed; false: the same path MTU assumed for the other family. */
  measured: boolean;
  /** "udp": ESP-in-UDP (RFC 3948, port 4500); "tcp": ESP-in-TCP (RFC 9329), no TCP options. */
  encap: Encapsulation;
  cipher: EspCipherName;
  /** Largest inner IP packet (0 when nothing fits). */
  innerMtu: number;
  /** MSS for inner IPv4 TCP (innerMtu - 40), null when nothing fits. */
  mssIpv4: number | null;
  /** MSS for inner IPv6 TCP (innerMtu - 60), null when innerMtu < 1280 (IPv6 cannot run inside). */
  mssIpv6: number | null;
}

export interface MtuReport {
  pathMtu: number;
  family: 4 | 6;
  rows: MtuReportRow[];
  /** MSS to clamp to on the probed outer family, per encapsulation (smallest over the ciphers). */
  clamp: Record<Encapsulation, { mssIpv4: number | null; mssIpv6: number | null; innerMtu: number }>;
}

/** Inner MTU / MSS table for `pathMtu` measured over IPv`family`. */
export function mtuReport(pathMtu: number, family: 4 | 6): MtuReport {
  const rows: MtuReportRow[] = [];
  const outers: (4 | 6)[] = family === 4 ? [4, 6] : [6, 4];
  for (const outer of outers) {
    if (outer === 6 && pathMtu < 1280) continue; // an IPv6 path never has an MTU below 1280
    for (const encap of ["udp", "tcp"] as const) {
      for (const cipher of REPORT_CIPHERS) {
        const innerMtu = tunnelMtu(pathMtu, cipher, { outer: outer === 6 ? "ipv6" : "ipv4", udpEncap: encap === "udp", tcpEncap: encap === "tcp" });
        rows.push({
          outer, measured: outer === family, encap, cipher, innerMtu,
          mssIpv4: innerMtu > 40 ? innerMtu - 40 : null,
          mssIpv6: innerMtu >= 1280 ? innerMtu - 60 : null,
        });
      }
    }
  }
  const clamp = {} as MtuReport["clamp"];
  for (const encap of ["udp", "tcp"] as const) {
    const mine = rows.filter((r) => r.measured && r.encap === encap);
    const innerMtu = mine.length ? Math.min(...mine.map((r) => r.innerMtu)) : 0;
    clamp[encap] = { innerMtu, mssIpv4: innerMtu > 40 ? innerMtu - 40 : null, mssIpv6: innerMtu >= 1280 ? innerMtu - 60 : null };
  }
  return { pathMtu, family, rows, clamp };
}
