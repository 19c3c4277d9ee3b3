/**
 * Outer UDP socket (ESP-in-UDP, normally port 4500) on Bun.udpSocket.
 * `sendBatch` uses `sendMany` (one call for a burst of datagrams).
 * @module
 */
import type { DatagramSocket } from "../../tunnel/engine.ts";

export interface UdpStats {
  sendErrors: number;
}

export class BunUdpSocket implements DatagramSocket {
  readonly stats: UdpStats = { sendErrors: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  private sock!: Bun.udp.Socket<"uint8array">;
  private readonly many: (Uint8Array | number | string)[] = [];

  private constructor() {}

  /** Bind `address:port` (address "0.0.0.0" / "::" for any). */
  static async bind(address: string, port: number): Promise<BunUdpSocket> {
    const s = new BunUdpSocket();
    try {
      s.sock = await Bun.udpSocket({
        hostname: address,
        port,
        binaryType: "uint8array",
        socket: {
          data: (_sock, buf, rport, raddr) => {
            const cb = s.cb;
            if (cb) {
              try {
                cb(buf, raddr, rport);
              } catch {
                // the engine never throws on wire data; be safe anyway
              }
            }
          },
        },
      });
    } catch (e) {
      throw new Error(`cannot bind UDP ${address.includes(":") ? `[${address}]` : address}:${port}: ${(e as Error).message}`);
    }
    return s;
  }

  get port(): number {
    return this.sock.port;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    if (!this.sock.send(buf, port, addr)) this.stats.sendErrors++;
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    const m = this.many;
    m.length = 0;
    for (let i = 0; i < bufs.length; i++) m.push(bufs[i], port, addr);
    const sent = this.sock.sendMany(m as unknown as Parameters<typeof this.sock.sendMany>[0]);
    if (sent < bufs.length) this.stats.sendErrors += bufs.length - sent;
  }

  close(): void {
    this.sock.close();
  }
}

/**
 * The same adapter on node:dgram (no batched send). Kept for comparison
 * (VPNKIT_UDP_IMPL=dgram, see bench/tunnel/README.md).
 */
export class NodeDgramSocket implements DatagramSocket {
  readonly stats: UdpStats = { sendErrors: 0 };
  private cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;

  private constructor(private readonly sock: import("node:dgram").Socket) {}

  static async bind(address: string, port: number): Promise<NodeDgramSocket> {
    const dgram = await import("node:dgram");
    const sock = dgram.createSocket({ type: address.includes(":") ? "udp6" : "udp4", reuseAddr: false });
    const s = new NodeDgramSocket(sock);
    sock.on("message", (buf, rinfo) => {
      const cb = s.cb;
      if (cb) {
        try {
          cb(buf, rinfo.address, rinfo.port);
        } catch {
          // ignore
        }
      }
    });
    sock.on("error", () => s.stats.sendErrors++);
    await new Promise<void>((res, rej) => {
      sock.once("error", rej);
      sock.bind(port, address, () => {
        sock.off("error", rej);
        res();
      });
    });
    return s;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    this.sock.send(buf, port, addr, (e) => {
      if (e) this.stats.sendErrors++;
    });
  }

  close(): void {
    this.sock.close();
  }
}
