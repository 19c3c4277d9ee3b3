/** Test-only in-memory loop between two IkeSa instances, with message checks. */
import { expect } from "bun:test";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { decodeIkev2, decodeIkev2Payloads, type Ikev2Message } from "../../../../lib/ike/v2/message.ts";
import { IkeSa, type Action, type Endpoint, type IkeSaConfig } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { skOpen, type SkParams } from "../../../../lib/ike/v2/sk-crypto.ts";

export type Side = "i" | "r";

/** Deterministic RNG (xorshift) so failures reproduce. */
export function seededRng(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b[k] = x & 0xff;
    }
    return b;
  };
}

export const I_ADDR: Endpoint = { address: "192.0.2.1", port: 500 };
export const R_ADDR: Endpoint = { address: "192.0.2.2", port: 500 };

export function baseCfg(side: Side, over: Partial<IkeSaConfig> = {}): IkeSaConfig {
  return {
    local: side === "i" ? { ...I_ADDR } : { ...R_ADDR },
    remote: side === "i" ? { ...R_ADDR } : { ...I_ADDR },
    localId: side === "i" ? "vf1@example.org" : "vf2@example.org",
    remoteId: side === "i" ? "vf2@example.org" : "vf1@example.org",
    psk: "vpnkit-test-psk-0123456789abcdef",
    localTs: side === "i" ? ["198.51.100.0/24"] : ["203.0.113.0/24"],
    remoteTs: side === "i" ? ["203.0.113.0/24"] : ["198.51.100.0/24"],
    keylog: true,
    ...over,
  };
}

interface Wire { from: Side; data: Uint8Array; to: Endpoint; natt: boolean }

export class Loop {
  i!: IkeSa;
  r: IkeSa;
  now = 1_000_000;
  acts: Record<Side, Action[]> = { i: [], r: [] };
  wire: Wire[] = [];
  /** Every datagram delivered, for inspection. */
  sent: Wire[] = [];
  /** Drop predicate: return true to lose a datagram. */
  drop: (w: Wire, n: number) => boolean = () => false;
  /** Where the responder sees the initiator's packets come from (simulate a NAT). */
  iSeenAs: ((w: Wire) => Endpoint) | null = null;
  private keys = new Map<string, { ei: SkParams; er: SkParams }>();

  /** Responders made so far (a refused IKE_SA_INIT closes one; the retry gets a new one, as a driver does). */
  responders = 1;
  private rRng: (n: number) => Uint8Array;

  constructor(readonly icfg: IkeSaConfig, readonly rcfg: IkeSaConfig, seed = 1) {
    this.rRng = seededRng(seed * 7 + 3);
    this.r = IkeSa.responder(rcfg, this.now, this.rRng);
    const { sa, actions } = IkeSa.initiator(icfg, this.now, seededRng(seed));
    this.i = sa;
    this.take("i", actions);
  }

  take(side: Side, actions: Action[]): void {
    for (const a of actions) {
      this.acts[side].push(a);
      if (a.type === "send") this.wire.push({ from: side, data: a.data, to: a.to, natt: a.natt });
      if (a.type === "keylog") {
        const e = a.encr, g = a.integ;
        this.keys.set(Buffer.from(a.ispi).toString("hex"), {
          ei: { encr: e, integ: g, encKey: a.skei, integKey: g === "none" ? undefined : a.skai },
          er: { encr: e, integ: g, encKey: a.sker, integKey: g === "none" ? undefined : a.skar },
        });
      }
    }
  }

  /** Deliver queued datagrams until quiet (bounded). */
  run(max = 50): void {
    let n = 0;
    while (this.wire.length && n < max) {
      n++;
      const w = this.wire.shift()!;
      if (this.drop(w, this.sent.length)) continue;
      this.sent.push(w);
      checkMessage(w.data, this.keys);
      if (w.from === "i") {
        const from = this.iSeenAs ? this.iSeenAs(w) : { address: I_ADDR.address, port: w.natt ? 4500 : 500 };
        if (this.r.state === "dead" && w.data.length > 19 && w.data[18] === 34 && (w.data[19] & 0x28) === 0x08) {
          this.r = IkeSa.responder(this.rcfg, this.now, this.rRng);
          this.responders++;
        }
        this.take("r", this.r.receive(w.data, from, this.now));
      } else {
        this.take("i", this.i.receive(w.data, { address: R_ADDR.address, port: w.natt ? 4500 : 500 }, this.now));
      }
    }
    if (max >= 50) expect(n).toBeLessThan(max);
  }

  tick(ms: number): void {
    this.now += ms;
    this.take("i", this.i.tick(this.now));
    this.take("r", this.r.tick(this.now));
  }

  of<T extends Action["type"]>(side: Side, type: T): Extract<Action, { type: T }>[] {
    return this.acts[side].filter((a) => a.type === type) as Extract<Action, { type: T }>[];
  }

  clear(): void {
    this.acts = { i: [], r: [] };
  }
}

/** The message decodes without anomalies, and so does its decrypted content (keys from keylog actions). */
export function checkMessage(data: Uint8Array, keys: Map<string, { ei: SkParams; er: SkParams }>): Ikev2Message {
  const an: Anomaly[] = [];
  const m = decodeIkev2(data, 0, data.length, an)!;
  expect(m).not.toBeNull();
  // RFC 7296 §3.3.1: an accepted proposal keeps the number it had in the request, so a
  // response SA payload may legitimately start at #2; the decoder flags that for every SA.
  const rest = m.flags.response ? an.filter((a) => !/^first proposal number is \d+, must be 1$/.test(a.reason)) : an;
  expect(rest).toEqual([]);
  const sk = m.payloads.find((p) => p.kind === "sk");
  if (sk) {
    const k = keys.get(Buffer.from(m.ispi).toString("hex"));
    if (k) {
      const r = skOpen(m.flags.initiator ? k.ei : k.er, data, sk.offset, sk.offset + sk.length);
      if (r.ok) {
        const inner: Anomaly[] = [];
        decodeIkev2Payloads(r.plaintext!, 0, r.plaintext!.length, sk.nextPayload, inner, "ikev2.sk");
        expect(m.flags.response ? inner.filter((a) => !/^first proposal number is \d+, must be 1$/.test(a.reason)) : inner).toEqual([]);
      }
    }
  }
  return m;
}
