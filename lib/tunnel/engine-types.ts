/**
 * The tunnel engine's interfaces and counters (lib/tunnel/engine.ts re-exports them): the
 * packet device and datagram socket it moves packets between, what it needs of the SAs, the
 * children (CHILD_SAs) with their peer endpoints and counters.
 * @module
 */
import type { OpenResult } from "../esp/types.ts";
import type { Cidr } from "../net/cidr.ts";

/** An L3 packet device (TUN). */
export interface PacketDevice {
  /**
   * Register the packet consumer and start delivering. The packet may be a view into a
   * reused buffer, valid only during the call. `onBatchEnd` runs after each burst.
   */
  onPacket(cb: (pkt: Uint8Array) => void, onBatchEnd?: () => void): void;
  /** Write one IP packet into the device. */
  write(pkt: Uint8Array): boolean;
}

/** The outer datagram socket (UDP/4500 normally). */
export interface DatagramSocket {
  send(buf: Uint8Array, addr: string, port: number): void;
  /** Optional batched send of several datagrams to one peer. */
  sendBatch?(bufs: Uint8Array[], addr: string, port: number): void;
  /**
   * Connection-oriented transports (TCP): false while no connection is up. The engine then
   * drops outbound packets before sealing them and counts them (`drops.notConnected`), instead
   * of counting them as sent. Absent (UDP): always connected.
   */
  readonly connected?: boolean;
  /** False when the transport does not carry 1-byte NAT-keepalives (TCP): the engine neither sends nor counts them. */
  readonly carriesKeepalives?: boolean;
  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void;
}

/** What the engine needs from an outbound SA (lib/esp OutboundSa fits). */
export interface SealingSa {
  readonly spi: number;
  seal(inner: Uint8Array, nextHeader: number): Uint8Array | null;
}

/** What the engine needs from an inbound SA (lib/esp InboundSa fits). */
export interface OpeningSa {
  readonly spi: number;
  open(esp: Uint8Array): OpenResult;
}

/**
 * The port of an {@link Endpoint} whose ESP is not UDP-encapsulated: plain ESP, IP protocol 50
 * (RFC 4303; the platform's raw socket). Such endpoints get no NAT keepalives.
 */
export const RAW_ESP_PORT = 0;

/** Where a child's ESP goes: the peer's outer address (IPv4/IPv6 text) and UDP port ({@link RAW_ESP_PORT}: plain ESP). */
export interface Endpoint {
  address: string;
  port: number;
}

/** Per-child counters, kept by the engine on the packet path (read on demand). */
export interface ChildStats {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  /** Time (ms, engine clock, ~1 s resolution) of the last packet delivered from this child; 0 = never. */
  lastIn: number;
  /** Inbound packets of this child's SAs whose inner addresses were outside its selectors. */
  policyDrops: number;
}

export function newChildStats(): ChildStats {
  return { packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, lastIn: 0, policyDrops: 0 };
}

/**
 * One pair of SAs with its traffic selectors (a CHILD_SA, or a manual-key tunnel).
 * `local` are our inner prefixes (sources going out), `remote` the peer's.
 */
export interface TunnelChild {
  name: string;
  local: Cidr[];
  remote: Cidr[];
  /** Current outbound SA (null: none installed, packets dropped as noSa). */
  outbound: SealingSa | null;
  /** Inbound SAs (several during a rekey). */
  inbound: OpeningSa[];
  /** Tunnel MTU: largest inner packet sent without an ICMP "too big". */
  mtu: number;
  /** The peer's endpoint; absent/null: the engine's default remote (manual keys, one peer). */
  endpoint?: Endpoint | null;
  /** Counters (set by the engine when the child is indexed). */
  stats?: ChildStats;
}

/** Engine counters, as served by the control socket. */
export interface EngineCounters {
  packetsOut: number;
  bytesOut: number;
  packetsIn: number;
  bytesIn: number;
  keepalivesSent: number;
  keepalivesIn: number;
  ikeIn: number;
  /** ICMP too-big messages written back into the device (rate-limited). */
  icmpSent: number;
  drops: {
    icv: number;
    replay: number;
    noSa: number;
    tooBig: number;
    malformed: number;
    dummy: number;
    policy: number;
    expired: number;
    /** Outbound seal refused (SA hard-expired or sequence space exhausted). */
    sealFailed: number;
    /** The device refused a write. */
    deviceWrite: number;
    /** Outbound packets while a connection-oriented transport (TCP) had no connection. */
    notConnected: number;
  };
}

export function newCounters(): EngineCounters {
  return {
    packetsOut: 0, bytesOut: 0, packetsIn: 0, bytesIn: 0, keepalivesSent: 0, keepalivesIn: 0, ikeIn: 0, icmpSent: 0,
    drops: { icv: 0, replay: 0, noSa: 0, tooBig: 0, malformed: 0, dummy: 0, policy: 0, expired: 0, sealFailed: 0, deviceWrite: 0, notConnected: 0 },
  };
}
