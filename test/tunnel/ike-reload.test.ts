/**
 * IkeDriver.reload in memory (no root): a vpnkit initiator (single [ike] form) and a vpnkit
 * responder with [connections], wired datagram to datagram. An unchanged reload touches no
 * SA; a changed initiator connection starts its new IKE SA and deletes the old one (the
 * tunnel stays up, no fatal exit); a responder connection that is removed loses its IKE SA
 * (Delete sent), one that is added is accepted.
 */
import { expect, test } from "bun:test";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { type IkeTunnelConfig, mergeRawIke, parseConfigText, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { planReload } from "../../lib/tunnel/config-reload.ts";
import type { TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";

const SERVER = "192.0.2.1", CLIENT = "192.0.2.9";
const PSK = "reload-test-psk-0123456789";
const readFile = () => new Uint8Array(0);

function server(extra = ""): IkeTunnelConfig {
  return validateIkeConfig(parseConfigText(`local = "${SERVER}"
tun_name = "vkr0"
[secrets]
"%any" = { psk = "${PSK}" }
[connections.a]
local_id = "server.example"
remote_id = "a@example.org"
[connections.a.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24"]
${extra}`), readFile);
}

function client(id: string, esp = "aes256gcm16", ts = "10.2.0.0/24", local = CLIENT): IkeTunnelConfig {
  return validateIkeConfig(mergeRawIke({ local, remote: SERVER, remote_port: 4500 }, {
    psk: PSK, local_id: id, remote_id: "server.example", local_ts: [ts], remote_ts: ["10.1.0.0/24"], esp_proposal: [esp],
  }), readFile);
}

const child = (n: string): TunnelChild => ({ name: n, local: [], remote: [], outbound: null, inbound: [], mtu: 1400 });

function wire(scfg: IkeTunnelConfig, ccfg: IkeTunnelConfig) {
  const queue: (() => void)[] = [];
  const slog: string[] = [], clog: string[] = [];
  const fatal: string[] = [];
  const peers = new Map<string, IkeDriver>();
  const s = new IkeDriver({
    cfg: scfg, db: new SaDatabase(), child: child("s"), log: (_l, m) => slog.push(m), setInterval: () => 0, clearInterval: () => {},
    send: (b, addr) => queue.push(() => peers.get(addr)?.onDatagram(b.slice(), SERVER, 4500)),
  });
  /** Another initiator at `addr` talking to the server driver. */
  const addClient = (cfg: IkeTunnelConfig, addr: string, log: string[]) => {
    const d = new IkeDriver({
      cfg, db: new SaDatabase(), child: child(addr), log: (_l, m) => log.push(m), setInterval: () => 0, clearInterval: () => {},
      onFatal: (r) => fatal.push(r),
      send: (b) => queue.push(() => s.onDatagram(b.slice(), addr, 4500)),
    });
    peers.set(addr, d);
    return d;
  };
  const c = addClient(ccfg, CLIENT, clog);
  const settle = async () => {
    for (let k = 0; k < 5000 && queue.length; k++) {
      queue.shift()!();
      await Promise.resolve();
    }
    await Promise.resolve();
  };
  return { s, c, slog, clog, fatal, settle, addClient };
}

const up = (d: IkeDriver) => d.manager.list().filter((e) => e.sa.state === "established");

test("unchanged: no SA touched; a changed initiator connection renegotiates (new IKE SA first, then the old one deleted)", async () => {
  const w = wire(server(), client("a@example.org"));
  w.s.start();
  w.c.start();
  await w.settle();
  expect(up(w.s).map((e) => e.sa.connection)).toEqual(["a"]);
  const first = up(w.c)[0];
  expect(first.sa.connection).toBe("ike");

  const p0 = planReload(client("a@example.org"), { ...client("a@example.org"), ike: { ...client("a@example.org").ike, dpdSec: 10 } });
  expect([p0.unchanged, p0.changed, p0.applied]).toEqual([["ike"], [], ["ike.dpd"]]);
  w.c.reload(p0);
  await w.settle();
  expect(up(w.c)).toEqual([first]);

  const p1 = planReload(client("a@example.org"), client("a@example.org", "chacha20poly1305"));
  expect(p1.changed).toEqual(["ike"]);
  w.c.reload(p1);
  await w.settle();
  const now = up(w.c);
  expect(now.length).toBe(1);
  expect(now[0]).not.toBe(first);
  expect(w.c.current()?.cipher).toBe("chacha20poly1305");
  expect(w.clog.some((l) => /IKE SA #1 \(connection ike\) changed: deleting it/.test(l))).toBe(true);
  expect(w.fatal).toEqual([]);
  expect(up(w.s).length).toBe(1);
});

test("responder: a removed connection's IKE SA is deleted, an added one accepts its peer", async () => {
  const w = wire(server(), client("a@example.org"));
  w.s.start();
  w.c.start();
  await w.settle();
  expect(up(w.s).length).toBe(1);
  const withB = server(`[connections.b]\nlocal_id = "server.example"\nremote_id = "b@example.org"\n[connections.b.children.net]\nlocal_ts = ["10.1.0.0/24"]\nremote_ts = ["10.3.0.0/24"]\n`);
  const p = planReload(server(), withB);
  expect([p.added, p.unchanged, p.newRoutes]).toEqual([["b"], ["a"], ["10.3.0.0/24"]]);
  w.s.reload(p);
  await w.settle();
  expect(up(w.s).map((e) => e.sa.connection)).toEqual(["a"]);

  // a client for b, on the same server driver: accepted now
  const blog: string[] = [];
  const bc = w.addClient(client("b@example.org", "aes256gcm16", "10.3.0.0/24", "192.0.2.10"), "192.0.2.10", blog);
  bc.start();
  await w.settle();
  expect(up(w.s).map((e) => e.sa.connection).sort(), [...w.slog, ...blog].join("\n")).toEqual(["a", "b"]);
  expect(up(bc).length).toBe(1);

  // a removed: the server deletes its IKE SA, the client sees the Delete
  const onlyB = validateIkeConfig(parseConfigText(`local = "${SERVER}"\ntun_name = "vkr0"\n[secrets]\n"%any" = { psk = "${PSK}" }\n[connections.b]\nlocal_id = "server.example"\nremote_id = "b@example.org"\n[connections.b.children.net]\nlocal_ts = ["10.1.0.0/24"]\nremote_ts = ["10.3.0.0/24"]\n`), readFile);
  const p2 = planReload(withB, onlyB);
  expect([p2.removed, p2.unchanged]).toEqual([["a"], ["b"]]);
  w.s.reload(p2);
  await w.settle();
  expect(up(w.s).map((e) => e.sa.connection)).toEqual(["b"]);
  expect(up(bc).length).toBe(1);
  expect(w.slog.some((l) => /\(connection a\) removed: deleting it/.test(l))).toBe(true);
  expect(w.clog.some((l) => /IKE SA closed: deleted by peer|closed/.test(l))).toBe(true);
});
