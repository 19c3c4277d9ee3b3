/**
 * Configuration and actions of the IKEv2 protocol core ({@link IkeSa}). The
 * core does no I/O: the caller feeds datagrams and clock ticks, and carries
 * out the actions it returns.
 * @module
 */
import type { EspCipherName } from "../../../esp/types.ts";
import type { SkEncr, SkInteg } from "../sk-crypto.ts";
import type { PeerConfig } from "./peer-config.ts";
import type { TrafficSelector } from "./ts.ts";
import type { CrlLookup, RevocationPolicy } from "../../pki/validate.ts";
import type { EapTlsEngineFactory } from "../eap/tls.ts";

/** A UDP endpoint. */
export interface Endpoint {
  address: string;
  port: number;
}

export interface IkeSaConfig {
  /** Our address/port (used for NAT detection; the initiator sends from it). */
  local: Endpoint;
  /** Peer address/port (initiator: where to send IKE_SA_INIT; responder: where it came from). */
  remote: Endpoint;
  /** Our identity, strongSwan syntax ("moon.example.org", "a@b", "C=CH, CN=x", "192.0.2.1"). */
  localId: string;
  /** Peer identity we require; undefined or "%any" accepts any. */
  remoteId?: string;
  /** Pre-shared key (UTF-8 text or bytes): AUTH method 2, and what a PSK peer is checked with. */
  psk?: string | Uint8Array;
  /** Authenticate with RFC 7427 signatures using this private key (PEM) instead of the PSK. */
  privateKey?: string;
  /** Our certificate (PEM), sent in a CERT payload (its subject/SAN should match `localId`). */
  certificate?: string;
  /** Intermediate CA certificates (PEM) sent after our certificate. */
  intermediates?: string[];
  /** Trust anchors for a signature-authenticating peer: CA certificates or the peer's own certificate (PEM). */
  peerCa?: string[];
  /** Initiator: authenticate with EAP-MSCHAPv2 as this user (the server signs with its certificate, checked against `peerCa`). */
  eap?: { user: string; password: string };
  /** Responder: the TLS engine for connections with auth = "eap-tls" (the platform's; lib/platform/bun/eap-tls-engine.ts). */
  eapTlsEngine?: EapTlsEngineFactory;
  /** CRLs (DER) loaded from files, for the peer's certificate path. */
  crls?: Uint8Array[];
  /** strongSwan's `revocation` policy: strict, ifuri or relaxed (default: fail only when known revoked). */
  revocation?: RevocationPolicy;
  /** End-entity extended key usage without an IKE purpose: "warn" (default, as strongSwan) or "strict" (refuse, RFC 4945). */
  eku?: "warn" | "strict";
  /** CRLs from distribution points: bytes, "pending" (being fetched) or "unreachable" (lib/tunnel/crl-fetcher.ts). */
  fetchCrl?: CrlLookup;
  /** Trust this public key (PEM SPKI or certificate) for a signature-authenticating peer without a CERT payload. */
  peerPublicKey?: string;
  /** Wall clock (ms since the epoch) for certificate validity; default Date.now (the `now` arguments may be monotonic). */
  wallClock?: () => number;
  /** IKE proposals, strongSwan syntax; default {@link DEFAULT_IKE_PROPOSALS}. */
  ikeProposals?: string[];
  /** ESP proposals (AEAD, or AES-CBC with HMAC; add a group such as "-x25519" for PFS on rekeys); default {@link DEFAULT_ESP_PROPOSALS}. */
  espProposals?: string[];
  /** Local traffic selectors (CIDR); default 0.0.0.0/0. */
  localTs?: string[];
  /** Remote traffic selectors (CIDR); default 0.0.0.0/0. */
  remoteTs?: string[];
  /** Initiator: ask for a virtual IPv4 address and DNS servers (CP CFG_REQUEST). */
  requestVirtualIp?: boolean;
  /**
   * Responder: virtual IPv4 addresses for CP requests. A list hands out its first address
   * (one client); a {@link VirtualIpPool} shared by all responders allocates per IKE SA and
   * gets the address back when the SA dies. Exhausted → INTERNAL_ADDRESS_FAILURE.
   */
  virtualIpPool?: string[] | VirtualIpPool;
  /** Responder: DNS servers sent with a virtual IP. */
  dns?: string[];
  /** Responder: demand a COOKIE (RFC 7296 §2.6) before keeping any state; the secret keys the cookie hash. */
  cookieSecret?: Uint8Array;
  /** First retransmission timeout in ms (default 4000, strongSwan's). */
  retransmitTimeout?: number;
  /** Backoff base (default 1.8). */
  retransmitBase?: number;
  /** Retransmissions before giving up (default 5). */
  retransmitTries?: number;
  /** Liveness check after this many ms without a message from the peer; 0 = off (default 30000). */
  dpdDelay?: number;
  /** Responder: drop a half-open SA (IKE_SA_INIT done, no IKE_AUTH) after this many ms (default 30000). */
  halfOpenTimeout?: number;
  /** NAT keep-alive interval in ms when we are behind a NAT (default 20000). */
  natKeepalive?: number;
  /** Use UDP encapsulation even without a NAT (strongSwan's encap=yes): our NAT_DETECTION_SOURCE_IP hash is random, so both sides encapsulate. */
  forceEncap?: boolean;
  /**
   * Initiator: send IKE_SA_INIT already on the NAT-T socket (non-ESP marker, `natt: true`), as
   * RFC 7296 §2.23 allows; `remote.port` is then normally 4500. Default false: start on port 500
   * without the marker and move to 4500 only when a NAT is detected or `forceEncap` is set.
   */
  startOn4500?: boolean;
  /** Initiator: send INITIAL_CONTACT in IKE_AUTH (we hold no other IKE SA with this peer). Default true. */
  initialContact?: boolean;
  /** IKE fragmentation (RFC 7383): announce FRAGMENTATION_SUPPORTED and fragment large encrypted messages (default true). */
  fragmentation?: boolean;
  /** Largest IP datagram a sent IKE message (or fragment) may make, in bytes (default 1280, strongSwan's). */
  fragmentSize?: number;
  /** Emit `keylog` actions with the IKE SA keys (only when a key log was asked for). */
  keylog?: boolean;
  /** Name of the Child SA (for logs). Default "child". */
  childName?: string;
  /** Name of the connection this SA belongs to (status, reload). */
  connection?: string;
  /**
   * Responder: named connections (lib/ike/v2/sa/peer-config.ts). IKE_AUTH picks one by the
   * peer's ID and auth method and takes its identities, credentials, children and pool;
   * none matching → AUTHENTICATION_FAILED. The fields above then only serve IKE_SA_INIT.
   */
  peerConfigs?: PeerConfig[];
}

/** Address allocator shared by responder IKE SAs. */
export interface VirtualIpPool {
  /**
   * A free address of `family` (default 4: INTERNAL_IP4_ADDRESS; 6: INTERNAL_IP6_ADDRESS) for
   * `peer` (its identity text), or null when none is left or the pool has no such family.
   */
  allocate(peer: string, family?: 4 | 6): string | null;
  release(address: string): void;
}

/** A negotiated Child SA, as the tunnel engine installs it (SaDatabase). */
export interface ChildSaInfo {
  /** SPI the peer puts on packets to us. */
  spiIn: number;
  /** SPI we put on packets to the peer. */
  spiOut: number;
  cipher: EspCipherName;
  /** key || salt for the inbound / outbound SA (fresh buffers, owned by the receiver of the action). */
  keyIn: Uint8Array;
  keyOut: Uint8Array;
  tsLocal: TrafficSelector[];
  tsRemote: TrafficSelector[];
  esn: boolean;
  /** Set when this SA replaces (rekeys) an existing one: the old SA's SPIs. */
  rekeyOf?: { spiIn: number; spiOut: number };
}

/** Coarse life-cycle state of an IKE SA (for an SA manager): before IKE_AUTH completes, up, our Delete pending, gone. */
export type IkeSaPhase = "half-open" | "established" | "deleting" | "closed";

/** A Child SA as {@link IkeSa.children} lists it. Traffic counters live in the data plane (SaDatabase), not here. */
export interface ChildSaStatus {
  spiIn: number;
  spiOut: number;
  cipher: EspCipherName;
  /** Negotiated ESP proposal, e.g. "AES_GCM_16_256/NO_EXT_SEQ". */
  proposal: string;
  esn: boolean;
  tsLocal: string[];
  tsRemote: string[];
  /** `now` of the exchange that installed it. */
  installedAt: number;
  /** A rekey or delete of it is under way. */
  retiring: boolean;
}

/** Snapshot of an IKE SA for `vpnkit status` ({@link IkeSa.status}). Times are the `now` values given to the core. */
export interface IkeSaStatus {
  ispi: string;
  rspi: string;
  role: "initiator" | "responder";
  phase: IkeSaPhase;
  /** Detailed state (idle, init-sent, init-done, auth-sent, established, deleting, dead). */
  state: string;
  /** Connection name (a responder's: known once IKE_AUTH picked it), null when none. */
  connection: string | null;
  localId: string;
  /** Authenticated peer identity, null before IKE_AUTH completed. */
  remoteId: string | null;
  local: Endpoint;
  remote: Endpoint;
  natt: boolean;
  localBehindNat: boolean;
  remoteBehindNat: boolean;
  /** Negotiated IKE proposal, null before IKE_SA_INIT completed. */
  proposal: string | null;
  createdAt: number;
  establishedAt: number | null;
  /** Last completed IKE SA rekey (this object then carries the new SPIs). */
  ikeRekeyedAt: number | null;
  /** Last authenticated message (or IKE_SA_INIT) from the peer. */
  lastReceived: number;
  lastSent: number;
  virtualIp: string | null;
  children: ChildSaStatus[];
}

/** What the core asks its driver to do. */
export type Action =
  /** Send `data` to `to`. `natt`: on the port-4500 socket, with the 4-byte non-ESP marker prepended. */
  | { type: "send"; data: Uint8Array; to: Endpoint; natt: boolean }
  | { type: "install-child"; child: ChildSaInfo }
  | { type: "remove-child"; spiIn: number; spiOut: number; reason: string }
  | { type: "established"; localId: string; remoteId: string; proposal: string; natt: boolean; eapUser?: string }
  /** IKE SA (`scope: "ike"`) or a Child SA negotiation (`"child"`) failed. */
  | { type: "failed"; scope: "ike" | "child"; reason: string; notify?: string }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; msg: string }
  /** IKE SA keys (only with `keylog: true`); fields as Wireshark's ikev2_decryption_table needs. */
  | { type: "keylog"; ispi: Uint8Array; rspi: Uint8Array; skei: Uint8Array; sker: Uint8Array; skai: Uint8Array; skar: Uint8Array; encr: SkEncr; integ: SkInteg; encrKeyBits: number }
  /** Authenticated message from a new address (MOBIKE-less NAT rebinding). */
  | { type: "peer-address-changed"; remote: Endpoint }
  /** NAT-D result; `keepalive` when we are behind a NAT (send keep-alives). Followed by switch-port when UDP encapsulation starts. */
  | { type: "nat-detected"; localBehindNat: boolean; remoteBehindNat: boolean; keepalive: boolean }
  /** From now on use the NAT-T socket (local port 4500) and send to `remote`. */
  | { type: "switch-port"; localPort: number; remote: Endpoint }
  /** Send a NAT keep-alive (one 0xFF byte, RFC 3948) to `to` on the NAT-T socket. */
  | { type: "nat-keepalive"; to: Endpoint }
  /** The initiator received a virtual IP (CP CFG_REPLY). */
  | { type: "virtual-ip"; address: string; dns: string[] }
  /** The IKE SA was rekeyed: it now has these SPIs (re-index it). */
  | { type: "ike-rekeyed"; ispi: Uint8Array; rspi: Uint8Array }
  /**
   * An authenticated IKE_AUTH carried INITIAL_CONTACT (RFC 7296 §2.4): the peer `remoteId`
   * (identity text as in `established`) holds no other IKE SA with us, so older IKE SAs of
   * that identity are stale and should be deleted (without notifying the peer).
   */
  | { type: "initial-contact"; remoteId: string }
  /** The IKE SA is gone (deleted, failed, or timed out); drop the object. */
  | { type: "closed"; reason: string };
