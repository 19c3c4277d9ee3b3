/**
 * Bench-only preload for the `vpnkit up` process (bench/ike/mem-held.sh): on SIGUSR2 it
 * appends one JSON line to $VKM_PROBE_OUT with the process's VmRSS / RssAnon / RssFile and
 * the main thread's JavaScript heap (bun:jsc heapStats: size, object count, largest object
 * types) before and after a full garbage collection, and the RSS after it. Not part of
 * vpnkit: loaded with `bun --preload bench/ike/mem-probe.ts cli/main.ts up ...`.
 * @module
 */
import { heapStats } from "bun:jsc";
import { appendFileSync, readFileSync } from "node:fs";

const out = process.env.VKM_PROBE_OUT;
function status(): Record<string, number> {
  const s = readFileSync("/proc/self/status", "utf8");
  const r: Record<string, number> = {};
  for (const k of ["VmRSS", "RssAnon", "RssFile", "VmData"]) r[k] = Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? -1);
  return r;
}
function heap() {
  const h = heapStats();
  return { heapSize: h.heapSize, heapCapacity: h.heapCapacity, extra: h.extraMemorySize, objects: h.objectCount, types: h.objectTypeCounts as Record<string, number> };
}
/** VKM_CLASSES=1: count and bytes per class in a heap snapshot, and the ArrayBuffers by byte size (held.sh's summary diffs them). */
function classes(): Record<string, [number, number]> {
  const snap = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[] };
  const sum: Record<string, [number, number]> = {};
  for (let i = 0; i < snap.nodes.length; i += 4) {
    const name = snap.nodeClassNames[snap.nodes[i + 2]];
    const b = snap.nodes[i + 1];
    const s = (sum[name] ??= [0, 0]);
    s[0]++;
    s[1] += b;
    if (name === "ArrayBuffer" || name === "Uint8Array") {
      const k = `${name}:${b < 64 ? b : b < 1024 ? `${b >> 6 << 6}+` : `${b >> 10}K+`}`;
      const t = (sum[k] ??= [0, 0]);
      t[0]++;
      t[1] += b;
    }
  }
  return sum;
}
if (out) {
  process.on("SIGUSR2", () => {
    const label = (() => { try { return readFileSync(out + ".label", "utf8").trim(); } catch { return ""; } })();
    const before = { ...status(), ...heap() };
    Bun.gc(true);
    const after = { ...status(), ...heap() };
    // a second look a little later: freed pages may go back to the OS after a while
    setTimeout(() => {
      const later = status();
      // and after glibc's malloc_trim(0): how much is free malloc memory not yet given back
      let trimmed: Record<string, number> | null = null;
      try {
        const { dlopen, FFIType } = require("bun:ffi");
        const l = dlopen("libc.so.6", { malloc_trim: { args: [FFIType.u64], returns: FFIType.i32 } });
        l.symbols.malloc_trim(0);
        trimmed = status();
      } catch { /* no glibc */ }
      appendFileSync(out, JSON.stringify({ label, before, after, later, trimmed, classes: process.env.VKM_CLASSES ? classes() : undefined }) + "\n");
    }, 1500);
  });
}
