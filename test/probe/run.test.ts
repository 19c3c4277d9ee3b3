/**
 * The probe driver (lib/probe/run.ts) end to end without a network: an in-memory transport
 * that models a DF path (a narrower link, ICMP or black hole, the kernel's PMTU cache) in
 * front of a real MtuResponder.
 */
import { describe, expect, test } from "bun:test";
import { MtuResponder } from "../../lib/probe/responder.ts";
import { type ProbeTransport, runMtuProbe, type TransportEvent } from "../../lib/probe/run.ts";
import { ipUdpOverhead } from "../../lib/probe/wire.ts";

const SECRET = new TextEncoder().encode("shared secret for the run tests");

interface FakePath {
  family: 4 | 6;
  /** Narrowest link. */
  mtu: number;
  icmp: boolean;
  /** Local interface MTU (the kernel's PMTU to start with). */
  local?: number;
  responderSecret?: Uint8Array;
  /** Nobody listens: every probe draws ICMP port unreachable. */
  closedPort?: boolean;
  /** Mangle acks on the way back. */
  mangleAcks?: boolean;
}

class FakeTransport implements ProbeTransport {
  readonly family: 4 | 6;
  private kernel: number;
  private readonly q: TransportEvent[] = [];
  private readonly responder: MtuResponder;
  sent = 0;
  constructor(private readonly p: FakePath) {
    this.family = p.family;
    this.kernel = p.local ?? 1500;
    this.responder = new MtuResponder({ secret: p.responderSecret ?? SECRET });
  }
  pathMtu(): number {
    return this.kernel;
  }
  send(buf: Uint8Array): "sent" | "too-big" {
    const size = buf.length + ipUdpOverhead(this.family);
    if (size > this.kernel) return "too-big";
    this.sent++;
    if (this.p.closedPort) {
      this.q.push({ kind: "error", code: "ECONNREFUSED", message: "Connection refused", origin: "icmp" });
      return "sent";
    }
    if (size > this.p.mtu) {
      if (this.p.icmp) {
        this.kernel = this.p.mtu;
        this.q.push({ kind: "too-big", mtu: this.p.mtu, origin: "icmp", quoted: buf.slice(0, 548) });
      }
      return "sent";
    }
    const ack = this.responder.handle(buf, this.family === 6 ? "2001:db8::1" : "192.0.2.1", Date.now());
    if (ack) {
      if (this.p.mangleAcks) ack[20] ^= 1;
      this.q.push({ kind: "data", data: ack });
    }
    return "sent";
  }
  receive(): TransportEvent | null {
    return this.q.shift() ?? null;
  }
  close(): void {}
}

describe("runMtuProbe over an in-memory DF path", () => {
  for (const family of [4, 6] as const) {
    for (const icmp of [true, false]) {
      test(`IPv${family}, ${icmp ? "ICMP too-big" : "black hole"}: exactly 1380, report for every cipher/encapsulation`, async () => {
        const t = new FakeTransport({ family, mtu: 1380, icmp });
        const r = await runMtuProbe(t, { secret: SECRET });
        expect(r).toMatchObject({ ok: true, pathMtu: 1380, family, min: family === 6 ? 1280 : 576, max: 1500 });
        expect(r.bound).toBe(icmp ? "local" : "timeout");
        if (icmp) expect(r.icmpErrors).toBeGreaterThan(0);
        expect(r.report!.rows.filter((x) => x.measured).length).toBe(6);
        const udp = r.report!.rows.find((x) => x.measured && x.encap === "udp" && x.cipher === "aes256gcm16")!;
        expect(udp.innerMtu).toBe(family === 4 ? 1318 : 1298);
        expect(r.report!.clamp.udp).toEqual({ innerMtu: udp.innerMtu, mssIpv4: udp.innerMtu - 40, mssIpv6: udp.innerMtu - 60 });
      });
    }
  }

  test("the path is as wide as the local link: one round", async () => {
    const r = await runMtuProbe(new FakeTransport({ family: 4, mtu: 9000, icmp: true, local: 1500 }), { secret: SECRET });
    expect(r).toMatchObject({ ok: true, pathMtu: 1500, bound: "max", rounds: 1 });
  });

  test("wrong secret: no authenticated answer, fails with a reason", async () => {
    const t = new FakeTransport({ family: 4, mtu: 1500, icmp: true, responderSecret: new TextEncoder().encode("another secret entirely!!") });
    const r = await runMtuProbe(t, { secret: SECRET, initialRtoMs: 20 });
    expect(r.ok).toBe(false);
    expect(r.pathMtu).toBeNull();
    expect(r.error).toContain("no authenticated answer");
  });

  test("tampered acks are not believed", async () => {
    const r = await runMtuProbe(new FakeTransport({ family: 4, mtu: 1500, icmp: true, mangleAcks: true }), { secret: SECRET, initialRtoMs: 20 });
    expect(r.ok).toBe(false);
    expect(r.acks).toBe(0);
  });

  test("ICMP port unreachable: stops at once, says no responder is listening", async () => {
    const t = new FakeTransport({ family: 6, mtu: 1500, icmp: true, closedPort: true });
    const r = await runMtuProbe(t, { secret: SECRET });
    expect(r.ok).toBe(false);
    expect(r.error).toContain("no responder is listening");
    expect(r.rounds).toBe(1);
  });

  test("abort signal ends the run", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runMtuProbe(new FakeTransport({ family: 4, mtu: 1380, icmp: false }), { secret: SECRET, signal: ac.signal });
    expect(r.ok).toBe(false);
    expect(r.error).toBe("interrupted");
  });
});
