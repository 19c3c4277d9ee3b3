/**
 * The IKE gate in a thread of its own (ike-gate.ts), used when the packet path runs on the main
 * thread (VPNKIT_DATAPLANE=main); otherwise the data-plane worker runs the same loop
 * ({@link GateLoop}, ike-gate-loop.ts) in its epoll set. Blocks in poll() on the gate's sockets;
 * stop: a flag, seen within one poll() timeout.
 * @module
 */
import { FFIType } from "bun:ffi";
import { libcSymbols, stableBytes } from "./libc.ts";
import { G, type GateEvent, type GateInit, gateViews } from "./ike-gate-shared.ts";
import { GateLoop } from "./ike-gate-loop.ts";

declare const self: Worker;

const POLLIN = 1;
/** poll() timeout: how late a stop or a secret rotation can be. */
const WAIT_MS = 100;

async function run(init: GateInit): Promise<void> {
  const { ctl } = gateViews(init.sab);
  const L = libcSymbols({ poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 } });
  const loop = new GateLoop(init, (e) => self.postMessage(e satisfies GateEvent));
  const fds = loop.fds;
  const pfds = stableBytes(8 * fds.length);
  const pdv = new DataView(pfds.buffer);
  fds.forEach((fd, i) => {
    pdv.setInt32(i * 8, fd, true);
    pdv.setInt16(i * 8 + 4, POLLIN, true);
  });
  const yieldNow = () => new Promise<void>((r) => setImmediate(r));
  let lastYield = Date.now();
  Atomics.store(ctl, G.READY, 1);
  self.postMessage({ type: "ready" } satisfies GateEvent);
  try {
    while (Atomics.load(ctl, G.STOP) === 0) {
      const r = L.poll(pfds, fds.length, WAIT_MS);
      let more = false;
      if (r > 0) {
        for (let i = 0; i < fds.length; i++) if (pdv.getInt16(i * 8 + 6, true) !== 0 && loop.drain(fds[i])) more = true;
      }
      loop.tick(Date.now());
      // this thread's event loop (GC housekeeping) gets a turn now and then, also under a flood
      if (Date.now() - lastYield > (more ? 50 : 20)) {
        await yieldNow();
        lastYield = Date.now();
      }
    }
  } finally {
    loop.close();
    Atomics.store(ctl, G.STOPPED, 1);
    Atomics.notify(ctl, G.STOPPED);
  }
}

self.onmessage = (e: MessageEvent) => {
  const m = e.data as GateInit;
  if (m?.type !== "init") return;
  run(m).catch((err) => {
    const { ctl } = gateViews(m.sab);
    if (Atomics.load(ctl, G.READY) === 0) Atomics.store(ctl, G.READY, -1);
    Atomics.store(ctl, G.STOPPED, 1);
    Atomics.notify(ctl, G.STOPPED);
    self.postMessage({ type: "error", message: (err as Error)?.message ?? String(err) } satisfies GateEvent);
  });
};
