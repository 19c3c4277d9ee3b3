/**
 * Named connections of an IKEv2 server (`vpnkit up -c server.toml`), as a server admin
 * writes them (strongSwan's swanctl.conf shape, in TOML):
 *
 * ```toml
 * [secrets]                                # pre-shared keys by the peer's identity
 * "alice@example.org" = { psk_file = "/etc/vpnkit/alice.psk" }
 *
 * [connections.rw]                         # one named connection
 * local_id = "vpn.example.org"
 * remote_id = "*@example.org"              # exact, pattern with *, or %any (default)
 * auth = "psk"                             # what the peer authenticates with: psk | pubkey
 * pools = ["10.99.0.0/24"]
 * [connections.rw.children.lan]
 * local_ts = ["10.1.0.0/24"]               # remote_ts defaults to the pools
 * ```
 *
 * | key | type | default | meaning |
 * |---|---|---|---|
 * | `connections.NAME.local_id` | string | the local address the IKE SA uses | our identity |
 * | `connections.NAME.remote_id` | string | %any | the peer's identity: exact, `*` pattern, or %any |
 * | `connections.NAME.auth` | string | pubkey with cacerts, else psk | what the peer authenticates with: psk, pubkey, eap-mschapv2 (users from [secrets], we sign with certs), or eap-tls (a client certificate chaining to cacerts, inside EAP; we sign with certs) |
 * | `connections.NAME.remote_addrs` | string[] | %any | addresses/prefixes the peer may come from |
 * | `connections.NAME.proposals` | string[] | aes256gcm16-prfsha256-x25519 | IKE proposals |
 * | `connections.NAME.esp_proposals` | string[] | aes256gcm16, chacha20poly1305 | ESP proposals of its children |
 * | `connections.NAME.certs` / `key` | path | none | our certificate and private key: we sign (else our AUTH uses the PSK) |
 * | `connections.NAME.cacerts` | path[] | none | CAs a pubkey (or eap-tls) peer's certificate must chain to |
 * | `connections.NAME.pools` | CIDR[] | none | virtual IPs for clients (one IPv4, one IPv6 prefix) |
 * | `connections.NAME.dns` | IPv4[] | none | DNS servers sent with a virtual IPv4 address |
 * | `connections.NAME.children.CHILD.local_ts` | CIDR[] | required | our traffic selectors |
 * | `connections.NAME.children.CHILD.remote_ts` | CIDR[] | the pools | the peer's traffic selectors |
 * | `connections.NAME.children.CHILD.esp_proposals` | string[] | the connection's | ESP proposals |
 * | `secrets.ID.psk` / `psk_file` | string / path | one required | the PSK of peer ID (`%any`: every peer without its own) |
 * | `secrets.ID.psk_allow_short` | bool | false | accept a PSK shorter than 16 bytes |
 * | `secrets.USER.eap_password` / `eap_password_file` | string / path | none | EAP-MSCHAPv2 password of user USER (kept only as its NT hash) |
 *
 * A configuration with `[connections]` is a responder on any address (`remote` is not
 * needed); `[ike]` then holds only process-wide keys (port, dpd, rekey, ike_rekey,
 * retransmit_*, limits). The IKE proposals of all connections are offered together in
 * IKE_SA_INIT (the connection is known only in IKE_AUTH).
 * @module
 */
import { MIN_PSK_LEN } from "../core/secret.ts";
import { parseIdentity } from "../ike/v2/sa/identity.ts";
import { ntPasswordHash } from "../ike/v2/eap/mschapv2-crypto.ts";
import { parseProposals } from "../ike/v2/sa/proposal-string.ts";
import { parseCidr, parseIp } from "../net/cidr.ts";
import { ConfigError, str, strList } from "./config-util.ts";

/** The raw `[connections.NAME]` table. */
export interface RawConnection {
  local_id?: unknown;
  remote_id?: unknown;
  auth?: unknown;
  remote_addrs?: unknown;
  proposals?: unknown;
  esp_proposals?: unknown;
  certs?: unknown;
  key?: unknown;
  cacerts?: unknown;
  pools?: unknown;
  dns?: unknown;
  children?: unknown;
}

/** The raw `[connections.NAME.children.CHILD]` table. */
export interface RawChild {
  local_ts?: unknown;
  remote_ts?: unknown;
  esp_proposals?: unknown;
}

/** The raw `[secrets."ID"]` table. */
export interface RawSecret {
  psk?: unknown;
  psk_file?: unknown;
  psk_allow_short?: unknown;
  eap_password?: unknown;
  eap_password_file?: unknown;
}

export interface ChildSettings {
  name: string;
  localTs: string[];
  remoteTs: string[];
  espProposals: string[];
}

/** One validated connection (PEM texts read; no secret bytes: those are in {@link SecretSettings}). */
export interface ConnectionSettings {
  name: string;
  localId?: string;
  remoteId?: string;
  auth: "psk" | "pubkey" | "eap-mschapv2" | "eap-tls";
  remoteAddrs: string[];
  ikeProposals: string[];
  espProposals: string[];
  certificate?: string;
  privateKey?: string;
  peerCa?: string[];
  /** One IPv4 and/or one IPv6 prefix. */
  pools: string[];
  dns: string[];
  children: ChildSettings[];
}

/** A `[secrets]` entry: the PSK of one peer identity (or `%any`), or an EAP user's NT password hash. */
export interface SecretSettings {
  id: string;
  /** Empty for an EAP-only entry. */
  psk: Uint8Array;
  /** EAP-MSCHAPv2: MD4 of the UTF-16LE password (the password itself is not kept). */
  ntHash?: Uint8Array;
}

export const DEFAULT_CONN_IKE_PROPOSALS = ["aes256gcm16-prfsha256-x25519"];
export const DEFAULT_CONN_ESP_PROPOSALS = ["aes256gcm16", "chacha20poly1305"];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;

function table(v: unknown, key: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new ConfigError(key, "must be a table");
  return v as Record<string, unknown>;
}

function known(t: Record<string, unknown>, keys: readonly string[], prefix: string): void {
  for (const k of Object.keys(t)) if (!keys.includes(k)) throw new ConfigError(`${prefix}.${k}`, `unknown key (one of ${keys.join(", ")})`);
}

const CONN_KEYS = ["local_id", "remote_id", "auth", "remote_addrs", "proposals", "esp_proposals", "certs", "key", "cacerts", "pools", "dns", "children"] as const;
const CHILD_KEYS = ["local_ts", "remote_ts", "esp_proposals"] as const;
const SECRET_KEYS = ["psk", "psk_file", "psk_allow_short", "eap_password", "eap_password_file"] as const;

function prefixes(list: string[], key: string): string[] {
  for (const t of list) if (!parseCidr(t.includes("/") ? t : t + (t.includes(":") ? "/128" : "/32"))) throw new ConfigError(key, `not a prefix: ${t}`);
  return list;
}

function identity(v: unknown, key: string): string | undefined {
  const id = str(v, key, false);
  if (id === undefined || id === "%any") return id === "%any" && key.endsWith("remote_id") ? undefined : id;
  try {
    parseIdentity(id.replace(/\*/g, "x"));
  } catch (e) {
    throw new ConfigError(key, (e as Error).message);
  }
  return id;
}

function proposals(v: unknown, key: string, kind: "ike" | "esp", dflt: string[]): string[] {
  const l = strList(v, key) ?? dflt;
  if (!l.length) throw new ConfigError(key, "at least one proposal");
  try {
    // the same parser and checks as [ike] proposals (lib/tunnel/config-proposals.ts); modp1024 needs ike.allow_modp1024
    parseProposals(l, kind, { allowModp1024: false });
  } catch (e) {
    throw new ConfigError(key, (e as Error).message);
  }
  return l;
}

function pemFile(f: string, key: string, readFile: (p: string) => Uint8Array): string {
  let text: string;
  try {
    text = new TextDecoder().decode(readFile(f));
  } catch (e) {
    throw new ConfigError(key, `cannot read ${f}: ${(e as Error).message}`);
  }
  if (!text.includes("-----BEGIN ")) throw new ConfigError(key, `${f} is not PEM`);
  return text;
}

function validateChild(name: string, raw: unknown, prefix: string, pools: string[], espDefault: string[]): ChildSettings {
  if (!NAME_RE.test(name)) throw new ConfigError(prefix, "a child name is 1-32 letters, digits, '_', '-' or '.'");
  const t = table(raw, prefix);
  known(t, CHILD_KEYS, prefix);
  const localTs = strList(t.local_ts, `${prefix}.local_ts`);
  if (!localTs?.length) throw new ConfigError(`${prefix}.local_ts`, "missing (our inner prefixes, e.g. 10.1.0.0/24)");
  const remoteTs = strList(t.remote_ts, `${prefix}.remote_ts`) ?? (pools.length ? pools : undefined);
  if (!remoteTs?.length) throw new ConfigError(`${prefix}.remote_ts`, "missing (the peer's inner prefixes; defaults to the connection's pools)");
  return {
    name, localTs: prefixes(localTs, `${prefix}.local_ts`), remoteTs: prefixes(remoteTs, `${prefix}.remote_ts`),
    espProposals: proposals(t.esp_proposals, `${prefix}.esp_proposals`, "esp", espDefault),
  };
}

/** Validate one `[connections.NAME]` table (reads its PEM files). */
export function validateConnection(name: string, raw: unknown, readFile: (p: string) => Uint8Array): ConnectionSettings {
  const pre = `connections.${name}`;
  if (!NAME_RE.test(name)) throw new ConfigError(pre, "a connection name is 1-32 letters, digits, '_', '-' or '.'");
  const t = table(raw, pre);
  known(t, CONN_KEYS, pre);
  const cacertFiles = strList(t.cacerts, `${pre}.cacerts`) ?? [];
  const authS = str(t.auth, `${pre}.auth`, false) ?? (cacertFiles.length ? "pubkey" : "psk");
  if (authS !== "psk" && authS !== "pubkey" && authS !== "eap-mschapv2" && authS !== "eap-tls") throw new ConfigError(`${pre}.auth`, `must be "psk", "pubkey", "eap-mschapv2" or "eap-tls", not "${authS}"`);
  if (authS === "eap-tls" && !cacertFiles.length) throw new ConfigError(`${pre}.cacerts`, 'missing: auth = "eap-tls" checks the client\'s certificate against these CAs');
  if (authS === "pubkey" && !cacertFiles.length) throw new ConfigError(`${pre}.cacerts`, 'missing: auth = "pubkey" checks the peer\'s certificate against these CAs');
  const certFile = str(t.certs, `${pre}.certs`, false), keyFile = str(t.key, `${pre}.key`, false);
  if ((certFile === undefined) !== (keyFile === undefined)) throw new ConfigError(`${pre}.${certFile ? "key" : "certs"}`, "give both certs and key (our certificate and its private key)");
  if (authS === "pubkey" && !certFile) throw new ConfigError(`${pre}.certs`, 'missing: with auth = "pubkey" we sign too (certs and key)');
  if ((authS === "eap-mschapv2" || authS === "eap-tls") && !certFile) throw new ConfigError(`${pre}.certs`, `missing: with auth = "${authS}" clients check our certificate first (certs and key)`);
  const remoteAddrs = (strList(t.remote_addrs, `${pre}.remote_addrs`) ?? []).filter((a) => a !== "%any" && a !== "any");
  prefixes(remoteAddrs, `${pre}.remote_addrs`);
  const pools: string[] = [];
  for (const p of strList(t.pools, `${pre}.pools`) ?? []) {
    const c = parseCidr(p.includes("/") ? p : p + (p.includes(":") ? "/128" : "/32"));
    if (!c) throw new ConfigError(`${pre}.pools`, `not a prefix: ${p}`);
    if (pools.some((x) => x.includes(":") === (c.family === 6))) throw new ConfigError(`${pre}.pools`, `one IPv4 and one IPv6 prefix at most: ${p}`);
    pools.push(c.text);
  }
  const dns = strList(t.dns, `${pre}.dns`) ?? [];
  if (dns.length && !pools.some((p) => !p.includes(":"))) throw new ConfigError(`${pre}.dns`, "DNS servers are sent with a virtual IPv4 address: give an IPv4 pool too");
  for (const d of dns) if (parseIp(d)?.family !== 4) throw new ConfigError(`${pre}.dns`, `not an IPv4 address: ${d}`);
  const espProposals = proposals(t.esp_proposals, `${pre}.esp_proposals`, "esp", DEFAULT_CONN_ESP_PROPOSALS);
  const children = Object.entries(t.children === undefined ? {} : table(t.children, `${pre}.children`)).map(([n, c]) => validateChild(n, c, `${pre}.children.${n}`, pools, espProposals));
  if (!children.length) throw new ConfigError(`${pre}.children`, `at least one child: [${pre}.children.NAME] with local_ts`);
  const cacerts = cacertFiles.map((f) => pemFile(f, `${pre}.cacerts`, readFile));
  return {
    name, localId: identity(t.local_id, `${pre}.local_id`), remoteId: identity(t.remote_id, `${pre}.remote_id`), auth: authS, remoteAddrs,
    ikeProposals: proposals(t.proposals, `${pre}.proposals`, "ike", DEFAULT_CONN_IKE_PROPOSALS), espProposals,
    ...(certFile ? { certificate: pemFile(certFile, `${pre}.certs`, readFile), privateKey: pemFile(keyFile!, `${pre}.key`, readFile) } : {}),
    ...(cacerts.length ? { peerCa: cacerts } : {}),
    pools, dns, children,
  };
}

/** `eap_password` / `eap_password_file` of a secrets entry → the NT password hash (the password bytes are wiped). */
function eapHash(t: Record<string, unknown>, pre: string, readFile: (p: string) => Uint8Array): Uint8Array | undefined {
  if (t.eap_password === undefined && t.eap_password_file === undefined) return undefined;
  if (t.eap_password !== undefined && t.eap_password_file !== undefined) throw new ConfigError(pre, "give eap_password or eap_password_file, not both");
  let pw: string;
  if (t.eap_password_file !== undefined) {
    const f = str(t.eap_password_file, `${pre}.eap_password_file`, true);
    let b: Uint8Array;
    try {
      b = readFile(f);
    } catch (e) {
      throw new ConfigError(`${pre}.eap_password_file`, `cannot read ${f}: ${(e as Error).message}`);
    }
    pw = new TextDecoder().decode(b).replace(/\r?\n$/, "");
    b.fill(0);
  } else pw = str(t.eap_password, `${pre}.eap_password`, true);
  if (!pw.length || pw.length > 256) throw new ConfigError(pre, "an EAP password is 1 to 256 characters");
  return ntPasswordHash(pw);
}

/** Validate `[secrets]` (reads PSK files; every PSK at least 16 bytes unless allowed shorter). */
export function validateSecrets(raw: unknown, readFile: (p: string) => Uint8Array, allowShort = false): SecretSettings[] {
  if (raw === undefined) return [];
  const out: SecretSettings[] = [];
  try {
    for (const [id, v] of Object.entries(table(raw, "secrets"))) {
      const pre = `secrets.${id}`;
      if (id !== "%any") {
        try {
          parseIdentity(id.replace(/\*/g, "x"));
        } catch (e) {
          throw new ConfigError(pre, (e as Error).message);
        }
      }
      const t = table(v, pre);
      known(t, SECRET_KEYS, pre);
      const eap = eapHash(t, pre, readFile);
      if (eap && t.psk === undefined && t.psk_file === undefined) {
        out.push({ id, psk: new Uint8Array(0), ntHash: eap });
        continue;
      }
      if ((t.psk === undefined) === (t.psk_file === undefined)) throw new ConfigError(pre, "give psk or psk_file (one of them), or eap_password / eap_password_file");
      let psk: Uint8Array;
      if (t.psk_file !== undefined) {
        const f = str(t.psk_file, `${pre}.psk_file`, true);
        let b: Uint8Array;
        try {
          b = readFile(f);
        } catch (e) {
          throw new ConfigError(`${pre}.psk_file`, `cannot read ${f}: ${(e as Error).message}`);
        }
        let n = b.length;
        while (n > 0 && (b[n - 1] === 0x0a || b[n - 1] === 0x0d)) n--;
        psk = new Uint8Array(b.subarray(0, n));
        b.fill(0);
      } else psk = new TextEncoder().encode(str(t.psk, `${pre}.psk`, true));
      if (t.psk_allow_short !== undefined && typeof t.psk_allow_short !== "boolean") throw new ConfigError(`${pre}.psk_allow_short`, "must be true or false");
      if (!psk.length || (psk.length < MIN_PSK_LEN && !(t.psk_allow_short === true || allowShort))) {
        const n = psk.length;
        psk.fill(0);
        throw new ConfigError(pre, `the pre-shared key is ${n} bytes, at least ${MIN_PSK_LEN} needed (or psk_allow_short = true)`);
      }
      out.push({ id, psk, ...(eap ? { ntHash: eap } : {}) });
    }
  } catch (e) {
    for (const s of out) s.psk.fill(0);
    throw e;
  }
  return out;
}

/** Validate every `[connections.NAME]`; names are table keys, so unique. */
export function validateConnections(raw: unknown, readFile: (p: string) => Uint8Array): ConnectionSettings[] {
  const list = Object.entries(table(raw, "connections")).map(([n, c]) => validateConnection(n, c, readFile));
  if (!list.length) throw new ConfigError("connections", "no connection: add [connections.NAME]");
  return list;
}
