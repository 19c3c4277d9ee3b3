/**
 * The IKE gate's kernel steering program (lib/ike/v2/sa/gate-steer.ts), run in the test cBPF
 * interpreter (test/capture/cbpf-interp.ts, which, like the kernel, returns 0 for a load past
 * the end): real strongSwan messages (fixtures/strongswan b_ikev2_psk_cbc_sha256; charon floats
 * to 4500 after IKE_SA_INIT, so its later messages are taken without the marker), a whole vpnkit exchange through the gate and
 * the manager (cookie-less IKE_SA_INIT → bulk, its COOKIE retry and every later message →
 * priority), the flooder's requests, and random datagrams (fast-check): the program and the
 * TypeScript decision (steerClass) agree everywhere, and nothing is lost (0 or 1 only).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { gateSteerProgram, STEER_BULK, STEER_PRIORITY, steerClass } from "../../../../lib/ike/v2/sa/gate-steer.ts";
import { CookieGate, GATE_COOKIE, GATE_FORWARD, SharedCookieJar } from "../../../../lib/ike/v2/sa/cookie-gate.ts";
import { type Action, IkeSa } from "../../../../lib/ike/v2/sa/ike-sa.ts";
import { IkeSaManager } from "../../../../lib/ike/v2/sa/manager.ts";
import { parseIp } from "../../../../lib/net/cidr.ts";
import { runBpf } from "../../../capture/cbpf-interp.ts";
import { baseCfg, I_ADDR, R_ADDR, seededRng } from "./harness.ts";

const PROG = gateSteerProgram();
const steer = (payload: Uint8Array) => runBpf(PROG, payload);

/** IKE messages on UDP 500 and 4500 (without the marker) of a little-endian pcapng file with Ethernet frames (enhanced packet blocks). */
function udp500(file: string): { payload: Uint8Array; toPort: number }[] {
  const b = new Uint8Array(readFileSync(file));
  const dv = new DataView(b.buffer, b.byteOffset);
  const out: { payload: Uint8Array; toPort: number }[] = [];
  for (let o = 0; o + 12 <= b.length;) {
    const type = dv.getUint32(o, true), blen = dv.getUint32(o + 4, true);
    if (blen < 12) break;
    if (type === 6) {
      const cap = dv.getUint32(o + 20, true);
      const p = b.subarray(o + 28, o + 28 + cap);
      if (p.length >= 14 + 20 + 8 && ((p[12] << 8) | p[13]) === 0x0800 && p[14 + 9] === 17) {
        const u = 14 + (p[14] & 15) * 4;
        const sport = (p[u] << 8) | p[u + 1], dport = (p[u + 2] << 8) | p[u + 3];
        const payload = p.subarray(u + 8, u + ((p[u + 4] << 8) | p[u + 5]));
        if (sport === 500 || dport === 500) out.push({ payload, toPort: dport });
        // charon floats to 4500 after IKE_SA_INIT: its later messages, without the non-ESP marker, as they would come on 500
        else if ((sport === 4500 || dport === 4500) && payload.length > 4 && !(payload[0] | payload[1] | payload[2] | payload[3])) out.push({ payload: payload.subarray(4), toPort: dport });
      }
    }
    o += blen;
  }
  return out;
}

describe("IKE gate steering (SO_ATTACH_REUSEPORT_CBPF program)", () => {
  test("real strongSwan messages: the first IKE_SA_INIT to bulk, its response, IKE_AUTH and INFORMATIONAL to priority", () => {
    const msgs = udp500(join(import.meta.dir, "../../../../fixtures/strongswan/b_ikev2_psk_cbc_sha256/b_ikev2_psk_cbc_sha256.pcapng"));
    // IKE_SA_INIT request and response, IKE_AUTH request and response, INFORMATIONAL request and response
    expect(msgs.map((m) => m.payload[18])).toEqual([34, 34, 35, 35, 37, 37]);
    expect(msgs.map((m) => steer(m.payload))).toEqual([STEER_BULK, STEER_PRIORITY, STEER_PRIORITY, STEER_PRIORITY, STEER_PRIORITY, STEER_PRIORITY]);
    for (const m of msgs) expect(steerClass(m.payload, 0, m.payload.length)).toBe(steer(m.payload));
  });

  test("a vpnkit initiator through gate and manager: cookie-less IKE_SA_INIT to bulk; its COOKIE retry, IKE_AUTH and the rest to priority", () => {
    const sab = SharedCookieJar.create(0, seededRng(9));
    const gate = new CookieGate(new SharedCookieJar(sab, 60_000, true));
    const rsent: Uint8Array[] = [], isent: Uint8Array[] = [];
    const r = new IkeSaManager({
      now: 0, limits: { cookieThreshold: 0, initRate: 0 }, rng: seededRng(4), cookies: new SharedCookieJar(sab, 60_000, false),
      responder: (from) => baseCfg("r", { remote: { ...from }, remoteId: undefined, keylog: false }),
      onActions: (_e, acts: Action[]) => acts.forEach((a) => a.type === "send" && rsent.push(a.data)),
    });
    const i = new IkeSaManager({ now: 0, rng: seededRng(8), onActions: (_e, acts) => acts.forEach((a) => a.type === "send" && isent.push(a.data)) });
    const { sa, actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(12));
    i.add(sa, actions, "ike", 0);
    const a = parseIp(I_ADDR.address)!.addr;
    const first = isent.shift()!;
    expect(steer(first)).toBe(STEER_BULK);
    expect(gate.check(first, 0, first.length, a, 0, 4, true, 1)).toBe(GATE_COOKIE);
    // the COOKIE answer is a response: priority (an initiator on this port gets it first)
    expect(steer(gate.reply)).toBe(STEER_PRIORITY);
    i.receive(gate.reply.slice(), R_ADDR, "ike", 2);
    const retry = isent.shift()!;
    expect(retry[16]).toBe(41); // N(COOKIE) first (RFC 7296 §2.6)
    expect(steer(retry)).toBe(STEER_PRIORITY);
    expect(gate.check(retry, 0, retry.length, a, 0, 4, true, 3)).toBe(GATE_FORWARD);
    r.receive(retry, I_ADDR, "ike", 3);
    const later: Uint8Array[] = [];
    for (let n = 0; n < 10 && (rsent.length || isent.length); n++) {
      while (rsent.length) {
        const m = rsent.shift()!;
        later.push(m);
        i.receive(m, R_ADDR, "ike", 4);
      }
      while (isent.length) {
        const m = isent.shift()!;
        later.push(m);
        r.receive(m, I_ADDR, "ike", 4);
      }
    }
    expect(sa.state).toBe("established");
    expect(later.length).toBeGreaterThanOrEqual(3); // INIT response, IKE_AUTH request and response
    for (const m of later) expect(steer(m)).toBe(STEER_PRIORITY);
  });

  test("an initial IKE_SA_INIT (SA first, as the flooder sends) and one with another Notify first go to bulk", () => {
    const { actions } = IkeSa.initiator(baseCfg("i", { keylog: false }), 0, seededRng(3));
    const s = actions.find((x) => x.type === "send");
    if (!s || s.type !== "send") throw new Error("no IKE_SA_INIT");
    const req = s.data;
    expect(req[16]).toBe(33); // SA first
    expect(steer(req)).toBe(STEER_BULK);
    // a first Notify of another type (e.g. a flood with N(NAT_DETECTION_SOURCE_IP) first)
    const other = new Uint8Array(80);
    other.set([0x20, 34, 0x08], 17);
    other[16] = 41;
    other[34] = 0x40;
    other[35] = 0x04;
    expect(steer(other)).toBe(STEER_BULK);
    other[35] = 0x06; // 16390 COOKIE
    expect(steer(other)).toBe(STEER_PRIORITY);
  });

  test("short and non-IKEv2 datagrams go to bulk (a load past the end returns 0 = bulk)", () => {
    for (let n = 0; n < 40; n++) {
      const d = new Uint8Array(n);
      d.set([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 0x20, 35, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x06].slice(0, n));
      expect(steer(d)).toBe(steerClass(d, 0, n));
      if (n < 18) expect(steer(d)).toBe(STEER_BULK);
    }
    const v1 = new Uint8Array(100);
    v1[17] = 0x10; // IKEv1
    v1[18] = 2;
    expect(steer(v1)).toBe(STEER_BULK);
  });

  test("the program and steerClass agree on random datagrams (fast-check), and the program returns only 0 or 1", () => {
    const ike = fc.record({
      len: fc.integer({ min: 0, max: 120 }),
      np: fc.constantFrom(0, 33, 41, 40, 46, 255),
      ver: fc.constantFrom(0x20, 0x21, 0x10, 0x30, 0x2f, 0),
      ex: fc.constantFrom(34, 35, 36, 37, 43, 0, 255),
      flags: fc.integer({ min: 0, max: 255 }),
      notify: fc.constantFrom(16390, 16388, 16389, 0, 0x4006 ^ 0x100),
      rest: fc.uint8Array({ minLength: 120, maxLength: 120 }),
    });
    fc.assert(fc.property(ike, (x) => {
      const d = x.rest.slice(0, x.len);
      const put = (i: number, v: number) => i < d.length && (d[i] = v);
      put(16, x.np);
      put(17, x.ver);
      put(18, x.ex);
      put(19, x.flags);
      put(34, x.notify >> 8);
      put(35, x.notify & 255);
      const k = steer(d);
      return (k === STEER_BULK || k === STEER_PRIORITY) && k === steerClass(d, 0, d.length);
    }), { numRuns: 5000 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (d) => steer(d) === steerClass(d, 0, d.length)), { numRuns: 2000 });
  });
});
