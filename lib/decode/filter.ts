/**
 * Packet filters for `vpnkit decode`: ESP/AH SPI, IKE SPI, IKE exchange type.
 * Filters of different kinds are ANDed; repeated values of one kind are ORed.
 * @module
 */
import { toHex } from "../core/bytes.ts";
import { EXCHANGE_TYPES as V2_EXCHANGES } from "../ike/v2/registry.ts";
import { EXCHANGE_TYPES as V1_EXCHANGES } from "../ike/v1/registry.ts";
import type { DecodedPacket } from "../core/layer.ts";

export interface PacketFilter {
  /** ESP/AH SPIs (unsigned 32-bit). */
  spis?: Set<number>;
  /** IKE SPIs / ISAKMP cookies, 16 hex digits. */
  ikeSpis?: Set<string>;
  /** Exchange type numbers. */
  exchanges?: Set<number>;
}

function parseSpi(s: string): number {
  const t = s.trim().toLowerCase();
  const n = t.startsWith("0x") ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? parseInt(t, 10) : parseInt(t, 16);
  if (!Number.isFinite(n) || n < 0 || n > 0xffffffff || !/^(0x)?[0-9a-f]+$/.test(t)) throw new Error(`bad SPI: ${s} (use hex like 0xc4ba5861)`);
  return n >>> 0;
}

function parseIkeSpi(s: string): string {
  let t = s.trim().toLowerCase();
  if (t.startsWith("0x")) t = t.slice(2);
  if (!/^[0-9a-f]{1,16}$/.test(t)) throw new Error(`bad IKE SPI: ${s} (16 hex digits, like 1e027537a81a954e)`);
  return t.padStart(16, "0");
}

function parseExchange(s: string): number {
  if (/^[0-9]+$/.test(s)) return Number(s);
  const up = s.trim().toUpperCase().replace(/[- ]/g, "_");
  const v2 = V2_EXCHANGES.code(up);
  if (v2 !== undefined) return v2;
  for (const [code, name] of V1_EXCHANGES.entries()) {
    if (name.toUpperCase().replace(/[- ()]/g, "_").includes(up)) return code;
  }
  throw new Error(`unknown exchange type: ${s} (e.g. IKE_SA_INIT, IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, or a number)`);
}

/** Build a filter from CLI strings; throws Error with a user-facing message. */
export function parseFilter(o: { spi?: string[]; ikeSpi?: string[]; exchange?: string[] }): PacketFilter {
  const f: PacketFilter = {};
  if (o.spi?.length) f.spis = new Set(o.spi.map(parseSpi));
  if (o.ikeSpi?.length) f.ikeSpis = new Set(o.ikeSpi.map(parseIkeSpi));
  if (o.exchange?.length) f.exchanges = new Set(o.exchange.map(parseExchange));
  return f;
}

/** True when the packet passes every filter kind given. */
export function matchFilter(f: PacketFilter, p: DecodedPacket): boolean {
  if (!f.spis && !f.ikeSpis && !f.exchanges) return true;
  let spiOk = !f.spis, ikeOk = !f.ikeSpis, exOk = !f.exchanges;
  for (const l of p.layers) {
    const o = l as unknown as Record<string, unknown>;
    if (f.spis && (l.layer === "esp" || l.layer === "ah") && f.spis.has((o.spi as number) >>> 0)) spiOk = true;
    if (l.layer === "ikev2" || l.layer === "isakmp") {
      if (f.ikeSpis) {
        const a = (o.ispi ?? o.icookie) as Uint8Array, b = (o.rspi ?? o.rcookie) as Uint8Array;
        if (f.ikeSpis.has(toHex(a)) || f.ikeSpis.has(toHex(b))) ikeOk = true;
      }
      if (f.exchanges && f.exchanges.has(o.exchange as number)) exOk = true;
    }
  }
  return spiOk && ikeOk && exOk;
}

/** @internal exported for tests */
export const _parse = { parseSpi, parseIkeSpi, parseExchange };
