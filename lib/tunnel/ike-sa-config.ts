/**
 * The IKE core's configuration for one IKE SA, from the tunnel configuration (split out of
 * lib/tunnel/ike-driver.ts): our address for the peer (the route's source address when
 * `local` is the wildcard), the socket's port, a fresh PSK copy (the core wipes its own),
 * and the virtual IP pool with its log lines.
 * @module
 */
import type { Via } from "../ike/v2/sa/manager.ts";
import type { Endpoint, IkeSaConfig, VirtualIpPool } from "../ike/v2/sa/types.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { VipPools } from "./ike-pool.ts";
import { isWildcard, type LogLevel } from "./ike-driver-types.ts";

export interface SaConfigContext {
  cfg: IkeTunnelConfig;
  pool: VipPools | null;
  localAddressFor?: (peer: string) => string | null;
  log: (level: LogLevel, msg: string) => void;
  halfOpenTimeoutMs?: number;
  /** The packet path can do plain ESP to this peer (IkeDriverOptions.rawEsp). */
  rawEsp?: (peer: string) => boolean;
  /** CRLs from distribution points (lib/tunnel/crl-fetcher.ts). */
  fetchCrl?: IkeSaConfig["fetchCrl"];
  /** Named connections: IKE_AUTH picks one (its identities, credentials, children, pool); else the single `[ike]` connection. */
  peerConfigs?: IkeSaConfig["peerConfigs"];
  /** The platform's TLS engine for EAP-TLS connections. */
  eapTlsEngine?: IkeSaConfig["eapTlsEngine"];
}

/**
 * UDP encapsulation regardless of NAT-D (the core's `forceEncap`, strongSwan's `encap = yes`):
 * when configured (`ike.encap`), when IKE runs on the NAT-T port (RFC 3948: ESP then travels
 * there too), or when the packet path has no raw ESP socket for the peer's family.
 */
export function mustEncapsulate(x: SaConfigContext, remote: Endpoint, via: Via): boolean {
  return x.cfg.ike.encap || via === "natt" || !(x.rawEsp?.(remote.address) ?? false);
}

/** Our address for an IKE SA with `peer`: `local`, or when that is the wildcard the route's source address. */
export function localAddress(x: SaConfigContext, peer: string): string {
  if (!isWildcard(x.cfg.local)) return x.cfg.local;
  return x.localAddressFor?.(peer) ?? x.cfg.local;
}

/** Our endpoints (a handful: address and port): one frozen object each, shared by the SAs' configurations. */
const locals = new Map<string, Endpoint>();
function localEndpoint(address: string, port: number): Endpoint {
  const k = `${address}|${port}`;
  let e = locals.get(k);
  if (e === undefined) {
    if (locals.size >= 256) locals.clear();
    locals.set(k, (e = Object.freeze({ address, port })));
  }
  return e;
}

/** The core's configuration for one IKE SA (the PSK is the configuration's: the core makes its own copy and wipes that). */
export function saConfig(x: SaConfigContext, remote: Endpoint, via: Via): IkeSaConfig {
  const c = x.cfg, k = c.ike;
  const local = localAddress(x, remote.address);
  return {
    // the core copies both (lib/ike/v2/sa/state.ts) and reads them nowhere else: no object per SA for them here
    local: localEndpoint(local, via === "natt" || !k.ikePort ? c.localPort : k.ikePort),
    remote,
    localId: k.localId ?? local,
    remoteId: k.remoteId,
    psk: k.psk.length ? k.psk : undefined,
    privateKey: k.privateKey,
    certificate: k.certificate,
    peerCa: k.peerCa,
    crls: k.crls,
    revocation: k.revocation,
    eku: k.eku,
    ...(k.eap ? { eap: k.eap } : {}),
    fetchCrl: x.fetchCrl,
    ikeProposals: k.ikeProposals,
    espProposals: k.espProposals,
    localTs: k.localTs.length ? k.localTs : undefined,
    requestVirtualIp: k.virtualIp,
    ...(x.pool ? { virtualIpPool: loggedPool(x, x.pool), dns: k.dns ?? [] } : {}),
    retransmitTimeout: Math.max(100, Math.round(k.retransmitSec * 1000)),
    retransmitTries: k.retransmitTries,
    remoteTs: k.remoteTs,
    dpdDelay: Math.round(k.dpdSec * 1000),
    forceEncap: mustEncapsulate(x, remote, via),
    startOn4500: via === "natt",
    natKeepalive: c.keepaliveSec > 0 ? Math.round(c.keepaliveSec * 1000) : 0,
    keylog: c.keylog !== null,
    fragmentSize: Math.min(c.pathMtu, 1280),
    halfOpenTimeout: x.halfOpenTimeoutMs,
    ...(x.peerConfigs ? { peerConfigs: x.peerConfigs } : { connection: "ike" }),
    ...(x.eapTlsEngine ? { eapTlsEngine: x.eapTlsEngine } : {}),
  };
}

function loggedPool(x: SaConfigContext, p: VipPools): VirtualIpPool {
  return {
    allocate: (peer, family = 4) => {
      const a = p.allocate(peer, family);
      if (a) x.log("info", `virtual IP ${a} assigned to "${peer}"${family === 4 && x.cfg.ike.dns?.length ? `, DNS ${x.cfg.ike.dns.join(" ")}` : ""}`);
      return a;
    },
    release: (a) => {
      p.release(a);
      x.log("info", `virtual IP ${a} released`);
    },
  };
}
