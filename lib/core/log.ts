/**
 * The log of a long-running command (`vpnkit up`): levels, subsystem tags as charon has them,
 * and three line formats. Runtime-neutral: lines go to a `write` function.
 *
 *  - `text`    ISO-8601 time, level, `[subsystem]`, message:
 *              `2026-12-06T16:49:22.123Z info: [ike] IKE SA established`
 *  - `journal` stderr is the systemd journal (JOURNAL_STREAM names it): no timestamp of our
 *              own (the journal has one), a syslog priority prefix the journal turns into
 *              the entry's priority: `<6>[ike] IKE SA established` (`<3>` error, `<4>` warn,
 *              `<6>` info, `<7>` debug)
 *  - `json`    one JSON object per line for log shippers:
 *              `{"time":"…","level":"info","subsystem":"ike","msg":"…", …fields}`
 *
 * Subsystems: `ike` (IKEv2 negotiation), `cfg` (configuration, start-up, shutdown), `net`
 * (sockets, TUN, transport), `esp` (SA events), `dp` (the packet path). Never log secrets.
 * @module
 */
import { fstatSync } from "node:fs";

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "journal", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const SUBSYSTEMS = ["ike", "cfg", "net", "esp", "dp"] as const;
export type Subsystem = (typeof SUBSYSTEMS)[number];

/** The IKE driver's callback shape, with an optional subsystem (default: the caller's). */
export type LogFn = (level: LogLevel, msg: string, subsystem?: Subsystem) => void;

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
/** syslog priorities (sd-daemon(3) prefixes). */
export const SYSLOG_PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export function parseLogLevel(s: unknown): LogLevel | null {
  return typeof s === "string" && (LOG_LEVELS as readonly string[]).includes(s) ? s as LogLevel : null;
}

export function parseLogFormat(s: unknown): LogFormat | null {
  return typeof s === "string" && (LOG_FORMATS as readonly string[]).includes(s) ? s as LogFormat : null;
}

/**
 * True when file descriptor `fd` (2: stderr) is the journal stream named by JOURNAL_STREAM
 * ("<device>:<inode>", systemd.exec(5)): compare with fstat(fd).
 */
export function isJournalStream(journalStream: string | undefined, fd = 2, stat: (fd: number) => { dev: number | bigint; ino: number | bigint } = fstatSync): boolean {
  const m = /^(\d+):(\d+)$/.exec(journalStream ?? "");
  if (!m) return false;
  try {
    const st = stat(fd);
    return String(st.dev) === m[1] && String(st.ino) === m[2];
  } catch {
    return false;
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  /** Where a finished line goes (with its trailing newline). */
  write: (line: string) => void;
  /** Clock (tests). */
  now?: () => Date;
}

export class Logger {
  level: LogLevel;
  format: LogFormat;
  private readonly write: (line: string) => void;
  private readonly now: () => Date;

  constructor(o: LoggerOptions) {
    this.level = o.level ?? "info";
    this.format = o.format ?? "text";
    this.write = o.write;
    this.now = o.now ?? (() => new Date());
  }

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.level];
  }

  /** Log one message (a multi-line message is split into lines, each tagged). */
  log(level: LogLevel, msg: string, subsystem: Subsystem = "cfg", fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    this.write(this.render(level, msg, subsystem, fields));
  }

  /** Render without filtering (exported for tests and for callers that pre-filter). */
  formatLine(level: LogLevel, msg: string, subsystem: Subsystem, fields?: Record<string, unknown>): string {
    return this.render(level, msg, subsystem, fields);
  }

  private render(level: LogLevel, msg: string, subsystem: Subsystem, fields?: Record<string, unknown>): string {
    if (this.format === "json") {
      const o: Record<string, unknown> = { time: this.now().toISOString(), level, subsystem, msg, ...(fields ?? {}) };
      return JSON.stringify(o, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n";
    }
    // the common line (text, no fields, one line): no split / map / join (a responder logs ~6 per handshake)
    if (this.format === "text" && fields === undefined && !msg.includes("\n")) return `${this.now().toISOString()} ${level}: [${subsystem}] ${msg}\n`;
    const extra = fields && Object.keys(fields).length ? " " + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(" ") : "";
    const lines = (msg + extra).split("\n");
    if (this.format === "journal") return lines.map((l) => `<${SYSLOG_PRIORITY[level]}>[${subsystem}] ${l}\n`).join("");
    const t = this.now().toISOString();
    return lines.map((l) => `${t} ${level}: [${subsystem}] ${l}\n`).join("");
  }

  error(msg: string, subsystem?: Subsystem, fields?: Record<string, unknown>): void {
    this.log("error", msg, subsystem, fields);
  }
  warn(msg: string, subsystem?: Subsystem, fields?: Record<string, unknown>): void {
    this.log("warn", msg, subsystem, fields);
  }
  info(msg: string, subsystem?: Subsystem, fields?: Record<string, unknown>): void {
    this.log("info", msg, subsystem, fields);
  }
  debug(msg: string, subsystem?: Subsystem, fields?: Record<string, unknown>): void {
    this.log("debug", msg, subsystem, fields);
  }

  /** A `log(level, msg)` callback (the IKE driver's shape) tagging `subsystem` unless the call names one. */
  fn(subsystem: Subsystem): LogFn {
    return (level, msg, sub) => this.log(level, msg, sub ?? subsystem);
  }

  /** A one-argument callback (`log(msg)`, the manual-key runtime's shape) at `level`. */
  line(subsystem: Subsystem, level: LogLevel = "info"): (msg: string) => void {
    return (msg) => this.log(level, msg, subsystem);
  }
}
