/**
 * The IKE part of `vpnkit status` (like `swanctl --list-sas`): every IKE SA with its Child
 * SAs, the IKE SA manager's counters and limits, and dropped datagrams by reason. Built
 * from the driver's state ({@link IkeDriver.status}).
 * @module
 */
import type { IkeSaManager, ManagedSa } from "../ike/v2/sa/manager.ts";
import type { Endpoint } from "../ike/v2/sa/types.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { ChildStats } from "./engine-types.ts";
import { encapOf } from "./ike-children.ts";
import type { InvalidSpiStatus } from "./ike-invalid-spi.ts";

/**
 * One engine child's counters as the packet path publishes them (dataplane-shared.ts
 * ChildCounters, child-sink.ts ChildStatus): its newest inbound and current outbound SPI.
 * An engine child carries one Child SA and its rekeys, so the counters run across rekeys.
 */
export interface ChildTraffic {
  spiIn: number | null;
  spiOut: number | null;
  stats: ChildStats;
}

/** Per-Child-SA traffic in `vpnkit status` (null: the packet path has no row for it, e.g. a pair being replaced). */
export interface ChildTrafficStatus {
  packetsIn: number;
  bytesIn: number;
  packetsOut: number;
  bytesOut: number;
  /** Seconds since the last packet delivered from this child; null: none yet. */
  lastReceivedSec: number | null;
}

/** A Child SA pair the driver installed. */
export interface Installed {
  spiIn: number;
  spiOut: number;
  cipher: string;
  entry: ManagedSa;
  at: number;
  rekeying: boolean;
  local: string;
  remote: string;
  /**
   * Engine child key: the inbound SPI of its first pair (a responder's: one child per Child SA
   * and its rekeys, named `ike<n>-<spi>` in the packet path); 0: the initiator's default child.
   */
  keySpi: number;
  /** Where this pair's ESP goes (the IKE SA's peer; follows NAT rebinding). */
  peer: Endpoint;
}

export interface Meta {
  createdAt: number;
  ikeRekeyRequested: boolean;
  virtualIp: string | null;
  /** A new IKE SA was started because this one's liveness check went unanswered. */
  probed?: boolean;
  /** This IKE SA is such a new one: its failure is no news (the silent one's failure is the error). */
  probe?: boolean;
}

export interface StatusInput {
  cfg: IkeTunnelConfig;
  manager: IkeSaManager;
  installed: Installed[];
  /** The driver's data of an IKE SA (undefined: none). */
  meta: (e: ManagedSa) => Meta | undefined;
  drops: Record<string, number>;
  virtualIp: string | null;
  lastError: string | null;
  invalidSpi?: InvalidSpiStatus;
  /** The packet path's per-child counters (absent: not known). */
  traffic?: ChildTraffic[];
}

function hex32(n: number): string {
  return "0x" + (n >>> 0).toString(16).padStart(8, "0");
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** The `ike` part of `vpnkit status` from the driver's state. */
export function buildIkeStatus(d: StatusInput, now: number): IkeStatus {
    const cur = d.installed;
    const rows = d.traffic ?? [];
    const trafficOf = (c: Installed): ChildTrafficStatus | null => {
      const r = rows.find((x) => x.spiOut === c.spiOut) ?? rows.find((x) => x.spiIn === c.spiIn);
      if (!r) return null;
      const st = r.stats;
      return { packetsIn: st.packetsIn, bytesIn: st.bytesIn, packetsOut: st.packetsOut, bytesOut: st.bytesOut, lastReceivedSec: st.lastIn > 0 ? Math.max(0, Math.round((now - st.lastIn) / 1000)) : null };
    };
    const k = d.cfg.ike;
    const sas = d.manager.list().map((e) => {
      const m = d.meta(e);
      const since = (t: number | null | undefined) => (t == null ? null : Math.round((now - t) / 1000));
      const rekeyIn = m && k.ikeRekeySec > 0 && e.sa.state === "established" ? Math.max(0, Math.round(k.ikeRekeySec * (e.sa.initiator ? 1 : 1.1) - (now - m.createdAt) / 1000)) : null;
      return {
        id: e.id,
        name: `${e.sa.connection ?? "ike"}#${e.id}`,
        connection: e.sa.connection,
        spi: `${hexBytes(e.sa.spii)}_i ${hexBytes(e.sa.spir)}_r`,
        role: e.sa.initiator ? "initiator" : "responder",
        state: e.sa.state,
        local: `${e.sa.local.address}:${e.sa.local.port}`,
        remote: `${e.sa.remote.address}:${e.sa.remote.port}`,
        localId: e.localId,
        remoteId: e.remoteId,
        eapUser: e.sa.eapUser,
        proposal: e.proposal,
        natt: e.via === "natt",
        establishedSec: since(e.establishedAt),
        rekeyInSec: rekeyIn,
        lastReceivedSec: since(e.lastReceived),
        virtualIp: m?.virtualIp ?? e.sa.virtualIp ?? null,
        virtualIp6: e.sa.virtualIp6 ?? null,
        childSas: cur.filter((c) => c.entry === e).map((c) => {
          const rekey = k.rekeySec > 0 ? Math.max(0, Math.round(k.rekeySec * (e.sa.initiator ? 1 : 1.1) - (now - c.at) / 1000)) : null;
          return {
            spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), cipher: c.cipher, local: c.local, remote: c.remote, installedSec: since(c.at), rekeyInSec: rekey,
            encap: encapOf(c.peer), peer: encapOf(c.peer) === "none" ? c.peer.address : `${c.peer.address}:${c.peer.port}`, traffic: trafficOf(c),
          };
        }),
      };
    });
    return {
      state: cur.length ? "up" : d.manager.size ? "negotiating" : "down",
      ikeSas: sas,
      childSas: cur.map((c) => ({ spiIn: hex32(c.spiIn), spiOut: hex32(c.spiOut), cipher: c.cipher, encap: encapOf(c.peer) })),
      virtualIp: d.virtualIp,
      lastError: d.lastError,
      manager: { ...d.manager.stats(), counters: { ...d.manager.counters }, limits: { ...d.manager.limits } },
      drops: { ...d.drops, ...d.manager.drops },
      invalidSpi: d.invalidSpi ?? { reported: 0, sent: 0, limited: 0, noIkeSa: 0 },
    };
}

/** What {@link IkeDriver.status} returns (the `ike` part of `vpnkit status --json`). */
export interface IkeStatus {
  state: string;
  ikeSas: {
    id: number; name: string; connection: string | null; spi: string; role: string; state: string; local: string; remote: string;
    localId: string | null; remoteId: string | null; eapUser: string | null; proposal: string | null; natt: boolean;
    establishedSec: number | null; rekeyInSec: number | null; lastReceivedSec: number | null; virtualIp: string | null; virtualIp6: string | null;
    childSas: {
      spiIn: string; spiOut: string; cipher: string; local: string; remote: string; installedSec: number | null; rekeyInSec: number | null;
      /** "udp": ESP in UDP (RFC 3948, port 4500); "none": plain ESP, IP protocol 50. */
      encap: "udp" | "none";
      /** Where its ESP goes: address:port (UDP) or address (plain ESP). */
      peer: string;
      traffic: ChildTrafficStatus | null;
    }[];
  }[];
  childSas: { spiIn: string; spiOut: string; cipher: string; encap: "udp" | "none" }[];
  virtualIp: string | null;
  lastError: string | null;
  manager: ReturnType<IkeSaManager["stats"]> & { counters: IkeSaManager["counters"]; limits: IkeSaManager["limits"] };
  drops: Record<string, number>;
  /** ESP for unknown SPIs (RFC 7296 §2.21): reports from the packet path, INVALID_SPI sent, rate-limited, no IKE SA. */
  invalidSpi: InvalidSpiStatus;
}
