/**
 * The IKE driver's choice of ESP transport, in memory (no root): two IkeDrivers (initiator and
 * responder) with a plain IKE socket (500) and a NAT-T socket (4500) each, over real
 * TunnelEngines. Directly connected with a packet path that can do plain ESP (`rawEsp`): IKE
 * stays on 500, each Child SA's engine child gets endpoint port 0 (IP protocol 50), logs say
 * so, inner packets cross both ways, and `status(traffic)` shows encap "none" with per-Child-SA
 * bytes/packets/last-received from the engine's per-child counters. `ike.encap`, or a packet
 * path without raw ESP, gives ESP in UDP on 4500 instead. ESP for an unknown SPI (engine
 * `onUnknownSpi`) makes the responder send INVALID_SPI in the IKE SA (once per SPI per
 * interval) and the initiator log it.
 */
import { describe, expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { parseCidr } from "../../lib/net/cidr.ts";
import { LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { type DatagramSocket, RAW_ESP_PORT, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";
import { MemoryDevice } from "../../lib/tunnel/memory.ts";

const readFile = () => new Uint8Array(0);
const A = "192.0.2.1", B = "192.0.2.2";

function ipv4(src: string, dst: string, tag: number): Uint8Array {
  const p = new Uint8Array(60);
  p[0] = 0x45;
  p[3] = 60;
  p[8] = 64;
  p[9] = 17;
  p.set(parseCidr(src)!.addr, 12);
  p.set(parseCidr(dst)!.addr, 16);
  p[20] = tag;
  return p;
}

class Sock implements DatagramSocket {
  readonly sent: { buf: Uint8Array; addr: string; port: number }[] = [];
  cb: ((buf: Uint8Array, addr: string, port: number) => void) | null = null;
  send(buf: Uint8Array, addr: string, port: number): void {
    this.sent.push({ buf: buf.slice(), addr, port });
  }
  onMessage(cb: (buf: Uint8Array, addr: string, port: number) => void): void {
    this.cb = cb;
  }
}

interface Side {
  driver: IkeDriver;
  engine: TunnelEngine;
  sink: LocalChildSink;
  sock: Sock;
  dev: MemoryDevice;
  logs: string[];
  ikeOn: number[];
}

function setup(o: { rawEsp: boolean; encap?: boolean }) {
  const queue: (() => void)[] = [];
  const sides: Side[] = [];
  const mk = (me: string, peer: string, responder: boolean, now: () => number): Side => {
    const cfg = validateIkeConfig(mergeRawIke({ local: me, ...(responder ? {} : { remote: peer }) }, {
      psk: "raw-esp-psk-long-enough-01", responder: responder ? true : undefined, local_ts: [responder ? "10.2.0.0/24" : "10.1.0.0/24"], remote_ts: [responder ? "10.1.0.0/24" : "10.2.0.0/24"],
      ike_proposal: ["aes128-sha256-ecp256"], esp_proposal: ["chacha20poly1305"], encap: o.encap ? true : undefined,
    }), readFile);
    const dev = new MemoryDevice();
    const sock = new Sock();
    const db = new SaDatabase();
    const dflt: TunnelChild = { name: "ike", local: responder ? [] : [parseCidr("10.1.0.0/24")!], remote: responder ? [] : [parseCidr("10.2.0.0/24")!], outbound: null, inbound: [], mtu: 1400 };
    const logs: string[] = [];
    const ikeOn: number[] = [];
    let side: Side;
    const engine = new TunnelEngine({
      device: dev, socket: sock, remoteAddress: peer, remotePort: 4500, children: [dflt], icmpTooBig: () => null, keepaliveMs: 0, now,
      setInterval: () => 0, clearInterval: () => {},
      onIke: (b, addr, port) => side.driver.onDatagram(b, addr, port, "natt"),
      onUnknownSpi: (spi, addr, port) => side.driver.onUnknownSpi(spi, addr, port),
    });
    engine.start();
    const sink = new LocalChildSink(db, dflt, () => engine.reindex(), engine);
    const other = () => sides.find((s) => s !== side)!;
    const driver = new IkeDriver({
      cfg, sink, log: (_l, m) => logs.push(m), setInterval: () => 0, clearInterval: () => {}, now,
      rawEsp: o.rawEsp ? () => true : undefined,
      // NAT-T socket: the packet path's (marker prepended by the driver)
      send: (b) => queue.push(() => other().engine.fromNetwork(b.slice(), me, 4500)),
      sendIke: (b) => {
        ikeOn.push(500);
        queue.push(() => other().driver.onDatagram(b.slice(), me, 500, "ike"));
      },
    });
    side = { driver, engine, sink, sock, dev, logs, ikeOn };
    sides.push(side);
    return side;
  };
  let t = 1_000_000;
  const now = () => t;
  const r = mk(B, A, true, now);
  const i = mk(A, B, false, now);
  const settle = async () => {
    for (let k = 0; k < 5000 && queue.length; k++) {
      queue.shift()!();
      await Promise.resolve();
    }
  };
  /** Move ESP the engines sent to the other side (as the raw socket or UDP would deliver it). */
  const pump = () => {
    for (const [from, to, addr] of [[i, r, A], [r, i, B]] as const) {
      for (const d of from.sock.sent.splice(0)) to.engine.fromNetwork(d.buf, d.port === RAW_ESP_PORT ? "" : addr, d.port);
    }
  };
  return { i, r, settle, pump, advance: (ms: number) => (t += ms) };
}

describe("IKE driver: plain ESP (IP protocol 50) or ESP in UDP", () => {
  test("directly connected, raw ESP available: IKE on 500, Child SA endpoint port 0, traffic both ways, status encap none + per-child traffic", async () => {
    const { i, r, settle, pump, advance } = setup({ rawEsp: true });
    i.driver.start();
    r.driver.start();
    await settle();
    expect(i.logs.find((l) => l.startsWith("Child SA installed")), i.logs.join("\n")).toContain(`ESP (IP protocol 50) to ${B}`);
    expect(r.logs.find((l) => l.startsWith("Child SA installed"))).toContain(`ESP (IP protocol 50) to ${A}`);
    expect(i.logs.some((l) => /NAT detected|encapsulation forced/.test(l))).toBe(false);
    expect(i.ikeOn.length).toBeGreaterThanOrEqual(2); // IKE_SA_INIT and IKE_AUTH on the plain IKE socket
    // traffic: initiator → responder and back; ESP leaves to port 0 (the raw socket)
    i.engine.fromDevice(ipv4("10.1.0.5", "10.2.0.9", 1));
    i.engine.flush();
    expect(i.sock.sent.map((d) => [d.addr, d.port])).toEqual([[B, RAW_ESP_PORT]]);
    pump();
    expect(r.dev.written.length).toBe(1);
    advance(3000);
    r.engine.setClock(1_003_000);
    r.engine.fromDevice(ipv4("10.2.0.9", "10.1.0.5", 2));
    r.engine.flush();
    expect(r.sock.sent.map((d) => [d.addr, d.port])).toEqual([[A, RAW_ESP_PORT]]);
    pump();
    expect(i.dev.written.length).toBe(1);
    advance(2000);
    const st = r.driver.status(r.sink.children());
    const c = st.ikeSas[0].childSas[0];
    expect(st.ikeSas[0].natt).toBe(false);
    expect(st.ikeSas[0].local).toBe(`${B}:500`);
    expect(c.encap).toBe("none");
    expect(c.peer).toBe(A);
    expect(c.traffic).toEqual({ packetsIn: 1, bytesIn: 60, packetsOut: 1, bytesOut: 60, lastReceivedSec: 5 });
    expect(st.childSas[0].encap).toBe("none");
  });

  test("ESP for an unknown SPI: one INVALID_SPI in the IKE SA per SPI per interval; the initiator logs it; counted", async () => {
    const { i, r, settle } = setup({ rawEsp: true });
    i.driver.start();
    r.driver.start();
    await settle();
    const bogus = new Uint8Array(40);
    new DataView(bogus.buffer).setUint32(0, 0x0badf00d);
    for (let k = 0; k < 5; k++) r.engine.fromNetwork(bogus, A, 0);
    await settle();
    expect(r.engine.counters.drops.noSa).toBe(5);
    expect(r.driver.status().invalidSpi).toEqual({ reported: 5, sent: 1, limited: 4, noIkeSa: 0 });
    expect(i.logs.filter((l) => l.includes("peer reported INVALID_SPI")).length).toBe(1);
    // from an address we hold no IKE SA with: nothing is sent
    r.engine.fromNetwork(bogus, "203.0.113.9", 0);
    expect(r.driver.status().invalidSpi.noIkeSa).toBe(1);
    // the tunnel is unaffected
    expect(i.driver.status().ikeSas[0].state).toBe("established");
  });

  test("ike.encap: NAT announced, IKE moves to 4500, ESP in UDP to port 4500", async () => {
    const { i, r, settle } = setup({ rawEsp: true, encap: true });
    i.driver.start();
    r.driver.start();
    await settle();
    expect(i.logs.find((l) => l.startsWith("Child SA installed")), i.logs.join("\n")).toContain(`ESP in UDP to ${B}:4500`);
    expect(r.logs.find((l) => l.startsWith("Child SA installed"))).toContain(`ESP in UDP to ${A}:4500`);
    const st = i.driver.status();
    expect(st.ikeSas[0].natt).toBe(true);
    expect(st.ikeSas[0].childSas[0].encap).toBe("udp");
    expect(st.ikeSas[0].childSas[0].traffic).toBeNull();
  });

  test("a packet path without raw ESP (no `rawEsp`): encapsulation forced, ESP in UDP", async () => {
    const { i, settle } = setup({ rawEsp: false });
    i.driver.start();
    await settle();
    expect(i.logs.find((l) => l.startsWith("Child SA installed")), i.logs.join("\n")).toContain(`ESP in UDP to ${B}:4500`);
  });
});
