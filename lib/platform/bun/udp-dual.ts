/**
 * The packet path's NAT-T socket pair when `vpnkit up` listens on the wildcard address: one
 * {@link FfiUdpSocket} bound to 0.0.0.0:4500 and one to [::]:4500 (IPv6 only), seen by the
 * engine as one socket: a send goes out of the socket of the destination's family, both
 * deliver to the same consumer. The data-plane worker waits for both fds in its epoll set and
 * calls {@link receive} of the one that is ready.
 * @module
 */
import type { DatagramSocket } from "../../tunnel/engine.ts";
import type { FfiUdpSocket } from "./udp-ffi.ts";

export class DualUdpSocket implements DatagramSocket {
  constructor(readonly v4: FfiUdpSocket, readonly v6: FfiUdpSocket) {}

  get stats(): { sendErrors: number; truncated: number } {
    return { sendErrors: this.v4.stats.sendErrors + this.v6.stats.sendErrors, truncated: this.v4.stats.truncated + this.v6.stats.truncated };
  }

  get gsoSends(): number {
    return this.v4.gsoSends + this.v6.gsoSends;
  }

  enableGso(): boolean {
    const a = this.v4.enableGso();
    return this.v6.enableGso() && a;
  }

  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.v4.onMessage(cb);
    this.v6.onMessage(cb);
  }

  private of(addr: string): FfiUdpSocket {
    return addr.includes(":") ? this.v6 : this.v4;
  }

  send(buf: Uint8Array, addr: string, port: number): void {
    this.of(addr).send(buf, addr, port);
  }

  sendBatch(bufs: Uint8Array[], addr: string, port: number): void {
    this.of(addr).sendBatch(bufs, addr, port);
  }

  /** Receive on the socket with this fd (see {@link FfiUdpSocket.receive}); false for another fd. */
  receive(fd: number, maxCalls?: number): boolean {
    return fd === this.v6.fd ? this.v6.receive(maxCalls) : fd === this.v4.fd ? this.v4.receive(maxCalls) : false;
  }
}
