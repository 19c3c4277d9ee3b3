/**
 * Every key of the `vpnkit up` configuration file, as data: the man page's CONFIGURATION
 * section is generated from it (cli/man.ts), the loader warns about keys not in it
 * ({@link unknownConfigKeys}), and a test holds it equal to the RawConfig/RawIke/… shapes in
 * config.ts. A new key goes here too, or the test fails.
 * @module
 */

export interface ConfigKey {
  /** Dotted name: top-level `local`, or `sa.cipher`, `ike.psk_file`, `mtu_responder.port`. */
  key: string;
  type: string;
  default: string;
  doc: string;
}

/** The tables (`[sa]`, ...) of the file. */
export const CONFIG_SECTIONS = ["sa", "ike", "mtu_responder"] as const;

export const CONFIG_KEYS: readonly ConfigKey[] = [
  { key: "local", type: "address", default: "required (IKEv2: the wildcard)", doc: "local outer address (IPv4 or IPv6), bound for UDP" },
  { key: "local_port", type: "int", default: "4500", doc: "local UDP port" },
  { key: "remote", type: "address", default: "required (IKEv2 responder: any address)", doc: "the peer's outer address (same family as local)" },
  { key: "remote_port", type: "int", default: "4500 (IKEv2 over UDP: 500, where IKE_SA_INIT goes)", doc: "the peer's UDP port" },
  { key: "mtu", type: "int", default: "1500", doc: "path MTU of the outer path; the tunnel MTU is derived from it (cipher, UDP encapsulation)" },
  { key: "tun_mtu", type: "int", default: "the tunnel MTU", doc: "MTU set on the TUN; larger values let the engine answer ICMP too-big itself" },
  { key: "tun_name", type: "string", default: "vpnkit0", doc: "TUN interface name (at most 15 bytes)" },
  { key: "tun_addr", type: "CIDR list", default: "required (IKEv2: host prefixes of ike.local_ts)", doc: "inner address(es) with prefix, e.g. 10.9.0.1/30" },
  { key: "routes", type: "CIDR list", default: "required (IKEv2: ike.remote_ts)", doc: "remote subnets: routed into the TUN and the only inner sources accepted" },
  { key: "local_subnets", type: "CIDR list", default: "tun_addr hosts (IKEv2: ike.local_ts)", doc: "inner prefixes allowed as our sources and inbound destinations" },
  { key: "keepalive", type: "seconds", default: "20", doc: "NAT-keepalive interval (0 = off)" },
  { key: "keep_warm", type: "ms", default: "2", doc: "after traffic in the last 5 s, keep the idle packet path warm with a loopback packet every N ms (0 = off)" },
  { key: "keylog", type: "path", default: "none", doc: "write SA keys to FILE, FILE.esp_sa and FILE.ikev2_decryption_table (created new, mode 0600; an existing file is refused)" },
  { key: "keylog_append", type: "bool", default: "false", doc: "append to an existing key log, if it is a regular file owned by us with mode 0600" },
  { key: "strict", type: "bool", default: "false", doc: "refuse secret files (keys, PSK, private key, a config with inline keys) readable by group/others instead of warning" },
  { key: "log_level", type: "string", default: "info", doc: "error, warn, info or debug (VPNKIT_DEBUG: debug)" },
  { key: "log_format", type: "string", default: "journal under systemd, else text", doc: "text (ISO-8601 times), journal (syslog priority prefixes, no times) or json (one object per line)" },
  { key: "control", type: "path", default: "/run/vpnkit-<tun_name>.sock", doc: "unix control socket for `vpnkit status`" },
  { key: "transport", type: "string", default: "udp", doc: "outer transport: udp (ESP in UDP, RFC 3948) or tcp (RFC 9329 framing; manual keys, and IKEv2: IKE and ESP in one connection per peer)" },
  { key: "tcp_role", type: "string", default: "required with tcp (IKEv2: client, responder: server)", doc: "server listens on local:local_port, client connects to remote:remote_port" },
  { key: "sa.cipher", type: "string", default: "required", doc: "aes128gcm16, aes256gcm16 or chacha20poly1305" },
  { key: "sa.spi_out", type: "SPI", default: "required", doc: "SPI of the outbound SA (hex 0x... or decimal, at least 256)" },
  { key: "sa.spi_in", type: "SPI", default: "required", doc: "SPI of the inbound SA" },
  { key: "sa.key_out", type: "hex", default: "sa.key_out or sa.key_out_file", doc: "outbound key||salt inline (20 bytes for aes128gcm16, else 36); keep the file 0600" },
  { key: "sa.key_out_file", type: "path", default: "sa.key_out or sa.key_out_file", doc: "file holding the outbound key||salt (hex text or raw bytes)" },
  { key: "sa.key_in", type: "hex", default: "sa.key_in or sa.key_in_file", doc: "inbound key||salt inline" },
  { key: "sa.key_in_file", type: "path", default: "sa.key_in or sa.key_in_file", doc: "file holding the inbound key||salt" },
  { key: "sa.esn", type: "bool", default: "false", doc: "extended (64-bit) sequence numbers; both ends must agree" },
  { key: "sa.replay_window", type: "int", default: "1024", doc: "anti-replay window in packets (0 = off)" },
  { key: "ike.psk", type: "string", default: "ike.psk or ike.psk_file (or a certificate)", doc: "pre-shared key inline (keep the file 0600)" },
  { key: "ike.psk_file", type: "path", default: "ike.psk or ike.psk_file (or a certificate)", doc: "file holding the pre-shared key (a trailing newline is dropped)" },
  { key: "ike.psk_allow_short", type: "bool", default: "false", doc: "accept a pre-shared key shorter than 16 bytes" },
  { key: "ike.local_id", type: "string", default: "the local address the IKE SA uses", doc: "our identity (strongSwan syntax: user@example.org, host.example.org, 192.0.2.1)" },
  { key: "ike.remote_id", type: "string", default: "any", doc: "the identity the peer must prove" },
  { key: "ike.local_ts", type: "CIDR list", default: "required", doc: "our traffic selectors (inner prefixes)" },
  { key: "ike.remote_ts", type: "CIDR list", default: "required (ike.pool)", doc: "the peer's traffic selectors" },
  { key: "ike.ike_proposal", type: "string list", default: "aes256gcm16-prfsha256-x25519", doc: "IKE proposals, strongSwan syntax: every algorithm listed is offered, in order (aes128-aes256-sha256-sha384-ecp256-ecp384); comma-separated lists; default = the documented safe set" },
  { key: "ike.esp_proposal", type: "string list", default: "aes256gcm16, chacha20poly1305", doc: "ESP proposals (AEAD ciphers, or aes128/aes256 with sha1/sha256/sha384/sha512; -esn/-noesn; -x25519 for PFS)" },
  { key: "ike.allow_modp1024", type: "bool", default: "false", doc: "accept modp1024 (MODP_1024, weak) in a proposal; warned about at start-up" },
  { key: "ike.responder", type: "bool", default: "false", doc: "wait for the peer to initiate" },
  { key: "ike.dpd", type: "seconds", default: "30", doc: "liveness check after this many idle seconds (0 = off)" },
  { key: "ike.retry", type: "bool", default: "false", doc: "initiator: start over after 5 s when negotiation fails or the SA dies (else exit 4)" },
  { key: "ike.rekey", type: "seconds", default: "3600", doc: "rekey the Child SA (0 = never)" },
  { key: "ike.ike_rekey", type: "seconds", default: "14400", doc: "rekey the IKE SA (0 = never)" },
  { key: "ike.cert", type: "path", default: "none", doc: "our certificate (PEM): signature authentication (RFC 7427) instead of the PSK" },
  { key: "ike.key", type: "path", default: "none", doc: "our private key (PEM)" },
  { key: "ike.ca", type: "path list", default: "none", doc: "CA certificates (PEM) the peer's certificate must chain to" },
  { key: "ike.eap_user", type: "string", default: "none", doc: "initiator: authenticate with EAP-MSCHAPv2 as this user (the server signs with its certificate; needs ike.ca)" },
  { key: "ike.eap_password", type: "string", default: "none", doc: "the EAP-MSCHAPv2 password inline (prefer eap_password_file)" },
  { key: "ike.eap_password_file", type: "path", default: "none", doc: "file holding the EAP-MSCHAPv2 password (a trailing newline is dropped; keep it 0600)" },
  { key: "ike.crl", type: "path list", default: "none", doc: "CRLs (DER or PEM), or folders of them, checked on the peer's certificate path; CRLs named in certificates are also fetched over HTTP" },
  { key: "ike.revocation", type: "string", default: "\"relaxed\"", doc: "strict: refuse unless known not revoked; ifuri: refuse when a CRL URI is given but no CRL can be had; relaxed: refuse only a revoked certificate" },
  { key: "ike.eku", type: "string", default: "\"warn\"", doc: "peer certificate whose extended key usage has none of serverAuth, clientAuth, ipsecIKE, anyExtendedKeyUsage: warn (accept, as strongSwan) or strict (refuse, RFC 4945)" },
  { key: "ike.virtual_ip", type: "bool", default: "false", doc: "initiator: ask the peer for an inner IPv4 address and put it on the TUN" },
  { key: "ike.pool", type: "IPv4 CIDR", default: "none", doc: "responder: hand clients that ask a virtual IP from this prefix" },
  { key: "ike.dns", type: "address list", default: "none", doc: "responder with ike.pool: DNS servers sent with the virtual IP" },
  { key: "ike.retransmit_timeout", type: "seconds", default: "4", doc: "first retransmission after N s (then 1.8 times longer each time)" },
  { key: "ike.port", type: "int", default: "500", doc: "local UDP port of plain IKE (IPv4 and IPv6); 0 = IKE only on local_port behind the non-ESP marker; not with transport tcp" },
  { key: "ike.limits", type: "table", default: "see its keys", doc: "flood protection of a responder: cookie_threshold (10), block_threshold (5 half-open per source), half_open_max (1000), max_sas (10000), init_rate (200/s), init_burst (100), cookie_rotate (60 s), invalid_spi_rate (10/s), half_open_timeout (30 s), queue (1024 datagrams), unique_ids (\"no\" | \"replace\" | \"never\")" },
  { key: "ike.encap", type: "bool", default: "false", doc: "UDP-encapsulate ESP (port 4500) even when no NAT is detected (strongSwan's encap = yes); without it ESP between directly connected hosts is IP protocol 50" },
  { key: "ike.retransmit_tries", type: "int", default: "5", doc: "retransmissions before giving up (also how a dead peer found by DPD ends)" },
  { key: "connections", type: "table", default: "none (the [ike] form)", doc: "named connections of an IKEv2 server, [connections.NAME]: IKE_AUTH picks one by the peer's ID and auth method (swanctl's way); [ike] then holds only port, dpd, rekey, ike_rekey, retransmit_*, limits" },
  { key: "connections.NAME.local_id", type: "string", default: "the local address the IKE SA uses", doc: "our identity in this connection" },
  { key: "connections.NAME.remote_id", type: "string", default: "%any", doc: "the peer's identity: exact, a pattern with * (*@example.org), or %any; exact beats a pattern beats %any" },
  { key: "connections.NAME.auth", type: "string", default: "pubkey with cacerts, else psk", doc: "how the peer authenticates: psk (key from [secrets] by its ID), pubkey (certificate chaining to cacerts) eap-mschapv2 (user and password from [secrets]; we sign with certs/key, as native clients require) or eap-tls (a client certificate chaining to cacerts, checked inside EAP-TLS; we sign with certs/key)" },
  { key: "connections.NAME.remote_addrs", type: "CIDR list", default: "%any", doc: "addresses or prefixes the peer may come from" },
  { key: "connections.NAME.proposals", type: "string list", default: "aes256gcm16-prfsha256-x25519", doc: "IKE proposals (all connections' are offered in IKE_SA_INIT)" },
  { key: "connections.NAME.esp_proposals", type: "string list", default: "aes256gcm16, chacha20poly1305", doc: "ESP proposals of its children (AEAD, or AES-CBC with HMAC)" },
  { key: "connections.NAME.certs", type: "path", default: "none", doc: "our certificate (PEM): we sign; needed with auth = pubkey, eap-mschapv2 and eap-tls" },
  { key: "connections.NAME.key", type: "path", default: "none", doc: "our private key (PEM)" },
  { key: "connections.NAME.cacerts", type: "path list", default: "none", doc: "CAs (PEM) a pubkey peer's certificate must chain to; with auth = eap-tls, the CAs of the clients' certificates (required)" },
  { key: "connections.NAME.pools", type: "CIDR list", default: "none", doc: "virtual IPs for clients that ask: one IPv4 and one IPv6 prefix" },
  { key: "connections.NAME.dns", type: "address list", default: "none", doc: "DNS servers sent with a virtual IPv4 address" },
  { key: "connections.NAME.children", type: "table", default: "required", doc: "Child SAs, [connections.NAME.children.CHILD]; the first Child SA takes the child its traffic selectors fit" },
  { key: "connections.NAME.children.CHILD.local_ts", type: "CIDR list", default: "required", doc: "our traffic selectors" },
  { key: "connections.NAME.children.CHILD.remote_ts", type: "CIDR list", default: "the connection's pools", doc: "the peer's traffic selectors" },
  { key: "connections.NAME.children.CHILD.esp_proposals", type: "string list", default: "the connection's", doc: "ESP proposals of this child" },
  { key: "secrets", type: "table", default: "none", doc: "pre-shared keys by peer identity, [secrets.\"ID\"] (an exact ID, a * pattern, or %any for every peer without its own)" },
  { key: "secrets.ID.psk", type: "string", default: "psk or psk_file", doc: "the key inline (keep the file 0600)" },
  { key: "secrets.ID.psk_file", type: "path", default: "psk or psk_file", doc: "file holding the key (a trailing newline is dropped)" },
  { key: "secrets.ID.psk_allow_short", type: "bool", default: "false", doc: "accept a key shorter than 16 bytes" },
  { key: "secrets.ID.eap_password", type: "string", default: "none", doc: "EAP-MSCHAPv2 password of user ID (kept only as its NT hash; keep the file 0600)" },
  { key: "secrets.ID.eap_password_file", type: "path", default: "none", doc: "file holding the EAP-MSCHAPv2 password of user ID (a trailing newline is dropped)" },
  { key: "mtu_responder.secret_file", type: "path", default: "none (no responder)", doc: "once up, answer `vpnkit mtu` probes on the first inner address with this shared secret" },
  { key: "mtu_responder.port", type: "int", default: "4501", doc: "UDP port of that responder" },
];

const isTable = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** Keys in a parsed file that vpnkit does not know (a typo would otherwise be ignored silently). */
export function unknownConfigKeys(raw: Record<string, unknown>): string[] {
  const known = new Set(CONFIG_KEYS.map((k) => k.key));
  const out: string[] = [];
  for (const [k, v] of Object.entries(raw)) {
    // named tables: [connections.NAME], [connections.NAME.children.CHILD], [secrets."ID"]
    if ((k === "connections" || k === "secrets") && isTable(v)) {
      for (const [name, t] of Object.entries(v)) {
        if (!isTable(t)) continue;
        for (const [sub, sv] of Object.entries(t)) {
          if (!known.has(`${k}.${k === "secrets" ? "ID" : "NAME"}.${sub}`)) out.push(`${k}.${name}.${sub}`);
          else if (sub === "children" && isTable(sv)) {
            for (const [child, ct] of Object.entries(sv)) if (isTable(ct)) for (const ck of Object.keys(ct)) if (!known.has(`connections.NAME.children.CHILD.${ck}`)) out.push(`${k}.${name}.children.${child}.${ck}`);
          }
        }
      }
    } else if ((CONFIG_SECTIONS as readonly string[]).includes(k) && v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const sub of Object.keys(v)) if (!known.has(`${k}.${sub}`)) out.push(`${k}.${sub}`);
    } else if (!known.has(k)) {
      out.push(k);
    }
  }
  return out;
}
