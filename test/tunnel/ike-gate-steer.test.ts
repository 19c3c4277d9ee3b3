/**
 * The IKE gate's steered socket pair (lib/platform/bun/ike-gate-steer.ts) in the real kernel, on
 * loopback: the cBPF program attached with SO_ATTACH_REUSEPORT_CBPF puts a cookie-less
 * IKE_SA_INIT into the bulk socket and a COOKIE retry and an IKE_AUTH into the priority socket;
 * a taken port fails as a plain bind does (EADDRINUSE), and a plain bind next to the pair fails.
 * Linux only (bun:ffi, raw syscalls); no namespaces, no privileges needed.
 */
import { describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { BULK_RCVBUF, bindSteeredPair, SocketDrops, SteeringUnavailable } from "../../lib/platform/bun/ike-gate-steer.ts";
import { FfiUdpSocket } from "../../lib/platform/bun/udp-ffi.ts";
import { libcSymbols, stableBytes } from "../../lib/platform/bun/libc.ts";
import { FFIType } from "bun:ffi";

function ike(exchange: number, flags: number, first: number, notify = 0): Uint8Array {
  const d = new Uint8Array(80);
  d.fill(0x11, 0, 8); // SPIi
  d[16] = first;
  d[17] = 0x20;
  d[18] = exchange;
  d[19] = flags;
  d[27] = 80;
  d[30] = 0;
  d[31] = 44;
  d[34] = notify >> 8;
  d[35] = notify & 255;
  return d;
}

function pairOnFreePort(): { port: number; pair: ReturnType<typeof bindSteeredPair> } {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    try {
      return { port, pair: bindSteeredPair("127.0.0.1", port) };
    } catch (e) {
      if (e instanceof SteeringUnavailable) throw e;
    }
  }
  throw new Error("no free port");
}

const linux = process.platform === "linux";

describe.if(linux)("IKE gate: steered UDP socket pair (SO_REUSEPORT + reuseport cBPF)", () => {
  test("cookie-less IKE_SA_INIT → bulk; COOKIE retry, IKE_AUTH, an IKE_SA_INIT response → priority; junk → bulk", async () => {
    const { port, pair } = pairOnFreePort();
    // the exchange type of each datagram, or "junk" for one too short to have one
    const got: Record<string, (number | string)[]> = { bulk: [], prio: [] };
    const what = (b: Uint8Array) => (b.length > 18 ? b[18] : "junk");
    pair.bulk.onMessage((b) => got.bulk.push(what(b)));
    pair.prio.onMessage((b) => got.prio.push(what(b)));
    const tx = createSocket("udp4");
    const send = (d: Uint8Array) => new Promise<void>((r) => tx.send(d, port, "127.0.0.1", () => r()));
    try {
      await send(ike(34, 0x08, 33)); // IKE_SA_INIT, SA first
      await send(ike(34, 0x08, 41, 16390)); // IKE_SA_INIT, N(COOKIE) first
      await send(ike(35, 0x08, 46)); // IKE_AUTH
      await send(ike(34, 0x20, 33)); // IKE_SA_INIT response
      await send(ike(34, 0x08, 41, 16388)); // another Notify first
      await send(new Uint8Array([1, 2, 3])); // junk
      for (let i = 0; i < 50 && got.bulk.length + got.prio.length < 6; i++) {
        pair.bulk.receive();
        pair.prio.receive();
        await Bun.sleep(10);
      }
      expect(got.prio).toEqual([34, 35, 34]);
      expect(got.bulk).toEqual([34, 34, "junk"]);
      const drops = new SocketDrops();
      expect(drops.read(pair.bulk.fd)).toBe(0);
      expect(drops.read(pair.prio.fd)).toBe(0);
    } finally {
      tx.close();
      pair.bulk.close();
      pair.prio.close();
    }
  });

  test("a taken port fails like a plain bind (EADDRINUSE), and nobody binds next to the pair without SO_REUSEPORT", () => {
    const { port, pair } = pairOnFreePort();
    try {
      expect(() => FfiUdpSocket.bind("127.0.0.1", port)).toThrow(/in use/i);
      let err: unknown = null;
      try {
        bindSteeredPair("127.0.0.1", port);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(SteeringUnavailable);
      expect(String(err)).toMatch(/in use/i);
    } finally {
      pair.bulk.close();
      pair.prio.close();
    }
  });

  test("the IPv4 bulk socket (COOKIE answers only) sends with IP_PMTUDISC_PROBE and has a large receive queue; the priority one keeps the defaults", async () => {
    const L = libcSymbols({ getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 } });
    const mode = (fd: number) => {
      const v = stableBytes(4), n = stableBytes(4);
      new DataView(n.buffer).setUint32(0, 4, true);
      expect(L.getsockopt(fd, 0 /* IPPROTO_IP */, 10 /* IP_MTU_DISCOVER */, v, n)).toBe(0);
      return new DataView(v.buffer).getInt32(0, true);
    };
    const rcvbuf = (fd: number) => {
      const v = stableBytes(4), n = stableBytes(4);
      new DataView(n.buffer).setUint32(0, 4, true);
      expect(L.getsockopt(fd, 1 /* SOL_SOCKET */, 8 /* SO_RCVBUF */, v, n)).toBe(0);
      return new DataView(v.buffer).getInt32(0, true);
    };
    const { pair } = pairOnFreePort();
    try {
      expect(mode(pair.bulk.fd)).toBe(3); // IP_PMTUDISC_PROBE
      expect(mode(pair.prio.fd)).not.toBe(3);
      // the kernel reports twice what was set; as root (CI) the full size, else up to rmem_max
      const max = Number((await import("node:fs")).readFileSync("/proc/sys/net/core/rmem_max", "utf8"));
      expect(rcvbuf(pair.bulk.fd)).toBeGreaterThanOrEqual(2 * Math.min(BULK_RCVBUF, max));
      expect(rcvbuf(pair.bulk.fd)).toBeGreaterThan(rcvbuf(pair.prio.fd));
      // what the gate compares with BULK_RCVBUF to warn about a capped queue
      expect(pair.bulkRcvbuf).toBe(rcvbuf(pair.bulk.fd));
    } finally {
      pair.bulk.close();
      pair.prio.close();
    }
  });
});
