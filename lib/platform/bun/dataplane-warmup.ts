/**
 * Loopback warm-up and self-test of the tunnel's packet path (used by dataplane-worker.ts).
 * @module
 */
import { FFIType, ptr } from "bun:ffi";
import { libcSymbols, stableBytes } from "./libc.ts";
import type { SaDatabase } from "../../esp/sadb.ts";
import type { EspCipherName } from "../../esp/types.ts";
import { espKeyMaterialLength } from "../../esp/cbc.ts";
import type { TunnelEngine } from "../../tunnel/engine.ts";
import { VNET_HDR_LEN } from "../../tunnel/offload.ts";
import { parseCidr } from "../../net/cidr.ts";
import { buildManualPath } from "./manual-path.ts";
import { TunDevice } from "./tun.ts";
import { FfiUdpSocket } from "./udp-ffi.ts";

export interface WarmUpOptions {
  cipher: EspCipherName;
  esn: boolean;
  /** IFF_VNET_HDR framing, as the real TUN device uses it. */
  offload: boolean;
  /** Tunnel MTU (the TCP warm-up packet is at most this long). */
  mtu: number;
  aead: "ffi" | "default";
}

/** key || salt (AEAD) or encryption || integrity key (CBC) length of each cipher. */
function keyLength(c: EspCipherName): number {
  return espKeyMaterialLength(c);
}

const sys = () =>
  libcSymbols({
    socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
    read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  });

/**
 * A throwaway copy of the whole packet path: the same classes as the tunnel (TunDevice,
 * TunnelEngine, SaDatabase with the chosen AEAD, FfiUdpSocket) carry throwaway traffic
 * between a SOCK_SEQPACKET pair standing in for the TUN and a loopback UDP socket that
 * sends to itself, under a random key of its own (never the tunnel's; destroyed on close).
 * Nothing it does reaches the TUN device or the network.
 */
export class LoopbackPath {
  private readonly L = sys();
  private udp: FfiUdpSocket | null = null;
  private db: SaDatabase | null = null;
  private engine: TunnelEngine | null = null;
  private dev: TunDevice | null = null;
  private devFd = -1;
  private peerFd = -1;
  private pkts: Uint8Array[] = [];
  private readonly sink = stableBytes(70000);
  private sinkPtr = ptr(this.sink);
  private sealed = 0;
  /** Packets that made the round trip. */
  back = 0;

  private constructor(private readonly o: WarmUpOptions) {}

  /** Set up, or null when a socket cannot be made (the caller just goes without). */
  static open(o: WarmUpOptions): LoopbackPath | null {
    const h = new LoopbackPath(o);
    try {
      const sv = new Int32Array(2);
      if (h.L.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0o4000 | 0o2000000, 0, ptr(sv)) < 0) return null;
      h.devFd = sv[0];
      h.peerFd = sv[1];
      h.udp = FfiUdpSocket.bind("127.0.0.1", 0);
      if (h.udp.localPort() <= 0) throw new Error("no port");
      h.dev = TunDevice.attach(h.devFd, "loopback", o.offload);
      h.install();
      const hdr = o.offload ? VNET_HDR_LEN : 0;
      h.pkts = [warmPacket(1, 84), warmPacket(6, Math.min(1400, o.mtu))].map((p) => {
        const f = new Uint8Array(hdr + p.length);
        f.set(p, hdr);
        return f;
      });
      return h;
    } catch {
      h.close();
      return null;
    }
  }

  /** A fresh random-key SA pair and engine (also every 2^30 packets: sequence space). */
  private install(): void {
    this.engine?.stop();
    this.db?.destroy();
    const o = this.o;
    const key = crypto.getRandomValues(new Uint8Array(keyLength(o.cipher)));
    const sa = { spi: 0x7fff0001, cipher: o.cipher, keyMaterial: key, esn: o.esn };
    const { db, engine } = buildManualPath({
      device: this.dev!, socket: this.udp!, remoteAddress: "127.0.0.1", remotePort: this.udp!.localPort(),
      child: { name: "loopback", local: [], remote: [parseCidr("0.0.0.0/0")!], mtu: o.mtu },
      outbound: sa, inbound: sa, aead: o.aead, keepaliveMs: 0,
    });
    key.fill(0);
    engine.start();
    this.db = db;
    this.engine = engine;
    this.sealed = 0;
  }

  /** Push one packet (ICMP on even `i`, TCP on odd) through the whole path and back. */
  round(i: number): boolean {
    if (this.dev === null) return false;
    if (++this.sealed >= 1 << 30) this.install();
    const f = this.pkts[i & 1];
    if (Number(this.L.write(this.peerFd, ptr(f), f.length)) < 0) return false;
    this.dev.drainNow();
    this.udp!.receive(1);
    this.dev.flushNow();
    const before = this.back;
    while (Number(this.L.read(this.peerFd, this.sinkPtr, this.sink.length)) > 0) this.back++;
    return this.back > before;
  }

  close(): void {
    this.engine?.stop();
    this.db?.destroy();
    this.udp?.close();
    if (this.devFd >= 0) this.L.close(this.devFd);
    if (this.peerFd >= 0) this.L.close(this.peerFd);
    this.dev = null;
    this.engine = null;
    this.db = null;
    this.udp = null;
    this.devFd = this.peerFd = -1;
  }
}

/**
 * JIT warm-up and self-test of the whole packet path before the real SAs exist
 * ({@link LoopbackPath}, `rounds` packets). Without it the first packets of a tunnel run
 * in JavaScriptCore's lower tiers, which is what an idle ping right after start sees.
 * Returns the packets that made the round trip.
 */
export function warmUp(o: WarmUpOptions, rounds: number): number {
  const h = LoopbackPath.open(o);
  if (h === null) return 0;
  try {
    for (let i = 0; i < rounds; i++) if (!h.round(i)) break;
    return h.back;
  } finally {
    h.close();
  }
}

/** An IPv4 packet 10.255.0.1 → 10.255.0.2 of `len` bytes (protocol 1 = ICMP echo, 6 = TCP ACK). */
function warmPacket(proto: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = proto;
  p.set([10, 255, 0, 1, 10, 255, 0, 2], 12);
  let s = 0;
  for (let i = 0; i < 20; i += 2) s += (p[i] << 8) | p[i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  s = ~s & 0xffff;
  p[10] = s >> 8;
  p[11] = s & 0xff;
  if (proto === 1) p[20] = 8;
  else {
    p[22] = 0x30; // ports 12345 → 12346
    p[23] = 0x39;
    p[24] = 0x30;
    p[25] = 0x3a;
    p[32] = 0x50; // data offset 5
    p[33] = 0x10; // ACK
    p[34] = 0xff;
  }
  return p;
}

