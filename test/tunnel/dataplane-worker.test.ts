/**
 * The data-plane worker's adapters without root: the FFI UDP socket (recvmmsg batches,
 * sendto, GSO batches, truncation counted, IKE sender address decoded) on loopback, and
 * the loopback warm-up/self-test that pushes packets through the whole path (TunDevice on
 * a SOCK_SEQPACKET pair, TunnelEngine, SaDatabase, libcrypto AEAD, UDP to itself).
 * The worker itself runs in the namespace tests (test/tunnel/netns.test.ts).
 */
import { describe, expect, test } from "bun:test";
import { warmUp } from "../../lib/platform/bun/dataplane-warmup.ts";
import { FfiUdpSocket } from "../../lib/platform/bun/udp-ffi.ts";

const linux = process.platform === "linux";

function collect(s: FfiUdpSocket): { bufs: Uint8Array[]; addrs: string[]; ports: number[] } {
  const out = { bufs: [] as Uint8Array[], addrs: [] as string[], ports: [] as number[] };
  s.onMessage((b, a, p) => {
    out.bufs.push(b.slice());
    out.addrs.push(a);
    out.ports.push(p);
  });
  return out;
}

async function receiveAll(s: FfiUdpSocket, want: number, got: { bufs: Uint8Array[] }, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    s.receive(8);
    if (got.bufs.length >= want) return;
    await Bun.sleep(2);
  }
}

describe.skipIf(!linux)("FfiUdpSocket", () => {
  test("binds, reports its port, refuses a taken port with the errno text", () => {
    const a = FfiUdpSocket.bind("127.0.0.1", 0);
    try {
      const port = a.localPort();
      expect(port).toBeGreaterThan(0);
      expect(() => FfiUdpSocket.bind("127.0.0.1", port)).toThrow(/cannot bind UDP 127\.0\.0\.1:\d+: .*(in use|Address)/i);
      expect(() => FfiUdpSocket.bind("not-an-ip", 1)).toThrow(/not an IP address/);
    } finally {
      a.close();
    }
  });

  test("send / sendBatch (GSO and plain) / receive in batches; IKE senders decoded, ESP not", async () => {
    const rx = FfiUdpSocket.bind("127.0.0.1", 0);
    const tx = FfiUdpSocket.bind("127.0.0.1", 0);
    try {
      const got = collect(rx);
      const port = rx.localPort();
      const txPort = tx.localPort();
      // 150 equal-size ESP-like datagrams (more than one recvmmsg batch of 64), one IKE
      // datagram with the non-ESP marker, one short last datagram in a GSO run
      const bufs: Uint8Array[] = [];
      for (let i = 0; i < 150; i++) {
        const b = new Uint8Array(1200);
        b[0] = 0x10;
        b[3] = 0x01;
        new DataView(b.buffer).setUint32(4, i + 1);
        bufs.push(b);
      }
      const short = new Uint8Array(300);
      short[0] = 0x10;
      bufs.push(short);
      tx.enableGso();
      // in runs of 50 (one GSO send each), received in between: the default socket
      // buffer of a non-root test holds ~90 datagrams of this size
      for (let i = 0; i < bufs.length; i += 50) {
        tx.sendBatch(bufs.slice(i, i + 50), "127.0.0.1", port);
        await receiveAll(rx, got.bufs.length + Math.min(50, bufs.length - i), got);
      }
      const ike = new Uint8Array(40); // 4 zero bytes: non-ESP marker
      ike[4] = 0xaa;
      tx.send(ike, "127.0.0.1", port);
      await receiveAll(rx, 152, got);
      expect(got.bufs.length).toBe(152);
      for (let i = 0; i < 150; i++) expect(new DataView(got.bufs[i].buffer).getUint32(4)).toBe(i + 1);
      expect(got.bufs[150].length).toBe(300);
      expect(got.addrs[151]).toBe("127.0.0.1");
      expect(got.ports[151]).toBe(txPort);
      expect(got.addrs[0]).toBe(""); // ESP: no address text built
      expect(tx.stats.sendErrors).toBe(0);
      expect(rx.stats.truncated).toBe(0);
    } finally {
      rx.close();
      tx.close();
    }
  });

  test("a datagram larger than a receive slot is dropped and counted, the next one still arrives", async () => {
    const rx = FfiUdpSocket.bind("127.0.0.1", 0);
    const tx = FfiUdpSocket.bind("127.0.0.1", 0);
    try {
      const got = collect(rx);
      const port = rx.localPort();
      tx.send(new Uint8Array(20000).fill(1), "127.0.0.1", port);
      tx.send(new Uint8Array(100).fill(2), "127.0.0.1", port);
      await receiveAll(rx, 1, got);
      expect(rx.stats.truncated).toBe(1);
      expect(got.bufs.length).toBe(1);
      expect(got.bufs[0].length).toBe(100);
    } finally {
      rx.close();
      tx.close();
    }
  });

  test("IPv6 loopback", async () => {
    let rx: FfiUdpSocket;
    try {
      rx = FfiUdpSocket.bind("::1", 0);
    } catch (e) {
      console.log(`[skip] no IPv6 loopback here: ${(e as Error).message}`);
      return;
    }
    const tx = FfiUdpSocket.bind("::1", 0);
    try {
      const got = collect(rx);
      const ike = new Uint8Array(12);
      tx.send(ike, "::1", rx.localPort());
      await receiveAll(rx, 1, got);
      expect(got.bufs.length).toBe(1);
      expect(got.addrs[0]).toBe("::1");
      expect(got.ports[0]).toBe(tx.localPort());
    } finally {
      rx.close();
      tx.close();
    }
  });
});

describe.skipIf(!linux)("data-plane loopback warm-up / self-test", () => {
  for (const cipher of ["aes128gcm16", "aes256gcm16", "chacha20poly1305"] as const) {
    for (const offload of [false, true]) {
      test(`${cipher}, offload ${offload}: every packet makes the round trip`, () => {
        // ICMP and TCP packets alternate; each goes TUN stand-in → seal → UDP → open → TUN stand-in
        expect(warmUp({ cipher, esn: false, offload, mtu: 1438, aead: "ffi" }, 200)).toBe(200);
        expect(warmUp({ cipher, esn: true, offload, mtu: 1438, aead: "default" }, 50)).toBe(50);
      });
    }
  }
});
