/**
 * The IKE driver's view of named connections (`[connections]`, `[secrets]`): the core's
 * {@link PeerConfig}s with a PSK lookup over the secrets table and one virtual IP pool per
 * connection. {@link ConnectionSet.update} takes a reloaded configuration: connections whose
 * settings did not change keep their pool objects (addresses in use stay handed out).
 * @module
 */
import type { Identity } from "../ike/v2/sa/identity.ts";
import { idMatchScore, type PeerConfig } from "../ike/v2/sa/peer-config.ts";
import type { VirtualIpPool } from "../ike/v2/sa/types.ts";
import type { ConnectionSettings, SecretSettings } from "./config-connections.ts";
import type { IkeTunnelConfig } from "./config-ike.ts";
import { VipPools } from "./ike-pool.ts";

type Log = (level: "debug" | "info" | "warn" | "error", msg: string) => void;

/** Canonical text of a connection's settings: equal text = unchanged on reload. */
export function connectionFingerprint(c: ConnectionSettings): string {
  return JSON.stringify(c);
}

export class ConnectionSet {
  private secrets: SecretSettings[] = [];
  private readonly pools = new Map<string, { fp: string; pools: VipPools }>();
  peerConfigs: PeerConfig[] = [];
  /** The validated connections behind {@link peerConfigs}. */
  settings: ConnectionSettings[] = [];

  constructor(cfg: IkeTunnelConfig, private readonly log: Log) {
    this.update(cfg);
  }

  /** The PSK for a peer: an exact [secrets] entry, else a `*` pattern, else `%any`. */
  lookup(id: Identity, text: string): Uint8Array | null {
    let best: SecretSettings | null = null, score = 0;
    for (const s of this.secrets) {
      if (!s.psk.length) continue; // an EAP user's entry
      const sc = idMatchScore(s.id, id, text);
      if (sc > score) {
        best = s;
        score = sc;
      }
    }
    return best ? best.psk : null;
  }

  /** EAP-MSCHAPv2: the NT password hash of `user` (a [secrets] entry named exactly so), or null. */
  eapUser(user: string): Uint8Array | null {
    return this.secrets.find((s) => s.ntHash && s.id === user)?.ntHash ?? null;
  }

  /** Take the (re)loaded connections and secrets (their PSK buffers are ours from now on; the old ones are wiped). */
  update(cfg: IkeTunnelConfig): void {
    const old = this.secrets;
    this.secrets = cfg.secrets ?? [];
    for (const s of old) if (!this.secrets.includes(s)) {
      s.psk.fill(0);
      s.ntHash?.fill(0);
    }
    this.settings = cfg.connections ?? [];
    const keep = new Set<string>();
    this.peerConfigs = this.settings.map((c) => {
      const fp = connectionFingerprint(c);
      keep.add(c.name);
      let pool: VipPools | null = null;
      if (c.pools.length) {
        const had = this.pools.get(c.name);
        if (had && had.fp === fp) pool = had.pools;
        else {
          pool = new VipPools(c.pools, c.dns);
          this.pools.set(c.name, { fp, pools: pool });
        }
      } else this.pools.delete(c.name);
      return {
        name: c.name, localId: c.localId, remoteId: c.remoteId, auth: c.auth, remoteAddrs: c.remoteAddrs,
        psk: (id, text) => this.lookup(id, text),
        eapUser: (user) => this.eapUser(user),
        privateKey: c.privateKey, certificate: c.certificate, peerCa: c.peerCa, espProposals: c.espProposals, ikeProposals: c.ikeProposals,
        children: c.children.map((ch) => ({ name: ch.name, localTs: ch.localTs, remoteTs: ch.remoteTs, espProposals: ch.espProposals })),
        ...(pool ? { virtualIpPool: this.logged(c.name, pool, c.dns) } : {}),
        dns: c.dns,
      };
    });
    for (const n of [...this.pools.keys()]) if (!keep.has(n)) this.pools.delete(n);
  }

  private logged(name: string, p: VipPools, dns: string[]): VirtualIpPool {
    return {
      allocate: (peer, family = 4) => {
        const a = p.allocate(peer, family);
        if (a) this.log("info", `connection ${name}: virtual IP ${a} assigned to "${peer}"${family === 4 && dns.length ? `, DNS ${dns.join(" ")}` : ""}`);
        return a;
      },
      release: (a) => {
        p.release(a);
        this.log("info", `connection ${name}: virtual IP ${a} released`);
      },
    };
  }

  /** One line per connection for the start-up log. */
  describe(): string[] {
    return this.settings.map((c) => `connection ${c.name}: ${c.remoteId ?? "%any"} (${c.auth})${c.remoteAddrs.length ? ` from ${c.remoteAddrs.join(",")}` : ""}` +
      `${c.pools.length ? `, pools ${c.pools.join(" ")}` : ""}, children ${c.children.map((ch) => `${ch.name} ${ch.localTs.join(",")} === ${ch.remoteTs.join(",")}`).join("; ")}`);
  }

  wipe(): void {
    for (const s of this.secrets) s.psk.fill(0);
    this.secrets = [];
  }
}
