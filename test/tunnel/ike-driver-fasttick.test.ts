/**
 * The IKE driver's fast tick (lib/tunnel/ike-driver.ts `fastTick`): while an IKE_SA_INIT of ours
 * awaits its answer, the driver ticks every 100 ms, so the early retransmissions of
 * lib/ike/v2/sa/retransmit.ts (1 s, then 2 s) leave on time rather than at the next 500 ms tick.
 * In memory, on a fake clock that fires the driver's interval and timeouts in order: an
 * initiator gets a COOKIE answer 230 ms after its first request (from a real CookieGate), sends
 * its COOKIE retry, and nothing answers that. Its first retransmission is due 1 s later.
 */
import { describe, expect, test } from "bun:test";
import { CookieGate, GATE_COOKIE, SharedCookieJar } from "../../lib/ike/v2/sa/cookie-gate.ts";
import { parseIp } from "../../lib/net/cidr.ts";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";

const A = "192.0.2.1", B = "192.0.2.2";

interface Timer {
  at: number;
  fn: () => void;
  every: number;
  id: number;
}

/** Runs an initiator on a fake clock; returns the times (ms from the start) of its IKE_SA_INIT requests. */
function run(o: { injectTimeout: boolean }): { sends: { t: number; cookie: boolean }[]; pendingAfterStop: number } {
  let t = 0;
  let ids = 0;
  const timers: Timer[] = [];
  const add = (fn: () => void, ms: number, every: number) => {
    const x = { at: t + ms, fn, every, id: ++ids };
    timers.push(x);
    return x.id;
  };
  const clear = (h: unknown) => {
    const i = timers.findIndex((x) => x.id === h);
    if (i >= 0) timers.splice(i, 1);
  };
  const cfg = validateIkeConfig(mergeRawIke({ local: A, remote: B }, {
    psk: "fast-tick-psk-long-enough-01", local_ts: ["10.1.0.0/24"], remote_ts: ["10.2.0.0/24"],
    ike_proposal: ["aes128-sha256-ecp256"], esp_proposal: ["chacha20poly1305"],
  }), () => new Uint8Array(0));
  const gate = new CookieGate(new SharedCookieJar(SharedCookieJar.create(0), 60_000, true));
  const sends: { t: number; cookie: boolean }[] = [];
  let first: Uint8Array | null = null;
  const driver = new IkeDriver({
    cfg, db: new SaDatabase(), child: { name: "ike", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 }, log: () => {}, now: () => 1_000_000 + t, schedule: (fn) => fn(),
    setInterval: (fn, ms) => add(fn, ms, ms), clearInterval: clear,
    ...(o.injectTimeout ? { setTimeout: (fn: () => void, ms: number) => add(fn, ms, 0), clearTimeout: clear } : {}),
    send: () => {},
    sendIke: (b) => {
      if (b[18] !== 34 || (b[19] & 0x20)) return;
      const cookie = b[16] === 41;
      sends.push({ t, cookie });
      first ??= b.slice();
    },
  });
  driver.start();
  const answerAt = 230;
  let answered = false;
  while (t < 5000) {
    timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const next = timers[0];
    if (!answered && (!next || next.at > answerAt)) {
      t = answerAt;
      answered = true;
      const req = first!;
      expect(gate.check(req, 0, req.length, parseIp(A)!.addr, 0, 4, true, 0)).toBe(GATE_COOKIE);
      driver.onDatagram(gate.reply.slice(), B, 500, "ike");
      continue;
    }
    if (!next) break;
    t = next.at;
    if (next.every) next.at += next.every;
    else timers.shift();
    next.fn();
  }
  driver.stop(0);
  return { sends, pendingAfterStop: timers.length };
}

describe("IKE driver: fast tick while an IKE_SA_INIT awaits its answer", () => {
  test("the COOKIE retry (sent 230 ms in) is retransmitted ~1 s later at the next 100 ms tick, not at the next 500 ms one; the timers end with stop()", () => {
    const { sends, pendingAfterStop } = run({ injectTimeout: true });
    expect(sends[0]).toEqual({ t: 0, cookie: false });
    expect(sends[1]).toEqual({ t: 230, cookie: true });
    // due at 1230: the fast ticks run at 1300 at the latest (without them: 1500)
    expect(sends[2].cookie).toBe(true);
    expect(sends[2].t).toBeGreaterThanOrEqual(1230);
    expect(sends[2].t).toBeLessThanOrEqual(1330);
    // the second early retransmission, 2 s after the first
    expect(sends[3].t).toBeGreaterThanOrEqual(sends[2].t + 2000);
    expect(sends[3].t).toBeLessThanOrEqual(sends[2].t + 2100);
    expect(pendingAfterStop).toBe(0);
  });

  test("a caller that drives the ticks itself (interval injected, no timeout) gets no extra ticks: the retransmission waits for the 500 ms tick", () => {
    const { sends } = run({ injectTimeout: false });
    expect(sends[1]).toEqual({ t: 230, cookie: true });
    expect(sends[2].t).toBe(1500);
  });
});
