/** Shared helpers for the IKEv1 tests: golden datagrams and tshark/tcpdump text. */
import { readFileSync } from "node:fs";
import { fromHex } from "../../../lib/core/bytes.ts";

export const ROOT = new URL("../../../", import.meta.url).pathname;

export interface GoldenPacket {
  frame: number;
  sport: number;
  dport: number;
  bytes: Uint8Array;
}

/** Load test/ike/v1/golden/<name>.json (see make-golden.ts for how it was made). */
export function golden(name: string): GoldenPacket[] {
  const doc = JSON.parse(readFileSync(new URL(`./golden/${name}.json`, import.meta.url), "utf8"));
  return doc.packets.map((p: { frame: number; sport: number; dport: number; hex: string }) => ({
    frame: p.frame,
    sport: p.sport,
    dport: p.dport,
    bytes: fromHex(p.hex)!,
  }));
}

/** Every golden file name. */
export const GOLDEN_NAMES = [
  "e1_ikev1_main_psk",
  "e2_ikev1_aggressive_psk",
  "isakmp_sa_setup",
  "isakmp4500",
  "isakmp-delete-segfault",
  "isakmp-pointer-loop",
  "isakmp-identification-segfault",
  "isakmpv1-attr-oobr",
  "ikev1_id_ipv6_addr_subnet-oobr",
  "isakmp-ikev1_n_print-oobr",
  "isakmp-various-oobr",
  "isakmp-no-none-np",
];

/** Read a fixture text file. */
export function fixtureText(rel: string): string {
  return readFileSync(ROOT + rel, "utf8");
}
