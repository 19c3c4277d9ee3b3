/**
 * The data-plane worker's share of a held Child SA (issue 12, memory per SA), in one process:
 * a LocalChildSink over a SaDatabase + TunnelEngine as in lib/platform/bun/dataplane-worker.ts
 * takes K installs shaped like the IKE driver's for bench/ike/held.sh (aes256gcm16, a /32
 * remote selector each, the shared local one, a peer endpoint, a child key), each passed through
 * structuredClone as postMessage does. Prints per Child SA, after a full GC: JS heap bytes,
 * heap capacity, external memory, objects by type.
 *
 *   bun bench/ike/mem-child.ts [--count 1000] [--top 20]
 * @module
 */
import { heapStats } from "bun:jsc";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { type ChildInstall, LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { type DatagramSocket, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { MemoryDevice } from "../../lib/tunnel/memory.ts";
import { parseCidr } from "../../lib/net/cidr.ts";

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const K = Number(opt("--count", "1000"));
const top = Number(opt("--top", "20"));
const sock = { send() {}, sendBatch() {}, onMessage() {} } as unknown as DatagramSocket;
const db = new SaDatabase();
const dflt: TunnelChild = { name: "ike", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
const engine = new TunnelEngine({ device: new MemoryDevice(), socket: sock, remoteAddress: "0.0.0.0", remotePort: 0, children: [dflt], icmpTooBig: () => null, keepaliveMs: 0 });
engine.start();
const sink = new LocalChildSink(db, dflt, () => engine.reindex(), engine);
const local = [parseCidr("10.2.0.0/24")!];

function install(i: number): void {
  const keyIn = new Uint8Array(36).fill(i & 255), keyOut = new Uint8Array(36).fill((i + 1) & 255);
  const c: ChildInstall = {
    spiIn: 0x10000000 + i, spiOut: 0x20000000 + i, cipher: "aes256gcm16", keyIn, keyOut, esn: false,
    local, remote: [parseCidr(`10.1.${(i >> 8) & 255}.${i & 255}/32`)!], peer: { address: "192.0.2.1", port: 4500 },
    child: `ike${i + 1}-${(0x10000000 + i).toString(16)}`,
  };
  const m = structuredClone({ type: "install", child: c });
  sink.install(m.child);
  m.child.keyIn.fill(0);
  m.child.keyOut.fill(0);
}

function snap() {
  Bun.gc(true);
  Bun.gc(true);
  const h = heapStats();
  return { cap: h.heapCapacity, heap: h.heapSize, extra: h.extraMemorySize, objects: h.objectCount, types: { ...h.objectTypeCounts } as Record<string, number>, rss: process.memoryUsage.rss() };
}
for (let i = 0; i < 50; i++) install(60000 + i);
const s0 = snap();
for (let i = 0; i < K; i++) install(i);
const s1 = snap();
const per = (a: number, b: number) => ((b - a) / K).toFixed(1);
console.log(`K=${K}: ${engine.children.length} children; JS heap per Child SA ${per(s0.heap, s1.heap)} B, objects ${per(s0.objects, s1.objects)}, extra ${per(s0.extra, s1.extra)} B, heapCapacity ${per(s0.cap, s1.cap)} B, RSS ${per(s0.rss, s1.rss)} B`);
const rows = Object.keys({ ...s0.types, ...s1.types }).map((t) => ({ t, d: ((s1.types[t] ?? 0) - (s0.types[t] ?? 0)) / K })).filter((r) => Math.abs(r.d) >= 0.01).sort((a, b) => b.d - a.d);
for (const r of rows.slice(0, top)) console.log(`  ${r.d.toFixed(2).padStart(8)}  ${r.t}`);
