/**
 * A tiny worker that blocks in epoll_wait() on one fd (edge-triggered) and posts `0` to the
 * owner on each idle→busy transition, so the owner's event loop never polls. Shared by the
 * TUN reader (tun.ts) and live capture (af-packet.ts).
 *
 * Protocol, over `ctl` (an Int32Array on a SharedArrayBuffer of ≥ 8 bytes):
 * - `ctl[0]` is the busy flag: the worker sets it 0→1 and posts `0`; the owner stores 0
 *   BEFORE draining the fd, so a packet after its last read raises a new edge and a new post;
 * - `ctl[1]` set to non-zero stops the worker (it posts `1` when it exits); so does
 *   EPOLLERR/EPOLLHUP on the fd.
 * @module
 */

/** The worker's source (a module with its own dlopen: workers share no FFI handles). */
export const EPOLL_WAKER_SRC = `
import { dlopen, FFIType } from "bun:ffi";
let lib;
for (const n of ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"]) {
  try {
    lib = dlopen(n, {
      epoll_create1: { args: [FFIType.i32], returns: FFIType.i32 },
      epoll_ctl: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
      epoll_wait: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
      close: { args: [FFIType.i32], returns: FFIType.i32 },
    });
    break;
  } catch {}
}
const c = lib.symbols;
self.onmessage = (e) => {
  const fd = e.data.fd;
  const ctl = new Int32Array(e.data.sab);
  const ep = c.epoll_create1(0x80000);
  const ev = new Uint8Array(12);
  new DataView(ev.buffer).setUint32(0, (1 | 0x80000000) >>> 0, true); // EPOLLIN | EPOLLET
  c.epoll_ctl(ep, 1, fd, ev);
  const out = new Uint8Array(12 * 4);
  const odv = new DataView(out.buffer);
  while (Atomics.load(ctl, 1) === 0) {
    const r = c.epoll_wait(ep, out, 4, 250);
    if (r > 0) {
      if (odv.getUint32(0, true) & 0x18) break; // EPOLLERR | EPOLLHUP: fd gone
      if (Atomics.compareExchange(ctl, 0, 0, 1) === 0) postMessage(0);
    }
  }
  c.close(ep);
  postMessage(1);
};
`;

/**
 * Start an epoll waker on `fd`. `onReady` runs on the owner's thread for each wake-up
 * (message `0`). Stop it with `Atomics.store(ctl, 1, 1)` and terminate the worker.
 */
export function startEpollWaker(fd: number, ctl: Int32Array, onReady: () => void): Worker {
  const url = URL.createObjectURL(new Blob([EPOLL_WAKER_SRC], { type: "application/javascript" }));
  const w = new Worker(url);
  w.onmessage = (e: MessageEvent) => {
    if (e.data === 0) onReady();
  };
  w.postMessage({ fd, sab: ctl.buffer });
  return w;
}
