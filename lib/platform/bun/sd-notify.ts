/**
 * sd_notify(3) for `vpnkit up` under systemd (Type=notify): one AF_UNIX datagram per state
 * change (`READY=1`, `STATUS=...`, `STOPPING=1`, `WATCHDOG=1`) to $NOTIFY_SOCKET, which is
 * a path or, starting with '@', an abstract socket. node:dgram has no AF_UNIX datagrams, so
 * this is socket(2) + sendto(2) through bun:ffi. Without NOTIFY_SOCKET every call is a no-op.
 * @module
 */
import { FFIType } from "bun:ffi";
import { libcSymbols, stableBytes } from "./libc.ts";

/** What `vpnkit up` needs from the service manager. */
export interface Notifier {
  /** True when NOTIFY_SOCKET is set (and the socket could be created). */
  readonly enabled: boolean;
  /** Send newline-separated assignments, e.g. "READY=1\nSTATUS=up"; false when not sent. */
  notify(state: string): boolean;
  /** Keep sending WATCHDOG=1 at half of WATCHDOG_USEC when the unit sets WatchdogSec (unref'd timer). */
  startWatchdog(): void;
  close(): void;
}

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;

let sym: { socket: (d: number, t: number, p: number) => number; sendto: (fd: number, b: Uint8Array, n: number, f: number, a: Uint8Array, l: number) => number | bigint; close: (fd: number) => number } | null = null;
function syms() {
  return (sym ??= libcSymbols({
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    sendto: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i64_fast },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  }) as unknown as NonNullable<typeof sym>);
}

/** struct sockaddr_un for a NOTIFY_SOCKET value and its length, or null when it is not usable. */
export function notifySockaddr(path: string): { addr: Uint8Array; len: number } | null {
  if (!path || (path[0] !== "/" && path[0] !== "@")) return null;
  const p = new TextEncoder().encode(path);
  if (p.length > 107) return null;
  const addr = stableBytes(110);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(p, 2);
  if (path[0] === "@") {
    addr[2] = 0; // abstract namespace: the name is exactly the bytes given, no terminating NUL
    return { addr, len: 2 + p.length };
  }
  return { addr, len: 2 + p.length + 1 };
}

const NOOP: Notifier = { enabled: false, notify: () => false, startWatchdog() {}, close() {} };

/** A notifier for this process's environment (no-op without NOTIFY_SOCKET). */
export function sdNotifier(env: Record<string, string | undefined> = process.env): Notifier {
  const sa = notifySockaddr(env.NOTIFY_SOCKET ?? "");
  if (!sa) return NOOP;
  const s = syms();
  let fd = s.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return NOOP;
  let timer: ReturnType<typeof setInterval> | null = null;
  const notify = (state: string): boolean => {
    if (fd < 0) return false;
    const msg = new TextEncoder().encode(state);
    const buf = stableBytes(msg.length);
    buf.set(msg);
    return Number(s.sendto(fd, buf, buf.length, MSG_NOSIGNAL, sa.addr, sa.len)) === buf.length;
  };
  return {
    enabled: true,
    notify,
    startWatchdog() {
      const usec = Number(env.WATCHDOG_USEC ?? 0);
      const pid = env.WATCHDOG_PID;
      if (!(usec > 0) || (pid !== undefined && Number(pid) !== process.pid) || timer) return;
      timer = setInterval(() => notify("WATCHDOG=1"), Math.max(100, Math.floor(usec / 2000)));
      (timer as { unref?: () => void }).unref?.();
    },
    close() {
      if (timer) clearInterval(timer);
      timer = null;
      if (fd >= 0) s.close(fd);
      fd = -1;
    },
  };
}
