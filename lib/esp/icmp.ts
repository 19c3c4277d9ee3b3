/**
 * ICMP "too big" generation for the tunnel ingress (skeleton; implementation follows).
 * @module
 */

export interface IcmpTooBigOptions {
  /** Source address of the ICMP error (4 or 16 bytes): the tunnel's local inner address. */
  localAddress?: Uint8Array;
}

export function buildIcmpTooBig(_inner: Uint8Array, _mtu: number, _opts: IcmpTooBigOptions = {}): Uint8Array | null {
  return null;
}
