/**
 * `[ike.limits]`: what keeps an IKEv2 responder up under a flood (lib/ike/v2/sa/limits.ts,
 * modelled on strongSwan's cookie_threshold / block_threshold / init_limit_half_open).
 * Every key is optional; the defaults protect a server without settings.
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `ike.limits.cookie_threshold` | int | 10 | half-open IKE SAs from which on new IKE_SA_INITs must return a COOKIE (RFC 7296 §2.6) |
 * | `ike.limits.block_threshold` | int | 5 | half-open IKE SAs one source address may hold |
 * | `ike.limits.half_open_max` | int | 1000 | half-open IKE SAs in total |
 * | `ike.limits.max_sas` | int | 10000 | IKE SAs in total |
 * | `ike.limits.init_rate` | int | 200 | new IKE SAs per second that reach the key exchange (0 = unlimited) |
 * | `ike.limits.init_burst` | int | 100 | burst of that rate |
 * | `ike.limits.cookie_rotate` | number | 60 | seconds between COOKIE secret changes (the previous one is accepted too) |
 * | `ike.limits.invalid_spi_rate` | int | 10 | INVALID_IKE_SPI answers per second to messages for unknown IKE SAs |
 * | `ike.limits.half_open_timeout` | number | 30 | seconds a half-open IKE SA is kept |
 * | `ike.limits.queue` | int | 1024 | datagrams waiting between the sockets and the IKE SA manager (more are dropped and counted) |
 * | `ike.limits.unique_ids` | string | "no" | older IKE SAs of the same remote identity (strongSwan's `unique`): "no" replaces them only on INITIAL_CONTACT from the same address, "replace" always, "never" never |
 * @module
 */
import type { IkeLimits } from "../ike/v2/sa/limits.ts";
import { ConfigError } from "./config.ts";

const INTS: [string, keyof IkeLimits, number, number][] = [
  ["cookie_threshold", "cookieThreshold", 0, 1 << 20],
  ["block_threshold", "blockThreshold", 1, 1 << 20],
  ["half_open_max", "halfOpenMax", 1, 1 << 22],
  ["max_sas", "maxSas", 1, 1 << 22],
  ["init_rate", "initRate", 0, 1 << 20],
  ["init_burst", "initBurst", 1, 1 << 20],
  ["invalid_spi_rate", "invalidSpiRate", 0, 1 << 16],
  ["queue", "queue", 1, 1 << 20],
];
const SECS: [string, keyof IkeLimits, number, number][] = [
  ["cookie_rotate", "cookieRotateMs", 1, 86400],
  ["half_open_timeout", "halfOpenTimeoutMs", 1, 3600],
];

/** Validate `[ike.limits]` (undefined: all defaults). */
export function validateIkeLimits(v: unknown): Partial<IkeLimits> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw new ConfigError("ike.limits", "must be a table");
  const raw = v as Record<string, unknown>;
  const known = new Set([...INTS, ...SECS].map((x) => x[0]).concat("unique_ids"));
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new ConfigError(`ike.limits.${k}`, `unknown key (known: ${[...known].join(", ")})`);
  const out: Partial<IkeLimits> = {};
  for (const [key, field, min, max] of INTS) {
    const x = raw[key];
    if (x === undefined) continue;
    const n = typeof x === "bigint" ? Number(x) : x;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`ike.limits.${key}`, `must be an integer between ${min} and ${max}`);
    (out as Record<string, number>)[field] = n;
  }
  for (const [key, field, min, max] of SECS) {
    const x = raw[key];
    if (x === undefined) continue;
    const n = typeof x === "bigint" ? Number(x) : x;
    if (typeof n !== "number" || !(n >= min) || n > max) throw new ConfigError(`ike.limits.${key}`, `must be seconds between ${min} and ${max}`);
    (out as Record<string, number>)[field] = Math.round(n * 1000);
  }
  if (raw.unique_ids !== undefined) {
    const u = raw.unique_ids;
    if (u !== "no" && u !== "replace" && u !== "never") throw new ConfigError("ike.limits.unique_ids", 'must be "no", "replace" or "never"');
    out.uniqueIds = u;
  }
  return out;
}
