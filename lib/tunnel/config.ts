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
import { cipherKeyLength, SALT_LEN } from "../esp/aead.ts";
import { tunnelMtu } from "../esp/mtu.ts";
import type { EspCipherName } from "../esp/types.ts";
import { type Cidr, parseCidr, parseIp } from "../net/cidr.ts";
import { ConfigError, int, str, strList } from "./config-util.ts";

export { ConfigError } from "./config-util.ts";
// IKEv2 mode lives in config-ike.ts (re-exported: one import site for callers)
export { type IkeSettings, type IkeTunnelConfig, isIkeConfig, mergeRawIke, validateIkeConfig } from "./config-ike.ts";

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
  /** Named connections of an IKEv2 server (`[connections.NAME]`, lib/tunnel/config-connections.ts). */
  connections?: unknown;
  /** PSKs by peer identity (`[secrets."ID"]`), for the connections. */
  secrets?: unknown;
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
  /** Accept modp1024 in a proposal (weak; warned about). */
  allow_modp1024?: unknown;
  responder?: unknown;
  dpd?: unknown;
  retry?: unknown;
  rekey?: unknown;
  ike_rekey?: unknown;
  cert?: unknown;
  key?: unknown;
  ca?: unknown;
  /** CRL files or folders of CRL files (DER or PEM), lib/tunnel/config-crl.ts. */
  crl?: unknown;
  revocation?: unknown;
  eku?: unknown;
  eap_user?: unknown;
  eap_password?: unknown;
  eap_password_file?: unknown;
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
  /** UDP-encapsulate ESP (port 4500) even without a NAT (strongSwan's `encap = yes`). */
  encap?: unknown;
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
