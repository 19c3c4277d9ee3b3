/**
 * Configuration of a manual-key tunnel (`vpnkit up`): one TOML file, with CLI flags
 * overriding its keys. A fully commented example is lib/tunnel/example.toml.
 *
 * Schema ({@link RawConfig}, all keys snake_case; every error names the key):
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `local` | string | required | local outer address (IPv4 or IPv6), bound for UDP |
 * | `local_port` | int | 4500 | local UDP port |
 * | `remote` | string | required | peer's outer address (same family as `local`) |
 * | `remote_port` | int | 4500 | peer's UDP port |
 * | `mtu` | int | 1500 | path MTU of the outer path; tunnel MTU = tunnelMtu(mtu, cipher, UDP encap) |
 * | `tun_mtu` | int | tunnel MTU | MTU set on the TUN; larger values let the engine answer ICMP too-big itself |
 * | `tun_name` | string | "vpnkit0" | TUN interface name (≤ 15 bytes) |
 * | `tun_addr` | string[] | required | inner address(es) with prefix, e.g. "10.9.0.1/30" |
 * | `routes` | string[] | required | remote subnets: routed into the TUN and allowed as inner sources |
 * | `local_subnets` | string[] | tun_addr hosts | inner prefixes allowed as our sources / inbound destinations |
 * | `keepalive` | number | 20 | NAT-keepalive interval in seconds (0 = off) |
 * | `keep_warm` | number | 2 | while traffic flowed in the last 5 s, wake every N ms when idle and send one throwaway packet through a loopback copy of the packet path, so the next real packet finds it warm (0 = off; costs ~3.5% of a core per end while active, see bench/tunnel/README.md) |
 * | `keylog` | string | none | append installed SAs (vpnkit format) and FILE.esp_sa (Wireshark) |
 * | `control` | string | "/run/vpnkit-<tun_name>.sock" | unix control socket for `vpnkit status` |
 * | `transport` | string | "udp" | outer transport: "udp" (ESP-in-UDP, RFC 3948) or "tcp" (RFC 9329 framing) |
 * | `tcp_role` | string | required with tcp (IKEv2: follows `ike.responder`) | "server" listens on local:local_port, "client" connects to remote:remote_port |
 * | `sa.cipher` | string | required | "aes128gcm16" \| "aes256gcm16" \| "chacha20poly1305" |
 * | `sa.spi_out` | string/int | required | SPI of the outbound SA (hex "0x..." or decimal) |
 * | `sa.spi_in` | string/int | required | SPI of the inbound SA |
 * | `sa.key_out` / `sa.key_out_file` | hex / path | one required | key‖salt, 20 B (aes128) or 36 B |
 * | `sa.key_in` / `sa.key_in_file` | hex / path | one required | key‖salt of the inbound SA |
 * | `sa.esn` | bool | false | extended sequence numbers |
 * | `sa.replay_window` | int | 1024 | anti-replay window (0 = off) |
 *
 * Key files hold hex text (optionally 0x-prefixed, whitespace ignored) or the raw bytes.
 * @module
 */
import { readFileSync } from "node:fs";
import { parse as parseToml } from "smol-toml";
import { fromHex } from "../core/bytes.ts";
import { MIN_PSK_LEN } from "../core/secret.ts";
import { cipherKeyLength, SALT_LEN } from "../esp/aead.ts";
import { tunnelMtu } from "../esp/mtu.ts";
import type { EspCipherName } from "../esp/types.ts";
import { type Cidr, parseCidr, parseIp } from "../net/cidr.ts";
import type { IkeLimits } from "../ike/v2/sa/limits.ts";
import { validateIkeLimits } from "./config-limits.ts";

/** The raw (unvalidated) shape of the TOML file. */
export interface RawConfig {
  local?: unknown;
  local_port?: unknown;
  remote?: unknown;
  remote_port?: unknown;
  mtu?: unknown;
  tun_mtu?: unknown;
  tun_name?: unknown;
  tun_addr?: unknown;
  routes?: unknown;
  local_subnets?: unknown;
  keepalive?: unknown;
  keep_warm?: unknown;
  keylog?: unknown;
  control?: unknown;
  transport?: unknown;
  tcp_role?: unknown;
  /** Operations keys (issue 14), validated by lib/tunnel/ops-config.ts. */
  keylog_append?: unknown;
  strict?: unknown;
  log_level?: unknown;
  log_format?: unknown;
  /** IKEv2 mode (`vpnkit up --peer ...`): see {@link IkeSettings}; exclusive with `sa`. */
  ike?: RawIke;
  sa?: {
    cipher?: unknown;
    spi_out?: unknown;
    spi_in?: unknown;
    key_out?: unknown;
    key_out_file?: unknown;
    key_in?: unknown;
    key_in_file?: unknown;
    esn?: unknown;
    replay_window?: unknown;
  };
}

/** The raw `[ike]` section. */
export interface RawIke {
  psk?: unknown;
  psk_file?: unknown;
  local_id?: unknown;
  remote_id?: unknown;
  local_ts?: unknown;
  remote_ts?: unknown;
  ike_proposal?: unknown;
  esp_proposal?: unknown;
  responder?: unknown;
  dpd?: unknown;
  retry?: unknown;
  rekey?: unknown;
  ike_rekey?: unknown;
  cert?: unknown;
  key?: unknown;
  ca?: unknown;
  virtual_ip?: unknown;
  pool?: unknown;
  dns?: unknown;
  retransmit_timeout?: unknown;
  retransmit_tries?: unknown;
  /** Accept a pre-shared key shorter than MIN_PSK_LEN (16) bytes. */
  psk_allow_short?: unknown;
  /** UDP port of plain IKE (RFC 7296 §2.23), default 500; 0 = IKE only on the NAT-T socket (`local_port`). */
  port?: unknown;
  /** `[ike.limits]`, lib/tunnel/config-limits.ts. */
  limits?: unknown;
}

export interface ManualSa {
  cipher: EspCipherName;
  spiOut: number;
  spiIn: number;
  keyOut: Uint8Array;
  keyIn: Uint8Array;
  esn: boolean;
  replayWindow: number;
}

/** A validated tunnel configuration. */
export interface TunnelConfig {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  outer: "ipv4" | "ipv6";
  pathMtu: number;
  /** Largest inner packet (derived from pathMtu, cipher and UDP encapsulation). */
  tunnelMtu: number;
  tunMtu: number;
  tunName: string;
  tunAddr: string[];
  routes: Cidr[];
  localSubnets: Cidr[];
  keepaliveSec: number;
  /** Keep-warm tick in ms (0 = off), see `keep_warm`. */
  keepWarmMs: number;
  keylog: string | null;
  control: string;
  /** Outer transport; with "tcp", `tcpRole` says who connects (the tunnel MTU is derived as for UDP). */
  transport: "udp" | "tcp";
  tcpRole: "client" | "server" | null;
  sa: ManualSa;
}

export class ConfigError extends Error {
  constructor(readonly key: string, msg: string) {
    super(`config: ${key}: ${msg}`);
    this.name = "ConfigError";
  }
}

const CIPHERS: readonly EspCipherName[] = ["aes128gcm16", "aes256gcm16", "chacha20poly1305"];

/** Parse TOML text into the raw shape (syntax errors become ConfigError). */
export function parseConfigText(text: string, source = "config"): RawConfig {
  try {
    return parseToml(text) as RawConfig;
  } catch (e) {
    throw new ConfigError(source, (e as Error).message.split("\n")[0]);
  }
}

/** Read and parse a TOML file. */
export function loadConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(path, (e as Error).message);
  }
  return parseConfigText(text, path);
}

/** Overlay `over` (CLI flags, already in the raw shape) on `base`. Undefined keys are ignored. */
export function mergeRaw(base: RawConfig, over: RawConfig): RawConfig {
  const out: RawConfig = { ...base, sa: { ...(base.sa ?? {}) } };
  for (const [k, v] of Object.entries(over)) {
    if (k === "sa" || v === undefined) continue;
    (out as Record<string, unknown>)[k] = v;
  }
  for (const [k, v] of Object.entries(over.sa ?? {})) if (v !== undefined) (out.sa as Record<string, unknown>)[k] = v;
  // a key given by flag replaces the other form from the file
  if (over.sa?.key_out_file !== undefined) delete out.sa!.key_out;
  if (over.sa?.key_in_file !== undefined) delete out.sa!.key_in;
  return out;
}

function str(v: unknown, key: string, required: true): string;
function str(v: unknown, key: string, required: false): string | undefined;
function str(v: unknown, key: string, required: boolean): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw new ConfigError(key, "missing");
    return undefined;
  }
  if (typeof v !== "string" || v.length === 0) throw new ConfigError(key, "must be a non-empty string");
  return v;
}

function int(v: unknown, key: string, dflt: number, min: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n)) throw new ConfigError(key, "must be an integer");
  if (n < min || n > max) throw new ConfigError(key, `must be between ${min} and ${max}`);
  return n;
}

function strList(v: unknown, key: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const arr = typeof v === "string" ? [v] : v;
  if (!Array.isArray(arr) || arr.some((x) => typeof x !== "string")) throw new ConfigError(key, "must be a string or a list of strings");
  return arr as string[];
}

function spi(v: unknown, key: string): number {
  if (v === undefined || v === null) throw new ConfigError(key, "missing");
  let n: number;
  if (typeof v === "number" || typeof v === "bigint") n = Number(v);
  else if (typeof v === "string" && /^0x[0-9a-f]{1,8}$/i.test(v.trim())) n = parseInt(v.trim().slice(2), 16);
  else if (typeof v === "string" && /^\d+$/.test(v.trim())) n = Number(v.trim());
  else throw new ConfigError(key, `not an SPI: ${JSON.stringify(v)} (hex 0x... or decimal)`);
  if (!Number.isInteger(n) || n < 256 || n > 0xffffffff) throw new ConfigError(key, "SPI must be in 256..0xffffffff (0..255 are reserved)");
  return n >>> 0;
}

function key(hex: unknown, file: unknown, keyName: string, cipher: EspCipherName, readFile: (p: string) => Uint8Array): Uint8Array {
  const want = cipherKeyLength(cipher) + SALT_LEN;
  let k: Uint8Array | null;
  let where: string;
  if (hex !== undefined && file !== undefined) throw new ConfigError(`sa.${keyName}`, `give either sa.${keyName} or sa.${keyName}_file, not both`);
  if (hex !== undefined) {
    where = `sa.${keyName}`;
    if (typeof hex !== "string") throw new ConfigError(where, "must be a hex string");
    k = fromHex(hex);
    if (!k) throw new ConfigError(where, "not valid hex");
  } else if (file !== undefined) {
    where = `sa.${keyName}_file`;
    if (typeof file !== "string") throw new ConfigError(where, "must be a path");
    let raw: Uint8Array;
    try {
      raw = readFile(file);
    } catch (e) {
      throw new ConfigError(where, `cannot read ${file}: ${(e as Error).message}`);
    }
    const text = new TextDecoder("utf-8", { fatal: false }).decode(raw).trim();
    const h = /^(0x)?[0-9a-fA-F:\s]+$/.test(text) ? fromHex(text) : null;
    k = h ?? (raw.length === want ? raw.slice() : null);
    raw.fill(0);
    if (!k) throw new ConfigError(where, `${file} holds neither hex nor ${want} raw bytes`);
  } else {
    throw new ConfigError(`sa.${keyName}`, `missing (sa.${keyName} or sa.${keyName}_file)`);
  }
  if (k.length !== want) {
    const n = k.length;
    k.fill(0);
    throw new ConfigError(where, `${cipher} needs ${want} bytes of key material (key ${want - SALT_LEN} + salt ${SALT_LEN}), got ${n}`);
  }
  return k;
}

/** Validate the raw configuration. Never includes key bytes in errors. */
export function validateConfig(raw: RawConfig, readFile: (p: string) => Uint8Array = (p) => readFileSync(p)): TunnelConfig {
  const local = str(raw.local, "local", true);
  const remote = str(raw.remote, "remote", true);
  const li = parseIp(local);
  if (!li) throw new ConfigError("local", `not an IP address: ${local}`);
  const ri = parseIp(remote);
  if (!ri) throw new ConfigError("remote", `not an IP address: ${remote}`);
  if (li.family !== ri.family) throw new ConfigError("remote", "must be the same address family as local");
  const localPort = int(raw.local_port, "local_port", 4500, 1, 65535);
  const remotePort = int(raw.remote_port, "remote_port", 4500, 1, 65535);
  const sa = raw.sa ?? {};
  const cipherS = str(sa.cipher, "sa.cipher", true);
  if (!CIPHERS.includes(cipherS as EspCipherName)) throw new ConfigError("sa.cipher", `unknown cipher "${cipherS}" (one of ${CIPHERS.join(", ")})`);
  const cipher = cipherS as EspCipherName;
  const spiOut = spi(sa.spi_out, "sa.spi_out");
  const spiIn = spi(sa.spi_in, "sa.spi_in");
  if (sa.esn !== undefined && typeof sa.esn !== "boolean") throw new ConfigError("sa.esn", "must be true or false");
  const replayWindow = int(sa.replay_window, "sa.replay_window", 1024, 0, 1 << 20);
  const outer = li.family === 4 ? "ipv4" : "ipv6";
  const pathMtu = int(raw.mtu, "mtu", 1500, outer === "ipv4" ? 576 : 1280, 65535);
  const tMtu = tunnelMtu(pathMtu, cipher, { outer, udpEncap: true });
  if (tMtu < 576) throw new ConfigError("mtu", `path MTU ${pathMtu} leaves a tunnel MTU of ${tMtu}, below 576`);
  const tunMtu = int(raw.tun_mtu, "tun_mtu", tMtu, 576, 65535);
  const tunName = str(raw.tun_name, "tun_name", false) ?? "vpnkit0";
  if (new TextEncoder().encode(tunName).length > 15 || /[\s/]/.test(tunName)) throw new ConfigError("tun_name", "at most 15 bytes, no spaces or '/'");
  const tunAddr = strList(raw.tun_addr, "tun_addr");
  if (!tunAddr || tunAddr.length === 0) throw new ConfigError("tun_addr", "missing (inner address with prefix, e.g. 10.9.0.1/30)");
  const hosts: Cidr[] = [];
  for (const a of tunAddr) {
    if (!a.includes("/")) throw new ConfigError("tun_addr", `${a}: needs a prefix length, e.g. ${a}/30`);
    const c = parseCidr(a, true);
    if (!c) throw new ConfigError("tun_addr", `not an address/prefix: ${a}`);
    hosts.push(parseCidr(a.slice(0, a.indexOf("/")))!);
  }
  const routesS = strList(raw.routes, "routes");
  if (!routesS || routesS.length === 0) throw new ConfigError("routes", "missing (the remote subnets, e.g. 10.9.0.2/32)");
  const routes = routesS.map((r) => parseCidr(r) ?? (() => {
    throw new ConfigError("routes", `not a prefix: ${r}`);
  })());
  const lsS = strList(raw.local_subnets, "local_subnets");
  const localSubnets = lsS
    ? lsS.map((r) => parseCidr(r) ?? (() => {
      throw new ConfigError("local_subnets", `not a prefix: ${r}`);
    })())
    : hosts;
  let keepaliveSec = 20;
  if (raw.keepalive !== undefined) {
    if (typeof raw.keepalive !== "number" || !(raw.keepalive >= 0) || raw.keepalive > 86400) throw new ConfigError("keepalive", "must be seconds between 0 and 86400");
    keepaliveSec = raw.keepalive;
  }
  let keepWarmMs = 2;
  if (raw.keep_warm !== undefined) {
    if (typeof raw.keep_warm !== "number" || !(raw.keep_warm >= 0) || raw.keep_warm > 1000) throw new ConfigError("keep_warm", "must be milliseconds between 0 (off) and 1000");
    keepWarmMs = raw.keep_warm;
  }
  const keylog = str(raw.keylog, "keylog", false) ?? null;
  const control = str(raw.control, "control", false) ?? `/run/vpnkit-${tunName}.sock`;
  const transport = str(raw.transport, "transport", false) ?? "udp";
  if (transport !== "udp" && transport !== "tcp") throw new ConfigError("transport", `must be "udp" or "tcp", not "${transport}"`);
  const roleS = str(raw.tcp_role, "tcp_role", false);
  if (roleS !== undefined && roleS !== "client" && roleS !== "server") throw new ConfigError("tcp_role", `must be "client" or "server", not "${roleS}"`);
  if (transport === "tcp" && roleS === undefined) throw new ConfigError("tcp_role", 'missing: with transport "tcp" one side is "server" (listens on local:local_port) and the other "client" (connects to remote:remote_port)');
  if (transport === "udp" && roleS !== undefined) throw new ConfigError("tcp_role", 'only with transport "tcp"');
  const tcpRole = transport === "tcp" ? roleS as "client" | "server" : null;
  const keyOut = key(sa.key_out, sa.key_out_file, "key_out", cipher, readFile);
  let keyIn: Uint8Array;
  try {
    keyIn = key(sa.key_in, sa.key_in_file, "key_in", cipher, readFile);
  } catch (e) {
    keyOut.fill(0);
    throw e;
  }
  return {
    local, localPort, remote, remotePort, outer, pathMtu, tunnelMtu: tMtu, tunMtu, tunName, tunAddr, routes, localSubnets,
    keepaliveSec, keepWarmMs, keylog, control, transport, tcpRole,
    sa: { cipher, spiOut, spiIn, keyOut, keyIn, esn: sa.esn === true, replayWindow },
  };
}

// ------------------------------------------------------------------ IKEv2 mode

/**
 * IKEv2 settings (`[ike]` section, or `vpnkit up --peer ...`). Keys:
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `ike.psk_file` / `ike.psk` | path / string | one required | pre-shared key (file: its text, trailing newline dropped) |
 * | `ike.local_id` / `ike.remote_id` | string | the local address the IKE SA uses / any | identities (strongSwan syntax: "a@b", "host.example", "192.0.2.1") |
 * | `ike.port` | int | 500 | plain IKE port (RFC 7296 §2.23; IPv4 and, with a wildcard `local`, IPv6 too); IKE moves to `local_port` (NAT-T, 4500) when NAT-D says so; 0 = IKE only on `local_port` |
 * | `ike.limits.*` | table | see lib/tunnel/config-limits.ts | flood protection (cookies, per-source and half-open caps, rate limit, receive queue) |
 * | `ike.local_ts` / `ike.remote_ts` | string[] | required | traffic selectors (CIDR) |
 * | `ike.ike_proposal` | string[] | aes256gcm16-prfsha256-x25519 | IKE proposals, strongSwan syntax |
 * | `ike.esp_proposal` | string[] | aes256gcm16, chacha20poly1305 | ESP proposals (AEAD) |
 * | `ike.responder` | bool | false | wait for the peer to initiate |
 * | `ike.dpd` | number | 30 | liveness check after this many idle seconds (0 = off) |
 * | `ike.retry` | bool | false | initiator: start over (after 5 s) when the IKE SA fails or dies |
 * | `ike.rekey` | number | 3600 | rekey the Child SA every N seconds (0 = never; initiator and responder) |
 * | `ike.ike_rekey` | number | 14400 | rekey the IKE SA every N seconds (0 = never) |
 * | `ike.cert` / `ike.key` | path / path | none | our certificate and private key (PEM): authenticate with signatures (RFC 7427) instead of the PSK |
 * | `ike.ca` | path[] | none | trust anchors (PEM) for a peer that authenticates with a certificate |
 * | `ike.retransmit_timeout` / `ike.retransmit_tries` | number / int | 4 / 5 | first retransmission after N s (then ×1.8 each), give up after this many retransmissions (a dead peer found by DPD is given up then) |
 * | `ike.virtual_ip` | bool | false | initiator (road warrior): ask the peer for an inner IPv4 address (CP); it is put on the TUN and is our traffic selector; `tun_addr` and `local_ts` may then be left out |
 * | `ike.pool` | CIDR or [IPv4 CIDR, IPv6 CIDR] | none | responder (road-warrior server): hand clients that ask (CP) a virtual IP from this prefix (IPv4: network and broadcast addresses excluded; IPv6: from prefix::1 on, at most 65,536); `remote_ts` defaults to it |
 * | `ike.dns` | IPv4 address[] | none | responder: DNS servers sent with a virtual IP from `ike.pool` |
 * | `ike.psk_allow_short` | bool | false | accept a pre-shared key shorter than 16 bytes |
 *
 * In IKEv2 mode `local` defaults to the wildcard address, `routes` to `remote_ts`,
 * `local_subnets` to `local_ts`, and `tun_addr` to the host prefixes (/32, /128) of `local_ts`,
 * or to none (the TUN carries the routes; traffic comes from addresses inside `local_ts`
 * held by other interfaces, as on a site-to-site gateway).
 * A responder without `remote` (`--peer`) accepts IKE SAs from any address. `remote_port`
 * is where the initiator sends IKE_SA_INIT (default `ike.port`, 500; 4500 starts on the
 * NAT-T socket with the non-ESP marker). ESP always travels in UDP on `local_port` (4500,
 * RFC 3948): vpnkit announces a NAT (random NAT-D source hash, like strongSwan's
 * `encap = yes`) so the peer encapsulates too.
 */
export interface IkeSettings {
  psk: Uint8Array;
  /** Undefined: the local address the IKE SA uses. */
  localId: string | undefined;
  remoteId: string | undefined;
  /** Plain IKE port (0 = none: IKE on the NAT-T socket only). */
  ikePort: number;
  /** Responder without a configured peer: any address may initiate. */
  remoteAny: boolean;
  /** `[ike.limits]` (unset keys: defaults). */
  limits: Partial<IkeLimits>;
  localTs: string[];
  remoteTs: string[];
  ikeProposals: string[];
  espProposals: string[];
  responder: boolean;
  dpdSec: number;
  retry: boolean;
  rekeySec: number;
  ikeRekeySec: number;
  /** PEM texts: our certificate and private key (signature authentication), and the CAs we trust. */
  certificate?: string;
  privateKey?: string;
  peerCa?: string[];
  /** Ask for a virtual IPv4 address (initiator). */
  virtualIp: boolean;
  /** Responder: virtual IPv4 pool (CIDR) for clients' CP requests. */
  pool?: string;
  /** Responder: virtual IPv6 pool (CIDR) for clients' CP requests (INTERNAL_IP6_ADDRESS). */
  pool6?: string;
  /** Responder: DNS servers pushed with a virtual IP. */
  dns?: string[];
  retransmitSec: number;
  retransmitTries: number;
}

/** A validated IKEv2-mode tunnel configuration (no manual SA). */
export type IkeTunnelConfig = Omit<TunnelConfig, "sa"> & { ike: IkeSettings };

/** True when the raw configuration asks for IKEv2 (an `[ike]` section or IKE flags). */
export function isIkeConfig(raw: RawConfig): boolean {
  return raw.ike !== undefined && Object.values(raw.ike).some((v) => v !== undefined);
}

/** Overlay IKE flags on the file's `[ike]` section (undefined keys ignored). */
export function mergeRawIke(base: RawConfig, over: RawIke): RawConfig {
  const ike: RawIke = { ...(base.ike ?? {}) };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (ike as Record<string, unknown>)[k] = v;
  if (over.psk_file !== undefined) delete ike.psk;
  return { ...base, ike };
}

function num(v: unknown, key: string, dflt: number, max: number): number {
  if (v === undefined || v === null) return dflt;
  const n = typeof v === "string" && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !(n >= 0) || n > max) throw new ConfigError(key, `must be seconds between 0 and ${max}`);
  return n;
}

function bool(v: unknown, key: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new ConfigError(key, "must be true or false");
  return v;
}

/**
 * Validate an IKEv2-mode configuration. The outer/TUN keys are checked by
 * {@link validateConfig} itself (run with a throw-away manual SA whose keys are zeroed
 * right away, so both modes share every rule); the `[ike]` section here.
 */
export function validateIkeConfig(raw: RawConfig, readFile: (p: string) => Uint8Array = (p) => readFileSync(p)): IkeTunnelConfig {
  if (raw.sa !== undefined && Object.values(raw.sa).some((v) => v !== undefined)) throw new ConfigError("sa", "manual keys ([sa], --spi-*, --key-*) and IKEv2 ([ike], --peer, --psk-file) are exclusive");
  const ike = raw.ike ?? {};
  const virtualIp = bool(ike.virtual_ip, "ike.virtual_ip");
  if (virtualIp && ike.responder === true) throw new ConfigError("ike.virtual_ip", "only an initiator asks for a virtual IP");
  const localTs = strList(ike.local_ts, "ike.local_ts") ?? (virtualIp ? [] : undefined);
  if (!localTs || (localTs.length === 0 && !virtualIp)) throw new ConfigError("ike.local_ts", "missing (our inner prefixes, e.g. 10.1.0.0/24)");
  // one IPv4 and/or one IPv6 prefix
  let pool: string | undefined, pool6: string | undefined;
  for (const poolText of strList(ike.pool, "ike.pool") ?? []) {
    const c = parseCidr(poolText.includes("/") ? poolText : poolText + (poolText.includes(":") ? "/128" : "/32"));
    if (!c) throw new ConfigError("ike.pool", `not a prefix: ${poolText}`);
    if (ike.responder !== true) throw new ConfigError("ike.pool", "only a responder (--responder) hands out virtual IPs");
    if ((c.family === 4 ? pool : pool6) !== undefined) throw new ConfigError("ike.pool", `one IPv4 and one IPv6 prefix at most: ${poolText}`);
    if (c.family === 4) pool = c.text;
    else pool6 = c.text;
  }
  const dns = strList(ike.dns, "ike.dns");
  if (dns !== undefined) {
    if (pool === undefined) throw new ConfigError("ike.dns", "DNS servers are pushed with a virtual IPv4 address: give an IPv4 ike.pool (--pool) too");
    for (const d of dns) if (parseIp(d)?.family !== 4) throw new ConfigError("ike.dns", `not an IPv4 address: ${d}`);
  }
  const pools = [pool, pool6].filter((x): x is string => x !== undefined);
  const remoteTs = strList(ike.remote_ts, "ike.remote_ts") ?? (pools.length ? pools : undefined);
  if (!remoteTs || remoteTs.length === 0) throw new ConfigError("ike.remote_ts", "missing (the peer's inner prefixes, e.g. 10.2.0.0/24)");
  for (const [k, l] of [["ike.local_ts", localTs], ["ike.remote_ts", remoteTs]] as const) {
    for (const t of l) if (!parseCidr(t.includes("/") ? t : t + (t.includes(":") ? "/128" : "/32"))) throw new ConfigError(k, `not a prefix: ${t}`);
  }
  const responder = bool(ike.responder, "ike.responder");
  const remoteAny = responder && (raw.remote === undefined || raw.remote === "%any");
  const remote = remoteAny ? (typeof raw.local === "string" && raw.local.includes(":") ? "::" : "0.0.0.0") : str(raw.remote, "remote (--peer)", true);
  const ri = parseIp(remote);
  if (!ri) throw new ConfigError("remote", `not an IP address: ${remote}`);
  const hostTs = localTs.filter((t) => /\/(32|128)$/.test(t) || !t.includes("/")).map((t) => (t.includes("/") ? t : t + (t.includes(":") ? "/128" : "/32")));
  // over TCP (RFC 9329) IKE rides the connection: no plain IKE port; the initiator is the TCP client
  const tcp = raw.transport === "tcp";
  if (tcp && ike.port !== undefined && ike.port !== 0) throw new ConfigError("ike.port", 'with transport "tcp" IKE rides the TCP connection (local_port / remote_port, default 4500): leave ike.port out');
  const ikePort = tcp ? 0 : int(ike.port, "ike.port", 500, 0, 65535);
  const filled: RawConfig = {
    ...raw,
    ...(tcp ? { tcp_role: raw.tcp_role ?? (responder ? "server" : "client") } : {}),
    remote,
    remote_port: raw.remote_port ?? (ikePort || 4500),
    local: raw.local ?? (ri.family === 4 ? "0.0.0.0" : "::"),
    routes: raw.routes ?? remoteTs,
    local_subnets: raw.local_subnets ?? (localTs.length ? localTs : undefined),
    // with a virtual IP the TUN gets its address later; this placeholder only passes the shared checks
    tun_addr: raw.tun_addr ?? (hostTs.length ? hostTs : virtualIp ? ["127.0.0.2/32"] : undefined),
    sa: { cipher: "aes256gcm16", spi_out: 256, spi_in: 257, key_out: "00".repeat(36), key_in: "00".repeat(36) },
  };
  // no address of ours inside local_ts: the TUN carries routes only (a gateway's inner address lives on its LAN interface)
  const noTunAddr = filled.tun_addr === undefined;
  if (noTunAddr) filled.tun_addr = ["127.0.0.2/32"];
  const base = validateConfig(filled, readFile);
  base.sa.keyOut.fill(0);
  base.sa.keyIn.fill(0);
  const { sa: _unused, ...rest } = base;
  if (noTunAddr || (virtualIp && raw.tun_addr === undefined && hostTs.length === 0)) {
    rest.tunAddr = [];
    if (raw.local_subnets === undefined && localTs.length === 0) rest.localSubnets = [];
  }
  if (rest.transport === "tcp" && rest.tcpRole !== (responder ? "server" : "client")) throw new ConfigError("tcp_role", `IKEv2 over TCP: the initiator is the TCP client and the responder the server; leave tcp_role out (it follows ike.responder)`);

  const pem = (v: unknown, key: string): string | undefined => {
    const f = str(v, key, false);
    if (f === undefined) return undefined;
    let text: string;
    try {
      text = new TextDecoder().decode(readFile(f));
    } catch (e) {
      throw new ConfigError(key, `cannot read ${f}: ${(e as Error).message}`);
    }
    if (!text.includes("-----BEGIN ")) throw new ConfigError(key, `${f} is not PEM`);
    return text;
  };
  const certificate = pem(ike.cert, "ike.cert");
  const privateKey = pem(ike.key, "ike.key");
  if ((certificate === undefined) !== (privateKey === undefined)) throw new ConfigError(certificate ? "ike.key" : "ike.cert", "give both ike.cert and ike.key (--cert, --key)");
  const peerCa = (strList(ike.ca, "ike.ca") ?? []).map((f) => pem(f, "ike.ca")!);
  let psk: Uint8Array = new Uint8Array(0);
  if (ike.psk !== undefined && ike.psk_file !== undefined) throw new ConfigError("ike.psk", "give either ike.psk or ike.psk_file, not both");
  if (ike.psk_file !== undefined) {
    const f = str(ike.psk_file, "ike.psk_file", true);
    let rawPsk: Uint8Array;
    try {
      rawPsk = readFile(f);
    } catch (e) {
      throw new ConfigError("ike.psk_file", `cannot read ${f}: ${(e as Error).message}`);
    }
    let n = rawPsk.length;
    while (n > 0 && (rawPsk[n - 1] === 0x0a || rawPsk[n - 1] === 0x0d)) n--;
    psk = new Uint8Array(rawPsk.subarray(0, n)); // a copy (Buffer#slice would be a view)
    rawPsk.fill(0);
  } else if (ike.psk !== undefined) {
    psk = new TextEncoder().encode(str(ike.psk, "ike.psk", true));
  } else if (!certificate) {
    throw new ConfigError("ike.psk_file", "missing (--psk-file, or ike.psk / ike.psk_file in the file)");
  }
  if (psk.length === 0 && (ike.psk !== undefined || ike.psk_file !== undefined)) throw new ConfigError("ike.psk_file", "the pre-shared key is empty");
  if (psk.length > 0 && psk.length < MIN_PSK_LEN && !bool(ike.psk_allow_short, "ike.psk_allow_short")) {
    psk.fill(0);
    throw new ConfigError(ike.psk_file !== undefined ? "ike.psk_file" : "ike.psk", `the pre-shared key is ${psk.length} bytes, at least ${MIN_PSK_LEN} needed (or psk_allow_short = true in [ike])`);
  }
  const ikeProposals = strList(ike.ike_proposal, "ike.ike_proposal") ?? ["aes256gcm16-prfsha256-x25519"];
  const espProposals = strList(ike.esp_proposal, "ike.esp_proposal") ?? ["aes256gcm16", "chacha20poly1305"];
  for (const p of espProposals) {
    if (!/^(aes128gcm16|aes256gcm16|chacha20poly1305)(-|$)/.test(p)) throw new ConfigError("ike.esp_proposal", `"${p}": the data plane does AEAD only (aes128gcm16, aes256gcm16, chacha20poly1305)`);
  }
  const localId = str(ike.local_id, "ike.local_id", false) ?? (rest.local === "0.0.0.0" || rest.local === "::" ? undefined : rest.local);
  if (localId === "%any") throw new ConfigError("ike.local_id", "must name us (leave it out for the local address)");
  return {
    ...rest,
    ike: {
      psk, localId, remoteId: str(ike.remote_id, "ike.remote_id", false), localTs, remoteTs, ikeProposals, espProposals,
      responder, ikePort, remoteAny, limits: validateIkeLimits(ike.limits),
      dpdSec: num(ike.dpd, "ike.dpd", 30, 86400),
      retry: bool(ike.retry, "ike.retry"),
      rekeySec: num(ike.rekey, "ike.rekey", 3600, 86400 * 7),
      ikeRekeySec: num(ike.ike_rekey, "ike.ike_rekey", 14400, 86400 * 7),
      certificate, privateKey, peerCa: peerCa.length ? peerCa : undefined,
      virtualIp,
      ...(pool ? { pool, dns: dns ?? [] } : {}),
      ...(pool6 ? { pool6 } : {}),
      retransmitSec: num(ike.retransmit_timeout, "ike.retransmit_timeout", 4, 600),
      retransmitTries: int(ike.retransmit_tries, "ike.retransmit_tries", 5, 0, 20),
    },
  };
}

// ------------------------------------------------------------------ MTU responder (issue 6)

/** The raw `[mtu_responder]` section (manual-key and IKEv2 mode alike). */
export interface RawMtuResponder {
  secret_file?: unknown;
  port?: unknown;
}

/**
 * `vpnkit up` also serves `vpnkit mtu` probes once the tunnel is up (lib/probe responder,
 * authenticated and rate-limited, its own UDP socket, stopped with the tunnel):
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `mtu_responder.secret_file` | path | none (no responder) | shared secret, same file as `vpnkit mtu --secret-file` |
 * | `mtu_responder.port` | int | 4501 | UDP port of the responder |
 *
 * The socket is bound to the tunnel's first inner address (`tun_addr`), so the responder is
 * reached only through the tunnel and measures the tunnel's inner path MTU; in IKEv2 mode
 * without a known inner address (virtual IP) it binds the wildcard.
 */
export interface MtuResponderSettings {
  secretFile: string;
  port: number;
}

/** Validate `[mtu_responder]` with flags (`--mtu-responder-secret-file`, `--mtu-responder-port`) overriding it; null = off. */
export function validateMtuResponder(raw: RawConfig, over: RawMtuResponder = {}): MtuResponderSettings | null {
  const file = (raw as { mtu_responder?: unknown }).mtu_responder;
  if (file !== undefined && (typeof file !== "object" || file === null || Array.isArray(file))) throw new ConfigError("mtu_responder", "must be a table");
  const m = { ...(file as RawMtuResponder | undefined) };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (m as Record<string, unknown>)[k] = v;
  const secretFile = str(m.secret_file, "mtu_responder.secret_file", false);
  if (secretFile === undefined) {
    if (m.port !== undefined) throw new ConfigError("mtu_responder.port", "needs mtu_responder.secret_file (--mtu-responder-secret-file)");
    return null;
  }
  return { secretFile, port: int(m.port, "mtu_responder.port", 4501, 1, 65535) };
}
