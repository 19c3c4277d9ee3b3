/**
 * The data-plane worker (dataplane-worker.ts, started with launchDataPlane as `vpnkit up`
 * does) serving several peers, without root: a SOCK_SEQPACKET pair stands in for the TUN
 * device, the peers are loopback UDP sockets on one address with different ports (clients
 * behind one NAT). The main thread installs one keyed Child SA pair per peer through the
 * worker's commands, as an IKE server does, and checks: each peer gets its own ESP (UDP GSO
 * runs split per destination), each peer's ESP comes out of the TUN, a peer cannot send with
 * another's inner address, NAT rebinding ("peer" command), removal, and the per-child
 * counters published in shared memory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FFIType, ptr } from "bun:ffi";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import { parseCidr } from "../../lib/net/cidr.ts";
import { libcSymbols } from "../../lib/platform/bun/libc.ts";
import { Teardown } from "../../lib/platform/bun/manual-path.ts";
import { TunDevice } from "../../lib/platform/bun/tun.ts";
import { FfiUdpSocket } from "../../lib/platform/bun/udp-ffi.ts";
import { type DataPlane, launchDataPlane } from "../../lib/platform/bun/runtime.ts";

const linux = process.platform === "linux";
const cidr = (s: string) => parseCidr(s)!;
const key = (seed: number) => Uint8Array.from({ length: 36 }, (_, i) => (i * 29 + seed) & 0xff);
const spiOf = (b: Uint8Array) => ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;

function ipv4(src: string, dst: string, len: number, tag: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(cidr(src).addr, 12);
  p.set(cidr(dst).addr, 16);
  p[20] = tag;
  return p;
}

interface Peer {
  n: number;
  inner: string;
  sock: FfiUdpSocket;
  got: Uint8Array[];
  /** Client side of the pair: seals to the server / opens from it. */
  out: OutboundSa;
  in: InboundSa;
  spiIn: number;
  spiOut: number;
}

describe.skipIf(!linux)("data-plane worker with several peers", () => {
  const L = linux
    ? libcSymbols({
      socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
      write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
    })
    : null!;
  const td = new Teardown();
  let dp: DataPlane;
  let tunPeer = -1;
  let server: FfiUdpSocket;
  const peers: Peer[] = [];
  const logs: string[] = [];
  const rbuf = new Uint8Array(70000);

  /** Packets the worker wrote into the TUN stand-in. */
  function readTun(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (;;) {
      const n = Number(L.read(tunPeer, ptr(rbuf), rbuf.length));
      if (n <= 0) return out;
      out.push(rbuf.slice(0, n));
    }
  }

  async function until(cond: () => boolean, ms = 4000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      for (const p of peers) p.sock.receive(8);
      if (cond()) return true;
      await Bun.sleep(5);
    }
    return cond();
  }

  function install(p: Peer, port: number): void {
    dp.command({
      type: "install",
      child: {
        // the server's view: inbound = what the peer sends
        spiIn: p.spiOut, spiOut: p.spiIn, cipher: "aes256gcm16", keyIn: key(10 + p.n), keyOut: key(20 + p.n), esn: false,
        local: [cidr("10.1.0.0/16")], remote: [cidr(`${p.inner}/32`)], child: `client-${p.n}`, peer: { address: "127.0.0.1", port },
      },
    });
  }

  beforeAll(async () => {
    if (!linux) return;
    process.env.VPNKIT_WARMUP = "0";
    const sv = new Int32Array(2);
    if (L.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0o4000 | 0o2000000, 0, ptr(sv)) < 0) throw new Error("socketpair failed");
    td.push(() => {
      L.close(sv[0]);
      L.close(sv[1]);
    });
    tunPeer = sv[1];
    server = FfiUdpSocket.bind("127.0.0.1", 0);
    td.push(() => server.close());
    for (let n = 1; n <= 4; n++) {
      const sock = FfiUdpSocket.bind("127.0.0.1", 0);
      td.push(() => sock.close());
      const got: Uint8Array[] = [];
      sock.onMessage((b) => void got.push(b.slice()));
      const spiIn = 0x5000 + n, spiOut = 0x6000 + n;
      peers.push({
        n, inner: `10.8.0.${n}`, sock, got, spiIn, spiOut,
        out: new OutboundSa({ spi: spiOut, cipher: "aes256gcm16", keyMaterial: key(10 + n) }),
        in: new InboundSa({ spi: spiIn, cipher: "aes256gcm16", keyMaterial: key(20 + n) }),
      });
    }
    dp = await launchDataPlane(TunDevice.attach(sv[0], "vkpw0", false), false, server, {
      remoteAddress: "127.0.0.1", remotePort: 9, keepaliveMs: 0, keepWarmMs: 0,
      child: { name: "default", local: [], remote: [], mtu: 1400 }, outbound: null, inbound: null, warmCipher: "aes256gcm16", ike: true,
    }, td, (m) => logs.push(m), (why) => logs.push(`fatal: ${why}`));
    // three peers behind one address (127.0.0.1), different ports; peer 4 is where peer 1 moves
    for (const p of peers.slice(0, 3)) install(p, p.sock.localPort());
    // installed once the worker's table lists them
    if (!(await until(() => dp.counters().childrenTotal === 4))) throw new Error("the installs did not arrive");
  });

  afterAll(() => td.undo());

  test("outbound: a burst for three peers, each gets exactly its own ESP; inbound from each reaches the TUN", async () => {
    const [a, b, c] = peers;
    // 3 x 20 equal-size packets, interleaved, in one write burst (the worker reads them in one drain)
    const pkts: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) for (const p of [a, b, c]) pkts.push(ipv4("10.1.0.1", p.inner, 1000, i));
    for (const pk of pkts) expect(Number(L.write(tunPeer, ptr(pk), pk.length))).toBe(1000);
    expect(await until(() => a.got.length >= 20 && b.got.length >= 20 && c.got.length >= 20)).toBe(true);
    for (const p of [a, b, c]) {
      expect(p.got.length).toBe(20);
      const tags: number[] = [];
      for (const esp of p.got) {
        expect(spiOf(esp)).toBe(p.spiIn);
        const r = p.in.open(esp);
        expect(r.ok).toBe(true);
        if (!r.ok) continue;
        expect(r.payload.subarray(16, 20)).toEqual(cidr(p.inner).addr);
        tags.push(r.payload[20]);
      }
      expect(tags).toEqual(Array.from({ length: 20 }, (_, i) => i)); // in order
    }
    expect(peers[3].got.length).toBe(0);
    // inbound
    for (const p of [a, b, c]) p.sock.send(p.out.seal(ipv4(p.inner, "10.1.0.1", 300, 0x40 + p.n), 4)!, "127.0.0.1", server.localPort());
    const tun: Uint8Array[] = [];
    expect(await until(() => (tun.push(...readTun()), tun.length >= 3))).toBe(true);
    expect(tun.map((x) => x[20]).sort()).toEqual([0x41, 0x42, 0x43]);
  });

  test("a peer's SA cannot carry another peer's inner source; counters per child in shared memory", async () => {
    const [a, b] = peers;
    a.sock.send(a.out.seal(ipv4(b.inner, "10.1.0.1", 300, 0x99), 4)!, "127.0.0.1", server.localPort());
    expect(await until(() => dp.counters().counters.drops.policy >= 1)).toBe(true);
    expect(readTun().length).toBe(0);
    // the table is published every second (and after installs/removes)
    expect(await until(() => (dp.counters().children.find((r) => r.spiOut === a.spiIn)?.stats.policyDrops ?? 0) >= 1, 3000)).toBe(true);
    const { children, childrenTotal } = dp.counters();
    expect(childrenTotal).toBe(4); // the default child + three peers
    for (const p of peers.slice(0, 3)) {
      const row = children.find((r) => r.spiOut === p.spiIn)!;
      expect(row.spiIn).toBe(p.spiOut);
      expect(row.peerPort).toBe(p.sock.localPort());
      expect(row.stats.packetsOut).toBe(20);
      expect(row.stats.bytesOut).toBe(20 * 1000);
      expect(row.stats.packetsIn).toBe(1);
      expect(row.stats.lastIn).toBeGreaterThan(0);
    }
  });

  test("NAT rebinding moves a peer's ESP to its new port; a removed peer's traffic is dropped", async () => {
    const [a, b, c, moved] = peers;
    dp.command({ type: "peer", spiOut: a.spiIn, peer: { address: "127.0.0.1", port: moved.sock.localPort() } });
    dp.command({ type: "remove", spiIn: b.spiOut, spiOut: b.spiIn, nextOutSpi: c.spiIn });
    // commands are handled in order, on the worker's next yield: the table shows when
    expect(await until(() => dp.counters().childrenTotal === 3)).toBe(true);
    const before = dp.counters().counters.drops.policy;
    for (const p of [a, b, c]) {
      const pk = ipv4("10.1.0.1", p.inner, 500, 0x77);
      L.write(tunPeer, ptr(pk), pk.length);
    }
    expect(await until(() => moved.got.length >= 1 && c.got.length >= 21)).toBe(true);
    expect(spiOf(moved.got[0])).toBe(a.spiIn);
    expect(a.got.length).toBe(20);
    expect(b.got.length).toBe(20);
    expect(await until(() => dp.counters().counters.drops.policy >= before + 1)).toBe(true);
    expect(logs.filter((m) => m.startsWith("data plane:") || m.startsWith("fatal"))).toEqual([]);
  });
});

describe.skipIf(!linux)("FfiUdpSocket to many peers", () => {
  test("sends alternate between peers on one address (different ports), IPv4 and IPv6: each datagram reaches its own peer", async () => {
    for (const host of ["127.0.0.1", "::1"]) {
      let tx: FfiUdpSocket;
      try {
        tx = FfiUdpSocket.bind(host, 0);
      } catch (e) {
        console.log(`[skip] no ${host} here: ${(e as Error).message}`);
        continue;
      }
      const rx = [0, 1, 2].map(() => FfiUdpSocket.bind(host, 0));
      try {
        const got = rx.map((s) => {
          const g: number[] = [];
          s.onMessage((b) => void g.push(b[0]));
          return g;
        });
        tx.enableGso();
        // single sends and batches, destinations switching every time (the sockaddr cache)
        for (let i = 0; i < 30; i++) tx.send(Uint8Array.of(i, 1, 2, 3), host, rx[i % 3].localPort());
        for (let i = 0; i < 3; i++) tx.sendBatch([Uint8Array.of(100 + i, 0, 0, 0), Uint8Array.of(100 + i, 1, 1, 1)], host, rx[i].localPort());
        const end = Date.now() + 3000;
        while (Date.now() < end && got.some((g) => g.length < 12)) {
          for (const s of rx) s.receive(4);
          await Bun.sleep(2);
        }
        for (let k = 0; k < 3; k++) {
          expect(got[k]).toEqual([...Array.from({ length: 10 }, (_, j) => 3 * j + k), 100 + k, 100 + k]);
        }
        expect(tx.stats.sendErrors).toBe(0);
      } finally {
        tx.close();
        for (const s of rx) s.close();
      }
    }
  });
});
