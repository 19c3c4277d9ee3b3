/**
 * Initiator/responder roles for IKEv1 messages. The ISAKMP header has no
 * I/R flag, so (like tcpdump) the role is the sender's role in the ISAKMP SA:
 * whoever sent the first message for an initiator cookie (responder cookie
 * still zero) is the initiator. Pure state, no I/O; bounded memory.
 * @module
 */
import { toHex } from "../../core/bytes.ts";
import type { IsakmpMessage } from "./message.ts";

export class IsakmpRoles {
  /** icookie hex → sender key of the initiator. */
  private readonly initiators = new Map<string, string>();
  constructor(private readonly maxSas = 4096) {}

  /**
   * Role of the sender of `msg`. `sender` is a stable key for the sending
   * endpoint: use the IP address without the port, since NAT-T moves the
   * exchange from port 500 to 4500 (tcpdump keys on the address too). Undefined when the SA's first message
   * was not seen and the responder cookie is set.
   */
  role(msg: IsakmpMessage, sender: string): "I" | "R" | undefined {
    const ic = toHex(msg.icookie);
    const known = this.initiators.get(ic);
    if (known !== undefined) return known === sender ? "I" : "R";
    let zero = true;
    for (let i = 0; i < msg.rcookie.length; i++) if (msg.rcookie[i] !== 0) zero = false;
    if (!zero) return undefined;
    if (this.initiators.size >= this.maxSas) {
      const oldest = this.initiators.keys().next().value;
      if (oldest !== undefined) this.initiators.delete(oldest);
    }
    this.initiators.set(ic, sender);
    return "I";
  }

  /** Forget everything. */
  clear(): void {
    this.initiators.clear();
  }
}
