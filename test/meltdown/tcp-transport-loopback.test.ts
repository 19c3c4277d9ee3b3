/**
 * TcpTransport over loopback (no namespaces, no root): RFC 9329 framing both ways, IKE behind
 * the non-ESP marker, keepalives not sent, framing errors and a missing "IKETCP" prefix close
 * the connection, a non-peer address is rejected, the send queue stays bounded.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { TcpTransport } from "../../lib/platform/bun/tcp-transport.ts";

const PORT = 20000 + (process.pid % 20000);
let open: TcpTransport[] = [];
afterEach(() => {
  for (const t of open) t.close();
  open = [];
});

async function until(f: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timeout");
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function pair(port: number, maxQueueBytes?: number) {
  const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: port, remote: "127.0.0.1", remotePort: 0, maxQueueBytes });
  const cli = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 0, remote: "127.0.0.1", remotePort: port, backoffMinMs: 20, maxQueueBytes });
  open.push(srv, cli);
  await until(() => srv.connected && cli.connected);
  return { srv, cli };
}

/** Raw TCP client: collects what the server sends, lets the test write bytes. */
async function raw(port: number) {
  let closed = false;
  const sock = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, close() { closed = true; } } });
  return { sock, closed: () => closed };
}

describe("TcpTransport (loopback)", () => {
  test("ESP and IKE frames both ways; 1-byte keepalives are not sent", async () => {
    const { srv, cli } = await pair(PORT);
    const got: { side: string; b: Uint8Array }[] = [];
    srv.onMessage((b) => got.push({ side: "srv", b: b.slice() }));
    cli.onMessage((b) => got.push({ side: "cli", b: b.slice() }));
    const esp = new Uint8Array(1400).map((_, i) => (i * 7 + 1) & 0xff);
    esp.set([0xc0, 0xde, 0, 1], 0);
    const ike = new Uint8Array(4 + 28);
    ike[4 + 17] = 0x20; // IKEv2
    new DataView(ike.buffer).setUint32(4 + 24, 28);
    cli.sendBatch([esp, ike, new Uint8Array([0xff])], "127.0.0.1", PORT);
    srv.send(esp, "127.0.0.1", 0);
    await until(() => got.length >= 3);
    expect(got.filter((g) => g.side === "srv").map((g) => g.b)).toEqual([esp, ike]);
    expect(got.filter((g) => g.side === "cli").map((g) => g.b)).toEqual([esp]);
    expect(cli.stats.keepalivesSuppressed).toBe(1);
    expect(cli.stats.framesOut).toBe(2);
    expect(srv.stats.framesIn).toBe(2);
  });

  test("a stream without the IKETCP prefix, and a Length of 1, close the connection", async () => {
    const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: PORT + 1, remote: "127.0.0.1", remotePort: 0 });
    open.push(srv);
    const a = await raw(PORT + 1);
    a.sock.write(new Uint8Array([0, 12, 0xc0, 0xde, 0, 1, 0, 0, 0, 1, 0, 0]));
    await until(a.closed);
    expect(srv.stats.framingErrors).toBe(1);
    const b = await raw(PORT + 1);
    b.sock.write(new Uint8Array([...new TextEncoder().encode("IKETCP"), 0, 1, 0, 0]));
    await until(b.closed);
    expect(srv.stats.framingErrors).toBe(2);
  });

  test("only the configured peer is accepted", async () => {
    const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: PORT + 2, remote: "192.0.2.99", remotePort: 0 });
    open.push(srv);
    const a = await raw(PORT + 2);
    await until(a.closed);
    expect(srv.stats.rejected).toBe(1);
    expect(srv.connected).toBe(false);
  });

  test("not connected: frames are dropped and counted; the send queue stays bounded", async () => {
    const lone = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 0, remote: "127.0.0.1", remotePort: 9, backoffMinMs: 1000 });
    open.push(lone);
    lone.send(new Uint8Array(100).fill(1), "127.0.0.1", 9);
    expect(lone.stats.notConnectedDrops).toBe(1);
    expect(lone.stats.sendErrors).toBe(1);
    // writing in one synchronous loop (no drain event can run): the kernel buffers fill, then
    // the 64 KiB queue, then frames are dropped
    const { cli } = await pair(PORT + 3, 64 * 1024);
    const pkt = new Uint8Array(1400).fill(0xab);
    pkt[0] = 0xc0;
    for (let i = 0; i < 20000 && cli.stats.queueDrops === 0; i++) cli.sendBatch([pkt, pkt, pkt, pkt], "127.0.0.1", PORT + 3);
    expect(cli.stats.queueDrops).toBeGreaterThan(0);
    expect(cli.stats.maxQueuedBytes).toBeLessThanOrEqual(64 * 1024 + 4 * 1402);
  });
});
