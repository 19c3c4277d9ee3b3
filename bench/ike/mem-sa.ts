/**
 * Where the memory of a held IKE SA goes (issue 12, "memory per SA"), in one process, no
 * root, no sockets: a responder {@link IkeDriver} configured like bench/ike/held.sh's
 * `vpnkit up --responder` (PSK, aes256gcm16-prfsha256-x25519, ESP aes256gcm16, dpd/rekey 0)
 * takes K IKE SAs + 1 Child SA each from IkeSa initiators (own identity h<i>@example.org and
 * selector 10.1.x.y/32 each, as loadgen.ts --hold), messages handed over synchronously. The
 * initiators are dropped once established (only the responder's state is measured). The
 * Child SAs go to a LocalChildSink over a real SaDatabase + TunnelEngine (what the data-plane
 * worker of `vpnkit up` holds per Child SA), or to a sink that only counts (`--sink none`).
 *
 * Prints, after a full GC before and after: JS heap bytes and heap capacity per SA (bun:jsc
 * heapStats), object counts per type per SA (the largest) and RSS per SA. The IKE side alone:
 * `--sink none`; the difference to `--sink engine` is the packet path's share per Child SA.
 *
 *   bun bench/ike/mem-sa.ts --count 1000 [--sink engine|none] [--top 25]
 *     [--gc-every N [--gc-full]]  a young (full) GC every N handshakes during the run
 *     [--snapshot]                bytes and counts per class in a JSC heap snapshot
 *     [--retained]                bytes reachable from each SA, by field (and the manager's / driver's)
 *     [--who CLASS]               who holds the objects of CLASS (two levels of referrers)
 * @module
 */
import { heapStats, memoryUsage } from "bun:jsc";
import { SaDatabase } from "../../lib/esp/sadb.ts";
import { IkeSa } from "../../lib/ike/v2/sa/ike-sa.ts";
import type { Action } from "../../lib/ike/v2/sa/types.ts";
import { type ChildSaSink, LocalChildSink } from "../../lib/tunnel/child-sink.ts";
import { mergeRawIke, validateIkeConfig } from "../../lib/tunnel/config.ts";
import { type DatagramSocket, TunnelEngine, type TunnelChild } from "../../lib/tunnel/engine.ts";
import { IkeDriver } from "../../lib/tunnel/ike-driver.ts";
import { MemoryDevice } from "../../lib/tunnel/memory.ts";

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const K = Number(opt("--count", "1000"));
const sinkKind = opt("--sink", "engine");
const top = Number(opt("--top", "25"));
const PSK = "vpnkit-bench-psk-0123456789";
const SERVER = "192.0.2.2", CLIENT = "192.0.2.1";

const sock: DatagramSocket = { send() {}, sendBatch() {}, onMessage() {} } as unknown as DatagramSocket;
let sink: ChildSaSink;
let installs = 0;
if (sinkKind === "engine") {
  const db = new SaDatabase();
  const dflt: TunnelChild = { name: "ike", local: [], remote: [], outbound: null, inbound: [], mtu: 1400 };
  const engine = new TunnelEngine({ device: new MemoryDevice(), socket: sock, remoteAddress: "0.0.0.0", remotePort: 0, children: [dflt], icmpTooBig: () => null, keepaliveMs: 0 });
  engine.start();
  const inner = new LocalChildSink(db, dflt, () => engine.reindex(), engine);
  sink = { install: (c) => { installs++; inner.install(c); }, remove: (a, b, n) => inner.remove(a, b, n) };
} else {
  sink = { install: (c) => { installs++; c.keyIn.fill(0); c.keyOut.fill(0); }, remove: () => {} };
}

const rcfg = validateIkeConfig(mergeRawIke({ local: SERVER }, {
  psk: PSK, responder: true, local_ts: ["10.2.0.0/24"], remote_ts: ["10.1.0.0/16"], local_id: "sw@example.org",
  ike_proposal: ["aes256gcm16-prfsha256-x25519"], esp_proposal: ["aes256gcm16"], dpd: 0, rekey: 0, ike_rekey: 0,
  limits: { block_threshold: 100000, cookie_threshold: 100000, half_open_max: 100000, max_sas: 1000000, init_rate: 0 },
} as never), () => new Uint8Array(0));

let clock = 1_000_000;
const toClient: Uint8Array[] = [];
const logs = { n: 0, bytes: 0 };
const server = new IkeDriver({
  cfg: rcfg, sink, now: () => clock,
  log: (_l, m) => { logs.n++; logs.bytes += m.length; },
  setInterval: () => 0, clearInterval: () => {},
  send: (b) => toClient.push(b.slice(4)),
});
server.start();

function establish(i: number): void {
  const r = IkeSa.initiator({
    local: { address: CLIENT, port: 4500 }, remote: { address: SERVER, port: 4500 },
    localId: `h${i}@example.org`, remoteId: "sw@example.org", psk: PSK, ikeProposals: ["aes256gcm16-prfsha256-x25519"], espProposals: ["aes256gcm16"],
    localTs: [`10.1.${(i >> 8) & 255}.${i & 255}/32`], remoteTs: ["10.2.0.0/24"], forceEncap: true, dpdDelay: 0, natKeepalive: 0,
  }, clock);
  let actions: Action[] = r.actions;
  let done = false;
  for (let round = 0; round < 10 && !done; round++) {
    for (const a of actions) {
      if (a.type === "send") {
        const b = new Uint8Array(4 + a.data.length);
        b.set(a.data, 4);
        server.onDatagram(b, CLIENT, 4500);
      } else if (a.type === "established") done = true;
      else if (a.type === "failed") throw new Error(`handshake ${i}: ${a.reason}`);
    }
    actions = [];
    while (toClient.length) actions.push(...r.sa.receive(toClient.shift()!, { address: SERVER, port: 4500 }, clock));
    clock += 1;
  }
  if (!done) throw new Error(`handshake ${i} did not complete`);
}

function snapshot() {
  Bun.gc(true);
  Bun.gc(true);
  const h = heapStats();
  const m = memoryUsage() as { current: number; currentCommit: number };
  return { cap: h.heapCapacity, mi: m.current, miCommit: m.currentCommit, heap: h.heapSize, objects: h.objectCount, types: { ...h.objectTypeCounts } as Record<string, number>, rss: process.memoryUsage.rss(), extra: h.extraMemorySize };
}

// warm-up: code paths, caches (not counted)
for (let i = 0; i < 50; i++) establish(60000 + i);
const s0 = snapshot();
const gcEvery = Number(opt("--gc-every", "0")), gcFull = argv.includes("--gc-full");
for (let i = 0; i < K; i++) {
  establish(i);
  if (gcEvery && i % gcEvery === gcEvery - 1) Bun.gc(gcFull);
}
clock += 5000;
const s1 = snapshot();
const st = server.manager.stats();
const per = (a: number, b: number) => ((b - a) / K).toFixed(1);
console.log(`K=${K} sink=${sinkKind}: manager holds ${st.sas} SAs (${st.halfOpen} half-open), ${installs} Child SA installs, ${logs.n} log lines (${logs.bytes} chars)`);
console.log(`JS heap per SA: ${per(s0.heap, s1.heap)} B (heapSize ${s0.heap} -> ${s1.heap}); objects per SA ${per(s0.objects, s1.objects)}; extraMemory per SA ${per(s0.extra, s1.extra)} B`);
console.log(`heapCapacity per SA ${per(s0.cap, s1.cap)} B; malloc (bun:jsc memoryUsage) current ${per(s0.mi, s1.mi)} B, committed ${per(s0.miCommit, s1.miCommit)} B`);
console.log(`RSS per SA: ${per(s0.rss, s1.rss)} B (${(s0.rss / 1024).toFixed(0)} -> ${(s1.rss / 1024).toFixed(0)} KiB)`);
const rows = Object.keys({ ...s0.types, ...s1.types }).map((t) => ({ t, d: ((s1.types[t] ?? 0) - (s0.types[t] ?? 0)) / K })).filter((r) => r.d !== 0).sort((a, b) => b.d - a.d);
console.log(`objects per SA by type (top ${top}):`);
for (const r of rows.slice(0, top)) console.log(`  ${r.d.toFixed(2).padStart(8)}  ${r.t}`);

// --snapshot: JSC heap snapshot, bytes and counts per class name (after - before / K)
if (argv.includes("--snapshot")) {
  const snap = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[] };
  const sum: Record<string, { n: number; b: number }> = {};
  for (let i = 0; i < snap.nodes.length; i += 4) {
    const name = snap.nodeClassNames[snap.nodes[i + 2]];
    const s = (sum[name] ??= { n: 0, b: 0 });
    s.n++;
    s.b += snap.nodes[i + 1];
  }
  const rowsB = Object.entries(sum).sort((a, b) => b[1].b - a[1].b).slice(0, top);
  console.log("heap snapshot (whole heap, after): bytes / count per class");
  for (const [k, v] of rowsB) console.log(`  ${String(v.b).padStart(10)} ${String(v.n).padStart(8)}  ${k}`);
}

// --retained: from every per-SA object (SaState, IkeSa, the manager's and driver's entries), the
// bytes reachable under each property name (depth <= 5, each heap node counted once, for the first
// property that reaches it; structures and code not counted): what one SA holds, by field
if (argv.includes("--retained")) {
  const snap = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[]; edges: number[]; edgeNames: string[]; edgeTypes: string[] };
  const n = snap.nodes.length / 4;
  const idx = new Map<number, number>();
  const size = new Float64Array(n), cls: string[] = [];
  for (let i = 0; i < n; i++) { idx.set(snap.nodes[i * 4], i); size[i] = snap.nodes[i * 4 + 1]; cls.push(snap.nodeClassNames[snap.nodes[i * 4 + 2]]); }
  const succ: [number, string][][] = Array.from({ length: n }, () => []);
  for (let e = 0; e < snap.edges.length; e += 4) {
    const a = idx.get(snap.edges[e]), b = idx.get(snap.edges[e + 1]);
    if (a === undefined || b === undefined || a === b) continue;
    const t = snap.edgeTypes[snap.edges[e + 2]];
    succ[a].push([b, t === "Index" ? "[i]" : snap.edgeNames[snap.edges[e + 3]] ?? t]);
  }
  const skip = new Set(["Structure", "StructureRareData", "Function", "FunctionExecutable", "FunctionCodeBlock", "JSLexicalEnvironment", "GlobalObject", "SymbolTable", "NativeExecutable", "IkeDriver", "IkeSaManager", "JSModuleEnvironment", "ModuleRecord"]);
  const claimed = new Uint8Array(n);
  const per: Record<string, number> = {};
  const roots: Record<string, number> = {};
  const rootClasses = ["IkeSa", "SaState"];
  for (let v = 0; v < n; v++) if (rootClasses.includes(cls[v])) claimed[v] = 1;
  for (let v = 0; v < n; v++) {
    if (!rootClasses.includes(cls[v])) continue;
    roots[cls[v]] = (roots[cls[v]] ?? 0) + 1;
    per[`${cls[v]} (itself)`] = (per[`${cls[v]} (itself)`] ?? 0) + size[v];
    for (const [w, name] of succ[v]) {
      if (claimed[w] || skip.has(cls[w]) || rootClasses.includes(cls[w])) continue;
      const key = `${cls[v]}.${name}`;
      let q = [w]; claimed[w] = 1;
      for (let d = 0; d < 5 && q.length; d++) {
        const nq: number[] = [];
        for (const x of q) {
          per[key] = (per[key] ?? 0) + size[x];
          for (const [y] of succ[x]) if (!claimed[y] && !skip.has(cls[y]) && !rootClasses.includes(cls[y])) { claimed[y] = 1; nq.push(y); }
        }
        q = nq;
      }
    }
  }
  // then what the manager and the driver hold besides the SAs, by their property names
  for (const owner of ["IkeSaManager", "IkeDriver"]) {
    for (let v = 0; v < n; v++) {
      if (cls[v] !== owner) continue;
      for (const [w, name] of succ[v]) {
        if (claimed[w] || skip.has(cls[w]) || rootClasses.includes(cls[w])) continue;
        const key = `${owner}.${name}`;
        let q = [w]; claimed[w] = 1;
        for (let d = 0; d < 8 && q.length; d++) {
          const nq: number[] = [];
          for (const x of q) {
            per[key] = (per[key] ?? 0) + size[x];
            for (const [y] of succ[x]) if (!claimed[y] && !skip.has(cls[y]) && !rootClasses.includes(cls[y])) { claimed[y] = 1; nq.push(y); }
          }
          q = nq;
        }
      }
    }
  }
  const K2 = roots.SaState ?? 1;
  let tot = 0;
  for (const b of Object.values(per)) tot += b;
  console.log(`reachable from the ${K2} SAs, per SA: ${(tot / K2).toFixed(0)} B; by field:`);
  for (const [k, b] of Object.entries(per).sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${(b / K2).toFixed(0).padStart(7)} B  ${k}`);
}

// --who CLASS: who holds the objects of CLASS (two levels of referrers: class.property), with their sizes
const who = argv.includes("--who") ? opt("--who", "ArrayBuffer") : null;
if (who) {
  const snap = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[]; edges: number[]; edgeNames: string[]; edgeTypes: string[] };
  const n = snap.nodes.length / 4;
  const idx = new Map<number, number>();
  for (let i = 0; i < n; i++) idx.set(snap.nodes[i * 4], i);
  const cls = (i: number) => snap.nodeClassNames[snap.nodes[i * 4 + 2]];
  const preds: [number, string][][] = Array.from({ length: n }, () => []);
  for (let e = 0; e < snap.edges.length; e += 4) {
    const a = idx.get(snap.edges[e]), b = idx.get(snap.edges[e + 1]);
    if (a === undefined || b === undefined) continue;
    const t = snap.edgeTypes[snap.edges[e + 2]];
    preds[b].push([a, t === "Index" ? "[i]" : snap.edgeNames[snap.edges[e + 3]] ?? t]);
  }
  const hist: Record<string, { n: number; b: number }> = {};
  for (let v = 0; v < n; v++) {
    if (cls(v) !== who) continue;
    const p1 = preds[v].filter(([a]) => a !== 0)[0];
    let k = "(root)";
    if (p1) {
      const p2 = preds[p1[0]].filter(([a]) => a !== 0)[0];
      k = `${p2 ? `${cls(p2[0])}.${p2[1]} > ` : ""}${cls(p1[0])}.${p1[1]}`;
    }
    const h = (hist[k] ??= { n: 0, b: 0 });
    h.n++;
    h.b += snap.nodes[v * 4 + 1];
  }
  console.log(`who holds ${who} (count, bytes):`);
  for (const [k, h] of Object.entries(hist).sort((a, b) => b[1].n - a[1].n).slice(0, top)) console.log(`  ${String(h.n).padStart(7)} ${String(h.b).padStart(9)}  ${k}`);
}
