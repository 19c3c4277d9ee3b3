/**
 * IKEv2 over a stream transport (RFC 9329, IKE and ESP in one TCP connection): what changes
 * for the IKE SA manager and the driver (lib/tunnel/ike-driver.ts), kept apart from them.
 *
 * - Retransmissions: TCP delivers or breaks, so no retransmission timers (RFC 9329 §7.2:
 *   initiators SHOULD NOT retransmit over TCP). One timer per exchange stays, as long as the
 *   whole UDP schedule would have been (`retransmit_timeout` × (1 + 1.8 + … + 1.8^tries),
 *   165 s with the defaults), so a peer that stops answering still fails the exchange. A
 *   request lost with a broken connection is written again by the transport on the new
 *   connection (lib/tunnel/tcp-peers.ts), which RFC 9329 §6 has the initiator re-establish.
 * - NAT detection: NAT_DETECTION_SOURCE_IP / _DESTINATION_IP are still sent, hashed over the
 *   connection's real addresses and ports (the initiator's ephemeral port included), so they
 *   say truthfully whether a NAT rewrote the connection. Nothing switches on the result (ESP
 *   already rides the connection) and no NAT-keepalives are sent: the connection holds the
 *   NAT mapping (RFC 9329 §6: keepalives are not needed over TCP).
 * - IKE starts on the "NAT-T" path at once (every IKE message carries the non-ESP marker),
 *   and IKE fragmentation (RFC 7383) is not offered: a stream carries messages of any size
 *   up to the 65,535-byte frame.
 * - ESP to a peer goes to its IKE SA's endpoint: the TCP peer address and port the
 *   transport reports, which tells the responder's connections apart.
 * @module
 */
import type { Endpoint, IkeSaConfig } from "../ike/v2/sa/types.ts";

/** What the driver asks of a stream transport. */
export interface IkeStreamTransport {
  /** Our real endpoint (local address and port) on the connection with `peer`, or null while none is up. */
  localEndpoint(peer: Endpoint): Endpoint | null;
}

/** The whole retransmission schedule of `c` over UDP, in ms: the one exchange timeout over TCP. */
export function exchangeTimeoutMs(c: Pick<IkeSaConfig, "retransmitTimeout" | "retransmitTries" | "retransmitBase">): number {
  const t = c.retransmitTimeout ?? 4000, n = c.retransmitTries ?? 5, base = c.retransmitBase ?? 1.8;
  let total = 0;
  for (let i = 0; i <= n; i++) total += t * base ** i;
  return Math.round(total);
}

/** `c` for an IKE SA over TCP (see the module comment); `local`: our endpoint on the connection, if up. */
export function streamSaConfig(c: IkeSaConfig, local: Endpoint | null): IkeSaConfig {
  return {
    ...c,
    ...(local ? { local: { ...local } } : {}),
    retransmitTimeout: exchangeTimeoutMs(c),
    retransmitTries: 0,
    natKeepalive: 0,
    forceEncap: false,
    startOn4500: true,
    fragmentation: false,
  };
}
