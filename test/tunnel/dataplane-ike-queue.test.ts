/**
 * The data-plane worker's hand-over of IKE datagrams (non-ESP marker on the NAT-T socket) to the
 * main thread is bounded (DataPlaneInit.ikeQueue / ikeQueueMax, issue #12 "bound the receive
 * queue; drop and count what exceeds it"): while the main thread does not take them, at most
 * ikeQueueMax are in flight and the rest are dropped and counted; once it takes them, new ones
 * pass again. No root: a SOCK_SEQPACKET pair stands in for the TUN device, loopback UDP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { FFIType, ptr } from "bun:ffi";
import { libcSymbols } from "../../lib/platform/bun/libc.ts";
import { Teardown } from "../../lib/platform/bun/manual-path.ts";
import { TunDevice } from "../../lib/platform/bun/tun.ts";
import { FfiUdpSocket } from "../../lib/platform/bun/udp-ffi.ts";
import { launchDataPlane } from "../../lib/platform/bun/runtime.ts";

const linux = process.platform === "linux";
const MAX = 50;

describe.skipIf(!linux)("data-plane worker: IKE datagrams to the main thread are bounded", () => {
  const L = linux
    ? libcSymbols({
      socketpair: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
    })
    : null!;
  const td = new Teardown();
  const q = new Int32Array(new SharedArrayBuffer(8));
  const got: Uint8Array[] = [];
  let server: FfiUdpSocket;
  let peer: FfiUdpSocket;

  beforeAll(async () => {
    if (!linux) return;
    process.env.VPNKIT_WARMUP = "0";
    const sv = new Int32Array(2);
    if (L.socketpair(1 /* AF_UNIX */, 5 /* SOCK_SEQPACKET */ | 0o4000 | 0o2000000, 0, ptr(sv)) < 0) throw new Error("socketpair failed");
    td.push(() => {
      L.close(sv[0]);
      L.close(sv[1]);
    });
    server = FfiUdpSocket.bind("127.0.0.1", 0);
    td.push(() => server.close());
    peer = FfiUdpSocket.bind("127.0.0.1", 0);
    td.push(() => peer.close());
    await launchDataPlane(TunDevice.attach(sv[0], "vkzq0", false), false, server, {
      remoteAddress: "127.0.0.1", remotePort: 9, keepaliveMs: 0, keepWarmMs: 0,
      child: { name: "default", local: [], remote: [], mtu: 1400 }, outbound: null, inbound: null, warmCipher: "aes256gcm16", ike: true,
      ikeQueue: q.buffer as SharedArrayBuffer, ikeQueueMax: MAX,
    }, td, () => {}, () => {}, (e) => {
      if (e.type !== "ike") return;
      Atomics.sub(q, 0, 1); // as ike-up.ts does on taking one
      got.push(e.buf.slice());
    });
  });

  afterAll(() => td.undo());

  /** An IKE datagram with the non-ESP marker, tagged `n`. */
  const ike = (n: number) => {
    const b = new Uint8Array(40);
    b[4] = n >> 8;
    b[5] = n & 255;
    b[21] = 0x20;
    return b;
  };

  test("200 sent while the main thread is busy: 50 handed over, 150 dropped and counted; afterwards new ones pass", async () => {
    const port = server.localPort();
    for (let n = 0; n < 200; n++) peer.send(ike(n), "127.0.0.1", port);
    // this thread stays busy (no event loop turn, so nothing is taken) until the worker has
    // decided about all 200: the counters are shared memory (bounded wait: 20 s)
    const end = Date.now() + 20_000;
    while (Atomics.load(q, 0) + Atomics.load(q, 1) < 200 && Date.now() < end) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    expect(Atomics.load(q, 0)).toBe(MAX);
    expect(Atomics.load(q, 1)).toBe(200 - MAX);
    // now the main thread takes them: exactly the first 50, in order
    for (let k = 0; k < 400 && got.length < MAX; k++) await Bun.sleep(5);
    expect(got.length).toBe(MAX);
    expect(got.map((b) => (b[4] << 8) | b[5])).toEqual(Array.from({ length: MAX }, (_, i) => i));
    expect(Atomics.load(q, 0)).toBe(0);
    for (let n = 1000; n < 1010; n++) peer.send(ike(n), "127.0.0.1", port);
    for (let k = 0; k < 400 && got.length < MAX + 10; k++) await Bun.sleep(5);
    expect(got.length).toBe(MAX + 10);
    expect(Atomics.load(q, 1)).toBe(200 - MAX);
  });
});
