/**
 * The Child SAs the IKE driver installed (split out of lib/tunnel/ike-driver.ts): install
 * into the packet path's sink (with the key log and the keys zeroed after), removal with
 * the outbound fall-back to the same child's newest remaining pair, and the peer's ESP
 * endpoint following NAT rebinding. Keyed by inbound SPI.
 * @module
 */
import type { ManagedSa } from "../ike/v2/sa/manager.ts";
import type { ChildSaInfo, Endpoint } from "../ike/v2/sa/types.ts";
import type { ChildInstall, ChildSaSink } from "./child-sink.ts";
import type { IkeTunnelConfig } from "./config.ts";
import type { KeyLog } from "./keylog.ts";
import { tsToCidrs } from "./ike-pool.ts";
import type { Installed } from "./ike-status.ts";
import { hex32, type IkeDriverOptions, type LogLevel } from "./ike-driver-types.ts";
import { RAW_ESP_PORT } from "./engine-types.ts";
import { cbcSuite, isCbcCipher } from "../esp/cbc.ts";

/**
 * The string in one piece: a template literal or concatenation is a rope (a string object per
 * piece plus one joining them) until something reads its characters; normalize() reads them
 * (an unused charCodeAt is dropped by the JIT) and returns ASCII text as it is. For texts kept as
 * long as a Child SA lives: 4 string objects -> 1 for `ike<n>-<spi>`.
 */
function flat(s: string): string {
  return s.normalize();
}

/** How a Child SA's ESP travels, for logs and status: "udp" (ESP in UDP, RFC 3948) or "none" (IP protocol 50). */
export function encapOf(peer: Endpoint): "udp" | "none" {
  return peer.port === RAW_ESP_PORT ? "none" : "udp";
}

/** "ESP in UDP to 192.0.2.2:4500" / "ESP (IP protocol 50) to 192.0.2.2". */
export function espPathText(peer: Endpoint, tcp = false): string {
  if (tcp) return `ESP over TCP to ${peer.address}:${peer.port}`;
  return peer.port === RAW_ESP_PORT ? `ESP (IP protocol 50) to ${peer.address}` : `ESP in UDP to ${peer.address}:${peer.port}`;
}

export interface ChildTableOptions {
  cfg: IkeTunnelConfig;
  /** IKE and ESP over TCP (RFC 9329): ESP goes to the IKE SA's own endpoint (the peer's connection). */
  stream?: boolean;
  sink: ChildSaSink;
  keylog: KeyLog | null;
  log: (level: LogLevel, msg: string) => void;
  now: () => number;
  onChild?: IkeDriverOptions["onChild"];
}

export class ChildTable {
  /** Installed pairs by inbound SPI. */
  readonly installed = new Map<number, Installed>();
  firstChildAt: number | null = null;

  constructor(private readonly o: ChildTableOptions) {}

  /** Our side's selector texts: a server's Child SAs mostly share one (bounded: cleared at 256). */
  private readonly texts = new Map<string, string>();

  private shared(t: string): string {
    const known = this.texts.get(t);
    if (known !== undefined) return known;
    if (this.texts.size >= 256) this.texts.clear();
    this.texts.set(t, t);
    return t;
  }

  private natPort(): number {
    return this.o.cfg.localPort;
  }

  /**
   * The endpoint of `e`'s peer for ESP: its NAT-T address and port when the IKE SA uses UDP
   * encapsulation (a NAT, `encap`, or IKE on the NAT-T port), else its address with port
   * {@link RAW_ESP_PORT}: plain ESP, IP protocol 50.
   */
  espPeer(e: ManagedSa): Endpoint {
    if (this.o.stream) return { ...e.sa.remote }; // over TCP (RFC 9329): the peer's connection
    if (!e.sa.natt && e.via !== "natt") return { address: e.sa.remote.address, port: RAW_ESP_PORT };
    return { address: e.sa.remote.address, port: e.sa.natt ? e.sa.remote.port : this.natPort() };
  }

  install(e: ManagedSa, c: ChildSaInfo): void {
    const local = c.tsLocal.flatMap(tsToCidrs), remote = c.tsRemote.flatMap(tsToCidrs);
    // the peer's NAT-T endpoint: ESP goes there (the packet path routes per Child SA)
    const peer = this.espPeer(e);
    // a responder serves many peers: every Child SA (and its rekeys) is its own engine child
    // with its own selectors and endpoint; the initiator has one peer and uses the default child
    const old = c.rekeyOf ? this.installed.get(c.rekeyOf.spiIn >>> 0) : undefined;
    // the engine child's key: its first pair's inbound SPI (0: the default child); the name
    // `ike<n>-<spi>` is made for the sink only (a number per Child SA held, not a string)
    const keySpi = old?.keySpi ?? (this.o.cfg.ike.responder ? c.spiIn >>> 0 : 0);
    const key = keySpi ? flat(`ike${e.id}-${hex32(keySpi)}`) : "";
    const inst: ChildInstall = {
      spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, keyIn: c.keyIn, keyOut: c.keyOut, esn: c.esn, local, remote, peer,
      ...(key ? { child: key } : {}),
    };
    try {
      this.o.sink.install(inst);
    } catch (err) {
      c.keyIn.fill(0);
      c.keyOut.fill(0);
      throw err;
    }
    const me = e.sa.local.address;
    if (this.o.keylog) {
      this.o.keylog.add({ src: me, dst: peer.address, spi: c.spiOut, cipher: c.cipher, keyMaterial: c.keyOut, esn: c.esn });
      this.o.keylog.add({ src: peer.address, dst: me, spi: c.spiIn, cipher: c.cipher, keyMaterial: c.keyIn, esn: c.esn });
    }
    c.keyIn.fill(0);
    c.keyOut.fill(0);
    const now = this.o.now();
    const lt = this.shared(local.map((x) => x.text).join(",")), rt = flat(remote.map((x) => x.text).join(","));
    this.installed.set(c.spiIn >>> 0, { spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, entry: e, at: now, rekeying: false, local: lt, remote: rt, keySpi, peer });
    if (old) old.rekeying = true;
    if (this.firstChildAt === null) this.firstChildAt = now;
    // AES-CBC + HMAC also with strongSwan's names (the word alone does not say the ICV length)
    const alg = isCbcCipher(c.cipher) ? `${c.cipher} (${cbcSuite(c.cipher).strongswan})` : c.cipher;
    this.o.log("info", `Child SA ${c.rekeyOf ? "rekeyed" : "installed"}: ${alg} spi in ${hex32(c.spiIn)} out ${hex32(c.spiOut)}, ${lt} === ${rt} (${espPathText(peer, this.o.stream)}${key ? `, ${key}` : ""})`);
    this.o.onChild?.({ spiIn: c.spiIn >>> 0, spiOut: c.spiOut >>> 0, cipher: c.cipher, rekey: !!c.rekeyOf });
  }

  /** The peer of `e` moved (NAT rebinding seen on an authenticated message): its Child SAs' ESP follows. */
  peerMoved(e: ManagedSa): void {
    const peer = this.espPeer(e);
    for (const c of this.installed.values()) {
      if (c.entry !== e || (c.peer.address === peer.address && c.peer.port === peer.port)) continue;
      c.peer = peer;
      this.o.sink.updateRemote?.(c.spiOut, peer);
      this.o.log("info", `Child SA ${hex32(c.spiIn)}_i ${hex32(c.spiOut)}_o: ${espPathText(peer, this.o.stream)} now`);
    }
  }

  remove(spiIn: number, spiOut: number, reason: string): void {
    const ent = this.installed.get(spiIn >>> 0);
    if (!ent) return;
    this.installed.delete(spiIn >>> 0);
    // outbound falls back to the same child's newest remaining pair, or none (packets are then dropped as noSa)
    // (a responder's key names its IKE SA, so the cheap entry compare goes first there: the scan
    // runs over every held Child SA on each removal)
    let next: Installed | null = null;
    const keySpi = ent.keySpi, entry = ent.entry;
    for (const c of this.installed.values()) if ((keySpi === 0 || c.entry === entry) && c.keySpi === keySpi && (!next || c.at >= next.at)) next = c;
    this.o.sink.remove(spiIn >>> 0, spiOut >>> 0, next ? next.spiOut : null);
    this.o.log("info", `Child SA removed: spi in ${hex32(spiIn)} out ${hex32(spiOut)} (${reason})`);
  }

  /** The current (newest) Child SA, for the status line. */
  current(): { spiIn: number; spiOut: number; cipher: string } | null {
    let next: Installed | null = null;
    for (const c of this.installed.values()) if (!next || c.at >= next.at) next = c;
    return next;
  }
}
