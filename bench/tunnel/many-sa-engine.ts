/**
 * bench/tunnel/many-sa-engine.ts: the engine's outbound and inbound paths in one process, with
 * 1 child against 1,000 children (999 idle keyed children installed through LocalChildSink, as
 * an IKE server installs road-warrior clients: distinct SPIs, /32 remote selectors, endpoints).
 * No TUN, no socket: a device that hands packets in and a socket that drops what it is given,
 * so the difference is the per-packet lookup (routing index, SPI table) and nothing else.
 *
 *   bun bench/tunnel/many-sa-engine.ts            # ROUNDS=7 PACKETS=200000 EXTRA=999
 *
 * CPU time per packet (process.cpuUsage: the VM is shared, wall time would measure the
 * scheduler). Two measurements per case, interleaved rounds, medians:
 * - "route": fromDevice with an outbound SA whose seal is a no-op (lookup + counters + batching);
 * - "seal"/"open": the real path with aes256gcm16 (libcrypto through bun:ffi when it loads).
 */
import { libcryptoAead } from "../../lib/platform/bun/aead-ffi.ts";
import { selectAeadProvider } from "../../lib/esp/aead.ts";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { parseCidr } from "../../lib/net/cidr.ts";
import { LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { type DatagramSocket, type PacketDevice, type SealingSa, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const PACKETS = Number(process.env.PACKETS ?? 200_000);
const EXTRA = Number(process.env.EXTRA ?? 999);
const cidr = (s: string) => parseCidr(s)!;
/** CPU time of this process in ms (user + system): on a VM shared with other jobs, wall time measures the scheduler. */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

class NullDevice implements PacketDevice {
  cb: (p: Uint8Array) => void = () => {};
  end: () => void = () => {};
  written = 0;
  onPacket(cb: (p: Uint8Array) => void, end?: () => void): void {
    this.cb = cb;
    this.end = end ?? (() => {});
  }
  write(): boolean {
    this.written++;
    return true;
  }
}

class NullSocket implements DatagramSocket {
  sent = 0;
  send(): void {
    this.sent++;
  }
  sendBatch(b: Uint8Array[]): void {
    this.sent += b.length;
  }
  onMessage(): void {}
}

function build(extra: number) {
  const db = new SaDatabase({ crypto: (c) => libcryptoAead(c) ?? selectAeadProvider(c) });
  const dev = new NullDevice();
  const sock = new NullSocket();
  const child: TunnelChild = { name: "tunnel", local: [cidr("10.202.0.1/32")], remote: [cidr("10.202.0.2/32")], outbound: null, inbound: [], mtu: 1438 };
  const engine = new TunnelEngine({ device: dev, socket: sock, remoteAddress: "10.201.0.2", remotePort: 4500, children: [child], icmpTooBig: () => null, keepaliveMs: 0 });
  const k = crypto.getRandomValues(new Uint8Array(36));
  // the measured pair: outbound seals to the peer, inbound opens what a peer with the same key sealed
  const outSa = db.installOutbound({ spi: 0xc0de0001, cipher: "aes256gcm16", keyMaterial: k });
  const inSa = db.installInbound({ spi: 0xc0de0002, cipher: "aes256gcm16", keyMaterial: k, replayWindow: 0 });
  child.outbound = outSa;
  child.inbound.push(inSa);
  engine.reindex();
  const sink = new LocalChildSink(db, child, () => engine.reindex(), engine);
  for (let i = 0; i < extra; i++) {
    sink.install({
      spiIn: 0xbe000000 + i, spiOut: 0xbf000000 + i, cipher: "aes256gcm16", keyIn: k, keyOut: k, esn: false,
      local: child.local, remote: [cidr(`198.18.${i >> 8}.${i & 255}/32`)], child: `bench-${i}`, peer: { address: "198.51.100.1", port: 1024 + i },
    });
  }
  engine.start();
  // a peer's SA with the same key seals the inbound test packets
  const peerDb = new SaDatabase({ crypto: (c) => libcryptoAead(c) ?? selectAeadProvider(c) });
  const peerOut = peerDb.installOutbound({ spi: 0xc0de0002, cipher: "aes256gcm16", keyMaterial: k });
  return { engine, dev, sock, child, outSa, peerOut };
}

function packet(src: string, dst: string, len: number): Uint8Array {
  const p = new Uint8Array(len);
  p[0] = 0x45;
  p[2] = len >> 8;
  p[3] = len & 0xff;
  p[8] = 64;
  p[9] = 6;
  p.set(cidr(src).addr, 12);
  p.set(cidr(dst).addr, 16);
  return p;
}

const noSeal: SealingSa = { spi: 1, seal: (p) => p };
const out = packet("10.202.0.1", "10.202.0.2", 1400);

function route(c: ReturnType<typeof build>): number {
  c.child.outbound = noSeal;
  const t0 = cpuMs();
  for (let i = 0; i < PACKETS; i++) {
    c.dev.cb(out);
    if ((i & 63) === 63) c.dev.end();
  }
  c.dev.end();
  const dt = cpuMs() - t0;
  c.child.outbound = c.outSa;
  return (dt * 1e6) / PACKETS;
}

function seal(c: ReturnType<typeof build>, n: number): number {
  const t0 = cpuMs();
  for (let i = 0; i < n; i++) {
    c.dev.cb(out);
    if ((i & 63) === 63) c.dev.end();
  }
  c.dev.end();
  return ((cpuMs() - t0) * 1e6) / n;
}

function open(c: ReturnType<typeof build>, n: number): number {
  const inner = packet("10.202.0.2", "10.202.0.1", 1400);
  const esps: Uint8Array[] = [];
  for (let i = 0; i < 256; i++) esps.push(c.peerOut.seal(inner, 4)!.slice());
  const t0 = cpuMs();
  for (let i = 0; i < n; i++) c.engine.fromNetwork(esps[i & 255], "", 0);
  return ((cpuMs() - t0) * 1e6) / n;
}

const med = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// ONLY=0 / ONLY=1: build just one of the two cases in this process (heap-size effects show
// then; with both in one process they share one heap)
const ONLY = process.env.ONLY;
const cases = ONLY === "0" ? [build(0), build(0)] : ONLY === "1" ? [build(EXTRA), build(EXTRA)] : [build(0), build(EXTRA)];
const names = ["1 SA", `${EXTRA + 1} SAs`];
console.log(`children: ${cases.map((c) => c.engine.children.length).join(" / ")}`);
const res: Record<string, number[][]> = { route: [[], []], seal: [[], []], open: [[], []] };
// warm both
for (const c of cases) {
  route(c);
  seal(c, 20000);
  open(c, 20000);
}
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 ? [1, 0] : [0, 1];
  for (const i of order) {
    res.route[i].push(route(cases[i]));
    res.seal[i].push(seal(cases[i], PACKETS / 4));
    res.open[i].push(open(cases[i], PACKETS / 4));
  }
}
for (const c of cases) {
  const d = c.engine.counters.drops;
  if (d.policy || d.noSa || d.icv || d.replay) throw new Error(`unexpected drops ${JSON.stringify(d)}`);
}
console.log(`| path | ${names[0]} ns/packet (median) | ${names[1]} ns/packet (median) | ratio |`);
console.log("|---|---|---|---|");
for (const k of ["route", "seal", "open"]) {
  const a = med(res[k][0]), b = med(res[k][1]);
  console.log(`| ${k} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} |`);
}
console.log(`rounds ${ROUNDS}, ${PACKETS} packets per route run (${PACKETS / 4} per seal/open run), 1400-byte inner packets, load ${(await import("node:os")).loadavg().map((x) => x.toFixed(2)).join(" ")}`);
