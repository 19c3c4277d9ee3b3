/**
 * IKE SA manager (lib/ike/v2/sa/manager.ts): lookup by SPIs, admission under floods
 * (cookies, per-source cap, half-open cap, rate limit), no state for rejected
 * IKE_SA_INITs, INVALID_IKE_SPI both ways, unique IDs. In-memory clock, no I/O.
 */
import { describe, expect, test } from "bun:test";
import type { Anomaly } from "../../../../lib/core/anomaly.ts";
import { decodeIkev2 } from "../../../../lib/ike/v2/message.ts";
import { IkeSa, type Action, type Endpoint, type IkeSaConfig } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { CookieJar, TokenBucket } from "../../../../lib/ike/v2/sa/limits.ts";
import { IkeSaManager, type ManagedSa, type ManagerEvent, type Via } from "../../../../lib/ike/v2/sa/manager.ts";
import { baseCfg, I_ADDR, R_ADDR, seededRng } from "./harness.ts";

interface Sent { side: "i" | "r"; data: Uint8Array; to: Endpoint; natt: boolean }

/** Two managers on an in-memory wire: "i" at I_ADDR (initiator side), "r" at R_ADDR (responder). */
class Net {
  now = 1_000_000;
  wire: Sent[] = [];
  acts: { i: Action[]; r: Action[] } = { i: [], r: [] };
  events: { i: ManagerEvent[]; r: ManagerEvent[] } = { i: [], r: [] };
  i: IkeSaManager;
  r: IkeSaManager;
  constructor(rcfg: (from: Endpoint) => IkeSaConfig | null, limits: ConstructorParameters<typeof IkeSaManager>[0]["limits"] = {}, seed = 5) {
    this.i = this.make("i", undefined, {}, seed);
    this.r = this.make("r", rcfg, limits, seed + 1);
  }
  make(side: "i" | "r", rcfg: ((from: Endpoint) => IkeSaConfig | null) | undefined, limits: ConstructorParameters<typeof IkeSaManager>[0]["limits"], seed: number): IkeSaManager {
    return new IkeSaManager({
      now: this.now, limits, rng: seededRng(seed), responder: rcfg,
      onActions: (_e, actions) => {
        for (const a of actions) {
          this.acts[side].push(a);
          if (a.type === "send") this.wire.push({ side, data: a.data, to: a.to, natt: a.natt });
        }
      },
      onEvent: (e) => this.events[side].push(e),
    });
  }
  initiate(cfg: IkeSaConfig, seed = 11): ManagedSa {
    const { sa, actions } = IkeSa.initiator(cfg, this.now, seededRng(seed));
    return this.i.add(sa, actions, "ike", this.now);
  }
  /** Deliver until quiet; datagrams to neither side (flood answers) are counted and dropped. */
  run(max = 200): number {
    let lost = 0;
    for (let n = 0; this.wire.length && n < max; n++) {
      const w = this.wire.shift()!;
      const via: Via = w.natt ? "natt" : "ike";
      if (w.side === "i") this.r.receive(w.data, { address: I_ADDR.address, port: w.natt ? 4500 : 500 }, via, this.now);
      else if (w.to.address === I_ADDR.address) this.i.receive(w.data, { address: R_ADDR.address, port: w.natt ? 4500 : 500 }, via, this.now);
      else lost++;
    }
    return lost;
  }
  tick(ms: number): void {
    this.now += ms;
    this.i.tick(this.now);
    this.r.tick(this.now);
  }
}

const rcfg = (over: Partial<IkeSaConfig> = {}) => (from: Endpoint): IkeSaConfig => baseCfg("r", { remote: { ...from }, remoteId: undefined, keylog: false, ...over });

/** An IKE_SA_INIT request as an initiator with `over` would send it. */
function initRequest(over: Partial<IkeSaConfig> = {}, seed = 3): Uint8Array {
  const { actions } = IkeSa.initiator(baseCfg("i", { keylog: false, ...over }), 0, seededRng(seed));
  const s = actions.find((a) => a.type === "send");
  if (!s || s.type !== "send") throw new Error("no IKE_SA_INIT");
  return s.data;
}

function withSpi(msg: Uint8Array, n: number): Uint8Array {
  const d = msg.slice();
  new DataView(d.buffer).setUint32(0, n);
  new DataView(d.buffer).setUint32(4, 0x5eed0000 ^ n);
  return d;
}

function addr(n: number): string {
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

function notifyOf(data: Uint8Array): string | null {
  const an: Anomaly[] = [];
  const m = decodeIkev2(data, 0, data.length, an);
  const n = m?.payloads.find((p) => p.kind === "notify");
  return n && n.kind === "notify" ? n.notifyName : null;
}

describe("IkeSaManager", () => {
  test("a responder manager serves an initiator: established, found by SPIs, one SA", () => {
    const net = new Net(rcfg());
    const e = net.initiate(baseCfg("i", { keylog: false }));
    net.run();
    expect(e.sa.state).toBe("established");
    expect(net.r.size).toBe(1);
    expect(net.r.halfOpen).toBe(0);
    const [re] = net.r.list();
    expect(re.sa.state).toBe("established");
    expect(re.remoteId).toBe("vf1@example.org");
    expect(net.r.stats()).toEqual({ sas: 1, bySpi: 1, byInit: 0, byIdentity: 1, perSource: 0, halfOpen: 0 });
    expect(net.acts.r.filter((a) => a.type === "install-child").length).toBe(1);
    // an INFORMATIONAL (DPD) goes both ways through the SPI index
    net.i.call(e, (sa) => sa.dpd(net.now), net.now);
    net.run();
    expect(net.r.drops).toEqual({});
    expect(net.i.drops).toEqual({});
  });

  test("an IKE SA rekey re-indexes both managers under the new SPIs", () => {
    const net = new Net(rcfg());
    const e = net.initiate(baseCfg("i", { keylog: false }));
    net.run();
    const old = Buffer.from(e.sa.spii).toString("hex");
    net.i.call(e, (sa) => sa.rekeyIke(net.now), net.now);
    net.run();
    expect(net.acts.i.some((a) => a.type === "ike-rekeyed")).toBe(true);
    expect(Buffer.from(e.sa.spii).toString("hex")).not.toBe(old);
    expect(net.i.stats()).toMatchObject({ sas: 1, bySpi: 1 });
    expect(net.r.stats()).toMatchObject({ sas: 1, bySpi: 1 });
    net.acts.i = [];
    net.i.call(e, (sa) => sa.dpd(net.now), net.now);
    net.run();
    expect(net.r.drops).toEqual({});
    expect(net.i.drops).toEqual({});
    expect(net.acts.i.some((a) => a.type === "log" && a.msg.includes("liveness check answered"))).toBe(true);
    // now the responder rekeys (it becomes the new SA's initiator)
    const [re] = net.r.list();
    net.r.call(re, (sa) => sa.rekeyIke(net.now), net.now);
    net.run();
    expect(re.sa.initiator).toBe(true);
    expect(net.r.stats()).toMatchObject({ sas: 1, bySpi: 1 });
    net.acts.r = [];
    net.r.call(re, (sa) => sa.dpd(net.now), net.now);
    net.i.call(e, (sa) => sa.dpd(net.now), net.now);
    net.run();
    expect(net.r.drops).toEqual({});
    expect(net.i.drops).toEqual({});
    expect(net.acts.r.some((a) => a.type === "log" && a.msg.includes("liveness check answered"))).toBe(true);
  });

  test("a retransmitted IKE_SA_INIT reaches the half-open SA that answered it (same answer, no new state)", () => {
    const net = new Net(rcfg());
    const req = initRequest();
    net.r.receive(req, I_ADDR, "ike", net.now);
    net.r.receive(req, I_ADDR, "ike", net.now);
    expect(net.r.size).toBe(1);
    expect(net.r.counters.initRetransmits).toBe(1);
    expect(net.wire.length).toBe(2);
    expect(Buffer.from(net.wire[0].data).equals(Buffer.from(net.wire[1].data))).toBe(true);
  });

  test("50,000 rejected IKE_SA_INITs (bad KE group, bad message ID, no proposal) leave no state", () => {
    const net = new Net(rcfg({ ikeProposals: ["aes256gcm16-prfsha256-ecp256", "aes128gcm16-prfsha256-x25519"] }), { initRate: 0, blockThreshold: 1 << 20, cookieThreshold: 1 << 20 });
    const badKe = initRequest({ ikeProposals: ["aes256gcm16-prfsha256-x25519", "aes256gcm16-prfsha256-ecp256"] });
    const badMid = initRequest();
    new DataView(badMid.buffer).setUint32(20, 1);
    const noProp = initRequest({ ikeProposals: ["aes128-sha256-modp2048"] });
    const kinds = [badKe, badMid, noProp];
    let replies = 0;
    for (let n = 0; n < 50_000; n++) {
      net.now += 1;
      net.r.receive(withSpi(kinds[n % 3], n + 1), { address: addr(n), port: 500 }, "ike", net.now);
      replies += net.wire.length;
      net.wire.length = 0;
    }
    expect(net.r.stats()).toEqual({ sas: 0, bySpi: 0, byInit: 0, byIdentity: 0, perSource: 0, halfOpen: 0 });
    expect(net.r.drops["init-rejected-INVALID_KE_PAYLOAD"]).toBe(16_667);
    expect(net.r.drops["init-bad-message-id"]).toBe(16_667);
    expect(net.r.drops["init-rejected-NO_PROPOSAL_CHOSEN"]).toBe(16_666);
    expect(replies).toBe(16_667 + 16_666);
    // nothing left to time out: a tick much later sends and logs nothing
    net.acts.r = [];
    net.tick(3_600_000);
    expect(net.acts.r).toEqual([]);
  }, 120_000);

  test("a spoofed flood gets COOKIEs, state stays bounded, a real initiator returning the cookie gets through", () => {
    const L = { cookieThreshold: 10, blockThreshold: 5, halfOpenMax: 1000, initRate: 50, initBurst: 50 };
    const net = new Net(rcfg(), L);
    const flood = initRequest({}, 99);
    let maxSas = 0, cookies = 0;
    let legit: ManagedSa | null = null;
    for (let n = 0; n < 20_000; n++) {
      net.now += 1; // 20 s of flood at 1000 IKE_SA_INITs per second
      net.r.receive(withSpi(flood, n + 1), { address: addr(n), port: 500 }, "ike", net.now);
      if (n === 5_000) legit = net.initiate(baseCfg("i", { keylog: false }), 77);
      // the spoofed sources never answer; the real initiator's datagrams go round
      cookies += net.run(50);
      if (n % 1000 === 0) net.r.tick(net.now);
      maxSas = Math.max(maxSas, net.r.size);
    }
    expect(legit!.sa.state).toBe("established");
    expect(net.acts.i.some((a) => a.type === "log" && a.msg.includes("demands a COOKIE"))).toBe(true);
    expect(net.r.list().some((e) => e.sa.state === "established" && e.remoteId === "vf1@example.org")).toBe(true);
    expect(maxSas).toBeLessThanOrEqual(L.cookieThreshold + 1);
    expect(net.r.counters.cookiesSent).toBeGreaterThan(19_000);
    expect(cookies).toBeGreaterThan(19_000);
    // half-open SAs of the flood time out and leave
    for (let k = 0; k < 70; k++) net.tick(1000);
    expect(net.r.halfOpen).toBe(0);
    expect(net.r.size).toBe(1);
  }, 120_000);

  test("per-source cap (block threshold) and the rate limit are enforced and counted", () => {
    const net = new Net(rcfg(), { cookieThreshold: 1000, blockThreshold: 5, initRate: 10, initBurst: 10 });
    const req = initRequest();
    for (let n = 0; n < 20; n++) net.r.receive(withSpi(req, n + 1), { address: "198.51.100.7", port: 500 }, "ike", net.now);
    expect(net.r.halfOpen).toBe(5);
    expect(net.r.drops["init-block"]).toBe(15);
    for (let n = 0; n < 100; n++) net.r.receive(withSpi(req, 1000 + n), { address: addr(n), port: 500 }, "ike", net.now);
    // the bucket started with 10 tokens; 5 went to the first source
    expect(net.r.halfOpen).toBe(10);
    expect(net.r.drops["init-rate"]).toBe(95);
    net.now += 1000; // one second later: 10 more
    for (let n = 0; n < 100; n++) net.r.receive(withSpi(req, 5000 + n), { address: addr(1000 + n), port: 500 }, "ike", net.now);
    expect(net.r.halfOpen).toBe(20);
    expect(net.r.drops["init-rate"]).toBe(185);
  });

  test("half-open total cap", () => {
    const net = new Net(rcfg(), { cookieThreshold: 1000, halfOpenMax: 7, initRate: 0 });
    const req = initRequest();
    for (let n = 0; n < 30; n++) net.r.receive(withSpi(req, n + 1), { address: addr(n), port: 500 }, "ike", net.now);
    expect(net.r.halfOpen).toBe(7);
    expect(net.r.drops["init-half-open-max"]).toBe(23);
  });

  test("unknown SPI: a request gets INVALID_IKE_SPI (SPIs, exchange, message ID copied; rate-limited), a response nothing", () => {
    const net = new Net(rcfg(), { invalidSpiRate: 3 });
    const req = new Uint8Array(28);
    req.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 0);
    req[16] = 0; req[17] = 0x20; req[18] = 37; req[19] = 0x08;
    new DataView(req.buffer).setUint32(20, 7);
    new DataView(req.buffer).setUint32(24, 28);
    for (let k = 0; k < 10; k++) net.r.receive(req, I_ADDR, "natt", net.now);
    expect(net.wire.length).toBe(3);
    const m = decodeIkev2(net.wire[0].data, 0, net.wire[0].data.length, [])!;
    expect([...m.ispi, ...m.rspi]).toEqual([...req.subarray(0, 16)]);
    expect(m.exchange).toBe(37);
    expect(m.messageId).toBe(7);
    expect(m.flags.response).toBe(true);
    expect(m.flags.initiator).toBe(false);
    expect(notifyOf(net.wire[0].data)).toBe("INVALID_IKE_SPI");
    expect(net.wire[0].natt).toBe(true);
    expect(net.r.drops["unknown-spi"]).toBe(10);
    expect(net.r.drops["invalid-spi-rate"]).toBe(7);
    const resp = req.slice();
    resp[19] = 0x20;
    net.wire.length = 0;
    net.now += 10_000;
    net.r.receive(resp, I_ADDR, "ike", net.now);
    expect(net.wire.length).toBe(0);
    expect(net.r.drops["unknown-spi-response"]).toBe(1);
  });

  test("a restarted peer answers DPD with INVALID_IKE_SPI: the initiator's manager reports it", () => {
    const net = new Net(rcfg());
    const e = net.initiate(baseCfg("i", { keylog: false }));
    net.run();
    expect(e.sa.state).toBe("established");
    net.r = net.make("r", rcfg(), {}, 42); // the responder restarts: no SAs
    net.i.call(e, (sa) => sa.dpd(net.now), net.now);
    net.run();
    expect(net.r.drops["unknown-spi"]).toBe(1);
    expect(net.events.i.some((x) => x.type === "invalid-ike-spi" && x.entry === e)).toBe(true);
  });

  test("unique IDs: a new IKE SA of the same identity replaces the old one (Child SAs removed at once)", () => {
    const net = new Net(rcfg());
    net.initiate(baseCfg("i", { keylog: false }), 21);
    net.run();
    const [first] = net.r.list();
    const firstChild = first.sa.childSas[0].spiIn;
    net.acts.r = [];
    net.initiate(baseCfg("i", { keylog: false }), 22);
    net.run();
    expect(first.replaced).toBe(true);
    expect(net.acts.r.some((a) => a.type === "remove-child" && a.spiIn === firstChild)).toBe(true);
    expect(net.r.counters.replaced).toBe(1);
    expect(net.r.list().filter((e) => e.sa.state === "established").length).toBe(1);
  });

  test("unique IDs \"no\": the same identity from another address keeps both; \"replace\" replaces; \"never\" keeps", () => {
    for (const [mode, replaced] of [["no", 0], ["replace", 1], ["never", 0]] as const) {
      const net = new Net(rcfg(), { uniqueIds: mode });
      net.i = net.make("i", undefined, { uniqueIds: "never" }, 5); // the initiators' side keeps both
      net.initiate(baseCfg("i", { keylog: false }), 31);
      // the first SA's datagrams came from I_ADDR; deliver the second one's from another address
      net.run();
      const { sa, actions } = IkeSa.initiator(baseCfg("i", { keylog: false, local: { address: "192.0.2.77", port: 500 } }), net.now, seededRng(32));
      const other = net.i.add(sa, actions, "ike", net.now);
      for (let n = 0; n < 50 && net.wire.length; n++) {
        const w = net.wire.shift()!;
        const via: Via = w.natt ? "natt" : "ike";
        if (w.side === "i") net.r.receive(w.data, { address: "192.0.2.77", port: w.natt ? 4500 : 500 }, via, net.now);
        else net.i.receive(w.data, { address: R_ADDR.address, port: w.natt ? 4500 : 500 }, via, net.now);
      }
      expect(other.sa.state).toBe("established");
      expect(net.r.counters.replaced, mode).toBe(replaced);
      expect(net.r.list().filter((e) => e.sa.state === "established").length, mode).toBe(2 - replaced);
    }
  });

  test("half-open SAs time out and leave every index", () => {
    const net = new Net(rcfg(), { halfOpenTimeoutMs: 5000 });
    const req = initRequest();
    for (let n = 0; n < 4; n++) net.r.receive(withSpi(req, n + 1), { address: addr(n), port: 500 }, "ike", net.now);
    expect(net.r.halfOpen).toBe(4);
    net.tick(6000);
    expect(net.r.stats()).toEqual({ sas: 0, bySpi: 0, byInit: 0, byIdentity: 0, perSource: 0, halfOpen: 0 });
  });
});

describe("limits", () => {
  test("token bucket", () => {
    const b = new TokenBucket(2, 4);
    let ok = 0;
    for (let k = 0; k < 10; k++) if (b.take(0)) ok++;
    expect(ok).toBe(4);
    expect(b.take(499)).toBe(false);
    expect(b.take(500)).toBe(true);
  });

  test("cookie secret rotates; the previous one is still accepted, the one before not", () => {
    const jar = new CookieJar(seededRng(1), 1000, 0);
    const ni = new Uint8Array(32).fill(1), spi = new Uint8Array(8).fill(2);
    const c = jar.cookie(ni, "192.0.2.1", spi, 0);
    expect(jar.check(c, ni, "192.0.2.1", spi, 10)).toBe(true);
    expect(jar.check(c, ni, "192.0.2.9", spi, 10)).toBe(false);
    expect(jar.check(c, ni, "192.0.2.1", spi, 1500)).toBe(true); // rotated once
    jar.cookie(ni, "192.0.2.1", spi, 2600); // rotated again
    expect(jar.check(c, ni, "192.0.2.1", spi, 2600)).toBe(false);
  });
});
