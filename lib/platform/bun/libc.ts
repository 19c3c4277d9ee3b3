/**
 * Minimal libc bindings through bun:ffi (Linux, glibc or musl), loaded lazily: importing
 * this module never dlopens anything (command modules must load on macOS/Windows too);
 * the first use of `libc` / `getLibc()` does, and throws "cannot load libc" off Linux.
 * Used by the Bun platform adapters (TUN device, probe socket).
 * @module
 */
import { dlopen, FFIType, read as ffiRead } from "bun:ffi";

function openLibc() {
  const names = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"];
  let last: unknown;
  for (const n of names) {
    try {
      return dlopen(n, {
        open: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
        read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
        ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
        poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
        strerror: { args: [FFIType.i32], returns: FFIType.cstring },
      });
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`cannot load libc: ${String(last)}`);
}

export type LibcSymbols = ReturnType<typeof openLibc>["symbols"];

const LIBC_NAMES = ["libc.so.6", "libc.musl-x86_64.so.1", "libc.so"];

/**
 * Bind other libc functions (`defs` as for bun:ffi dlopen) from the first C library that
 * loads; throws "cannot load libc (...)" when none does. Callers keep the result.
 */
export function libcSymbols<const D extends Record<string, { args: readonly FFIType[]; returns: FFIType }>>(defs: D): ReturnType<typeof dlopen<D>>["symbols"] {
  const errs: string[] = [];
  for (const n of LIBC_NAMES) {
    try {
      return dlopen(n, defs).symbols;
    } catch (e) {
      errs.push(String(e));
    }
  }
  throw new Error(`cannot load libc (${Object.keys(defs).join(", ")}): ${errs.join("; ")}`);
}

/** struct sockaddr_in / sockaddr_in6 for `addr` (4 or 16 bytes) and `port`. */
export function sockaddr(family: 4 | 6, addr: Uint8Array, port: number): Uint8Array {
  const b = new Uint8Array(family === 6 ? 28 : 16);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, family === 6 ? 10 /* AF_INET6 */ : 2 /* AF_INET */, true);
  dv.setUint16(2, port, false);
  b.set(addr, family === 6 ? 8 : 4);
  return b;
}
let cached: LibcSymbols | null = null;

/** The libc symbols (dlopen on first call). Hot paths should keep the returned object. */
export function getLibc(): LibcSymbols {
  return (cached ??= openLibc().symbols);
}

/** Lazy view of {@link getLibc}: `libc.read(...)` loads libc on first use. */
export const libc: LibcSymbols = new Proxy({} as LibcSymbols, {
  get: (_t, k) => (getLibc() as unknown as Record<string | symbol, unknown>)[k],
});

/** Current thread's errno. */
export function errno(): number {
  const p = getLibc().__errno_location();
  return p === null ? 0 : ffiRead.i32(p, 0);
}

export function strerror(e: number): string {
  return String(getLibc().strerror(e));
}

export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;
export const EPERM = 1;
export const EACCES = 13;
export const ENOENT = 2;
export const EBUSY = 16;
export const POLLIN = 1;

/**
 * Bytes whose address native code keeps: receive slabs, structs that hold pointers to other
 * buffers (msghdr, iovec), buffers a pointer was taken of once and reused. Backed by an
 * ArrayBuffer of their own, so JavaScriptCore never moves them.
 *
 * A plain `new Uint8Array(n)` of up to 1000 elements is a "fast" typed array whose storage
 * lives in the GC heap, and JSC moves that storage to a fresh ArrayBuffer the first time the
 * view needs one: `view.buffer`, structured clone, or DFG tier-up of a function that uses it
 * (Bun issue #32054). A pointer taken with `ptr()` before that dangles, and native writes
 * through it land in whatever the GC puts there next. (Found here: the data-plane worker's
 * 8-byte eventfd read buffer was relocated, and each eventfd read then overwrote the salt of
 * an ESP SA's nonce: every later packet failed its ICV at the peer.) A pointer does not keep
 * its array alive either: hold the array (a class field) for as long as native code may use
 * the address, or pass the array itself to the FFI call instead of a pointer taken earlier.
 */
export function stableBytes(n: number): Uint8Array {
  return new Uint8Array(new ArrayBuffer(n));
}
