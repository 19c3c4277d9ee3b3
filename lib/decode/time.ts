/**
 * Packet time stamps on the summary line, in the spirit of tcpdump's `-t` family:
 *
 * | mode       | tcpdump | text                           |
 * |------------|---------|--------------------------------|
 * | `date`     | -tttt   | `2026-12-06 14:38:55.860244`   |
 * | `absolute` | (none)  | `14:38:55.860244` (time of day)|
 * | `epoch`    | -tt     | `1796567935.860244`            |
 * | `delta`    | -ttt    | `00:00:00.000023` since the previous packet shown |
 * | `relative` | -ttttt  | `00:00:01.250001` since the first packet shown |
 * | `none`     | -t      | nothing                        |
 *
 * `date` and `absolute` are in local time (the TZ environment variable) unless
 * `utc` is set. The library default is `absolute` in UTC (what the summary
 * line always printed); `vpnkit decode` defaults to `date` in local time.
 *
 * A {@link TimeFormatter} is stateful for `delta` and `relative` (the previous /
 * first packet): each packet shown must be formatted exactly once, in order,
 * whether the full decoder's renderer or the fast path (lib/decode/fast-summary.ts)
 * prints it: both call the same formatter, so their bytes stay identical.
 * Runtime-neutral.
 * @module
 */
import { ascii, put6, putSeg } from "./output.ts";

export type TimeMode = "date" | "absolute" | "epoch" | "delta" | "relative" | "none";

export const TIME_MODES: readonly TimeMode[] = ["date", "absolute", "epoch", "delta", "relative", "none"];

export interface TimeFormat {
  mode: TimeMode;
  /** `date` / `absolute` in UTC instead of local time. */
  utc: boolean;
}

/** tcpdump's `-t` count → mode (1 none, 2 epoch, 3 delta, 4 date, 5 relative). */
export function timeModeFromTCount(n: number): TimeMode | null {
  return n === 1 ? "none" : n === 2 ? "epoch" : n === 3 ? "delta" : n === 4 ? "date" : n === 5 ? "relative" : null;
}

function pad2(n: number): string {
  return n < 10 ? "0" + n : String(n);
}

/** `[-]HH:MM:SS.uuuuuu` of a duration in microseconds (hours may exceed 23). */
function durationText(us: number): string {
  const neg = us < 0;
  if (neg) us = -us;
  const s = Math.floor(us / 1e6);
  const frac = us - s * 1e6;
  const h = Math.floor(s / 3600);
  return `${neg ? "-" : ""}${pad2(h)}:${pad2(Math.floor((s % 3600) / 60))}:${pad2(s % 60)}.${String(frac).padStart(6, "0")}`;
}

/** Formats the time stamps of the packets shown, in order (see the module doc). */
export class TimeFormatter {
  readonly mode: TimeMode;
  readonly utc: boolean;
  /** Cached per second: everything before the microseconds (date/absolute/epoch). */
  private prefixSec = NaN;
  private prefix = "";
  private prefixBytes: Uint8Array = new Uint8Array(0);
  /** Previous (delta) or first (relative) packet, in whole microseconds; NaN before the first. */
  private refUs = NaN;

  constructor(fmt: TimeFormat = { mode: "absolute", utc: true }) {
    this.mode = fmt.mode;
    this.utc = fmt.utc;
  }

  private makePrefix(sec: number): void {
    this.prefixSec = sec;
    if (this.mode === "epoch") this.prefix = `${sec}.`;
    else if (this.utc && this.mode === "absolute") {
      // the summary line's historic fast form (no Date object)
      const d = ((sec % 86400) + 86400) % 86400;
      this.prefix = `${pad2(Math.floor(d / 3600))}:${pad2(Math.floor((d % 3600) / 60))}:${pad2(d % 60)}.`;
    } else {
      const t = new Date(sec * 1000);
      const hms = this.utc
        ? `${pad2(t.getUTCHours())}:${pad2(t.getUTCMinutes())}:${pad2(t.getUTCSeconds())}.`
        : `${pad2(t.getHours())}:${pad2(t.getMinutes())}:${pad2(t.getSeconds())}.`;
      if (this.mode === "absolute") this.prefix = hms;
      else {
        const y = this.utc ? t.getUTCFullYear() : t.getFullYear();
        const mo = (this.utc ? t.getUTCMonth() : t.getMonth()) + 1;
        const da = this.utc ? t.getUTCDate() : t.getDate();
        this.prefix = `${String(y).padStart(4, "0")}-${pad2(mo)}-${pad2(da)} ${hms}`;
      }
    }
    this.prefixBytes = ascii(this.prefix);
  }

  /** Relative modes: the duration to show for this packet (µs), and the reference advanced. */
  private since(sec: number, nsec: number): number {
    const us = sec * 1e6 + Math.floor(nsec / 1000);
    const ref = this.refUs;
    if (this.mode === "delta" || ref !== ref) this.refUs = us;
    return ref !== ref ? 0 : us - ref;
  }

  /** The time text followed by one space ("" for `none`). Advances delta/relative state. */
  text(sec: number, nsec: number): string {
    switch (this.mode) {
      case "none":
        return "";
      case "delta":
      case "relative":
        return durationText(this.since(sec, nsec)) + " ";
      default: {
        if (sec !== this.prefixSec) this.makePrefix(sec);
        const us = Math.floor(nsec / 1000);
        return this.prefix + (us >= 100000 ? "" : us >= 10000 ? "0" : us >= 1000 ? "00" : us >= 100 ? "000" : us >= 10 ? "0000" : "00000") + us + " ";
      }
    }
  }

  /** Same bytes as {@link text}, stored at `buf[p]` (ASCII; room for 40 bytes); returns the end. */
  put(buf: Uint8Array, p: number, sec: number, nsec: number): number {
    switch (this.mode) {
      case "none":
        return p;
      case "delta":
      case "relative": {
        const s = durationText(this.since(sec, nsec));
        for (let i = 0; i < s.length; i++) buf[p + i] = s.charCodeAt(i);
        p += s.length;
        break;
      }
      default:
        if (sec !== this.prefixSec) this.makePrefix(sec);
        p = putSeg(buf, p, this.prefixBytes);
        p = put6(buf, p, Math.floor(nsec / 1000));
    }
    buf[p] = 32;
    return p + 1;
  }
}

