/**
 * The IKE driver's answer to ESP for an SPI we do not know (RFC 7296 §2.21): the packet path
 * reports it (lib/tunnel/engine.ts `onUnknownSpi`, rate-limited there too), and this sends an
 * INFORMATIONAL with INVALID_SPI in the IKE SA with that peer (the newest established one with
 * its address; its port first when known), never more than one per SPI per interval and a
 * few a second in total ({@link InvalidSpiLimiter}, lib/ike/v2/sa/invalid-spi.ts). Without an
 * IKE SA with the peer nothing is sent (an unprotected notify could be forged anyway) and the
 * packet is counted.
 * @module
 */
import { InvalidSpiLimiter } from "../ike/v2/sa/invalid-spi.ts";
import type { IkeSaManager, ManagedSa } from "../ike/v2/sa/manager.ts";
import { hex32, type LogLevel } from "./ike-driver-types.ts";

export interface InvalidSpiStatus {
  /** Unknown-SPI reports the driver got from the packet path. */
  reported: number;
  /** INVALID_SPI notifies sent. */
  sent: number;
  /** Refused by the rate limits (per SPI, global). */
  limited: number;
  /** No established IKE SA with that peer: nothing sent. */
  noIkeSa: number;
}

export class InvalidSpiReporter {
  readonly limiter = new InvalidSpiLimiter();
  private readonly c: InvalidSpiStatus = { reported: 0, sent: 0, limited: 0, noIkeSa: 0 };

  constructor(private readonly manager: () => IkeSaManager, private readonly log: (level: LogLevel, msg: string) => void, private readonly now: () => number) {}

  /** ESP with SPI `spi` that no SA has arrived from `addr` (`port`: its UDP port, 0 when plain ESP or not known). */
  report(spi: number, addr: string, port = 0): void {
    this.c.reported++;
    const from = addr.startsWith("::ffff:") && addr.includes(".") ? addr.slice(7) : addr;
    let best: ManagedSa | null = null;
    for (const e of this.manager().list()) {
      if (e.sa.state !== "established" || e.sa.remote.address !== from) continue;
      const exact = port !== 0 && e.sa.remote.port === port;
      if (best === null || exact || (!(port !== 0 && best.sa.remote.port === port) && (e.establishedAt ?? 0) >= (best.establishedAt ?? 0))) best = e;
    }
    if (best === null) {
      this.c.noIkeSa++;
      this.log("debug", `ESP with unknown SPI ${hex32(spi)} from ${from}: no IKE SA with that peer, no INVALID_SPI`);
      return;
    }
    const now = this.now();
    if (!this.limiter.allow(spi, now)) {
      this.c.limited++;
      return;
    }
    this.c.sent++;
    this.manager().call(best, (sa) => sa.notifyInvalidSpi(spi, now), now);
  }

  status(): InvalidSpiStatus {
    return { ...this.c };
  }
}
