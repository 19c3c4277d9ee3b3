/**
 * Issue 14, TCP transport reporting (loopback, no namespaces): the real (ephemeral) ports in
 * the log and in `vpnkit status`, packets dropped while disconnected counted as drops (not as
 * sent, no sequence number spent), keepalives symmetric (none sent, none counted, on both
 * sides), errno names in connect errors.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { InboundSa, OutboundSa } from "../../lib/esp/sa.ts";
import { parseCidr } from "../../lib/net/cidr.ts";
import { errnoName, TcpTransport } from "../../lib/platform/bun/tcp-transport.ts";
import { manualStatus } from "../../lib/platform/bun/manual-path.ts";
import { validateConfig } from "../../lib/tunnel/config.ts";
import { type TunnelChild, TunnelEngine } from "../../lib/tunnel/engine.ts";
import { MemoryDevice } from "../../lib/tunnel/memory.ts";

const PORT = 20000 + ((process.pid * 7 + 13) % 20000);
let open: TcpTransport[] = [];
afterEach(() => {
  for (const t of open) t.close();
  open = [];
});

async function until(f: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timeout");
    await new Promise((r) => setTimeout(r, 10));
  }
}

function ipv4(src: number[], dst: number[], len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(src, 12);
  p.set(dst, 16);
  return p;
}

const KEY = Uint8Array.from({ length: 36 }, (_, i) => i);
function engineOver(sock: TcpTransport, me: number, peer: number) {
  const dev = new MemoryDevice();
  const out = new OutboundSa({ spi: 0x1000 + me, cipher: "aes256gcm16", keyMaterial: KEY });
  const child: TunnelChild = {
    name: "t", local: [parseCidr(`10.9.0.${me}/32`)!], remote: [parseCidr(`10.9.0.${peer}/32`)!],
    outbound: out, inbound: [new InboundSa({ spi: 0x1000 + peer, cipher: "aes256gcm16", keyMaterial: KEY })], mtu: 1400,
  };
  const e = new TunnelEngine({ device: dev, socket: sock, remoteAddress: "127.0.0.1", remotePort: PORT, children: [child], icmpTooBig: () => null, keepaliveMs: 0 });
  e.start();
  return { e, dev, out };
}

describe("TcpTransport reporting", () => {
  test("the real local and remote ports: in the log, in endpoints() and in the status document", async () => {
    const slog: string[] = [], clog: string[] = [];
    const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: PORT, remote: "127.0.0.1", remotePort: 4500, log: (m) => slog.push(m) });
    const cli = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 4500, remote: "127.0.0.1", remotePort: PORT, backoffMinMs: 20, log: (m) => clog.push(m) });
    open.push(srv, cli);
    await until(() => srv.connected && cli.connected);
    const ce = cli.endpoints()!, se = srv.endpoints()!;
    const ephemeral = Number(ce.local.split(":")[1]);
    expect(ephemeral).not.toBe(4500);
    expect(ephemeral).toBeGreaterThan(0);
    expect(ce).toEqual({ local: `127.0.0.1:${ephemeral}`, remote: `127.0.0.1:${PORT}` });
    expect(se).toEqual({ local: `127.0.0.1:${PORT}`, remote: `127.0.0.1:${ephemeral}` });
    expect(clog.join("\n")).toContain(`tcp: connected to 127.0.0.1:${PORT} (local 127.0.0.1:${ephemeral})`);
    expect(slog.join("\n")).toContain(`tcp: accepted 127.0.0.1:${ephemeral} (local 127.0.0.1:${PORT})`);
    // status: the client's configured local port (4500) is not what it uses
    const cfg = validateConfig({
      local: "127.0.0.1", local_port: 4500, remote: "127.0.0.1", remote_port: PORT, transport: "tcp", tcp_role: "client", tun_addr: ["10.9.0.1/30"], routes: ["10.9.0.2/32"],
      sa: { cipher: "aes256gcm16", spi_out: 0x1001, spi_in: 0x1002, key_out: "00".repeat(36), key_in: "00".repeat(36) },
    });
    const st = manualStatus(cfg, "t0", Date.now(), engineOver(cli, 1, 2).e.counters, {}, cli.endpoints());
    expect(st.local).toBe(`127.0.0.1:${ephemeral}`);
    expect(st.remote).toBe(`127.0.0.1:${PORT}`);
    expect(manualStatus(cfg, "t0", Date.now(), st.counters, {}, null).local).toBe("127.0.0.1:(not connected)");
    // the close is logged with both ports too
    cli.close();
    await until(() => !srv.connected);
    expect(slog.join("\n")).toContain(`tcp: connection with 127.0.0.1:${ephemeral} (local 127.0.0.1:${PORT}) closed`);
  });

  test("packets while disconnected are drops (notConnected), not sent, and spend no sequence number", async () => {
    // a client whose server is not there yet
    const cli = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 0, remote: "127.0.0.1", remotePort: PORT + 1, backoffMinMs: 20, backoffMaxMs: 50 });
    open.push(cli);
    const { e, dev, out } = engineOver(cli, 1, 2);
    dev.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], 100), ipv4([10, 9, 0, 1], [10, 9, 0, 2], 200));
    e.flush();
    expect(e.counters.packetsOut).toBe(0);
    expect(e.counters.bytesOut).toBe(0);
    expect(e.counters.drops.notConnected).toBe(2);
    expect(out.seq).toBe(0n);
    // once connected, packets flow and are counted as sent
    const got: Uint8Array[] = [];
    const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: PORT + 1, remote: "127.0.0.1", remotePort: 0 });
    open.push(srv);
    srv.onMessage((b) => got.push(b.slice()));
    await until(() => cli.connected && srv.connected, 10_000);
    dev.inject(ipv4([10, 9, 0, 1], [10, 9, 0, 2], 100));
    e.flush();
    await until(() => got.length === 1);
    expect(e.counters.packetsOut).toBe(1);
    expect(e.counters.drops.notConnected).toBe(2);
    expect(new DataView(got[0].buffer, got[0].byteOffset).getUint32(4)).toBe(1); // ESP sequence number 1: none was spent on the drops
  });

  test("keepalives are symmetric: none sent and none counted on either side", async () => {
    const srv = await TcpTransport.start({ role: "server", local: "127.0.0.1", localPort: PORT + 2, remote: "127.0.0.1", remotePort: 0 });
    const cli = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 0, remote: "127.0.0.1", remotePort: PORT + 2, backoffMinMs: 20 });
    open.push(srv, cli);
    await until(() => srv.connected && cli.connected);
    const a = engineOver(cli, 1, 2), b = engineOver(srv, 2, 1);
    for (let i = 0; i < 5; i++) {
      a.e.sendKeepalive();
      b.e.sendKeepalive();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(cli.carriesKeepalives).toBe(false);
    expect([a.e.counters.keepalivesSent, a.e.counters.keepalivesIn, b.e.counters.keepalivesSent, b.e.counters.keepalivesIn]).toEqual([0, 0, 0, 0]);
    expect([cli.stats.framesOut, srv.stats.framesIn, srv.stats.keepalivesIn]).toEqual([0, 0, 0]);
  });

  test("connect errors name the errno", async () => {
    const log: string[] = [];
    const cli = await TcpTransport.start({ role: "client", local: "127.0.0.1", localPort: 0, remote: "127.0.0.1", remotePort: 1, backoffMinMs: 20, backoffMaxMs: 40, log: (m) => log.push(m) });
    open.push(cli);
    await until(() => cli.stats.connectErrors >= 2);
    expect(log[0]).toMatch(/^tcp: connect to 127\.0\.0\.1:1 failed: ECONNREFUSED \(/);
    expect(errnoName({ code: "ETIMEDOUT" })).toBe("ETIMEDOUT");
    expect(errnoName(new Error("x"))).toBe("");
    expect(errnoName({ code: 42 })).toBe("");
  });
});
