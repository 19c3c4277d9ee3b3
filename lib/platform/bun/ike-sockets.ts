/**
 * The plain IKE sockets of `vpnkit up` in IKEv2 mode (RFC 7296 §2.23: UDP 500, no non-ESP
 * marker) on the main thread, IPv4 and IPv6, and the route lookup that tells which local
 * address an IKE SA with a peer uses (connect() + getsockname() on a throw-away UDP socket:
 * no packet is sent). The NAT-T socket (4500, IKE with the marker and ESP) belongs to the
 * packet path.
 * @module
 */
import { FFIType, ptr } from "bun:ffi";
import { ipv4Text, ipv6Text } from "../../core/bytes.ts";
import { parseIp } from "../../net/cidr.ts";
import { libcSymbols, sockaddr } from "./libc.ts";
import { BunUdpSocket } from "./udp.ts";

export interface IkeSockets {
  send(buf: Uint8Array, addr: string, port: number): void;
  /** Addresses bound ("0.0.0.0:500", "[::]:500"). */
  bound: string[];
  close(): void;
}

type Recv = (buf: Uint8Array, addr: string, port: number) => void;

/**
 * Bind `local:port`; with a wildcard IPv4 `local` also `[::]:port` (IPv6 only, so the two do
 * not clash). An IPv6 socket that cannot be bound (no IPv6) is skipped with a warning.
 */
export async function openIkeSockets(local: string, port: number, onMessage: Recv, warn: (m: string) => void): Promise<IkeSockets> {
  const v4 = local.includes(":") ? null : await BunUdpSocket.bind(local, port);
  v4?.onMessage(onMessage);
  let v6: import("node:dgram").Socket | null = null;
  if (local.includes(":") || local === "0.0.0.0") {
    const addr6 = local.includes(":") ? local : "::";
    const dgram = await import("node:dgram");
    const s = dgram.createSocket({ type: "udp6", ipv6Only: true, reuseAddr: false });
    s.on("message", (b, r) => onMessage(new Uint8Array(b.buffer, b.byteOffset, b.length), r.address, r.port));
    try {
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.bind(port, addr6, () => {
          s.off("error", rej);
          res();
        });
      });
      s.on("error", () => {});
      v6 = s;
    } catch (e) {
      s.close();
      if (local.includes(":")) throw new Error(`cannot bind UDP [${addr6}]:${port}: ${(e as Error).message}`);
      warn(`IKE: no IPv6 socket on port ${port}: ${(e as Error).message}`);
    }
  }
  const bound = [...(v4 ? [`${local}:${port}`] : []), ...(v6 ? [`[${local.includes(":") ? local : "::"}]:${port}`] : [])];
  return {
    bound,
    send(buf, addr, p) {
      if (addr.includes(":")) v6?.send(buf, p, addr);
      else v4?.send(buf, addr, p);
    },
    close() {
      v4?.close();
      v6?.close();
    },
  };
}

let sym: { socket: (d: number, t: number, p: number) => number; connect: (fd: number, a: unknown, l: number) => number; getsockname: (fd: number, a: unknown, l: unknown) => number; close: (fd: number) => number } | null = null;

/** The source address the kernel picks for `peer` (null when there is no route). */
export function localAddressFor(peer: string): string | null {
  const ip = parseIp(peer);
  if (!ip) return null;
  sym ??= libcSymbols({
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    connect: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }) as unknown as typeof sym;
  const s = sym!;
  const fd = s.socket(ip.family === 4 ? 2 : 10, 2 | 0o2000000, 0); // SOCK_DGRAM | SOCK_CLOEXEC
  if (fd < 0) return null;
  try {
    const sa = sockaddr(ip.family, ip.addr, 9);
    if (s.connect(fd, ptr(sa), sa.length) !== 0) return null;
    const out = new Uint8Array(128);
    const len = new Uint32Array([128]);
    if (s.getsockname(fd, ptr(out), ptr(len)) !== 0) return null;
    return ip.family === 4 ? ipv4Text(out, 4) : ipv6Text(out, 8);
  } finally {
    s.close(fd);
  }
}
