/**
 * IKEv2 mode of `vpnkit up` (`[ike]`, `--peer`, `--responder`): {@link validateIkeConfig}.
 * Named connections (`[connections.NAME]`, `[secrets]`) are lib/tunnel/config-connections.ts.
 * @module
 */
import { loadCrlSettings } from "./config-crl.ts";
import type { RevocationPolicy } from "../ike/pki/validate.ts";
import { readFileSync } from "node:fs";
import { MIN_PSK_LEN } from "../core/secret.ts";
import { parseCidr, parseIp } from "../net/cidr.ts";
import type { IkeLimits } from "../ike/v2/sa/limits.ts";
import { validateIkeLimits } from "./config-limits.ts";
import { fitEspMtu, validateProposals } from "./config-proposals.ts";
import { type RawConfig, type RawIke, type TunnelConfig, validateConfig } from "./config.ts";
import { bool, ConfigError, int, num, str, strList } from "./config-util.ts";
import { type ConnectionSettings, type SecretSettings, validateConnections, validateSecrets } from "./config-connections.ts";

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
 * | `ike.esp_proposal` | string[] | aes256gcm16, chacha20poly1305 | ESP proposals (AEAD, or AES-CBC with HMAC: aes256-sha256, ...) |
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
 * | `ike.encap` | bool | false | UDP-encapsulate ESP (4500) even when no NAT is detected (strongSwan's `encap = yes`) |
 *
 * In IKEv2 mode `local` defaults to the wildcard address, `routes` to `remote_ts`,
 * `local_subnets` to `local_ts`, and `tun_addr` to the host prefixes (/32, /128) of `local_ts`,
 * or to none (the TUN carries the routes; traffic comes from addresses inside `local_ts`
 * held by other interfaces, as on a site-to-site gateway).
 * A responder without `remote` (`--peer`) accepts IKE SAs from any address. `remote_port`
 * is where the initiator sends IKE_SA_INIT (default `ike.port`, 500; 4500 starts on the
 * NAT-T socket with the non-ESP marker). ESP travels in UDP on `local_port` (4500,
 * RFC 3948) when NAT-D finds a NAT, when IKE runs on the NAT-T port, or with `ike.encap`
 * (vpnkit then announces a NAT with a random NAT-D source hash, like strongSwan's
 * `encap = yes`, so the peer encapsulates too); otherwise ESP is IP protocol 50 (raw socket).
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
  /** Start-up warnings about the proposals (lib/tunnel/config-proposals.ts). */
  proposalWarnings?: string[];
  responder: boolean;
  dpdSec: number;
  retry: boolean;
  rekeySec: number;
  ikeRekeySec: number;
  /** PEM texts: our certificate and private key (signature authentication), and the CAs we trust. */
  certificate?: string;
  privateKey?: string;
  peerCa?: string[];
  /** CRLs (DER) from `ike.crl` files and folders, strongSwan's revocation policy, the EKU policy (config-crl.ts). */
  crls?: Uint8Array[];
  revocation?: RevocationPolicy;
  eku?: "warn" | "strict";
  /** Initiator: EAP-MSCHAPv2 user and password (`ike.eap_user`, `ike.eap_password[_file]`). */
  eap?: { user: string; password: string };
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
  /** UDP-encapsulate ESP even without a NAT (`ike.encap`, strongSwan's `encap = yes`). */
  encap: boolean;
}

/** A validated IKEv2-mode tunnel configuration (no manual SA). */
export type IkeTunnelConfig = Omit<TunnelConfig, "sa"> & {
  ike: IkeSettings;
  /** Named connections (`[connections.NAME]`, lib/tunnel/config-connections.ts): a responder that picks one per peer in IKE_AUTH. */
  connections?: ConnectionSettings[];
  /** `[secrets]`: PSKs by peer identity (for the connections). */
  secrets?: SecretSettings[];
};

/** True when the raw configuration asks for IKEv2 (an `[ike]` section or IKE flags). */
export function isIkeConfig(raw: RawConfig): boolean {
  if (raw.connections !== undefined) return true;
  return raw.ike !== undefined && Object.values(raw.ike).some((v) => v !== undefined);
}

/** Overlay IKE flags on the file's `[ike]` section (undefined keys ignored). */
export function mergeRawIke(base: RawConfig, over: RawIke): RawConfig {
  const ike: RawIke = { ...(base.ike ?? {}) };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) (ike as Record<string, unknown>)[k] = v;
  if (over.psk_file !== undefined) delete ike.psk;
  return { ...base, ike };
}

/**
 * Validate an IKEv2-mode configuration. The outer/TUN keys are checked by
 * {@link validateConfig} itself (run with a throw-away manual SA whose keys are zeroed
 * right away, so both modes share every rule); the `[ike]` section here.
 */
export function validateIkeConfig(raw: RawConfig, readFile: (p: string) => Uint8Array = (p) => readFileSync(p)): IkeTunnelConfig {
  return raw.connections !== undefined ? validateServerConfig(raw, readFile) : validateIke(raw, readFile, false);
}

/** `[ike]` keys that belong to a connection: with `[connections]` they are set per connection. */
const PER_CONNECTION = ["psk", "psk_file", "local_id", "remote_id", "local_ts", "remote_ts", "ike_proposal", "esp_proposal", "cert", "key", "ca", "virtual_ip", "pool", "dns", "retry"] as const;

/** `[connections]` + `[secrets]`: a responder on any address; `[ike]` holds process-wide keys only. */
function validateServerConfig(raw: RawConfig, readFile: (p: string) => Uint8Array): IkeTunnelConfig {
  const ike = raw.ike ?? {};
  for (const k of PER_CONNECTION) if (ike[k] !== undefined) throw new ConfigError(`ike.${k}`, "with [connections] this is set per connection ([connections.NAME]; PSKs in [secrets])");
  if (ike.responder === false) throw new ConfigError("ike.responder", "[connections] serve peers that initiate (a responder)");
  if (raw.remote !== undefined && raw.remote !== "%any") throw new ConfigError("remote", "with [connections] peers come from any address (restrict with connections.NAME.remote_addrs)");
  const connections = validateConnections(raw.connections, readFile);
  const secrets = validateSecrets(raw.secrets, readFile, ike.psk_allow_short === true);
  try {
    for (const c of connections) {
      if (c.auth === "psk" && !secrets.length) throw new ConfigError("secrets", `connection ${c.name} uses auth = "psk": add the peers' keys, e.g. [secrets."${c.remoteId ?? "%any"}"] psk_file = "..."`);
    }
    const uniq = (l: string[]) => [...new Set(l)];
    const children = connections.flatMap((c) => c.children);
    const cfg = validateIke({
      ...raw, remote: undefined,
      ike: { ...ike, responder: true, local_ts: uniq(children.flatMap((c) => c.localTs)), remote_ts: uniq(children.flatMap((c) => c.remoteTs)) },
    }, readFile, true);
    const cas = uniq(connections.flatMap((c) => c.peerCa ?? []));
    cfg.ike.ikeProposals = uniq(connections.flatMap((c) => c.ikeProposals));
    cfg.ike.espProposals = uniq(children.flatMap((c) => c.espProposals));
    Object.assign(cfg, fitEspMtu(cfg, cfg.ike.espProposals, raw.tun_mtu !== undefined));
    cfg.ike.peerCa = cas.length ? cas : undefined;
    return { ...cfg, connections, secrets };
  } catch (e) {
    for (const s of secrets) s.psk.fill(0);
    throw e;
  }
}

function validateIke(raw: RawConfig, readFile: (p: string) => Uint8Array, connections: boolean): IkeTunnelConfig {
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
  }
  const eap = eapClient(ike, readFile);
  if (!psk.length && ike.psk === undefined && ike.psk_file === undefined && !certificate && !connections && !eap) {
    throw new ConfigError("ike.psk_file", "missing (--psk-file, or ike.psk / ike.psk_file in the file, or --eap-user with --eap-password-file)");
  }
  if (eap && !peerCa.length) throw new ConfigError("ike.ca", "with EAP the server authenticates with its certificate: give the CA (--ca)");
  if (psk.length === 0 && (ike.psk !== undefined || ike.psk_file !== undefined)) throw new ConfigError("ike.psk_file", "the pre-shared key is empty");
  if (psk.length > 0 && psk.length < MIN_PSK_LEN && !bool(ike.psk_allow_short, "ike.psk_allow_short")) {
    psk.fill(0);
    throw new ConfigError(ike.psk_file !== undefined ? "ike.psk_file" : "ike.psk", `the pre-shared key is ${psk.length} bytes, at least ${MIN_PSK_LEN} needed (or psk_allow_short = true in [ike])`);
  }
  const { ikeProposals, espProposals, warnings: proposalWarnings } = validateProposals(ike);
  const localId = str(ike.local_id, "ike.local_id", false) ?? (rest.local === "0.0.0.0" || rest.local === "::" ? undefined : rest.local);
  if (localId === "%any") throw new ConfigError("ike.local_id", "must name us (leave it out for the local address)");
  return {
    ...rest,
    ...fitEspMtu(rest, espProposals, raw.tun_mtu !== undefined),
    ike: {
      psk, localId, remoteId: str(ike.remote_id, "ike.remote_id", false), localTs, remoteTs, ikeProposals, espProposals, proposalWarnings,
      responder, ikePort, remoteAny, limits: validateIkeLimits(ike.limits),
      dpdSec: num(ike.dpd, "ike.dpd", 30, 86400),
      retry: bool(ike.retry, "ike.retry"),
      rekeySec: num(ike.rekey, "ike.rekey", 3600, 86400 * 7),
      ikeRekeySec: num(ike.ike_rekey, "ike.ike_rekey", 14400, 86400 * 7),
      certificate, privateKey, peerCa: peerCa.length ? peerCa : undefined,
      ...loadCrlSettings(ike.crl, ike.revocation, ike.eku),
      ...(eap ? { eap } : {}),
      virtualIp,
      ...(pool ? { pool, dns: dns ?? [] } : {}),
      ...(pool6 ? { pool6 } : {}),
      retransmitSec: num(ike.retransmit_timeout, "ike.retransmit_timeout", 4, 600),
      retransmitTries: int(ike.retransmit_tries, "ike.retransmit_tries", 5, 0, 20),
      encap: bool(ike.encap, "ike.encap"),
    },
  };
}


/** `ike.eap_user` with `ike.eap_password` or `ike.eap_password_file`: an EAP-MSCHAPv2 client. */
function eapClient(ike: RawIke, readFile: (p: string) => Uint8Array): { user: string; password: string } | undefined {
  const user = str(ike.eap_user, "ike.eap_user", false);
  if (user === undefined) {
    if (ike.eap_password !== undefined || ike.eap_password_file !== undefined) throw new ConfigError("ike.eap_user", "missing: an EAP password needs its user name");
    return undefined;
  }
  if ((ike.eap_password === undefined) === (ike.eap_password_file === undefined)) throw new ConfigError("ike.eap_password_file", "give the EAP password: eap_password_file (--eap-password-file) or eap_password");
  let password: string;
  if (ike.eap_password_file !== undefined) {
    const f = str(ike.eap_password_file, "ike.eap_password_file", true);
    let b: Uint8Array;
    try {
      b = readFile(f);
    } catch (e) {
      throw new ConfigError("ike.eap_password_file", `cannot read ${f}: ${(e as Error).message}`);
    }
    password = new TextDecoder().decode(b).replace(/\r?\n$/, "");
    b.fill(0);
  } else password = str(ike.eap_password, "ike.eap_password", true);
  if (!password.length || password.length > 256) throw new ConfigError("ike.eap_password_file", "an EAP password is 1 to 256 characters");
  return { user, password };
}
