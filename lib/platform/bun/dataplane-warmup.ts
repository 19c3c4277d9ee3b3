/**
 * Loopback warm-up and self-test of the tunnel's packet path (used by dataplane-worker.ts).
 * @module
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { selectAeadProvider } from "../../esp/aead.ts";
import { buildIcmpTooBig } from "../../esp/icmp.ts";
import { SaDatabase } from "../../esp/sadb.ts";
import type { EspCipherName } from "../../esp/types.ts";
import { TunnelEngine } from "../../tunnel/engine.ts";
import { VNET_HDR_LEN } from "../../tunnel/offload.ts";
import { parseCidr } from "../../tunnel/selectors.ts";
import { libcryptoAead } from "./aead-ffi.ts";
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

/** key || salt length of each cipher. */
function keyLength(c: EspCipherName): number {
  return c === "aes128gcm16" ? 20 : 36;
}

function sys() {
  for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
    try {
      return dlopen(n, {
        socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
        read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
      }).symbols;
    } catch {
      // next name
    }
  }
  throw new Error("cannot load libc");
}

/**
 * JIT warm-up and self-test of the whole packet path, before the real SAs exist: the
 * same classes (TunDevice, TunnelEngine, SaDatabase with the chosen AEAD, FfiUdpSocket)
 * carry throwaway traffic between a SOCK_SEQPACKET pair standing in for the TUN and a
 * loopback UDP socket that sends to itself, with a random key that is destroyed after.
 * Without it the first packets of a tunnel run in JavaScriptCore's interpreter tier
 * (~0.2-0.6 ms per packet measured in the worker, against ~10 µs warm), which is what an
 * idle ping right after start sees. Returns the packets that made the round trip.
 */
export function warmUp(o: WarmUpOptions, rounds: number): number {
  const L = sys();
  const sv = new Int32Array(2);
  if (L.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0o4000 | 0o2000000, 0, ptr(sv)) < 0) return 0;
  const [devFd, peerFd] = [sv[0], sv[1]];
  let udp: FfiUdpSocket | null = null;
  const db = new SaDatabase({ crypto: (ci) => (o.aead === "ffi" ? libcryptoAead(ci) : null) ?? selectAeadProvider(ci) });
  let back = 0;
  try {
    udp = FfiUdpSocket.bind("127.0.0.1", 0);
    const port = udp.localPort();
    if (port <= 0) return 0;
    const key = crypto.getRandomValues(new Uint8Array(keyLength(o.cipher)));
    const spi = 0x7fff0001;
    const outSa = db.installOutbound({ spi, cipher: o.cipher, keyMaterial: key, esn: o.esn });
    const inSa = db.installInbound({ spi, cipher: o.cipher, keyMaterial: key, esn: o.esn });
    key.fill(0);
    const dev = TunDevice.attach(devFd, "warmup", o.offload);
    const any4 = parseCidr("0.0.0.0/0")!;
    const engine = new TunnelEngine({
      device: dev, socket: udp, remoteAddress: "127.0.0.1", remotePort: port,
      children: [{ name: "warmup", local: [], remote: [any4], outbound: outSa, inbound: [inSa], mtu: o.mtu }],
      icmpTooBig: (inner, mtu) => buildIcmpTooBig(inner, mtu), keepaliveMs: 0,
    });
    engine.start();
    const hdr = o.offload ? VNET_HDR_LEN : 0;
    const pkts = [warmPacket(1, 84), warmPacket(6, Math.min(1400, o.mtu))].map((p) => {
      const f = new Uint8Array(hdr + p.length);
      f.set(p, hdr);
      return f;
    });
    const sink = new Uint8Array(70000);
    for (let i = 0; i < rounds; i++) {
      const f = pkts[i & 1];
      if (Number(L.write(peerFd, ptr(f), f.length)) < 0) break;
      dev.drainNow();
      udp.receive(1);
      dev.flushNow();
      while (Number(L.read(peerFd, ptr(sink), sink.length)) > 0) back++;
    }
    engine.stop();
  } catch {
    // a warm-up failure only costs latency; the real path reports its own errors
  } finally {
    db.destroy();
    udp?.close();
    L.close(devFd);
    L.close(peerFd);
  }
  return back;
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

